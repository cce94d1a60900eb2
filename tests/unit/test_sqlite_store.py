"""Unit tests of the sqlite store on a real file under tmp_path."""

import sqlite3
import threading

import pytest

from srv6_ofapp import exceptions
from srv6_ofapp import store as store_lib
from srv6_ofapp.store import base
from srv6_ofapp.store import sqlite as sqlite_store

WAIT = 10  # seconds: an upper bound for thread hand-offs, never a sleep


class Boom(Exception):
    pass


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


# -- documents --------------------------------------------------------------

def test_new_store_is_empty(store):
    assert isinstance(store, sqlite_store.SqliteStore)
    assert store.revision == 0
    assert store.changes_since(0) == []
    assert store.get('networks', 'missing') is None
    assert store.list('networks') == []


def test_put_get_roundtrip(store):
    doc = {'id': 'n1', 'name': 'net', 'mtu': 1436, 'shared': False, 'tags': ['a'],
           'nested': {'x': None}, 'binding:host_id': 'h'}
    put(store, 'networks', 'n1', doc)
    assert store.get('networks', 'n1') == doc
    assert store.get('networks', 'n2') is None
    assert store.get('ports', 'n1') is None  # kinds are separate namespaces


def test_put_replaces(store):
    put(store, 'networks', 'n1', {'name': 'a'})
    put(store, 'networks', 'n1', {'name': 'b'})
    assert store.get('networks', 'n1') == {'name': 'b'}
    assert store.list('networks') == [{'name': 'b'}]


def test_delete(store):
    put(store, 'networks', 'n1', {'name': 'a'})
    assert store.transact(lambda txn: txn.delete('networks', 'n1')) is True
    assert store.get('networks', 'n1') is None
    assert store.transact(lambda txn: txn.delete('networks', 'n1')) is False


def test_list_in_key_order(store):
    for key in ['c', 'a', 'b']:
        put(store, 'networks', key, {'id': key})
    put(store, 'ports', 'z', {'id': 'z'})
    assert [d['id'] for d in store.list('networks')] == ['a', 'b', 'c']


def test_list_where(store):
    docs = {
        'p1': {'id': 'p1', 'network_id': 'n1', 'binding:host_id': 'h1', 'tenant_id': 't'},
        'p2': {'id': 'p2', 'network_id': 'n1', 'binding:host_id': 'h2', 'tenant_id': 't'},
        'p3': {'id': 'p3', 'network_id': 'n2', 'binding:host_id': 'h1', 'tenant_id': 'u'},
        'p4': {'id': 'p4', 'network_id': 'n1', 'name': 'x', 'tenant_id': 'u'},
    }

    def fill(txn):
        for key, doc in docs.items():
            txn.put('ports', key, doc)
    store.transact(fill)

    def ids(**where):
        return [d['id'] for d in store.list('ports', where=where)]
    assert ids(network_id='n1') == ['p1', 'p2', 'p4']
    assert ids(network_id='n1', tenant_id='t') == ['p1', 'p2']
    assert ids(**{'binding:host_id': 'h1'}) == ['p1', 'p3']       # indexed field
    assert ids(**{'binding:host_id': 'h1', 'network_id': 'n2'}) == ['p3']
    assert ids(name='x') == ['p4']                                 # not indexed: a scan
    assert ids(network_id='n3') == []
    assert ids() == ['p1', 'p2', 'p3', 'p4']


def test_list_where_refuses_odd_field_names(store):
    with pytest.raises(ValueError):
        store.list('ports', where={"x') OR 1=1 --": 'y'})


def test_list_prefix(store):
    def fill(txn):
        for key in ['s1/10.0.0.2', 's1/10.0.0.3', 's10/10.0.0.2', 's2/10.0.0.2', 's1']:
            txn.put('ipallocations', key, {'key': key})
    store.transact(fill)

    def keys(prefix, where=None):
        return [d['key'] for d in store.list('ipallocations', where=where, prefix=prefix)]
    assert keys('s1/') == ['s1/10.0.0.2', 's1/10.0.0.3']
    assert keys('s2/') == ['s2/10.0.0.2']
    assert keys('s1') == ['s1', 's1/10.0.0.2', 's1/10.0.0.3', 's10/10.0.0.2']
    assert keys('s3/') == []
    assert keys('s1/', where={'key': 's1/10.0.0.3'}) == ['s1/10.0.0.3']
    assert keys(None) == keys('') == sorted(keys(None))
    assert len(keys(None)) == 5


def test_txn_sees_its_own_writes(store):
    def fn(txn):
        txn.put('networks', 'n1', {'v': 1})
        seen = [txn.get('networks', 'n1'), txn.list('networks')]
        txn.delete('networks', 'n1')
        seen.append(txn.get('networks', 'n1'))
        return seen
    assert store.transact(fn) == [{'v': 1}, [{'v': 1}], None]


def test_transact_returns_the_result(store):
    assert store.transact(lambda txn: 42) == 42
    assert store.read(lambda txn: 'r') == 'r'


# -- atomicity and revisions --------------------------------------------------

def test_transact_rollback_on_exception(store):
    put(store, 'networks', 'keep', {'v': 1})
    revision = store.revision

    def fn(txn):
        txn.put('networks', 'new', {'v': 2})
        txn.put('networks', 'keep', {'v': 'changed'})
        txn.delete('networks', 'keep')
        raise Boom()
    with pytest.raises(Boom):
        store.transact(fn)
    assert store.get('networks', 'new') is None
    assert store.get('networks', 'keep') == {'v': 1}
    assert store.revision == revision
    assert [c.key for c in store.changes_since(0)] == ['keep']
    # The store is still usable afterwards.
    put(store, 'networks', 'after', {'v': 3})
    assert store.revision == revision + 1


def test_rollback_on_base_exception(store):
    def fn(txn):
        txn.put('networks', 'n', {})
        raise KeyboardInterrupt()
    with pytest.raises(KeyboardInterrupt):
        store.transact(fn)
    assert store.get('networks', 'n') is None
    assert store.revision == 0


def test_each_commit_increments_the_revision_by_one(store):
    for expected in range(1, 6):
        put(store, 'networks', 'n%d' % expected, {'i': expected})
        assert store.revision == expected


def test_a_transaction_with_many_writes_is_one_revision(store):
    def fn(txn):
        for i in range(5):
            txn.put('ports', 'p%d' % i, {'i': i})
    store.transact(fn)
    assert store.revision == 1
    changes = store.changes_since(0)
    assert [c.revision for c in changes] == [1] * 5
    assert [c.key for c in changes] == ['p0', 'p1', 'p2', 'p3', 'p4']  # write order


def test_a_transaction_without_writes_keeps_the_revision(store):
    put(store, 'networks', 'n', {})
    store.transact(lambda txn: txn.get('networks', 'n'))
    store.transact(lambda txn: txn.delete('networks', 'missing'))
    assert store.revision == 1
    assert len(store.changes_since(0)) == 1


def test_changes_since_in_order_with_old_and_new(store):
    put(store, 'networks', 'n1', {'name': 'a'})                    # 1: create
    put(store, 'networks', 'n1', {'name': 'b'})                    # 2: update
    put(store, 'ports', 'p1', {'network_id': 'n1'})                # 3: create
    store.transact(lambda txn: txn.delete('networks', 'n1'))       # 4: delete

    def two(txn):                                                  # 5: two writes
        txn.put('ports', 'p1', {'network_id': 'n2'})
        txn.put('ports', 'p1', {'network_id': 'n3'})
    store.transact(two)

    changes = store.changes_since(0)
    assert all(isinstance(c, base.Change) for c in changes)
    assert [tuple(c) for c in changes] == [
        (1, 'networks', 'n1', None, {'name': 'a'}),
        (2, 'networks', 'n1', {'name': 'a'}, {'name': 'b'}),
        (3, 'ports', 'p1', None, {'network_id': 'n1'}),
        (4, 'networks', 'n1', {'name': 'b'}, None),
        (5, 'ports', 'p1', {'network_id': 'n1'}, {'network_id': 'n2'}),
        (5, 'ports', 'p1', {'network_id': 'n2'}, {'network_id': 'n3'}),
    ]
    assert [c.revision for c in store.changes_since(3)] == [4, 5, 5]
    assert store.changes_since(5) == []
    assert store.changes_since(99) == []
    assert [c.revision for c in store.changes_since(0, limit=2)] == [1, 2]


def test_read_only_txn_cannot_write(store):
    put(store, 'networks', 'n', {'v': 1})
    with pytest.raises(RuntimeError):
        store.read(lambda txn: txn.put('networks', 'n', {'v': 2}))
    with pytest.raises(RuntimeError):
        store.read(lambda txn: txn.delete('networks', 'n'))
    assert store.get('networks', 'n') == {'v': 1}
    assert store.revision == 1
    # The read connection is usable after the refused write.
    assert store.read(lambda txn: txn.get('networks', 'n')) == {'v': 1}


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
    'etcd://127.0.0.1:2379',
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


# -- watch ------------------------------------------------------------------

def test_watch_delivers_changes_in_order_on_another_thread(store):
    put(store, 'networks', 'before', {})        # before the watch: not delivered
    received = []
    threads = set()
    done = threading.Event()

    def callback(change):
        threads.add(threading.get_ident())
        received.append(change)
        if len(received) == 6:
            done.set()

    watch = store.watch(callback)
    try:
        assert watch.revision == 1
        for i in range(4):
            put(store, 'networks', 'n%d' % i, {'i': i})

        def two(txn):
            txn.put('ports', 'p', {'v': 1})
            txn.delete('networks', 'n0')
        store.transact(two)
        assert done.wait(WAIT), 'only %d changes delivered' % len(received)
    finally:
        watch.cancel()
    assert [(c.revision, c.kind, c.key) for c in received] == [
        (2, 'networks', 'n0'), (3, 'networks', 'n1'), (4, 'networks', 'n2'),
        (5, 'networks', 'n3'), (6, 'ports', 'p'), (6, 'networks', 'n0')]
    assert received[-1].old == {'i': 0} and received[-1].new is None
    assert threading.get_ident() not in threads
    assert watch.revision == 6


def test_watch_from_a_start_revision(store):
    for i in range(3):
        put(store, 'networks', 'n%d' % i, {})
    received = []
    done = threading.Event()

    def callback(change):
        received.append(change.revision)
        if change.revision == 3:
            done.set()
    watch = store.watch(callback, start_revision=1)
    try:
        assert done.wait(WAIT)
    finally:
        watch.cancel()
    assert received == [2, 3]


def test_watch_cancel_stops_delivery(store):
    received = []
    first = threading.Event()

    def callback(change):
        received.append(change.revision)
        first.set()
    watch = store.watch(callback)
    put(store, 'networks', 'a', {})
    assert first.wait(WAIT)
    watch.cancel()
    assert not watch._thread.is_alive()

    put(store, 'networks', 'b', {})
    # A second watch from the same point does see the new change, so it was
    # there to deliver; the cancelled one (its thread already joined) did not.
    later = threading.Event()
    other = store.watch(lambda change: later.set(), start_revision=1)
    try:
        assert later.wait(WAIT)
    finally:
        other.cancel()
    assert received == [1]


def test_watch_survives_a_failing_callback(store):
    received = []
    done = threading.Event()

    def callback(change):
        received.append(change.key)
        if change.key == 'bad':
            raise Boom()
        if change.key == 'good':
            done.set()
    watch = store.watch(callback)
    try:
        put(store, 'networks', 'bad', {})
        put(store, 'networks', 'good', {})
        assert done.wait(WAIT)
    finally:
        watch.cancel()
    assert received == ['bad', 'good']


# -- concurrency --------------------------------------------------------------

def test_concurrent_transactions_lose_no_update(store):
    put(store, 'counters', 'c', {'n': 0})
    threads_count, increments = 8, 25
    start = threading.Barrier(threads_count)
    errors = []

    def increment(txn):
        doc = txn.get('counters', 'c')
        txn.put('counters', 'c', {'n': doc['n'] + 1})

    def worker():
        try:
            start.wait(WAIT)
            for _ in range(increments):
                store.transact(increment)
        except Exception as error:  # reported below, not lost in the thread
            errors.append(error)

    workers = [threading.Thread(target=worker) for _ in range(threads_count)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join(60)
    assert not any(thread.is_alive() for thread in workers)
    assert errors == []
    total = threads_count * increments
    assert store.get('counters', 'c') == {'n': total}
    assert store.revision == total + 1
    values = [c.new['n'] for c in store.changes_since(0, limit=total + 10)]
    assert values == list(range(total + 1))


def test_readers_on_other_threads_see_committed_writes(store):
    put(store, 'networks', 'n', {'v': 1})
    result = []
    thread = threading.Thread(target=lambda: result.append(
        (store.get('networks', 'n'), store.revision)))
    thread.start()
    thread.join(WAIT)
    assert result == [({'v': 1}, 1)]


# -- history compaction -------------------------------------------------------

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


def test_watch_resyncs_after_compaction(store, monkeypatch):
    monkeypatch.setattr(sqlite_store, 'HISTORY', 10)
    for i in range(1000):
        put(store, 'counters', 'c', {'n': i})
    resynced = []
    received = []
    resync_done = threading.Event()
    done = threading.Event()

    def on_resync(revision):
        resynced.append(revision)
        resync_done.set()

    def callback(change):
        received.append(change.revision)
        done.set()
    watch = store.watch(callback, start_revision=0, on_resync=on_resync)
    try:
        # Revisions 1..990 are gone: the watch jumps to the current revision
        # (the consumer rebuilds from a snapshot) and then follows the feed.
        assert resync_done.wait(WAIT)
        put(store, 'counters', 'c', {'n': 'after'})
        assert done.wait(WAIT)
    finally:
        watch.cancel()
    assert resynced == [1000]
    assert received == [1001]


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
