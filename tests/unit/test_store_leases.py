"""Leases: documents that live only while their holder keeps the lease alive
(an agent's liveness), on a real sqlite file."""

import time

import pytest

from srv6_ofapp import store as store_lib

TTL = 0.6  # seconds; expiry runs on the store's checkpoint thread (every 0.5 s)


@pytest.fixture
def path(tmp_path):
    return 'sqlite:///%s' % (tmp_path / 'state.db')


@pytest.fixture
def store(path):
    st = store_lib.open_store(path)
    yield st
    st.close()


def put(store, key, lease=None, doc=None):
    store.transact(lambda txn: txn.put('beats', key, doc or {'key': key}, lease=lease))


def wait_until(predicate, timeout=10):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, 'condition not met in %ss' % timeout
        time.sleep(0.05)


def test_a_leased_document_lives_while_the_lease_is_refreshed(store):
    lease = store.grant_lease(TTL)
    put(store, 'a', lease)
    for _ in range(4):
        time.sleep(TTL / 2)
        assert store.refresh_lease(lease)
    assert store.get('beats', 'a') == {'key': 'a'}


def test_an_expired_lease_takes_its_documents_through_the_feed(store):
    lease = store.grant_lease(TTL)
    put(store, 'a', lease)
    put(store, 'b')  # not leased: stays
    revision = store.revision
    wait_until(lambda: store.get('beats', 'a') is None)
    assert store.get('beats', 'b') == {'key': 'b'}
    assert [(c.kind, c.key, c.new) for c in store.changes_since(revision)] == [
        ('beats', 'a', None)]
    assert store.refresh_lease(lease) is False
    with pytest.raises(store_lib.LeaseExpired):
        put(store, 'c', lease)
    assert store.get('beats', 'c') is None


def test_revoke_deletes_at_once(store):
    lease = store.grant_lease(60)
    put(store, 'a', lease)
    put(store, 'b', lease)
    store.revoke_lease(lease)
    assert store.list('beats') == []
    assert store.refresh_lease(lease) is False


def test_a_put_without_the_lease_makes_a_document_permanent(store):
    lease = store.grant_lease(60)
    put(store, 'a', lease)
    put(store, 'a', doc={'key': 'a', 'kept': True})
    store.revoke_lease(lease)
    assert store.get('beats', 'a') == {'key': 'a', 'kept': True}


def test_a_dead_holders_lease_expires_in_another_process(path):
    holder = store_lib.open_store(path)
    lease = holder.grant_lease(TTL)
    put(holder, 'a', lease)
    holder.close()  # as if killed: never refreshed, never revoked
    survivor = store_lib.open_store(path)
    try:
        wait_until(lambda: survivor.get('beats', 'a') is None)
    finally:
        survivor.close()
