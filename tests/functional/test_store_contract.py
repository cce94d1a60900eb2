"""The store contract (srv6_ofapp/store/base.py), run against every backend:
sqlite on a file, etcd on a real member (tests/backends.py).

Revisions are compared, never counted from 1: etcd's are shared by every
prefix of the cluster.  Races between writers are test_store_races.py; what
each backend adds (sqlite's files and schema, etcd's endpoints and faults)
is tested in its own module.
"""

import threading

import pytest

from srv6_ofapp.store import base
from tests.backends import backend, store  # noqa: F401 (fixtures)

WAIT = 10  # seconds: an upper bound for thread hand-offs, never a sleep


class Boom(Exception):
    pass


def put(st, kind, key, doc):
    st.transact(lambda txn: txn.put(kind, key, doc))
    return st.revision


# -- documents --------------------------------------------------------------

def test_new_store_is_empty(store):
    assert store.revision == 0
    assert store.changes_since(0) == []
    assert store.get('networks', 'missing') is None
    assert store.list('networks') == []


def test_put_get_roundtrip(store):
    doc = {'id': 'n1', 'name': 'net', 'mtu': 1436, 'shared': False, 'tags': ['a'],
           'nested': {'x': None}, 'binding:host_id': 'h', 'unicode': 'r\u00e9seau \u2603'}
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
    keys = ['c', 'a', 'B', 'b/1', 'b', '\u00e9', 'z', '10', '9']
    for key in keys:
        put(store, 'networks', key, {'id': key})
    put(store, 'ports', 'z', {'id': 'z'})
    put(store, 'networks2', 'x', {'id': 'x'})   # a kind whose name extends another's
    # Code point (= UTF-8 byte) order, as sqlite's BINARY collation and etcd keys.
    assert [d['id'] for d in store.list('networks')] == sorted(keys)


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


def test_list_where_follows_updates_and_deletes(store):
    put(store, 'ports', 'p1', {'network_id': 'n1', 'tenant_id': 't'})
    put(store, 'ports', 'p2', {'network_id': 'n1', 'tenant_id': 't'})
    put(store, 'ports', 'p1', {'network_id': 'n2', 'tenant_id': 't'})   # moves
    put(store, 'ports', 'p2', {'tenant_id': 't'})                        # loses the field
    store.transact(lambda txn: txn.delete('ports', 'p1'))
    put(store, 'ports', 'p3', {'network_id': 'n1', 'tenant_id': 't', 'v': 1})
    put(store, 'ports', 'p3', {'network_id': 'n1', 'tenant_id': 't', 'v': 2})
    assert store.list('ports', where={'network_id': 'n1'}) == [
        {'network_id': 'n1', 'tenant_id': 't', 'v': 2}]
    assert store.list('ports', where={'network_id': 'n2'}) == []
    assert len(store.list('ports', where={'tenant_id': 't'})) == 2


@pytest.mark.parametrize('field', ['network_id', 'name'])   # indexed, scanned
def test_list_where_compares_values_as_json(store, field):
    docs = {'a': True, 'b': 1, 'c': 1.0, 'd': '1', 'e': None, 'f': 0, 'g': False,
            'h': 2.5, 'i': ['x'], 'j': 'x'}

    def fill(txn):
        for key, value in docs.items():
            txn.put('things', key, {'key': key, field: value})
        txn.put('things', 'k', {'key': 'k'})
    store.transact(fill)

    def keys(value):
        return [doc['key'] for doc in store.list('things', where={field: value})]
    # json_extract: true is 1, false is 0, 1.0 is 1, null matches nothing.
    assert keys(1) == keys(True) == keys(1.0) == ['a', 'b', 'c']
    assert keys(0) == keys(False) == ['f', 'g']
    assert keys('1') == ['d']
    assert keys(2.5) == ['h']
    assert keys('x') == ['j']
    assert keys(None) == []
    assert store.list('things', where={field: None}) == []


def test_list_where_refuses_odd_field_names(store):
    with pytest.raises(ValueError):
        store.list('ports', where={"x') OR 1=1 --": 'y'})


def test_list_prefix(store):
    def fill(txn):
        for key in ['s1/10.0.0.2', 's1/10.0.0.3', 's10/10.0.0.2', 's2/10.0.0.2', 's1']:
            txn.put('ipallocations', key, {'key': key, 'ip_address': key.partition('/')[2]})
    store.transact(fill)

    def keys(prefix, where=None):
        return [d['key'] for d in store.list('ipallocations', where=where, prefix=prefix)]
    assert keys('s1/') == ['s1/10.0.0.2', 's1/10.0.0.3']
    assert keys('s2/') == ['s2/10.0.0.2']
    assert keys('s1') == ['s1', 's1/10.0.0.2', 's1/10.0.0.3', 's10/10.0.0.2']
    assert keys('s3/') == []
    assert keys('s1/', where={'key': 's1/10.0.0.3'}) == ['s1/10.0.0.3']
    # An indexed field and a prefix together.
    assert keys('s1', where={'ip_address': '10.0.0.2'}) == ['s1/10.0.0.2', 's10/10.0.0.2']
    assert keys('s1/', where={'ip_address': '10.0.0.2'}) == ['s1/10.0.0.2']
    assert keys(None) == keys('') == sorted(keys(None))
    assert len(keys(None)) == 5


def test_txn_sees_its_own_writes(store):
    put(store, 'ports', 'old', {'network_id': 'n', 'v': 0})

    def fn(txn):
        txn.put('ports', 'p1', {'network_id': 'n', 'v': 1})
        seen = [txn.get('ports', 'p1'), txn.list('ports'),
                txn.list('ports', where={'network_id': 'n'}), txn.list('ports', prefix='p')]
        txn.delete('ports', 'p1')
        txn.delete('ports', 'old')
        seen += [txn.get('ports', 'p1'), txn.list('ports'),
                 txn.list('ports', where={'network_id': 'n'})]
        return seen
    assert store.transact(fn) == [
        {'network_id': 'n', 'v': 1},
        [{'network_id': 'n', 'v': 0}, {'network_id': 'n', 'v': 1}],
        [{'network_id': 'n', 'v': 0}, {'network_id': 'n', 'v': 1}],
        [{'network_id': 'n', 'v': 1}],
        None, [], []]
    assert store.list('ports') == []


def test_documents_read_are_copies(store):
    put(store, 'ports', 'p', {'status': 'DOWN', 'tags': []})

    def fn(txn):
        doc = txn.get('ports', 'p')
        doc['tags'].append('changed without a put')
        txn.put('ports', 'p', dict(doc, status='ACTIVE'))
        doc['status'] = 'mutated after the put'
        return txn.get('ports', 'p')
    assert store.transact(fn)['status'] == 'ACTIVE'
    assert store.get('ports', 'p')['status'] == 'ACTIVE'


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
    assert put(store, 'networks', 'after', {'v': 3}) > revision


def test_rollback_on_base_exception(store):
    def fn(txn):
        txn.put('networks', 'n', {})
        raise KeyboardInterrupt()
    with pytest.raises(KeyboardInterrupt):
        store.transact(fn)
    assert store.get('networks', 'n') is None
    assert store.revision == 0


def test_each_commit_is_one_new_revision(store):
    revisions = [put(store, 'networks', 'n%d' % i, {'i': i}) for i in range(5)]
    assert revisions == sorted(set(revisions))
    assert [c.revision for c in store.changes_since(0)] == revisions


def test_a_transaction_with_many_writes_is_one_revision(store):
    def fn(txn):
        for i in range(5):
            txn.put('ports', 'p%d' % i, {'i': i, 'network_id': 'n'})
        txn.put('networks', 'n', {})
    store.transact(fn)
    changes = store.changes_since(0)
    assert [c.revision for c in changes] == [store.revision] * 6
    assert [c.key for c in changes] == ['p0', 'p1', 'p2', 'p3', 'p4', 'n']  # write order


def test_a_transaction_without_writes_keeps_the_revision(store):
    revision = put(store, 'networks', 'n', {})
    store.transact(lambda txn: txn.get('networks', 'n'))
    store.transact(lambda txn: txn.delete('networks', 'missing'))
    assert store.revision == revision
    assert len(store.changes_since(0)) == 1


def test_changes_since_in_order_with_old_and_new(store):
    r1 = put(store, 'networks', 'n1', {'name': 'a'})               # create
    r2 = put(store, 'networks', 'n1', {'name': 'b'})               # update
    r3 = put(store, 'ports', 'p1', {'network_id': 'n1'})           # create
    store.transact(lambda txn: txn.delete('networks', 'n1'))       # delete
    r4 = store.revision

    def two(txn):                                                  # two writes
        txn.put('ports', 'p1', {'network_id': 'n2'})
        txn.put('ports', 'p2', {'network_id': 'n3'})
    store.transact(two)
    r5 = store.revision

    changes = store.changes_since(0)
    assert all(isinstance(c, base.Change) for c in changes)
    assert [tuple(c) for c in changes] == [
        (r1, 'networks', 'n1', None, {'name': 'a'}),
        (r2, 'networks', 'n1', {'name': 'a'}, {'name': 'b'}),
        (r3, 'ports', 'p1', None, {'network_id': 'n1'}),
        (r4, 'networks', 'n1', {'name': 'b'}, None),
        (r5, 'ports', 'p1', {'network_id': 'n1'}, {'network_id': 'n2'}),
        (r5, 'ports', 'p2', None, {'network_id': 'n3'}),
    ]
    assert [c.revision for c in store.changes_since(r3)] == [r4, r5, r5]
    assert store.changes_since(r5) == []
    assert store.changes_since(r5 + 1000) == []
    assert [c.revision for c in store.changes_since(0, limit=2)] == [r1, r2]
    assert [c.key for c in store.changes_since(r4, limit=1)] == ['p1']


def test_read_only_txn_cannot_write(store):
    revision = put(store, 'networks', 'n', {'v': 1})
    with pytest.raises(RuntimeError):
        store.read(lambda txn: txn.put('networks', 'n', {'v': 2}))
    with pytest.raises(RuntimeError):
        store.read(lambda txn: txn.delete('networks', 'n'))
    assert store.get('networks', 'n') == {'v': 1}
    assert store.revision == revision
    # The store is usable after the refused write.
    assert store.read(lambda txn: txn.get('networks', 'n')) == {'v': 1}


def test_read_is_one_snapshot_and_knows_its_revision(store):
    """A consumer loads a snapshot and follows the feed from the revision
    it reads inside (srv6_ofapp/replica.py does): both must be the same
    point in time, whatever commits meanwhile."""
    revision = put(store, 'networks', 'a', {'v': 1})

    def snapshot(txn):
        first = (store.revision, txn.list('networks'), txn.get('networks', 'a'))
        writer = threading.Thread(target=put, args=(store, 'networks', 'a', {'v': 2}))
        writer.start()
        writer.join(WAIT)
        return first, (store.revision, txn.list('networks'), txn.get('networks', 'a'))
    first, second = store.read(snapshot)
    assert first == second == (revision, [{'v': 1}], {'v': 1})
    assert store.get('networks', 'a') == {'v': 2}
    assert store.revision > revision


def test_readers_on_other_threads_see_committed_writes(store):
    revision = put(store, 'networks', 'n', {'v': 1})
    result = []
    thread = threading.Thread(target=lambda: result.append(
        (store.get('networks', 'n'), store.revision)))
    thread.start()
    thread.join(WAIT)
    assert result == [({'v': 1}, revision)]


def test_a_second_store_on_the_same_data_sees_every_commit(backend):
    one, two = backend.open(), backend.open()
    revision = put(one, 'networks', 'n', {'v': 1})
    assert two.get('networks', 'n') == {'v': 1}
    assert two.revision == revision
    assert two.changes_since(0) == one.changes_since(0)


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

    start = store.revision
    watch = store.watch(callback)
    try:
        assert watch.revision == start
        revisions = [put(store, 'networks', 'n%d' % i, {'i': i}) for i in range(4)]

        def two(txn):
            txn.put('ports', 'p', {'v': 1})
            txn.delete('networks', 'n0')
        store.transact(two)
        revisions += [store.revision] * 2
        assert done.wait(WAIT), 'only %d changes delivered' % len(received)
    finally:
        watch.cancel()
    assert [(c.revision, c.kind, c.key) for c in received] == list(zip(
        revisions, ['networks'] * 4 + ['ports', 'networks'],
        ['n0', 'n1', 'n2', 'n3', 'p', 'n0']))
    assert received[-1].old == {'i': 0} and received[-1].new is None
    assert threading.get_ident() not in threads
    assert watch.revision == revisions[-1]


def test_watch_from_a_start_revision(store):
    revisions = [put(store, 'networks', 'n%d' % i, {}) for i in range(3)]
    received = []
    done = threading.Event()

    def callback(change):
        received.append(change.revision)
        if change.revision == revisions[-1]:
            done.set()
    watch = store.watch(callback, start_revision=revisions[0])
    try:
        assert done.wait(WAIT)
    finally:
        watch.cancel()
    assert received == revisions[1:]


def test_watch_sees_writes_of_another_store(backend):
    writer, reader = backend.open(), backend.open()
    received = []
    done = threading.Event()
    watch = reader.watch(lambda change: (received.append(change.key), done.set()))
    try:
        put(writer, 'networks', 'from-the-other-store', {})
        assert done.wait(WAIT)
    finally:
        watch.cancel()
    assert received == ['from-the-other-store']


def test_watch_cancel_stops_delivery(store):
    received = []
    first = threading.Event()

    def callback(change):
        received.append(change.revision)
        first.set()
    start = store.revision
    watch = store.watch(callback)
    revision = put(store, 'networks', 'a', {})
    assert first.wait(WAIT)
    watch.cancel()
    assert not watch._thread.is_alive()

    put(store, 'networks', 'b', {})
    # A second watch from the same point does see the new change, so it was
    # there to deliver; the cancelled one (its thread already joined) did not.
    later = threading.Event()
    other = store.watch(lambda change: later.set(), start_revision=start)
    try:
        assert later.wait(WAIT)
    finally:
        other.cancel()
    assert received == [revision]


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


# -- history compaction -------------------------------------------------------

def test_changes_since_raises_compacted_when_history_is_gone(backend, store):
    first = put(store, 'counters', 'c', {'n': 0})
    for i in range(1, 5):
        put(store, 'counters', 'c', {'n': i})
    head = store.revision
    backend.compact()
    with pytest.raises(base.Compacted):
        store.changes_since(0)
    with pytest.raises(base.Compacted):
        store.changes_since(first)
    assert store.changes_since(head) == []
    after = put(store, 'counters', 'c', {'n': 'after'})
    assert [(c.revision, c.old, c.new) for c in store.changes_since(head)] == [
        (after, {'n': 4}, {'n': 'after'})]
    # The documents themselves are untouched.
    assert store.get('counters', 'c') == {'n': 'after'}


def test_watch_resyncs_after_compaction(backend, store):
    for i in range(5):
        put(store, 'counters', 'c', {'n': i})
    head = store.revision
    backend.compact()
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
        # The history is gone: the watch jumps to the current revision (the
        # consumer rebuilds from a snapshot) and then follows the feed.
        assert resync_done.wait(WAIT)
        after = put(store, 'counters', 'c', {'n': 'after'})
        assert done.wait(WAIT)
    finally:
        watch.cancel()
    assert resynced == [head]
    assert received == [after]
