"""auth_strategy = keystone: tokens validated by keystonemiddleware's
auth_token in front of the API, against a Keystone (tests/keystonelab.py,
offline), never headers taken on trust."""

import subprocess
import sys

import pytest

from tests.conftest import Client
from tests.keystonelab import Keystone
from tests.server import ROOT, Server

V = '/v2.0'
# What a client reaching the port could send to pose as an admin of any
# project, as keystonemiddleware sets them after validating a token.
FORGED = {'X-Identity-Status': 'Confirmed', 'X-Project-Id': 'victim',
          'X-Roles': 'admin,member', 'X-User-Id': 'someone', 'X-Service-Roles': 'admin'}


@pytest.fixture(scope='module')
def keystone():
    identity = Keystone().start()
    yield identity
    identity.stop()


@pytest.fixture(scope='module')
def keystone_server(tmp_path_factory, keystone):
    path = tmp_path_factory.mktemp('keystone')
    conf = path / 'srv6.conf'
    conf.write_text('[DEFAULT]\nauth_strategy = keystone\n' + keystone.config())
    srv = Server(str(path / 'state.db'), ['--config-file', str(conf)]).start()
    yield srv
    srv.stop()


def _client(server, token=None, extra=None):
    headers = dict(extra or {})
    if token:
        headers['X-Auth-Token'] = token
    return Client(server.url, headers)


@pytest.mark.parametrize('token', [None, 'not-a-token'])
def test_forged_identity_headers_are_refused(keystone_server, keystone, token):
    client = _client(keystone_server, token, FORGED)
    before = len(keystone.validations)
    for response in (client.get(V + '/networks'), client.get(V + '/hosts'),
                     client.post(V + '/networks', {'network': {'name': 'forged'}})):
        assert response.status_code == 401, response.text
        assert response.json()['NeutronError']['type'] == 'NotAuthenticated'
    if token:
        assert keystone.validations[before:] and \
            set(keystone.validations[before:]) == {token}
    assert not [n for n in _client(keystone_server, keystone.issue('ops', ['admin'])).get(
        V + '/networks').json()['networks'] if n['name'] == 'forged']


def test_a_valid_token_is_its_project_and_roles_whatever_the_headers_say(keystone_server,
                                                                        keystone):
    member = _client(keystone_server, keystone.issue('p-member', ['member', 'reader']),
                     FORGED)
    network = member.create('network', name='ks')
    assert network['project_id'] == 'p-member'
    assert member.get(V + '/hosts').status_code == 403
    other = _client(keystone_server, keystone.issue('p-other', ['member']))
    assert other.get(V + '/networks/' + network['id']).status_code == 404
    admin = _client(keystone_server, keystone.issue('p-admin', ['admin']))
    assert admin.get(V + '/networks/' + network['id']).status_code == 200
    assert admin.get(V + '/hosts').status_code == 200


def test_the_version_document_stays_public(keystone_server):
    assert _client(keystone_server).get('/').status_code == 200


def test_keystone_without_its_configuration_does_not_start(tmp_path):
    result = subprocess.run([sys.executable, '-m', 'srv6_ofapp', '--auth-strategy',
                             'keystone', '--store', 'sqlite:///%s' % (tmp_path / 's.db'),
                             '--wsapi-port', '0', '--ofp-tcp-listen-port', '0'],
                            cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and 'keystone_authtoken' in lines[0], result.stderr
