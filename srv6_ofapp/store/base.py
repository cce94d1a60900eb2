"""The store interface: documents by (kind, key), transactions, a change feed.

The model is a set of JSON documents, each named by a ``kind`` (``networks``,
``ports``, ``ipallocations`` ...) and a ``key``.  Every committed transaction
gets one new store-wide ``revision`` (as in etcd), and every write in it
becomes a :class:`Change` in the feed.  Uniqueness and allocations are kept
as documents with meaningful keys (``ipallocations/<subnet>/<ip>``), so a
backend needs only point reads, key-prefix ranges and equality filters --
which sqlite and etcd both serve.

Leases (``grant_lease``) give documents that live only while their owner
keeps the lease alive, as etcd leases do: an agent's liveness is one.

``transact(fn)`` may call ``fn`` more than once (an optimistic backend such
as etcd retries on conflict), so ``fn`` must only touch the store through
the transaction it is given.
"""

import abc
import collections
import json
import logging
import threading
import time

from srv6_ofapp import exceptions

LOG = logging.getLogger(__name__)

Change = collections.namedtuple('Change', 'revision kind key old new')
Change.__doc__ = """One write: ``old`` is None for a creation, ``new`` None for a deletion."""


def dump(doc):
    """A document as every backend stores it: compact JSON, sorted keys."""
    return json.dumps(doc, separators=(',', ':'), sort_keys=True)


def load(text):
    return None if text is None else json.loads(text)


def check_field(field):
    """``field`` if it may be a ``where`` filter name (letters, digits, ``_``
    and ``:``, as in ``binding:host_id``), else ValueError: a backend builds
    queries or keys from it."""
    if not field.replace(':', '').replace('_', '').isalnum():
        raise ValueError('not a filterable field name: %r' % field)
    return field


class Compacted(Exception):
    """The requested revision is older than the history the store keeps."""


class LeaseExpired(Exception):
    """A put named a lease that has expired (or never was)."""


class Txn(abc.ABC):
    """A transaction's view: reads see the transaction's own writes."""

    @abc.abstractmethod
    def get(self, kind, key):
        """The document, or None."""

    @abc.abstractmethod
    def list(self, kind, where=None, prefix=None):
        """Documents of ``kind`` whose top-level fields equal ``where``'s
        values and whose key starts with ``prefix``, in key order."""

    @abc.abstractmethod
    def put(self, kind, key, doc, lease=None):
        """Create or replace a document.  With ``lease`` (an id from
        Store.grant_lease) it lives only as long as the lease: when the
        lease expires or is revoked the store deletes it, a change in the
        feed like any other (as an etcd key attached to a lease).  A put
        without a lease makes a document permanent again."""

    @abc.abstractmethod
    def delete(self, kind, key):
        """Remove a document; True if it existed."""


def time_limited(fn, seconds):
    """``fn`` for ``transact``, given a transaction that refuses every read
    and write once ``seconds`` have passed since ``fn`` started: the
    request is rolled back (TransactionTimeLimitExceeded, 503) instead of
    holding the store -- sqlite's write lock, every project's writes --
    for longer.  Each attempt of an optimistic store has the whole time."""
    def limited_fn(txn):
        return fn(_TimeLimitedTxn(txn, time.monotonic() + seconds, seconds))
    return limited_fn


class _TimeLimitedTxn(Txn):

    def __init__(self, txn, deadline, seconds):
        self._txn = txn
        self._deadline = deadline
        self._seconds = seconds

    def _check(self):
        if time.monotonic() > self._deadline:
            raise exceptions.TransactionTimeLimitExceeded(limit=self._seconds)

    def get(self, kind, key):
        self._check()
        return self._txn.get(kind, key)

    def list(self, kind, where=None, prefix=None):
        self._check()
        return self._txn.list(kind, where, prefix)

    def put(self, kind, key, doc, lease=None):
        self._check()
        return self._txn.put(kind, key, doc, lease)

    def delete(self, kind, key):
        self._check()
        return self._txn.delete(kind, key)


class Store(abc.ABC):
    """A backend.  Thread-safe: the REST server calls it from many threads."""

    def __init__(self, url):
        self.url = url
        self._commit_cond = threading.Condition()
        self._commit_seq = 0

    @abc.abstractmethod
    def transact(self, fn):
        """Run ``fn(txn)`` atomically and durably; return its result.

        When this returns, the writes are on disk; when ``fn`` raises,
        nothing it wrote is kept.
        """

    @abc.abstractmethod
    def read(self, fn):
        """Run ``fn(txn)`` on a consistent read-only snapshot."""

    @property
    @abc.abstractmethod
    def revision(self):
        """The revision of the newest committed transaction (0 when empty)."""

    @abc.abstractmethod
    def changes_since(self, revision, limit=1000):
        """Changes with a revision above ``revision``, oldest first.

        Raises :class:`Compacted` when that history is gone; the consumer
        then rebuilds from a :meth:`read` snapshot.
        """

    @abc.abstractmethod
    def grant_lease(self, ttl):
        """A new lease that lasts ``ttl`` seconds unless refreshed; its id."""

    @abc.abstractmethod
    def refresh_lease(self, lease_id):
        """Make the lease last another ttl from now; False when it has
        already expired (its documents are gone or going): grant a new one."""

    @abc.abstractmethod
    def revoke_lease(self, lease_id):
        """End the lease now, deleting its documents."""

    def close(self):
        pass

    # Convenience reads outside a transaction.
    def get(self, kind, key):
        return self.read(lambda txn: txn.get(kind, key))

    def list(self, kind, where=None, prefix=None):
        return self.read(lambda txn: txn.list(kind, where, prefix))

    def watch(self, callback, start_revision=None, on_resync=None):
        """Call ``callback(change)`` for every change after ``start_revision``
        (default: from now), in revision order, on a dedicated thread."""
        if start_revision is None:
            start_revision = self.revision
        return Watch(self, callback, start_revision, on_resync)

    # Backends call this after each commit so watchers wake at once instead
    # of at their next poll (the poll catches writers in other processes).
    def _notify_commit(self):
        with self._commit_cond:
            self._commit_seq += 1
            self._commit_cond.notify_all()

    def _wait_for_commit(self, seen_seq, timeout):
        with self._commit_cond:
            if self._commit_seq == seen_seq:
                self._commit_cond.wait(timeout)


class Watch:
    """A change-feed subscription running on its own thread."""

    poll_interval = 0.5

    def __init__(self, store, callback, start_revision, on_resync=None):
        self._store = store
        self._callback = callback
        self._on_resync = on_resync
        self.revision = start_revision
        self._stopped = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name='store-watch', daemon=True)
        self._thread.start()

    def cancel(self):
        self._stopped.set()
        self._store._notify_commit()
        self._thread.join(timeout=5)

    def _run(self):
        while not self._stopped.is_set():
            seen_seq = self._store._commit_seq
            try:
                changes = self._store.changes_since(self.revision)
            except Compacted:
                LOG.warning('change feed compacted past revision %d; resyncing',
                            self.revision)
                self.revision = self._store.revision
                if self._on_resync:
                    self._on_resync(self.revision)
                continue
            except Exception:  # a closed or broken store: stop quietly
                if not self._stopped.is_set():
                    LOG.exception('change feed read failed')
                    self._stopped.wait(self.poll_interval)
                continue
            for change in changes:
                try:
                    self._callback(change)
                except Exception:
                    # One bad consumer step must not end the subscription.
                    LOG.exception('change feed callback failed on %s', change[:3])
                self.revision = change.revision
            if not changes:
                self._store._wait_for_commit(seen_seq, self.poll_interval)
