import pytest
import requests

from tests.etcdlab import etcd_cluster, etcd_single  # noqa: F401 (fixtures: real etcd members)
from tests.server import Server


class Client:
    """requests against one server, with Neutron-style helpers."""

    def __init__(self, url, headers=None):
        self.url = url
        self.session = requests.Session()
        self.session.headers.update(headers or {})

    def request(self, method, path, body=None, params=None, headers=None):
        return self.session.request(method, self.url + path, json=body, params=params,
                                    headers=headers, timeout=30)

    def get(self, path, **kw):
        return self.request('GET', path, **kw)

    def post(self, path, body, **kw):
        return self.request('POST', path, body, **kw)

    def put(self, path, body, **kw):
        return self.request('PUT', path, body, **kw)

    def delete(self, path, **kw):
        return self.request('DELETE', path, **kw)

    def create(self, member, **attrs):
        """POST and return the created resource; fail the test on an error."""
        response = self.post('/v2.0/%ss' % member, {member: attrs})
        assert response.status_code == 201, response.text
        return response.json()[member]


@pytest.fixture(scope='module')
def server(tmp_path_factory):
    path = tmp_path_factory.mktemp('server') / 'state.db'
    srv = Server(str(path)).start()
    yield srv
    srv.stop()


@pytest.fixture
def client(server):
    return Client(server.url)
