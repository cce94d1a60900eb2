"""The store backends, for the tests that every backend must pass (the
store contract) and the plugin tests that run on each.

``backend`` is parametrized over sqlite (a file under tmp_path) and etcd (a
fresh prefix on the session's etcd member); ``store`` is one store opened
on it.  ``backend.open()`` opens another store on the same data -- a
second API server -- and ``backend.compact()`` drops the change history
as far as now, as sqlite's trimming or etcd's compaction would.
"""

import sqlite3

import pytest

from srv6_ofapp import store as store_lib
from tests import etcdlab

BACKENDS = ('sqlite', 'etcd')


class _Backend:

    def __init__(self, url):
        self.url = url
        self._stores = []

    def open(self):
        store = store_lib.open_store(self.url)
        self._stores.append(store)
        return store

    def close(self):
        for store in self._stores:
            store.close()


class SqliteBackend(_Backend):
    name = 'sqlite'

    def __init__(self, tmp_path):
        self.path = str(tmp_path / 'state.db')
        super().__init__('sqlite:///' + self.path)

    def compact(self):
        # What SqliteStore's trimming does, without its thousand commits.
        with sqlite3.connect(self.path) as conn:
            conn.execute('DELETE FROM changes')


class EtcdBackend(_Backend):
    name = 'etcd'

    def __init__(self, cluster):
        self.cluster = cluster
        super().__init__(cluster.url(etcdlab.unique_prefix()))

    def compact(self):
        self.cluster.compact()


def make_backend(name, request, tmp_path):
    if name == 'etcd':
        return EtcdBackend(request.getfixturevalue('etcd_single'))
    return SqliteBackend(tmp_path)


@pytest.fixture(params=BACKENDS)
def backend(request, tmp_path):
    made = make_backend(request.param, request, tmp_path)
    yield made
    made.close()


@pytest.fixture
def store(backend):
    return backend.open()
