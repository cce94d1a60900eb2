"""The embedded default store: one sqlite file in WAL mode.

Durability: ``synchronous=FULL`` makes every COMMIT reach the disk before
``transact`` returns, so an acknowledged REST write survives kill -9 and
power loss; a transaction that does not commit leaves nothing behind.

Writers are serialised by ``BEGIN IMMEDIATE`` (and, inside one process, by
a lock so that the change feed sees revisions in order); readers use their
own per-thread connections and never block writers (WAL).

Failures and closing: sqlite's own errors (a full disk, an I/O error, a
lock held too long by another process) are StoreUnavailable (503) with
sqlite's reason, after a rollback that does not hide it (sqlite may have
rolled the transaction back itself).  ``close`` refuses new operations,
waits for those running (connections are per thread but closed from one:
closing one under a running statement can crash the process), then closes
every connection; an operation after it is StoreUnavailable too.
"""

import contextlib
import json
import logging
import os
import sqlite3
import threading
import time

from srv6_ofapp import exceptions
from srv6_ofapp.store import base

LOG = logging.getLogger(__name__)

SCHEMA_VERSION = 3

# Fields the REST layer filters on often enough to deserve an index; any
# other top-level field still works, by a scan of the kind.  (Each index is
# created by a migration below.)
INDEXED_FIELDS = ('network_id', 'binding:host_id', 'tenant_id', 'ip_address')

# How many revisions of change history to keep for watchers that fall behind.
HISTORY = 100000

# WAL checkpoints (and the expiry of leases) run on a thread of their own
# this often, not inside a writer's COMMIT (sqlite's autocheckpoint), whose
# cost grows with the file.
CHECKPOINT_INTERVAL = 0.5

# How long close() waits for the operations running (a request's
# transaction is bounded by the plugin's REQUEST_TIME_LIMIT, 10 s).
CLOSE_TIMEOUT = 15.0


def _field_expr(field):
    return "json_extract(doc, '$.\"%s\"')" % base.check_field(field)


def _index_name(field):
    return 'resources_by_' + field.replace(':', '_')


_dump = base.dump
_load = base.load


def _migrate_0_to_1(conn):
    conn.execute('CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)')
    conn.execute("INSERT INTO meta VALUES ('revision', 0)")
    conn.execute('CREATE TABLE resources (kind TEXT NOT NULL, key TEXT NOT NULL, '
                 'doc TEXT NOT NULL, revision INTEGER NOT NULL, '
                 'PRIMARY KEY (kind, key)) WITHOUT ROWID')
    for field in ('network_id', 'binding:host_id', 'tenant_id'):
        _create_index(conn, field)
    conn.execute('CREATE TABLE changes (revision INTEGER NOT NULL, seq INTEGER NOT NULL, '
                 'kind TEXT NOT NULL, key TEXT NOT NULL, old TEXT, new TEXT, '
                 'PRIMARY KEY (revision, seq)) WITHOUT ROWID')


def _migrate_1_to_2(conn):
    # ipallocations by address: the fixed_ips=ip_address=X filter.
    _create_index(conn, 'ip_address')


def _migrate_2_to_3(conn):
    # Leases: a document attached to one is deleted when the lease expires.
    # Expiry is wall-clock time, shared by every process on the file.
    conn.execute('CREATE TABLE leases (id INTEGER PRIMARY KEY, ttl REAL NOT NULL, '
                 'expires REAL NOT NULL)')
    conn.execute('CREATE TABLE leased (kind TEXT NOT NULL, key TEXT NOT NULL, '
                 'lease INTEGER NOT NULL, PRIMARY KEY (kind, key)) WITHOUT ROWID')
    conn.execute('CREATE INDEX leased_by_lease ON leased (lease)')


def _create_index(conn, field):
    conn.execute('CREATE INDEX %s ON resources (kind, %s)' % (_index_name(field),
                                                               _field_expr(field)))


# MIGRATIONS[n] upgrades a file at schema version n to n + 1.
MIGRATIONS = {0: _migrate_0_to_1, 1: _migrate_1_to_2, 2: _migrate_2_to_3}


class _SqliteTxn(base.Txn):

    def __init__(self, conn, revision=None):
        self._conn = conn
        self._revision = revision  # the revision a commit will get; None: read-only
        self.changes = []

    def get(self, kind, key):
        row = self._conn.execute(
            'SELECT doc FROM resources WHERE kind = ? AND key = ?', (kind, key)).fetchone()
        return None if row is None else json.loads(row[0])

    def list(self, kind, where=None, prefix=None):
        # Without statistics sqlite prefers the (kind, key) primary key, which
        # scans every document of the kind: name the index of a filter field.
        indexed = [f for f in (where or {}) if f in INDEXED_FIELDS]
        sql = ['SELECT doc FROM resources']
        if indexed:
            sql.append('INDEXED BY %s' % _index_name(indexed[0]))
        sql.append('WHERE kind = ?')
        args = [kind]
        if prefix:
            # A key range, served by the primary key; '\uffff' sorts after
            # any character our keys use.
            sql.append('AND key >= ? AND key < ?')
            args += [prefix, prefix + '\uffff']
        for field, value in (where or {}).items():
            sql.append('AND %s = ?' % _field_expr(field))
            args.append(value)
        sql.append('ORDER BY key')
        return [json.loads(row[0]) for row in self._conn.execute(' '.join(sql), args)]

    def put(self, kind, key, doc, lease=None):
        self._check_writable()
        old = self.get(kind, key)
        self._conn.execute('INSERT OR REPLACE INTO resources VALUES (?, ?, ?, ?)',
                           (kind, key, _dump(doc), self._revision))
        self._conn.execute('DELETE FROM leased WHERE kind = ? AND key = ?', (kind, key))
        if lease is not None:
            if not self._conn.execute('SELECT 1 FROM leases WHERE id = ? AND expires >= ?',
                                      (lease, time.time())).fetchone():
                raise base.LeaseExpired(lease)
            self._conn.execute('INSERT INTO leased VALUES (?, ?, ?)', (kind, key, lease))
        self.changes.append((kind, key, old, doc))

    def delete(self, kind, key):
        self._check_writable()
        old = self.get(kind, key)
        if old is None:
            return False
        self._conn.execute('DELETE FROM resources WHERE kind = ? AND key = ?', (kind, key))
        self._conn.execute('DELETE FROM leased WHERE kind = ? AND key = ?', (kind, key))
        self.changes.append((kind, key, old, None))
        return True

    def _check_writable(self):
        if self._revision is None:
            raise RuntimeError('write in a read-only transaction')


def _rollback(conn):
    """End a failed transaction without hiding why it failed: sqlite rolls
    some back itself (a full disk at COMMIT), and then ROLLBACK is an error."""
    if conn.in_transaction:
        try:
            conn.execute('ROLLBACK')
        except sqlite3.Error as error:
            LOG.warning('rollback failed: %s', error)


class SqliteStore(base.Store):

    def __init__(self, url, path):
        super().__init__(url)
        self.path = path
        self._local = threading.local()
        self._connections = []
        self._connections_lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._closing = threading.Event()
        self._users = 0   # operations running (see _connection)
        self._users_cond = threading.Condition()
        self._checkpointer = None
        try:
            directory = os.path.dirname(os.path.abspath(path))
            os.makedirs(directory, exist_ok=True)
            self._migrate()
        except OSError as exc:
            self.close()
            raise exceptions.StoreUnavailable(url=url, reason=exc)
        except exceptions.StoreUnavailable:
            self.close()
            raise
        self._checkpointer = threading.Thread(target=self._checkpoint_loop,
                                              name='sqlite-checkpoint', daemon=True)
        self._checkpointer.start()

    def _checkpoint_loop(self):
        while not self._closing.wait(CHECKPOINT_INTERVAL):
            try:
                with self._connection() as conn:
                    conn.execute('PRAGMA wal_checkpoint(PASSIVE)')
                self._expire_leases()
            except exceptions.StoreUnavailable as exc:
                if not self._closing.is_set():
                    LOG.warning('WAL checkpoint or lease expiry failed: %s', exc.msg)

    def _conn(self):
        conn = getattr(self._local, 'conn', None)
        if conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None,
                                   check_same_thread=False, timeout=30)
            conn.execute('PRAGMA journal_mode = WAL')
            conn.execute('PRAGMA synchronous = FULL')
            conn.execute('PRAGMA wal_autocheckpoint = 0')  # see _checkpoint_loop
            self._local.conn = conn
            with self._connections_lock:
                self._connections.append(conn)
        return conn

    @contextlib.contextmanager
    def _connection(self):
        """This thread's connection for one operation, which close() waits
        for; sqlite's errors become StoreUnavailable with their reason."""
        with self._users_cond:
            if self._closing.is_set():
                raise exceptions.StoreUnavailable(url=self.url, reason='it is closed')
            self._users += 1
        try:
            yield self._conn()
        except sqlite3.Error as error:
            raise exceptions.StoreUnavailable(url=self.url, reason=error) from error
        finally:
            with self._users_cond:
                self._users -= 1
                self._users_cond.notify_all()

    @contextlib.contextmanager
    def _writing(self):
        """A write transaction (BEGIN IMMEDIATE ... COMMIT) under the write
        lock; whatever raises inside rolls it back."""
        with self._connection() as conn, self._write_lock:
            conn.execute('BEGIN IMMEDIATE')
            try:
                yield conn
                conn.execute('COMMIT')
            except BaseException:
                _rollback(conn)
                raise

    @contextlib.contextmanager
    def _reading(self):
        """A read transaction: one consistent snapshot."""
        with self._connection() as conn:
            conn.execute('BEGIN')
            try:
                yield conn
            finally:
                _rollback(conn)

    def _migrate(self):
        with self._writing() as conn:
            version = conn.execute('PRAGMA user_version').fetchone()[0]
            if version > SCHEMA_VERSION:
                raise sqlite3.DatabaseError(
                    'schema version %d is newer than this release (%d)'
                    % (version, SCHEMA_VERSION))
            while version < SCHEMA_VERSION:
                MIGRATIONS[version](conn)
                version += 1
                conn.execute('PRAGMA user_version = %d' % version)

    @property
    def revision(self):
        with self._connection() as conn:
            return self._read_revision(conn)

    @staticmethod
    def _read_revision(conn):
        return conn.execute("SELECT value FROM meta WHERE key = 'revision'").fetchone()[0]

    def transact(self, fn):
        with self._writing() as conn:
            txn = _SqliteTxn(conn, self._read_revision(conn) + 1)
            result = fn(txn)
            if txn.changes:
                self._record(conn, txn._revision, txn.changes)
        if txn.changes:
            self._notify_commit()
        return result

    # -- leases -------------------------------------------------------------

    def grant_lease(self, ttl):
        with self._writing() as conn:
            return conn.execute('INSERT INTO leases (ttl, expires) VALUES (?, ?)',
                                (ttl, time.time() + ttl)).lastrowid

    def refresh_lease(self, lease_id):
        with self._writing() as conn:
            now = time.time()
            return conn.execute(
                'UPDATE leases SET expires = ? + ttl WHERE id = ? AND expires >= ?',
                (now, lease_id, now)).rowcount == 1

    def revoke_lease(self, lease_id):
        def txn_fn(txn):
            for kind, key in txn._conn.execute(
                    'SELECT kind, key FROM leased WHERE lease = ?', (lease_id,)).fetchall():
                txn.delete(kind, key)
            txn._conn.execute('DELETE FROM leases WHERE id = ?', (lease_id,))
        self.transact(txn_fn)

    def _expire_leases(self):
        """Revoke the leases nobody refreshed in time (their holder died):
        their documents go, through the feed like any deletion."""
        with self._connection() as conn:
            expired = conn.execute('SELECT id FROM leases WHERE expires < ?',
                                   (time.time(),)).fetchall()
        for (lease_id,) in expired:
            LOG.info('lease %d expired', lease_id)
            self.revoke_lease(lease_id)

    def _record(self, conn, revision, changes):
        conn.execute("UPDATE meta SET value = ? WHERE key = 'revision'", (revision,))
        rows = [(revision, seq, kind, key,
                 None if old is None else _dump(old), None if new is None else _dump(new))
                for seq, (kind, key, old, new) in enumerate(changes)]
        conn.executemany('INSERT INTO changes VALUES (?, ?, ?, ?, ?, ?)', rows)
        if revision % 1000 == 0:
            conn.execute('DELETE FROM changes WHERE revision <= ?', (revision - HISTORY,))

    def read(self, fn):
        with self._reading() as conn:
            return fn(_SqliteTxn(conn))

    def changes_since(self, revision, limit=1000):
        with self._reading() as conn:
            rows = conn.execute(
                'SELECT revision, kind, key, old, new FROM changes WHERE revision > ? '
                'ORDER BY revision, seq LIMIT ?', (revision, limit)).fetchall()
            if revision < self._read_revision(conn):
                oldest = conn.execute('SELECT MIN(revision) FROM changes').fetchone()[0]
                if oldest is None or oldest > revision + 1:
                    raise base.Compacted(revision)
        return [base.Change(r, kind, key, _load(old), _load(new))
                for r, kind, key, old, new in rows]

    def close(self):
        """Refuse new operations, wait for the running ones, then close
        every connection (if some operation outlives CLOSE_TIMEOUT, its
        connection is left open: the process is ending anyway)."""
        with self._users_cond:
            self._closing.set()
        if self._checkpointer is not None and \
                self._checkpointer is not threading.current_thread():
            self._checkpointer.join(timeout=CLOSE_TIMEOUT)
        with self._users_cond:
            if not self._users_cond.wait_for(lambda: self._users == 0, CLOSE_TIMEOUT):
                LOG.warning('store %s closed with %d operations still running; their '
                            'connections stay open', self.url, self._users)
                return
        with self._connections_lock:
            for conn in self._connections:
                try:
                    conn.close()
                except sqlite3.Error:
                    pass
            self._connections = []
        self._local = threading.local()
