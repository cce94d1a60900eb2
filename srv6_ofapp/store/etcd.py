"""The etcd store: the model in an etcd v3 cluster, shared by every process
of a distributed deployment (API servers, agents).

URL: ``etcd://HOST:PORT[,HOST:PORT...]/PREFIX[?timeout=S&deadline=S]``.
Every endpoint is used (etcd_client.py fails over between them); PREFIX
names the cluster: stores under different prefixes share one etcd without
seeing each other.  ``timeout`` bounds one request (default 2 s: longer is
not safer, see etcd_client.py), ``deadline`` how long a request is retried
on other endpoints before StoreUnavailable (default 15 s, longer than an
etcd election).

The keys under PREFIX are described in etcd_layout.py.

Revisions are etcd's: one commit is one etcd txn, hence one revision, and
every document it writes is a change of that revision.  They jump when
other prefixes write; ``revision`` is that of this prefix's newest commit.

**Transactions are optimistic and serializable.**  ``fn`` reads at one etcd
revision R (pinned by its first read, served by later reads as serializable
reads at R) and buffers its writes.  The commit is one etcd txn whose
compares hold only if nothing ``fn`` read has changed since R:

- a point read: the key's mod revision is still the one read (0: absent);
- a list of a whole kind: the kind's clock was not written after R;
- a list of a key prefix, or through an index: no key of the range read
  (documents, or index entries) has a mod revision above R -- that catches
  insertions and updates -- and each document returned still has the mod
  revision read, which catches deletions and documents leaving the index.

``put`` and ``delete`` read the old document first (to maintain the index
entries), so every key written is also compared.  Uniqueness rules are
then write-skew free however they are written: a point read of an absent
key, a scan of a kind or of an index range, and a concurrent creation that
would have been seen all conflict; the loser runs ``fn`` again, from a
newer revision, and sees the winner's document.  When the compares would
pass etcd's limit (--max-txn-ops, 128 by default), a kind's clock stands
for all of that kind's compares: coarser, still correct.

On conflict ``fn`` runs again (at most MAX_ATTEMPTS times, with a jittered
backoff), then StoreConflict (409).  A commit that meets a failure (a
leader election, a member dying) is sent again, to another member: the
``txns/<id>`` key makes that idempotent -- every attempt of one call
compares it absent and creates it, so at most one attempt ever commits, and
a failed compare that finds it says which attempt did.  ``transact``
returns after etcd's txn response, i.e. after the quorum committed.

Reads (``read``) are a snapshot at one revision, linearizable; without a
quorum they fall back to the answering member's own (serializable) data.
Indexed fields (INDEXED_FIELDS) are served from their index entries, other
``where`` fields by a scan of the kind or prefix; ``where`` values compare
as sqlite's ``json_extract`` does (true = 1, 1.0 = 1, null matches
nothing).  The change feed is etcd_feed.py.

Leases (``grant_lease`` ...) are etcd leases; a leased document is deleted
by a commit when its lease ends (etcd_layout.py, etcd_feed.LeaseReaper),
so that the deletion is seen like any other: by the feed, by ``revision``
and by transactions that read the document.
"""

import collections
import json
import math
import random
import secrets
import threading
import time

from srv6_ofapp import exceptions
from srv6_ofapp import metrics
from srv6_ofapp.store import base
from srv6_ofapp.store import etcd_feed
from srv6_ofapp.store.etcd_client import (EtcdClient, LeaseNotFound, decode, delete_request,
                                          encode, mod_revision_compare, put_request)
from srv6_ofapp.store.etcd_layout import (INDEXED_FIELDS, LAYOUT_VERSION, Layout,
                                          decode_value, encode_value, filters_of, matches,
                                          parse_url)

REQUEST_TIMEOUT = 2.0
DEADLINE = 15.0
# A linearizable read that finds no quorum for this long is served by the
# member's own data instead.
READ_FALLBACK_AFTER = 2.0
MAX_ATTEMPTS = 32
COMPARE_BUDGET = 100   # etcd refuses a txn of more than --max-txn-ops (128) compares
FETCH_BATCH = 100      # documents read by one etcd txn of range requests
TXN_MARK_TTL = 600     # seconds a txns/<id> key outlives its commit


# A key as the snapshot saw it: a document's JSON text (None: absent), its
# mod revision (0: absent) and the lease that holds it (None: permanent).
Seen = collections.namedtuple('Seen', 'text mod_revision lease')
ABSENT = Seen(None, 0, None)


def _seen(value, mod_revision):
    text, lease = decode_value(value)
    return Seen(text, mod_revision, lease)


class _SnapshotGone(Exception):
    """The revision a transaction reads at was compacted under it."""


class EtcdTxn(base.Txn):
    """Reads at one etcd revision, buffered writes, and what to compare at
    commit to know that nothing read has changed."""

    def __init__(self, store, writable):
        self._store = store
        self._client = store.client
        self._layout = store.layout
        self._writable = writable
        self.revision = None        # the etcd revision every read is made at
        self._seen = {}             # etcd key -> Seen
        self._point_guards = {}     # etcd key -> kind (None: not a document): the
                                    # mod revision seen must not change
        self._range_guards = []     # (kind, start, end): nothing in it written after
        self._kind_guards = set()   # kinds whose clock must not move
        self._writes = {}           # (kind, key) -> (JSON text, lease) or None (deleted)
        self._head = None

    # -- reading at the snapshot ----------------------------------------------

    def _range(self, start, end=None, keys_only=False):
        try:
            if self.revision is None:
                self.revision, kvs = self._store.first_read(start, end, keys_only,
                                                            self._writable)
                return kvs
            return self._client.range(start, end, self.revision, linearizable=False,
                                      keys_only=keys_only)[1]
        except base.Compacted:
            raise _SnapshotGone()

    def _read(self, etcd_key):
        """The key at the snapshot, as a Seen."""
        if etcd_key not in self._seen:
            kvs = self._range(etcd_key)
            self._seen[etcd_key] = _seen(kvs[0][1], kvs[0][2]) if kvs else ABSENT
        return self._seen[etcd_key]

    def _fetch(self, etcd_keys):
        """Read the documents not seen yet, a batch per request."""
        missing = [key for key in etcd_keys if key not in self._seen]
        for i in range(0, len(missing), FETCH_BATCH):
            batch = missing[i:i + FETCH_BATCH]
            ranges = [{'request_range': {'key': encode(key), 'revision': self.revision,
                                         'serializable': True}} for key in batch]
            try:
                response = self._client.call('kv/txn', {'success': ranges},
                                             linearizable=False)
            except base.Compacted:
                raise _SnapshotGone()
            for key, answer in zip(batch, response['responses']):
                kvs = answer['response_range'].get('kvs')
                self._seen[key] = (_seen(decode(kvs[0].get('value')),
                                         int(kvs[0]['mod_revision'])) if kvs else ABSENT)

    def head_revision(self):
        """The revision of the newest commit this snapshot sees."""
        if self._head is None:
            kvs = self._range(self._layout.head)
            self._head = kvs[0][2] if kvs else 0
        return self._head

    # -- the Txn interface ----------------------------------------------------------

    def get(self, kind, key):
        if (kind, key) in self._writes:
            written = self._writes[kind, key]
            return None if written is None else json.loads(written[0])
        etcd_key = self._layout.doc(kind, key)
        self._point_guards[etcd_key] = kind
        return base.load(self._read(etcd_key).text)

    def list(self, kind, where=None, prefix=None):
        filters = filters_of(where)
        if filters is None:
            return []
        prefix = prefix or ''
        field = next((f for f in INDEXED_FIELDS if f in filters), None)
        if field is not None:
            found = self._list_indexed(kind, field, filters[field], prefix)
        elif prefix:
            found = self._list_range(kind, prefix, filters)
        else:
            found = self._list_kind(kind)
        texts = dict(found)
        for (written_kind, key), written in self._writes.items():
            if written_kind == kind and key.startswith(prefix):
                texts[key] = None if written is None else written[0]
        docs = (json.loads(texts[key]) for key in sorted(texts) if texts[key] is not None)
        return [doc for doc in docs if matches(doc, filters)]

    def _list_kind(self, kind):
        self._kind_guards.add(kind)
        return self._scan(*self._layout.docs_range(kind))

    def _list_range(self, kind, prefix, filters):
        start, end = self._layout.docs_range(kind, prefix)
        self._range_guards.append((kind, start, end))
        found = self._scan(start, end)
        for key, text in found:
            if matches(json.loads(text), filters):
                self._point_guards[self._layout.doc(kind, key)] = kind
        return found

    def _list_indexed(self, kind, field, value, prefix):
        start, end = self._layout.index_range(kind, field, value, prefix)
        self._range_guards.append((kind, start, end))
        keys = [self._layout.index_key(kind, field, value, entry)
                for entry, _, _, _ in self._range(start, end, keys_only=True)]
        etcd_keys = [self._layout.doc(kind, key) for key in keys]
        self._fetch(etcd_keys)
        for etcd_key in etcd_keys:
            self._point_guards[etcd_key] = kind
        return [(key, self._seen[etcd_key].text) for key, etcd_key in zip(keys, etcd_keys)
                if self._seen[etcd_key].text is not None]

    def _scan(self, start, end):
        found = []
        for etcd_key, value, mod_revision, _ in self._range(start, end):
            seen = self._seen.setdefault(etcd_key, _seen(value, mod_revision))
            found.append((self._layout.parse_doc(etcd_key)[1], seen.text))
        return found

    def put(self, kind, key, doc, lease=None):
        self._check_writable()
        text = base.dump(doc)
        if lease is not None:
            # The lease's record is compared too: it must live until the commit.
            record = self._layout.lease(lease)
            self._point_guards[record] = None
            if self._read(record) is ABSENT:
                raise base.LeaseExpired(lease)
        self.get(kind, key)   # the old document: its index entries go, and it is compared
        self._writes[kind, key] = (text, lease)

    def delete(self, kind, key):
        self._check_writable()
        if self.get(kind, key) is None:
            return False
        self._writes[kind, key] = None
        return True

    def _check_writable(self):
        if not self._writable:
            raise RuntimeError('write in a read-only transaction')

    # -- the commit ---------------------------------------------------------------

    def lease_members(self, lease):
        """(kind, key) of the documents ``lease`` holds."""
        start, end = self._layout.lease_members(lease)
        self._range_guards.append((None, start, end))
        return [self._layout.parse_lease_key(etcd_key)[1]
                for etcd_key, _, _, _ in self._range(start, end, keys_only=True)]

    def lease_of(self, kind, key):
        self.get(kind, key)
        return self._seen[self._layout.doc(kind, key)].lease

    def operations(self):
        """The etcd requests that apply the writes; [] when they change nothing."""
        operations, kinds = [], []
        for (kind, key), written in self._writes.items():
            etcd_key = self._layout.doc(kind, key)
            old = self._seen[etcd_key]
            text, lease = written or (None, None)
            if text is None and old.text is None:
                continue   # created and deleted again by this transaction
            operations.append(delete_request(etcd_key) if text is None else
                              put_request(etcd_key, encode_value(text, lease)))
            old_entries = self._layout.index_entries(kind, key, base.load(old.text))
            new_entries = self._layout.index_entries(kind, key, base.load(text))
            operations += [delete_request(entry) for entry in sorted(old_entries - new_entries)]
            operations += [put_request(entry) for entry in sorted(new_entries - old_entries)]
            if old.lease != lease:
                if old.lease is not None:
                    operations.append(delete_request(self._layout.lease_member(old.lease, kind, key)))
                if lease is not None:
                    operations.append(put_request(self._layout.lease_member(lease, kind, key)))
            if kind not in kinds:
                kinds.append(kind)
        return operations + [put_request(self._layout.clock(kind)) for kind in kinds]

    def guards(self):
        """The compares that hold only if nothing read has changed."""
        kinds = set(self._kind_guards)
        per_kind = collections.defaultdict(list)   # None: keys that are not documents
        for etcd_key, kind in self._point_guards.items():
            if kind not in kinds:
                per_kind[kind].append(mod_revision_compare(etcd_key, 'EQUAL',
                                                    self._seen[etcd_key].mod_revision))
        for kind, start, end in self._range_guards:
            if kind not in kinds:
                per_kind[kind].append(mod_revision_compare(start, 'LESS', self.revision + 1, end))
        # Over etcd's limit: the clock of the kind with most compares stands
        # for all of them, until the rest fits.
        while len(kinds) + sum(map(len, per_kind.values())) > COMPARE_BUDGET:
            documents = [kind for kind in per_kind if kind is not None]
            if not documents:
                break
            biggest = max(documents, key=lambda k: len(per_kind[k]))
            del per_kind[biggest]
            kinds.add(biggest)
        return ([mod_revision_compare(self._layout.clock(kind), 'LESS', self.revision + 1)
                 for kind in sorted(kinds)] +
                [compare for kind in sorted(per_kind, key=str) for compare in per_kind[kind]])


class EtcdStore(base.Store):

    def __init__(self, url):
        super().__init__(url)
        endpoints, prefix, options = parse_url(url, REQUEST_TIMEOUT, DEADLINE)
        self.prefix = prefix
        self.layout = Layout(prefix)
        self.client = EtcdClient(url, endpoints, options['timeout'], options['deadline'])
        self._local = threading.local()
        self._mark_lease = (None, 0.0)
        self._mark_lease_lock = threading.Lock()
        try:
            self.birth = self._open_layout()
            # Every open store deletes the documents of leases that expire.
            self._reaper = etcd_feed.LeaseReaper(self)
        except BaseException:
            self.client.close()
            raise

    def _open_layout(self):
        """Create meta/layout, or check that this release can use the one
        there; the revision this store's history starts at."""
        meta = self.layout.meta
        response = self.client.txn(
            [{'key': encode(meta), 'target': 'CREATE', 'result': 'EQUAL', 'create_revision': 0}],
            [put_request(meta, json.dumps({'version': LAYOUT_VERSION}).encode())],
            [{'request_range': {'key': encode(meta)}}])
        if response.get('succeeded'):
            return int(response['header']['revision'])
        kv = response['responses'][0]['response_range']['kvs'][0]
        try:
            version = json.loads(decode(kv.get('value')))['version']
        except (ValueError, KeyError, TypeError):
            raise exceptions.StoreUnavailable(url=self.url, reason='%s is not a layout '
                                              'document' % meta.decode())
        if version > LAYOUT_VERSION:
            raise exceptions.StoreUnavailable(
                url=self.url, reason='layout version %s is newer than this release (%d)'
                % (version, LAYOUT_VERSION))
        return int(kv['create_revision'])

    # -- snapshots -------------------------------------------------------------------

    def first_read(self, start, end, keys_only, writable):
        """The first read of a transaction: (revision it pins, kvs).
        A read-only snapshot without a quorum is served by the member's own
        data after READ_FALLBACK_AFTER seconds."""
        if writable:
            return self.client.range(start, end, keys_only=keys_only)
        try:
            return self.client.range(start, end, keys_only=keys_only,
                                     deadline=READ_FALLBACK_AFTER)
        except exceptions.StoreUnavailable:
            return self.client.range(start, end, keys_only=keys_only, linearizable=False)

    def _run(self, txn, fn):
        # While fn runs, ``self.revision`` on this thread is the snapshot's,
        # as sqlite's is on the connection of the thread's transaction: a
        # caller may take a snapshot and watch from its revision.
        previous = getattr(self._local, 'txn', None)
        self._local.txn = txn
        try:
            return fn(txn)
        finally:
            self._local.txn = previous

    @property
    def revision(self):
        txn = getattr(self._local, 'txn', None)
        if txn is not None:
            return txn.head_revision()
        return EtcdTxn(self, writable=False).head_revision()

    def read(self, fn):
        for _ in range(MAX_ATTEMPTS):
            try:
                return self._run(EtcdTxn(self, writable=False), fn)
            except _SnapshotGone:
                continue   # compacted under a long read: read again, newer
        raise exceptions.StoreUnavailable(url=self.url, reason='history compacted under '
                                          'every read attempt')

    # -- transactions ------------------------------------------------------------------

    def transact(self, fn):
        txn_id = secrets.token_hex(16)
        results = {}   # attempt -> fn's result, for every attempt sent to etcd
        for attempt in range(1, MAX_ATTEMPTS + 1):
            txn = EtcdTxn(self, writable=True)
            try:
                result = self._run(txn, fn)
            except _SnapshotGone:
                continue
            operations = txn.operations()
            if not operations:
                return result
            results[attempt] = result
            committed = self._commit(txn, txn_id, attempt, operations)
            if committed is not None:
                return results[committed]
            metrics.count('etcd_commit_conflict')
            # Jittered, growing: threads that collided do not collide again.
            time.sleep(random.uniform(0, min(0.002 * 2 ** attempt, 0.2)))
        raise exceptions.StoreConflict(attempts=MAX_ATTEMPTS)

    def _commit(self, txn, txn_id, attempt, operations):
        """Send one attempt; the attempt that committed (this one, or an
        earlier one whose answer was lost), or None on a conflict."""
        mark = self.layout.txn_mark(txn_id)
        compare = [{'key': encode(mark), 'target': 'CREATE', 'result': 'EQUAL',
                    'create_revision': 0}] + txn.guards()
        while True:
            lease = self._mark_lease_id()
            success = ([put_request(mark, str(attempt).encode(), lease)] + operations +
                       [put_request(self.layout.head)])
            try:
                response = self.client.txn(compare, success,
                                           [{'request_range': {'key': encode(mark)}}])
                break
            except LeaseNotFound:
                self._forget_mark_lease(lease)
        if response.get('succeeded'):
            return attempt
        kvs = response['responses'][0]['response_range'].get('kvs')
        return int(decode(kvs[0]['value'])) if kvs else None

    def _mark_lease_id(self):
        """An etcd lease for txns/<id> keys; a new one every TTL/2, so that
        a key lives between TTL/2 and TTL after its commit."""
        with self._mark_lease_lock:
            lease, granted = self._mark_lease
            if lease is None or time.monotonic() - granted > TXN_MARK_TTL / 2:
                lease = self.client.grant_lease(TXN_MARK_TTL)
                self._mark_lease = (lease, time.monotonic())
            return lease

    def _forget_mark_lease(self, lease):
        with self._mark_lease_lock:
            if self._mark_lease[0] == lease:
                self._mark_lease = (None, 0.0)

    # -- leases (Store.grant_lease ...) -----------------------------------------

    def grant_lease(self, ttl):
        # etcd counts whole seconds, and raises a TTL below its minimum
        # (1.5 election timeouts, 2 s by default) to that minimum.
        lease = self.client.grant_lease(max(1, math.ceil(ttl)))
        self.client.txn([], [put_request(self.layout.lease(lease), lease=lease)])
        return lease

    def refresh_lease(self, lease_id):
        answer = self.client.call('lease/keepalive', {'ID': lease_id})
        return int(answer.get('result', {}).get('TTL', 0)) > 0

    def revoke_lease(self, lease_id):
        try:
            self.client.call('lease/revoke', {'ID': lease_id})
        except LeaseNotFound:
            pass   # expired already; its documents may still be here
        self.reap_lease(lease_id)

    def reap_lease(self, lease_id):
        """Delete the documents of a lease that is gone, in one commit."""
        def fn(txn):
            for kind, key in txn.lease_members(lease_id):
                if txn.lease_of(kind, key) == lease_id:
                    txn.delete(kind, key)
        self.transact(fn)

    # -- the change feed ----------------------------------------------------------------

    def changes_since(self, revision, limit=1000):
        return etcd_feed.changes_since(self, revision, limit)

    def watch(self, callback, start_revision=None, on_resync=None):
        if start_revision is None:
            start_revision = self.revision
        return etcd_feed.EtcdWatch(self, callback, start_revision, on_resync)

    def change(self, revision, etcd_key, value, previous):
        """The base.Change of one etcd event on a document."""
        kind, key = self.layout.parse_doc(etcd_key)
        def doc(value):
            return None if value is None else json.loads(decode_value(value)[0])
        return base.Change(revision, kind, key, doc(previous), doc(value))

    def close(self):
        self._reaper.cancel()
        self.client.close()
