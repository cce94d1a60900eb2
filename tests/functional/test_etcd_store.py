"""What the etcd store adds to the store contract: its URL, prefixes that
share one etcd, its own keys, idempotent commits, and the faults of a
three-member cluster (a dead leader, a lost quorum).

The contract itself runs in test_store_races.py.  Members are real etcd
processes (tests/etcdlab.py), stopped by PID even when a test fails.
"""

import inspect
import queue
import threading
import time

import pytest

from srv6_ofapp import exceptions
from srv6_ofapp import store as store_lib
from srv6_ofapp.store import base
from srv6_ofapp.store import etcd as etcd_store
from srv6_ofapp.store import etcd_client
from srv6_ofapp.store import etcd_layout
from tests import backends
from tests import etcdlab
from tests.functional import test_store_races as races
from tests.server import free_port
from tests.unit import test_store_leases as lease_contract

WAIT = 10


@pytest.fixture
def open_etcd(request):
    """open_etcd(url) -> a store closed at teardown."""
    stores = []

    def open_(url):
        store = store_lib.open_store(url)
        stores.append(store)
        return store
    yield open_
    for store in stores:
        store.close()


def put(store, kind, key, doc):
    store.transact(lambda txn: txn.put(kind, key, doc))
    return store.revision


def raw_keys(store, under=b''):
    """Every etcd key of the store's prefix (below ``under``), as text."""
    start = store.layout.root + under
    _, kvs = store.client.range(start, etcd_client.prefix_end(start))
    return [key[len(store.layout.root):].decode() for key, _, _, _ in kvs]


# -- URLs --------------------------------------------------------------------

@pytest.mark.parametrize('url, endpoints, prefix', [
    ('etcd://10.0.0.5:2379,10.0.0.6:2379,10.0.0.7:2379/srv6/cluster1',
     [('10.0.0.5', 2379), ('10.0.0.6', 2379), ('10.0.0.7', 2379)], '/srv6/cluster1'),
    ('etcd://etcd.example/one', [('etcd.example', 2379)], '/one'),
    ('etcd://[fd00::5]:2379,[fd00::6]/c/', [('fd00::5', 2379), ('fd00::6', 2379)], '/c'),
])
def test_url_names_every_endpoint_and_the_prefix(url, endpoints, prefix):
    assert etcd_layout.parse_url(url, 2, 15)[:2] == (endpoints, prefix)


def test_url_options():
    options = etcd_layout.parse_url('etcd://h/p?timeout=1.5&deadline=4', 2, 15)[2]
    assert options == {'timeout': 1.5, 'deadline': 4.0}
    assert etcd_layout.parse_url('etcd://h/p', 2, 15)[2] == {'timeout': 2, 'deadline': 15}


@pytest.mark.parametrize('url', [
    'etcd://127.0.0.1:2379',          # no prefix: clusters would collide
    'etcd://127.0.0.1:2379/',
    'etcd:///srv6',                   # no endpoint
    'etcd://h:port/srv6',
    'etcd://h/srv6//x',
    'etcd://h/srv6/docs',             # would lie inside prefix /srv6's keys
    'etcd://h/meta',
    'etcd://h/srv6?retries=3',
    'etcd://h/srv6?timeout=soon',
])
def test_bad_urls_are_refused(url):
    with pytest.raises(exceptions.StoreUnavailable) as info:
        store_lib.open_store(url)
    assert url in str(info.value)
    assert info.value.status == 503


def test_an_unreachable_etcd_is_unavailable_within_the_deadline():
    url = 'etcd://127.0.0.1:%d,127.0.0.1:%d/srv6?deadline=1' % (free_port(), free_port())
    started = time.monotonic()
    with pytest.raises(exceptions.StoreUnavailable) as info:
        store_lib.open_store(url)
    assert time.monotonic() - started < 5
    assert 'no etcd endpoint could answer' in str(info.value)


# -- prefixes and keys ------------------------------------------------------------

def test_two_prefixes_on_one_etcd_do_not_see_each_other(etcd_single, open_etcd):
    one = open_etcd(etcd_single.url(etcdlab.unique_prefix('one')))
    two = open_etcd(etcd_single.url(etcdlab.unique_prefix('two')))
    # A third prefix inside the first one's name must not leak into it.
    nested = open_etcd(etcd_single.url(one.prefix + '/inner'))
    received = queue.Queue()
    watch = two.watch(received.put)
    try:
        for store in (one, nested):
            put(store, 'networks', 'n', {'owner': store.prefix})
            put(store, 'ports', 'p', {'network_id': 'n'})
        assert two.list('networks') == two.list('ports') == []
        assert two.list('ports', where={'network_id': 'n'}) == []
        assert two.get('networks', 'n') is None
        assert two.revision == 0 and two.changes_since(0) == []
        assert one.list('networks') == [{'owner': one.prefix}]
        assert [c.new for c in one.changes_since(0)] == [
            {'owner': one.prefix}, {'network_id': 'n'}]
        put(two, 'networks', 'mine', {})
        assert received.get(timeout=WAIT).key == 'mine'
        assert received.empty()
    finally:
        watch.cancel()


def test_a_newer_layout_is_refused(etcd_single, open_etcd):
    url = etcd_single.url(etcdlab.unique_prefix())
    store = open_etcd(url)
    store.client.txn([], [etcd_client.put_request(store.layout.meta, b'{"version": 99}')])
    with pytest.raises(exceptions.StoreUnavailable) as info:
        store_lib.open_store(url)
    assert 'newer' in str(info.value)


def test_index_entries_follow_the_documents(etcd_single, open_etcd):
    store = open_etcd(etcd_single.url(etcdlab.unique_prefix()))
    put(store, 'ports', 'p1', {'network_id': 'n1', 'tenant_id': 't', 'name': 'x'})
    put(store, 'ports', 'p2', {'network_id': 'n1', 'binding:host_id': 'h'})
    put(store, 'ports', 'p1', {'network_id': 'n2', 'tenant_id': 't', 'name': 'y'})
    store.transact(lambda txn: txn.delete('ports', 'p2'))
    assert raw_keys(store, b'index/') == [
        'index/ports/network_id/"n2"/p1', 'index/ports/tenant_id/"t"/p1']
    assert raw_keys(store, b'docs/') == ['docs/ports/p1']
    assert raw_keys(store, b'kinds/') == ['kinds/ports']
    assert raw_keys(store, b'meta/') == ['meta/head', 'meta/layout']
    assert len(raw_keys(store, b'txns/')) == 4   # leased: gone in minutes


# -- commits -------------------------------------------------------------------------

def test_a_commit_whose_answer_was_lost_is_not_applied_twice(etcd_single, open_etcd,
                                                             monkeypatch):
    """The first commit reaches etcd but its answer is lost (a member died
    after committing): the store sends it again, learns from its txns/<id>
    key that it committed, and returns that attempt's result."""
    store = open_etcd(etcd_single.url(etcdlab.unique_prefix()))
    real_post = store.client._post
    lost = []

    def post(client, path, body, headers):
        answer = real_post(client, path, body, headers)
        if path == 'kv/txn' and body.get('compare') and not lost:
            lost.append(answer)
            raise etcd_client._Transient('connection reset after the commit')
        return answer
    monkeypatch.setattr(store.client, '_post', post)
    calls = []

    def create(txn):
        calls.append(1)
        key = 'port-%d' % len(calls)   # a fresh id on every run, as the plugin's uuids
        txn.put('ports', key, {'network_id': 'n'})
        return key
    assert store.transact(create) == 'port-1'
    assert lost and lost[0]['succeeded']
    assert calls == [1]
    assert [d for d in store.list('ports')] == [{'network_id': 'n'}]
    assert len(store.changes_since(0)) == 1


def test_a_conflict_that_keeps_coming_back_is_a_409(etcd_single, open_etcd, monkeypatch):
    monkeypatch.setattr(etcd_store, 'MAX_ATTEMPTS', 3)
    url = etcd_single.url(etcdlab.unique_prefix())
    store, rival = open_etcd(url), open_etcd(url)
    put(store, 'counters', 'c', {'n': 0})
    calls = []

    def increment(txn):
        doc = txn.get('counters', 'c')
        calls.append(doc['n'])
        put(rival, 'counters', 'c', {'n': doc['n'] + 100})   # always in between
        txn.put('counters', 'c', {'n': doc['n'] + 1})
    with pytest.raises(exceptions.StoreConflict) as info:
        store.transact(increment)
    assert info.value.status == 409
    assert calls == [0, 100, 200]
    assert store.get('counters', 'c') == {'n': 300}


def test_a_lease_gone_under_the_store_is_granted_again(etcd_single, open_etcd):
    store = open_etcd(etcd_single.url(etcdlab.unique_prefix()))
    put(store, 'networks', 'a', {})
    lease = store._mark_lease[0]
    store.client.call('lease/revoke', {'ID': lease})   # as if it had expired
    put(store, 'networks', 'b', {})
    assert store._mark_lease[0] != lease
    assert [d for d in store.list('networks')] == [{}, {}]


def test_many_reads_fall_back_to_kind_clocks_and_still_conflict(etcd_single, monkeypatch):
    """Past etcd's limit of compares per txn, a kind's clock stands for its
    guards: coarser, still no lost uniqueness."""
    monkeypatch.setattr(etcd_store, 'COMPARE_BUDGET', 2)
    for claim in (races.claim_by_point_read, races.claim_by_index):
        backend = backends.EtcdBackend(etcd_single)
        try:
            store = backend.open()

            def wide(txn):
                for i in range(20):
                    txn.get('names', 'other%d' % i)
                txn.list('ports', where={'network_id': 'elsewhere'})
                txn.put('names', 'wide', {})
            store.transact(wide)
            races.test_one_of_many_racing_claims_wins(backend, store, claim)
        finally:
            backend.close()


def test_history_of_other_prefixes_compacted_is_no_resync(etcd_single, open_etcd):
    mine = open_etcd(etcd_single.url(etcdlab.unique_prefix('mine')))
    other = open_etcd(etcd_single.url(etcdlab.unique_prefix('other')))
    head = put(mine, 'networks', 'n', {'v': 1})
    for i in range(5):
        put(other, 'networks', 'n', {'v': i})
    etcd_single.compact()
    assert mine.changes_since(head) == []
    resynced, received = [], queue.Queue()
    watch = mine.watch(received.put, start_revision=head, on_resync=resynced.append)
    try:
        after = put(mine, 'networks', 'n', {'v': 2})
        change = received.get(timeout=WAIT)
    finally:
        watch.cancel()
    assert (change.revision, change.old, change.new) == (after, {'v': 1}, {'v': 2})
    assert resynced == []
    assert [c.revision for c in mine.changes_since(head)] == [after]


# -- leases --------------------------------------------------------------------------

@pytest.mark.parametrize('test', [
    getattr(lease_contract, name) for name in dir(lease_contract) if name.startswith('test_')])
def test_leases_as_on_sqlite(test, etcd_single, open_etcd):
    """tests/unit/test_store_leases.py, on etcd: its minimum TTL (2 s)
    stands for the tests' 0.6 s."""
    url = etcd_single.url(etcdlab.unique_prefix('lease'))
    test(**{'path': url} if 'path' in inspect.signature(test).parameters else
         {'store': open_etcd(url)})


def test_leased_documents_go_with_their_index_entries(etcd_single, open_etcd):
    store = open_etcd(etcd_single.url(etcdlab.unique_prefix()))
    lease = store.grant_lease(60)
    store.transact(lambda txn: txn.put('agents', 'hv1', {'tenant_id': 't'}, lease=lease))
    put(store, 'agents', 'hv2', {'tenant_id': 't'})
    assert len(store.list('agents', where={'tenant_id': 't'})) == 2
    revision = store.revision
    store.revoke_lease(lease)
    assert store.list('agents', where={'tenant_id': 't'}) == [{'tenant_id': 't'}]
    assert [(c.key, c.new) for c in store.changes_since(revision)] == [('hv1', None)]
    assert raw_keys(store, b'index/') == ['index/agents/tenant_id/"t"/hv2']
    assert raw_keys(store, b'leases/') == []


def test_a_list_sees_a_lease_ending_under_it(etcd_single, open_etcd):
    """A transaction that read a leased document conflicts with the lease's
    end, like with any deletion."""
    store = open_etcd(etcd_single.url(etcdlab.unique_prefix()))
    lease = store.grant_lease(60)
    store.transact(lambda txn: txn.put('agents', 'hv1', {'alive': True}, lease=lease))
    seen = []

    def count_agents(txn):
        seen.append(len(txn.list('agents')))
        if len(seen) == 1:
            store.revoke_lease(lease)   # between this read and the commit
        txn.put('summary', 'agents', {'count': seen[-1]})
    store.transact(count_agents)
    assert seen == [1, 0]
    assert store.get('summary', 'agents') == {'count': 0}


# -- faults of a three-member cluster ---------------------------------------------

def ordered_url(cluster, members, prefix, options=''):
    """A store URL naming ``members`` first: the store talks to the first."""
    rest = [m for m in cluster.members if m not in members]
    return 'etcd://%s%s%s' % (','.join(m.endpoint for m in members + rest), prefix, options)


def collect(store, start_revision):
    """A watch putting every change in a list; (watch, list)."""
    received = []
    return store.watch(received.append, start_revision), received


def wait_for(predicate, timeout=WAIT * 3):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_a_write_meeting_a_leader_election_is_retried_and_durable(etcd_cluster, open_etcd):
    prefix = etcdlab.unique_prefix()
    leader = etcd_cluster.leader()
    follower = etcd_cluster.followers()[0]
    # One store talks to a follower (its writes were forwarded to the dead
    # leader), one to the leader itself (its connection is refused).
    via_follower = open_etcd(ordered_url(etcd_cluster, [follower], prefix))
    via_leader = open_etcd(ordered_url(etcd_cluster, [leader], prefix))
    start = put(via_follower, 'counters', 'before', {'n': 0})
    watch, received = collect(via_leader, start)
    try:
        results = {}

        def write(name, store):
            began = time.monotonic()
            put(store, 'counters', name, {'n': 1})
            results[name] = time.monotonic() - began
        writers = [threading.Thread(target=write, args=(name, store)) for name, store in
                   (('via-follower', via_follower), ('via-leader', via_leader))]
        leader.kill()
        for thread in writers:
            thread.start()
        for thread in writers:
            thread.join(etcd_store.DEADLINE + 5)
        assert sorted(results) == ['via-follower', 'via-leader'], 'a write failed'
        assert max(results.values()) < etcd_store.DEADLINE
        print('write stall during the election: %s' % {k: round(v, 2) for k, v in
                                                       results.items()})
        # Durable: the surviving members have them, and so does the leader
        # when it comes back.
        assert wait_for(lambda: len(received) == 2), received
        etcd_cluster.start_member(leader)
        back = open_etcd(ordered_url(etcd_cluster, [leader], prefix))
        assert [d['n'] for d in back.list('counters')] == [0, 1, 1]
    finally:
        watch.cancel()
    assert sorted(c.key for c in received) == ['via-follower', 'via-leader']


def test_without_quorum_writes_fail_reads_serve_and_watchers_wait(etcd_cluster, open_etcd):
    prefix = etcdlab.unique_prefix()
    first, second, survivor = etcd_cluster.members
    store = open_etcd(ordered_url(etcd_cluster, [first], prefix, '?deadline=3'))
    start = put(store, 'networks', 'n', {'v': 1})
    watch, received = collect(store, start)
    try:
        # The watcher's own member goes too.
        first.kill()
        second.kill()
        with pytest.raises(exceptions.StoreUnavailable) as info:
            put(store, 'networks', 'n', {'v': 'lost'})
        assert info.value.status == 503
        # Reads are the surviving member's own data.
        assert store.get('networks', 'n') == {'v': 1}
        assert store.list('networks') == [{'v': 1}]
        assert received == []

        etcd_cluster.start_member(first, wait=False)
        etcd_cluster.start_member(second)
        revision = put(store, 'networks', 'n', {'v': 2})
        assert wait_for(lambda: received), 'the watcher did not resume'
    finally:
        watch.cancel()
    assert [(c.revision, c.old, c.new) for c in received] == [(revision, {'v': 1}, {'v': 2})]
    assert store.get('networks', 'n') == {'v': 2}


def test_watch_and_snapshot_agree_through_a_member_restart(etcd_cluster, open_etcd):
    """Writes keep coming while the watcher's member restarts: it resumes
    from the last revision it delivered, nothing lost or repeated."""
    prefix = etcdlab.unique_prefix()
    first = etcd_cluster.members[0]
    writer = open_etcd(ordered_url(etcd_cluster, etcd_cluster.members[1:], prefix))
    reader = open_etcd(ordered_url(etcd_cluster, [first], prefix))
    start = put(writer, 'counters', 'c', {'n': 0})
    watch, received = collect(reader, start)
    try:
        for n in range(1, 31):
            put(writer, 'counters', 'c', {'n': n})
            if n == 10:
                first.stop()
            if n == 20:
                etcd_cluster.start_member(first)
        assert wait_for(lambda: len(received) == 30)
    finally:
        watch.cancel()
    assert [c.new['n'] for c in received] == list(range(1, 31))
    assert [c.old['n'] for c in received] == list(range(30))
    assert received == writer.changes_since(start)


def test_compacted_reads_and_feeds_are_reported(etcd_single, open_etcd):
    store = open_etcd(etcd_single.url(etcdlab.unique_prefix()))
    first = put(store, 'counters', 'c', {'n': 0})
    put(store, 'counters', 'c', {'n': 1})
    etcd_single.compact()
    with pytest.raises(base.Compacted):
        store.changes_since(first - 1)
    with pytest.raises(base.Compacted):
        store.client.range(store.layout.head, revision=first)
