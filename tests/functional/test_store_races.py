"""The store contract under concurrency, run against every backend: several
threads and two stores on the same data (two API servers) race
read-modify-writes, claims of a unique thing checked by reading first, and
removals that must keep at least one.  Every kind of read a transaction can
depend on is raced: a point read, a scan of a kind, an index, a key prefix.
On etcd each of these fails when the matching conflict guard is left out.
"""

import threading

import pytest

from tests.backends import backend, store  # noqa: F401 (fixtures)
from tests.functional.test_store_contract import WAIT, put


class Taken(Exception):
    pass


def run_threads(count, target, timeout=60):
    """``target(i)`` on ``count`` threads; the exceptions they raised, by index."""
    errors = {}

    def run(i):
        try:
            target(i)
        except Exception as error:  # reported to the test, not lost in the thread
            errors[i] = error
    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert not any(thread.is_alive() for thread in threads)
    return errors


def meet(barrier):
    """Wait for the other transactions to have read too, so that they all
    overlap -- where the backend lets them (sqlite runs one at a time: the
    barrier then breaks and each goes on alone)."""
    try:
        barrier.wait(0.5)
    except threading.BrokenBarrierError:
        pass


def test_concurrent_transactions_lose_no_update(backend, store):
    """Read-modify-write from several threads and two stores (two API
    servers): every increment counts, each its own revision."""
    start = put(store, 'counters', 'c', {'n': 0})
    other = backend.open()
    threads_count, increments = 6, 15
    barrier = threading.Barrier(threads_count)

    def increment(txn):
        doc = txn.get('counters', 'c')
        txn.put('counters', 'c', {'n': doc['n'] + 1})

    def worker(i):
        barrier.wait(WAIT)
        for _ in range(increments):
            (store if i % 2 else other).transact(increment)

    assert run_threads(threads_count, worker) == {}
    total = threads_count * increments
    assert store.get('counters', 'c') == {'n': total}
    changes = store.changes_since(start, limit=total + 10)
    assert [c.new['n'] for c in changes] == list(range(1, total + 1))
    assert len({c.revision for c in changes}) == total


def claim_by_point_read(txn, i):
    if txn.get('names', 'x') is not None:
        raise Taken()
    txn.put('names', 'x', {'owner': i})


def claim_by_scan(txn, i):
    # A field without an index: the whole kind is read (as host names are).
    if any(doc['name'] == 'x' for doc in txn.list('hosts')):
        raise Taken()
    txn.put('hosts', 'h%d' % i, {'name': 'x', 'owner': i})


def claim_by_filtered_scan(txn, i):
    if txn.list('hosts', where={'name': 'x'}):
        raise Taken()
    txn.put('hosts', 'h%d' % i, {'name': 'x', 'owner': i})


def claim_by_index(txn, i):
    # An indexed field: only the index entries of the value are read.
    if txn.list('ports', where={'network_id': 'n'}):
        raise Taken()
    txn.put('ports', 'p%d' % i, {'network_id': 'n', 'owner': i})


def claim_by_prefix(txn, i):
    # A key range (as a host's vrf allocations are).
    if txn.list('vrfallocations', prefix='hv1/'):
        raise Taken()
    txn.put('vrfallocations', 'hv1/net%d' % i, {'owner': i})


@pytest.mark.parametrize('claim', [claim_by_point_read, claim_by_scan, claim_by_filtered_scan,
                                   claim_by_index, claim_by_prefix])
def test_one_of_many_racing_claims_wins(backend, store, claim):
    """Uniqueness checked by reading first: several threads on two stores
    (two API servers) race; exactly one claim commits, the others see it."""
    stores = [store, backend.open()]
    count = 6
    barrier = threading.Barrier(count)
    # Unrelated writes meanwhile must not break anything.
    put(store, 'hosts', 'other', {'name': 'y'})
    put(store, 'ports', 'other', {'network_id': 'm'})
    put(store, 'vrfallocations', 'hv2/net', {})

    def worker(i):
        def fn(txn):
            claim(txn, i)
            meet(barrier)
        stores[i % 2].transact(fn)

    errors = run_threads(count, worker)
    assert sorted(type(e).__name__ for e in errors.values()) == ['Taken'] * (count - 1)
    winner = (set(range(count)) - set(errors)).pop()
    owners = [doc.get('owner') for kind in ('names', 'hosts', 'ports', 'vrfallocations')
              for doc in store.list(kind) if 'owner' in doc]
    assert owners == [winner]


def keep_one_in_prefix(txn, i):
    if len(txn.list('items', prefix='group/')) > 1:
        txn.delete('items', 'group/%d' % i)


def keep_one_in_index(txn, i):
    if len(txn.list('items', where={'network_id': 'g'})) > 1:
        txn.delete('items', 'group/%d' % i)


def keep_one_in_kind(txn, i):
    if len(txn.list('items')) > 1:
        txn.delete('items', 'group/%d' % i)


def keep_one_leaving_the_index(txn, i):
    # Not a deletion: the document leaves the index by a field update.
    if len(txn.list('items', where={'network_id': 'g'})) > 1:
        txn.put('items', 'group/%d' % i, {'network_id': 'elsewhere'})


@pytest.mark.parametrize('rule', [keep_one_in_prefix, keep_one_in_index, keep_one_in_kind,
                                  keep_one_leaving_the_index])
def test_concurrent_removals_keep_the_last_one(backend, store, rule):
    """'Remove mine unless it is the last': every thread sees several and
    removes its own; a list must notice removals, not only insertions."""
    count = 5

    def fill(txn):
        for i in range(count):
            txn.put('items', 'group/%d' % i, {'network_id': 'g'})
    store.transact(fill)
    stores = [store, backend.open()]
    barrier = threading.Barrier(count)

    def worker(i):
        def fn(txn):
            rule(txn, i)
            meet(barrier)
        stores[i % 2].transact(fn)

    assert run_threads(count, worker) == {}
    assert len(store.list('items', where={'network_id': 'g'})) == 1


def test_concurrent_updates_keep_lists_in_step_with_documents(backend, store):
    """Blind writes of one document by many threads: the filtered lists
    (an index, for etcd) end up agreeing with the document."""
    put(store, 'ports', 'p', {'network_id': 'n0'})
    stores = [store, backend.open()]

    def worker(i):
        for j in range(5):
            stores[(i + j) % 2].transact(
                lambda txn: txn.put('ports', 'p', {'network_id': 'n%d' % (i % 3)}))

    assert run_threads(4, worker) == {}
    final = store.get('ports', 'p')
    for value in ('n0', 'n1', 'n2'):
        expected = [final] if final['network_id'] == value else []
        assert store.list('ports', where={'network_id': value}) == expected
