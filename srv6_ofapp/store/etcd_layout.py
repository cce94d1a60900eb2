"""What the etcd store keeps where: the endpoints and prefix of its URL, the
keys under the prefix, and how field values are compared and indexed.

Key layout, all under PREFIX (UTF-8; a prefix component may not be one of
the names below, so that no prefix lies inside another's keys):

  meta/layout                    {"version": 1}, created by the first store
                                 opened on the prefix; its create revision is
                                 where this store's history starts
  meta/head                      rewritten by every commit: its mod revision
                                 is ``Store.revision``
  docs/<kind>/<key>              the document, compact JSON
  index/<kind>/<field>/<value>/<key>
                                 "": the document has ``field`` = value (JSON)
  kinds/<kind>                   "": rewritten by every commit that writes a
                                 document of the kind (its "clock")
  txns/<id>                      the attempt that committed transact() call
                                 <id>; leased, gone after ~10 minutes
  leases/<lease>                 "": the record of a store lease, attached to
                                 the etcd lease: present exactly while it lives
  leases/<lease>/<kind>/<key>    "": the document is leased by <lease>

A leased document's value is NUL <lease id> NUL <JSON> (JSON never starts
with NUL), so reading it says whether, and by which lease, it is leased.
Only the record is attached to the etcd lease: when etcd drops it, a store
deletes the lease's documents in a commit of its own, so that their index
entries, kind clocks and meta/head move as for any deletion.

Index values are JSON of the value as sqlite's json_extract() compares it
(true is 1, 1.0 is 1, arrays and objects are their JSON text), so that a
``where`` lookup finds exactly the documents sqlite's query would.
"""

import json
import urllib.parse

from srv6_ofapp import exceptions
from srv6_ofapp.store import base
from srv6_ofapp.store.etcd_client import prefix_end

LAYOUT_VERSION = 1
RESERVED_NAMES = ('meta', 'docs', 'index', 'kinds', 'txns', 'leases')

# Fields with index entries, the most selective first: a list filtered on
# several reads the first one's entries (the REST layer's store filters and
# the plugin's address lookup).
INDEXED_FIELDS = ('ip_address', 'network_id', 'binding:host_id', 'tenant_id')

DEFAULT_PORT = 2379


def parse_url(url, timeout, deadline):
    """(endpoints [(host, port)], prefix, options) of an etcd:// URL;
    ``timeout`` and ``deadline`` are the options' defaults."""
    def refuse(reason):
        return exceptions.StoreUnavailable(url=url, reason=reason)
    parsed = urllib.parse.urlsplit(url)
    if not parsed.netloc:
        raise refuse('no endpoint: etcd://HOST:PORT[,HOST:PORT...]/PREFIX')
    endpoints = []
    for item in parsed.netloc.split(','):
        endpoint = urllib.parse.urlsplit('//' + item)   # HOST, HOST:PORT, [IPv6]:PORT
        try:
            endpoints.append((endpoint.hostname, endpoint.port or DEFAULT_PORT))
        except ValueError:
            endpoint = None
        if endpoint is None or not endpoint.hostname:
            raise refuse('bad endpoint %r' % item)
    components = parsed.path.strip('/').split('/')
    if not parsed.path.strip('/') or '' in components:
        raise refuse('no prefix: etcd://HOST:PORT[,HOST:PORT...]/PREFIX names the cluster')
    if set(components) & set(RESERVED_NAMES):
        raise refuse('a prefix may not contain the component names %s' % (RESERVED_NAMES,))
    options = {'timeout': timeout, 'deadline': deadline}
    for name, values in urllib.parse.parse_qs(parsed.query).items():
        if name not in options:
            raise refuse('unknown option %r (known: %s)' % (name, ', '.join(options)))
        try:
            options[name] = float(values[-1])
        except ValueError:
            raise refuse('option %s is not a number' % name)
    return endpoints, '/' + '/'.join(components), options


def comparable(value):
    """A top-level field value as sqlite's json_extract() compares it."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, (list, dict)):
        return base.dump(value)   # json_extract gives arrays and objects as JSON text
    return value


def filters_of(where):
    """``where`` checked and made comparable; None when it can match nothing
    (sqlite: ``= NULL`` is never true)."""
    filters = {}
    for field, value in (where or {}).items():
        base.check_field(field)
        if isinstance(value, (list, dict)):
            raise ValueError('a where value must be a JSON scalar: %r' % (value,))
        if value is None:
            return None
        filters[field] = comparable(value)
    return filters


def matches(doc, filters):
    return all(comparable(doc.get(field)) == value for field, value in filters.items())


class Layout:
    """The etcd keys of one prefix."""

    def __init__(self, prefix):
        self.root = prefix.encode() + b'/'
        self.meta = self.root + b'meta/layout'
        self.head = self.root + b'meta/head'
        self.docs = self.root + b'docs/'

    @staticmethod
    def _kind(kind):
        if not kind or '/' in kind:
            raise ValueError('not a kind name: %r' % (kind,))
        return kind.encode()

    def doc(self, kind, key):
        return self.docs + self._kind(kind) + b'/' + key.encode()

    def docs_range(self, kind, key_prefix=''):
        start = self.doc(kind, key_prefix)
        return start, prefix_end(start)

    def parse_doc(self, etcd_key):
        """(kind, key) of a document's etcd key."""
        kind, _, key = etcd_key[len(self.docs):].decode().partition('/')
        return kind, key

    def _index(self, kind, field, value):
        return b'%sindex/%s/%s/%s/' % (self.root, self._kind(kind), field.encode(),
                                       json.dumps(value).encode())

    def index_range(self, kind, field, value, key_prefix=''):
        start = self._index(kind, field, value) + key_prefix.encode()
        return start, prefix_end(start)

    def index_entries(self, kind, key, doc):
        """The index keys of ``doc``: one per indexed field it has."""
        if doc is None:
            return set()
        return {self._index(kind, field, comparable(doc[field])) + key.encode()
                for field in INDEXED_FIELDS if doc.get(field) is not None}

    def index_key(self, kind, field, value, entry):
        """The document key an index entry names."""
        return entry[len(self._index(kind, field, value)):].decode()

    def clock(self, kind):
        return self.root + b'kinds/' + self._kind(kind)

    def txn_mark(self, txn_id):
        return self.root + b'txns/' + txn_id.encode()

    # -- leases ---------------------------------------------------------------

    @property
    def leases(self):
        return self.root + b'leases/'

    def lease(self, lease):
        """The record of a lease."""
        return self.leases + b'%d' % lease

    def lease_member(self, lease, kind, key):
        return self.lease(lease) + b'/' + self._kind(kind) + b'/' + key.encode()

    def lease_members(self, lease):
        start = self.lease(lease) + b'/'
        return start, prefix_end(start)

    def parse_lease_key(self, etcd_key):
        """(lease, (kind, key) or None for the record) of a key under leases/."""
        lease, _, member = etcd_key[len(self.leases):].decode().partition('/')
        return int(lease), (tuple(member.split('/', 1)) if member else None)


def encode_value(text, lease=None):
    """A document's etcd value: its JSON, after its lease if it has one."""
    return text.encode() if lease is None else b'\0%d\0%s' % (lease, text.encode())


def decode_value(value):
    """(JSON text, lease or None) of a document's etcd value."""
    if value[:1] != b'\0':
        return value.decode(), None
    lease, _, text = value[1:].partition(b'\0')
    return text.decode(), int(lease)
