"""What the sqlite store adds to the store contract, on a real file under
tmp_path: files, schema versions and migrations, revisions numbered from 1,
its own history trimming.  The contract itself (documents, transactions,
the change feed, concurrency) runs against every backend in
tests/functional/test_store_contract.py."""

import sqlite3
import threading

import pytest

from srv6_ofapp import exceptions
from srv6_ofapp import store as store_lib
from srv6_ofapp.store import base
from srv6_ofapp.store import sqlite as sqlite_store

WAIT = 10  # seconds: an upper bound for thread hand-offs, never a sleep


@pytest.fixture
def db_path(tmp_path):
    return str(tmp_path / 'state.db')


@pytest.fixture
def store(db_path):
    st = store_lib.open_store('sqlite:///' + db_path)
    yield st
    st.close()


def put(st, kind, key, doc):
    st.transact(lambda txn: txn.put(kind, key, doc))


def user_version(path):
    conn = sqlite3.connect(path)
    try:
        return conn.execute('PRAGMA user_version').fetchone()[0]
    finally:
        conn.close()


def test_the_sqlite_scheme_opens_a_sqlite_store(store):
    assert isinstance(store, sqlite_store.SqliteStore)


# -- revisions ------------------------------------------------------------------

def test_each_commit_increments_the_revision_by_one(store):
    for expected in range(1, 6):
        put(store, 'networks', 'n%d' % expected, {'i': expected})
        assert store.revision == expected


def test_every_write_of_a_transaction_is_a_change(store):
    """Two writes of one key in a transaction are two changes here (etcd
    keeps the last one only: consumers must not rely on either)."""
    def two(txn):
        txn.put('ports', 'p1', {'network_id': 'n2'})
        txn.put('ports', 'p1', {'network_id': 'n3'})
    store.transact(two)
    assert [tuple(c) for c in store.changes_since(0)] == [
        (1, 'ports', 'p1', None, {'network_id': 'n2'}),
        (1, 'ports', 'p1', {'network_id': 'n2'}, {'network_id': 'n3'})]


# -- files ------------------------------------------------------------------

def test_reopen_keeps_data_and_revision(db_path):
    st = store_lib.open_store('sqlite:///' + db_path)
    put(st, 'networks', 'n1', {'name': 'a'})
    put(st, 'networks', 'n2', {'name': 'b'})
    st.transact(lambda txn: txn.delete('networks', 'n1'))
    changes = st.changes_since(0)
    st.close()

    st = store_lib.open_store('sqlite:///' + db_path)
    try:
        assert st.revision == 3
        assert st.list('networks') == [{'name': 'b'}]
        assert st.changes_since(0) == changes
        put(st, 'networks', 'n3', {})
        assert st.revision == 4
    finally:
        st.close()


def test_relative_sqlite_url(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    st = store_lib.open_store('sqlite:///rel.db')
    try:
        put(st, 'k', 'x', {})
    finally:
        st.close()
    assert (tmp_path / 'rel.db').is_file()


def test_creates_missing_directories(tmp_path):
    path = tmp_path / 'a' / 'b' / 'state.db'
    st = store_lib.open_store('sqlite:///' + str(path))
    st.close()
    assert path.is_file()


def test_file_is_wal_with_current_schema_version(store, db_path):
    assert user_version(db_path) == sqlite_store.SCHEMA_VERSION
    conn = sqlite3.connect(db_path)
    try:
        assert conn.execute('PRAGMA journal_mode').fetchone()[0] == 'wal'
    finally:
        conn.close()


def test_newer_schema_version_is_refused(db_path):
    store_lib.open_store('sqlite:///' + db_path).close()
    newer = sqlite_store.SCHEMA_VERSION + 1
    conn = sqlite3.connect(db_path)
    conn.execute('PRAGMA user_version = %d' % newer)
    conn.close()
    with pytest.raises(exceptions.StoreUnavailable) as info:
        store_lib.open_store('sqlite:///' + db_path)
    assert 'newer' in str(info.value)
    assert info.value.status == 503
    assert user_version(db_path) == newer  # left as it was


def test_an_empty_file_is_initialised(db_path):
    open(db_path, 'w').close()
    st = store_lib.open_store('sqlite:///' + db_path)
    st.close()
    assert user_version(db_path) == sqlite_store.SCHEMA_VERSION


def test_a_file_that_is_not_a_database_is_refused(db_path):
    with open(db_path, 'wb') as f:
        f.write(b'this is not a sqlite database, only text' * 100)
    with pytest.raises(exceptions.StoreUnavailable):
        store_lib.open_store('sqlite:///' + db_path)


@pytest.mark.parametrize('url', [
    'etcd://127.0.0.1:2379',            # no prefix: see tests/functional/test_etcd_store.py
    'mysql://user@localhost/neutron',
    'memory://',
    '/tmp/state.db',
    'sqlite://',
    'sqlite:',
])
def test_unsupported_urls_are_refused(url):
    with pytest.raises(exceptions.StoreUnavailable) as info:
        store_lib.open_store(url)
    assert url in str(info.value)


def test_path_under_a_regular_file_is_refused(tmp_path):
    blocker = tmp_path / 'file'
    blocker.write_text('x')
    with pytest.raises(exceptions.StoreUnavailable):
        store_lib.open_store('sqlite:///' + str(blocker / 'state.db'))
    with pytest.raises(exceptions.StoreUnavailable):
        store_lib.open_store('sqlite:///' + str(blocker / 'sub' / 'state.db'))


def test_a_directory_as_path_is_refused(tmp_path):
    with pytest.raises(exceptions.StoreUnavailable):
        store_lib.open_store('sqlite:///' + str(tmp_path))


def test_in_memory_url_is_refused_or_shared_between_threads():
    try:
        st = store_lib.open_store('sqlite:///:memory:')
    except exceptions.StoreUnavailable:
        return
    try:
        put(st, 'k', 'x', {'v': 1})
        result = []

        def read():
            try:
                result.append(st.get('k', 'x'))
            except Exception as error:
                result.append(error)
        thread = threading.Thread(target=read)
        thread.start()
        thread.join(WAIT)
        assert result == [{'v': 1}]
    finally:
        st.close()


# -- history trimming ---------------------------------------------------------

def test_changes_since_raises_compacted_when_history_is_gone(store, monkeypatch):
    # Keep 10 revisions; trimming runs on every 1000th commit.
    monkeypatch.setattr(sqlite_store, 'HISTORY', 10)
    for i in range(1000):
        put(store, 'counters', 'c', {'n': i})
    assert store.revision == 1000

    with pytest.raises(base.Compacted):
        store.changes_since(0)
    with pytest.raises(base.Compacted):
        store.changes_since(989)
    kept = store.changes_since(990)
    assert [c.revision for c in kept] == list(range(991, 1001))
    assert kept[0].old == {'n': 989} and kept[-1].new == {'n': 999}
    assert store.changes_since(1000) == []
    # The documents themselves are untouched.
    assert store.get('counters', 'c') == {'n': 999}


def test_a_version_1_file_is_migrated_to_the_current_schema(tmp_path):
    """Files written by the first release (schema 1) gain the ip_address
    index on open, keeping their data."""
    import sqlite3
    path = str(tmp_path / 'v1.db')
    conn = sqlite3.connect(path, isolation_level=None)
    sqlite_store._migrate_0_to_1(conn)
    conn.execute('PRAGMA user_version = 1')
    conn.execute("INSERT INTO resources VALUES ('ports', 'p1', '{\"id\": \"p1\"}', 1)")
    conn.close()
    st = store_lib.open_store('sqlite:///' + path)
    try:
        assert st.get('ports', 'p1') == {'id': 'p1'}
        assert user_version(path) == sqlite_store.SCHEMA_VERSION == 3
        with sqlite3.connect(path) as check:
            names = {row[0] for row in check.execute(
                "SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert 'resources_by_ip_address' in names
    finally:
        st.close()
