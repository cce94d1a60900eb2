"""What the etcd store keeps where: the keys of one prefix, and how field
values are compared and indexed.

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

Index values are JSON of the value as sqlite's json_extract() compares it
(true is 1, 1.0 is 1, arrays and objects are their JSON text), so that a
``where`` lookup finds exactly the documents sqlite's query would.
"""

import json

from srv6_ofapp.store import base
from srv6_ofapp.store.etcd_client import prefix_end

LAYOUT_VERSION = 1
RESERVED_NAMES = ('meta', 'docs', 'index', 'kinds', 'txns')

# Fields with index entries, the most selective first: a list filtered on
# several reads the first one's entries (the REST layer's store filters and
# the plugin's address lookup).
INDEXED_FIELDS = ('ip_address', 'network_id', 'binding:host_id', 'tenant_id')


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
