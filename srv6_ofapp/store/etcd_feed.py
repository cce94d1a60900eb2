"""The change feed of the etcd store -- etcd watches on the documents' range
-- and the reaper of its leases, a watch on their records.

Every committed transaction is one etcd revision, and etcd keeps each
revision's events (with the previous value, ``prev_kv``) until the history
is compacted.  A watch from revision R+1 therefore replays, in order, every
change after R and then follows new ones: no polling, no change log of our
own.  When R+1 was compacted etcd cancels the watch (``compact_revision``);
that is base.Compacted, and a watcher resyncs from a snapshot.

Compaction is etcd-wide, revisions are shared by every prefix: a watch is
only really compacted when this prefix committed something in the history
that is gone.  History starts at the store's birth (the create revision of
meta/layout), and a watcher whose prefix has not committed since the
revision it delivered last resumes at the compaction point instead of
resyncing.
"""

import logging
import random
import threading

from srv6_ofapp import exceptions
from srv6_ofapp.store import base
from srv6_ofapp.store.etcd_client import prefix_end

LOG = logging.getLogger(__name__)

# How long changes_since waits for the stream to bring the changes it knows
# exist, before giving up with StoreUnavailable.
REPLAY_TIMEOUT = 10.0
MAX_RETRY_WAIT = 2.0


def _lost_nothing(store, revision, compact_revision):
    """Whether this prefix committed nothing after ``revision`` up to the
    compaction point, i.e. the history that is gone was other prefixes'."""
    try:
        _, kvs = store.client.range(store.layout.head, revision=compact_revision,
                                    linearizable=False)
    except base.Compacted:
        return False
    return (kvs[0][2] if kvs else 0) <= revision


def changes_since(store, revision, limit):
    """Changes with a revision above ``revision``, oldest first, at most
    ``limit`` of them."""
    head = store.revision   # this prefix's newest commit: the replay ends there
    if head <= revision:
        return []
    try:
        return _replay(store, revision + 1, head, limit)
    except base.Compacted as compacted:
        compact_revision = int(compacted.args[0])
        if not _lost_nothing(store, revision, compact_revision):
            raise
        return _replay(store, compact_revision + 1, head, limit)


def _replay(store, start_revision, head, limit):
    changes = []
    docs = store.layout.docs
    stream = store.client.watch(docs, prefix_end(docs), max(start_revision, store.birth + 1),
                                read_timeout=REPLAY_TIMEOUT)
    try:
        for events in stream:
            for event_revision, key, value, previous in events:
                changes.append(store.change(event_revision, key, value, previous))
                if len(changes) >= limit:
                    return changes
            # etcd never splits one revision's events between responses.
            if changes and changes[-1].revision >= head:
                return changes
    finally:
        stream.close()
    raise exceptions.StoreUnavailable(url=store.url, reason='the watch stream ended before '
                                      'revision %d' % head)


class _Follower:
    """A thread following the etcd events of one key range from a revision:
    ``_deliver(events)`` for each response, ``_compacted(revision)`` when
    the history it needs is gone.  When etcd cannot be reached (a member
    died, the quorum is lost) it reconnects to any endpoint, for as long as
    it takes, from the revision after the last one delivered: nothing is
    lost or repeated."""

    name = 'store-follow'

    def __init__(self, store, start, end, start_revision):
        self._store = store
        self._range = (start, end)
        self._start = start_revision + 1     # where the next etcd watch starts
        self._stream = None
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def cancel(self):
        self._stopped.set()
        stream = self._stream
        if stream is not None:
            stream.close()
        self._thread.join(timeout=5)

    def _run(self):
        failures = 0
        while not self._stopped.is_set():
            try:
                try:
                    self._follow()
                except base.Compacted as compacted:
                    self._compacted(int(compacted.args[0]))
                failures = 0
            except Exception as error:  # etcd unreachable, or a closed store
                if self._stopped.is_set():
                    return
                failures += 1
                log = LOG.warning if failures == 1 else LOG.debug
                log('%s interrupted before revision %d: %s; reconnecting',
                    self.name, self._start, error)
                self._stopped.wait(random.uniform(0.5, 1.0) *
                                   min(0.1 * 2 ** failures, MAX_RETRY_WAIT))

    def _follow(self):
        self._stream = stream = self._store.client.watch(
            *self._range, max(self._start, self._store.birth + 1))
        if self._stopped.is_set():   # cancel() came while the stream opened
            stream.close()
            return
        for events in stream:
            self._deliver(events)
            self._start = events[-1][0] + 1
            if self._stopped.is_set():
                return

    def _deliver(self, events):
        raise NotImplementedError

    def _compacted(self, compact_revision):
        raise NotImplementedError


class EtcdWatch(_Follower):
    """base.Watch's contract on an etcd watch of the documents:
    ``callback(change)`` on a thread of its own, in revision order; a
    failing callback is logged and the feed goes on; ``on_resync(revision)``
    after a compaction of this prefix's history."""

    name = 'store-watch'

    def __init__(self, store, callback, start_revision, on_resync=None):
        self._callback = callback
        self._on_resync = on_resync
        self.revision = start_revision       # the last revision delivered
        docs = store.layout.docs
        super().__init__(store, docs, prefix_end(docs), start_revision)

    def _deliver(self, events):
        for event_revision, key, value, previous in events:
            change = self._store.change(event_revision, key, value, previous)
            try:
                self._callback(change)
            except Exception:
                # One bad consumer step must not end the subscription.
                LOG.exception('change feed callback failed on %s', change[:3])
            self.revision = change.revision
            self._start = change.revision + 1

    def _compacted(self, compact_revision):
        if _lost_nothing(self._store, self.revision, compact_revision):
            self._start = max(self._start, compact_revision + 1)
            return
        LOG.warning('change feed compacted past revision %d; resyncing', self.revision)
        self.revision = self._store.revision
        self._start = self.revision + 1
        if self._on_resync:
            try:
                self._on_resync(self.revision)
            except Exception:
                LOG.exception('change feed resync failed at revision %d', self.revision)


class LeaseReaper(_Follower):
    """Deletes the documents of the leases that end.  etcd drops a lease's
    record (leases/<id>) when it expires; every open store sees that and
    deletes the documents in a commit (concurrent reapers are harmless: the
    second finds nothing to delete).  Leases that ended while no store
    watched -- or in history since compacted -- are found by a sweep."""

    name = 'store-lease-reaper'

    def __init__(self, store):
        super().__init__(store, store.layout.leases, prefix_end(store.layout.leases),
                         self._sweep(store))

    @staticmethod
    def _sweep(store):
        """Reap every lease that has documents but no record; the revision
        the sweep saw."""
        revision, kvs = store.client.range(store.layout.leases,
                                           prefix_end(store.layout.leases), keys_only=True)
        leases = [store.layout.parse_lease_key(key) for key, _, _, _ in kvs]
        alive = {lease for lease, member in leases if member is None}
        for lease in sorted({lease for lease, _ in leases} - alive):
            LOG.info('lease %d ended while no store watched; deleting its documents', lease)
            store.reap_lease(lease)
        return revision

    def _deliver(self, events):
        for _, key, value, _ in events:
            lease, member = self._store.layout.parse_lease_key(key)
            if value is None and member is None:
                LOG.info('lease %d ended; deleting its documents', lease)
                self._store.reap_lease(lease)

    def _compacted(self, compact_revision):
        self._start = self._sweep(self._store) + 1
