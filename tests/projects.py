"""One srv6-ofapp per test module with token authentication, and its three
callers: ``admin`` (the admin token), ``alice`` (project-a) and ``bob``
(project-b).  A module says ``token_server = projects.token_server('name')``
and imports the callers it uses."""

import pytest

from tests.conftest import Client
from tests.server import Server

ADMIN_TOKEN = 'admin-secret'
TOKEN_ARGS = ['--auth-strategy', 'token', '--admin-token', ADMIN_TOKEN,
              '--project-tokens', 'token-a:project-a,token-b:project-b']


def token_server(name, extra_args=()):
    """A module-scoped fixture: the server, on a sqlite file of its own."""
    @pytest.fixture(scope='module')
    def fixture(tmp_path_factory):
        srv = Server(str(tmp_path_factory.mktemp(name) / 'state.db'),
                     TOKEN_ARGS + list(extra_args))
        srv.start()
        yield srv
        srv.stop()
    return fixture


@pytest.fixture
def admin(token_server):
    return Client(token_server.url, {'X-Auth-Token': ADMIN_TOKEN})


@pytest.fixture
def alice(token_server):
    return Client(token_server.url, {'X-Auth-Token': 'token-a'})


@pytest.fixture
def bob(token_server):
    return Client(token_server.url, {'X-Auth-Token': 'token-b'})
