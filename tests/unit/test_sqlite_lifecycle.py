"""The sqlite store's failures and its end: a full disk is a 503 with its
reason, and closing never pulls a connection from under a running
operation (which crashed the process: issue 10's segfault at SIGTERM)."""

import threading

import pytest

from srv6_ofapp import exceptions
from srv6_ofapp import store as store_lib

WAIT = 10  # seconds: an upper bound for thread hand-offs, never a sleep


@pytest.fixture
def store(tmp_path):
    st = store_lib.open_store('sqlite:///%s' % (tmp_path / 'state.db'))
    yield st
    st.close()


def test_close_waits_for_the_operations_running(store):
    store.transact(lambda txn: txn.put('networks', 'n1', {'id': 'n1'}))
    inside, release, seen = threading.Event(), threading.Event(), []

    def slow_read(txn):
        inside.set()
        release.wait(WAIT)
        return txn.get('networks', 'n1')  # after close() began
    reader = threading.Thread(target=lambda: seen.append(store.read(slow_read)))
    reader.start()
    assert inside.wait(WAIT)
    closer = threading.Thread(target=store.close)
    closer.start()
    closer.join(0.3)
    assert closer.is_alive(), 'close() did not wait for the read in progress'
    # Meanwhile nothing new starts.
    with pytest.raises(exceptions.StoreUnavailable):
        store.read(lambda txn: txn.get('networks', 'n1'))
    release.set()
    reader.join(WAIT)
    closer.join(WAIT)
    assert seen == [{'id': 'n1'}] and not closer.is_alive()


def test_every_operation_after_close_is_store_unavailable(store):
    store.close()
    for operation in (lambda: store.read(lambda txn: txn.get('k', 'a')),
                      lambda: store.transact(lambda txn: txn.put('k', 'a', {})),
                      lambda: store.revision, lambda: store.changes_since(0),
                      lambda: store.grant_lease(10)):
        with pytest.raises(exceptions.StoreUnavailable) as info:
            operation()
        assert info.value.status == 503 and 'closed' in info.value.msg


def test_a_watch_and_writers_racing_close_end_cleanly(store, caplog):
    """The change feed and writers still running when the store closes get
    StoreUnavailable, never sqlite's "Cannot operate on a closed database"."""
    stop, errors, written = threading.Event(), [], []
    watch = store.watch(lambda change: None)

    def write(n):
        while not stop.is_set():
            try:
                store.transact(lambda txn: txn.put('networks', 'n%d' % n, {'n': n}))
                written.append(n)
            except exceptions.StoreUnavailable:
                return
            except Exception as error:  # noqa: BLE001  (what the test looks for)
                errors.append(error)
                return
    writers = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for writer in writers:
        writer.start()
    while len(written) < 20:
        pass
    store.close()
    stop.set()
    for writer in writers:
        writer.join(WAIT)
    watch.cancel()
    assert errors == []
    assert 'closed database' not in caplog.text


def test_a_full_database_is_a_503_with_its_reason(store):
    """sqlite's SQLITE_FULL (here its page limit; a full disk gives the
    same error, at COMMIT: tests/functional/test_shutdown.py) is a 503 that
    says so, the transaction rolled back and the store still usable."""
    store.transact(lambda txn: txn.put('networks', 'n1', {'id': 'n1'}))
    revision = store.revision
    conn = store._conn()  # this thread's connection: the limit is per connection
    pages = conn.execute('PRAGMA page_count').fetchone()[0]
    conn.execute('PRAGMA max_page_count = %d' % pages)
    with pytest.raises(exceptions.StoreUnavailable) as info:
        store.transact(lambda txn: [txn.put('ports', 'p%d' % i, {'x': 'y' * 4000})
                                    for i in range(50)])
    assert info.value.status == 503 and 'full' in info.value.msg
    assert store.revision == revision
    conn.execute('PRAGMA max_page_count = 1073741823')
    store.transact(lambda txn: txn.put('networks', 'n2', {'id': 'n2'}))
    assert store.revision == revision + 1
