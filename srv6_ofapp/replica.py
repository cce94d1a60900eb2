"""An in-memory copy of the model, kept current from the store's change feed.

The OpenFlow adapter answers packet-ins and computes flows from this copy
instead of querying the store on the hot path.  It is rebuilt from a
snapshot at start (or after the feed was compacted) and then follows the
feed change by change; the store stays the truth.
"""

import collections
import threading

from topology import naming

# The kinds the edge needs; bookkeeping kinds (ipallocations ...) are not.
KINDS = ('networks', 'subnets', 'ports', 'hosts', 'vrfallocations', 'srv6_encap_networks')


class ModelView:

    def __init__(self):
        self.lock = threading.RLock()
        self.revision = 0
        self._reset()

    @classmethod
    def from_store(cls, store):
        view = cls()
        view.reload(store)
        return view

    @classmethod
    def from_docs(cls, docs, revision=0):
        """A view of ``docs`` ({kind: [document, ...]}), e.g. for tests."""
        view = cls()
        view.load(docs, revision)
        return view

    def reload(self, store):
        """Replace everything with a consistent snapshot of the store."""
        def snapshot(txn):
            return store.revision, {kind: txn.list(kind) for kind in KINDS}
        revision, docs = store.read(snapshot)
        self.load(docs, revision)

    def load(self, docs, revision):
        with self.lock:
            self._reset()
            self.revision = revision
            for kind, items in docs.items():
                for doc in items:
                    self._put(kind, self._key(kind, doc), doc)

    def _reset(self):
        self.docs = {kind: {} for kind in KINDS}
        self._by_ifname = {}
        self._ports_by_network = collections.defaultdict(dict)
        self._subnets_by_network = collections.defaultdict(dict)

    @staticmethod
    def _key(kind, doc):
        if kind == 'vrfallocations':
            return '%s/%s' % (doc['host'], doc['network_id'])
        return doc['id']

    @staticmethod
    def status_only(change):
        """Whether a change only reports a port's status (the edge's own
        ACTIVE/DOWN writes): nothing to recompute for flows or routes."""
        if change.kind != 'ports' or change.old is None or change.new is None:
            return False
        ignored = ('status', 'updated_at', 'revision_number')
        return ({k: v for k, v in change.old.items() if k not in ignored} ==
                {k: v for k, v in change.new.items() if k not in ignored})

    def apply(self, change):
        """Follow one change of the feed; True if it concerns the edge."""
        if change.kind not in self.docs:
            return False
        with self.lock:
            if change.old is not None:
                self._remove(change.kind, change.key, change.old)
            if change.new is not None:
                self._put(change.kind, change.key, change.new)
            self.revision = change.revision
        return True

    def _put(self, kind, key, doc):
        old = self.docs[kind].get(key)
        if old is not None:
            self._remove(kind, key, old)
        self.docs[kind][key] = doc
        if kind == 'ports':
            self._by_ifname[naming.tap_name(doc['id'])] = doc
            self._ports_by_network[doc['network_id']][doc['id']] = doc
        elif kind == 'subnets':
            self._subnets_by_network[doc['network_id']][doc['id']] = doc

    def _remove(self, kind, key, doc):
        self.docs[kind].pop(key, None)
        if kind == 'ports':
            self._by_ifname.pop(naming.tap_name(doc['id']), None)
            self._ports_by_network[doc['network_id']].pop(doc['id'], None)
        elif kind == 'subnets':
            self._subnets_by_network[doc['network_id']].pop(doc['id'], None)

    # -- lookups ------------------------------------------------------------

    def host_by_dpid(self, dpid):
        with self.lock:
            for host in self.docs['hosts'].values():
                if host['datapath_id'] == dpid:
                    return host
        return None

    def port_by_ifname(self, ifname):
        """The port whose OVS interface is ``ifname`` (tap + port_id[:11])."""
        return self._by_ifname.get(ifname)

    def port(self, port_id):
        return self.docs['ports'].get(port_id)

    def network(self, network_id):
        return self.docs['networks'].get(network_id)

    def subnets_of(self, network_id):
        return sorted(self._subnets_by_network.get(network_id, {}).values(),
                      key=lambda s: (s['created_at'], s['id']))

    def ports_of(self, network_id):
        return list(self._ports_by_network.get(network_id, {}).values())
