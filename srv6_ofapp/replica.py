"""The process's one in-memory replica of the model, kept current from the
store's change feed.

The OpenFlow edge computes flows and answers packet-ins from it, and the
host dataplane computes each host's kernel state from it, instead of
querying the store on their hot paths.  It is loaded from a snapshot at
start (or after the feed was compacted) and then follows the feed change by
change, on one watch thread, telling its subscribers what changed; the
store stays the truth.  Its scope (scope.py) says what it holds: all of the
model, or what concerns one host.
"""

import collections
import logging
import threading

from srv6_ofapp import scope as scope_lib
from srv6_ofapp.scope import KINDS  # noqa: F401  (what is replicated)
from topology import naming
from topology import vrf as vrf_lib

LOG = logging.getLogger(__name__)


def _by_created(docs):
    return sorted(docs, key=lambda d: (d.get('created_at') or '', d.get('id') or ''))


class Replica:

    def __init__(self, store=None, scope=None):
        self.store = store
        self.scope = scope or scope_lib.Everything()
        self.lock = threading.RLock()
        self.revision = 0
        self._subscribers = []
        self._watch = None
        self._reset()

    @classmethod
    def from_docs(cls, docs, revision=0):
        """A replica of ``docs`` ({kind: [document, ...]}) that follows no
        store, e.g. for tests and benchmarks."""
        replica = cls()
        replica.load(docs, revision)
        return replica

    # -- following the store -------------------------------------------------

    def start(self):
        """Load a snapshot and follow the feed from its revision."""
        self.reload()
        self._watch = self.store.watch(self._follow, self.revision,
                                       on_resync=self._resync)

    def close(self):
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None

    def subscribe(self, callback):
        """Call ``callback(change)`` on the watch thread after each change of
        a replicated kind is applied, and ``callback(None)`` after a reload
        (anything may have changed).  Callbacks must be quick: they hold up
        the feed for every other subscriber."""
        self._subscribers.append(callback)

    def reload(self):
        """Replace everything with a consistent snapshot of the store."""
        def snapshot(txn):
            return self.store.revision, self.scope.snapshot(txn)
        revision, docs = self.store.read(snapshot)
        self.load(docs, revision)

    def _follow(self, change):
        if change.kind not in self.docs or not self.scope.admits(self, change):
            with self.lock:
                self.revision = change.revision  # seen, and nothing to hold
            return
        moves = change.kind in scope_lib.FOOTPRINT_KINDS
        before = self.scope.footprint(self) if moves else None
        self.apply(change)
        if before is not None:
            self._rescope(before, self.scope.footprint(self))
        self._tell(change)

    def _rescope(self, before, now):
        """Read what the scope has just taken in, drop what it has just let go."""
        joined = scope_lib.Footprint(now.networks - before.networks,
                                     now.routers - before.routers)
        if joined.networks or joined.routers:
            docs = self.store.read(lambda txn: self.scope.footprint_docs(txn, joined))
            with self.lock:
                for kind, items in docs.items():
                    for doc in items:
                        self._put(kind, self._key(kind, doc), doc)
        with self.lock:
            for network_id in before.networks - now.networks:
                self._drop_network(network_id)
            for router_id in before.routers - now.routers:
                for fip in self.floating_ips_of(router_id):
                    self._remove('floatingips', fip['id'])

    def _drop_network(self, network_id):
        for kind, docs in (('ports', self.ports_of(network_id)),
                           ('subnets', self.subnets_of(network_id)),
                           ('srv6_encap_networks', self.encap_networks_of(network_id)),
                           ('vrfallocations', [
                               doc for doc in self.docs['vrfallocations'].values()
                               if doc['network_id'] == network_id])):
            for doc in docs:
                self._remove(kind, self._key(kind, doc))
        self._remove('networks', network_id)

    def _resync(self, _revision):
        self.reload()
        self._tell(None)

    def _tell(self, change):
        for callback in self._subscribers:
            try:
                callback(change)
            except Exception:
                # One failing subscriber must not starve the others.
                LOG.exception('replica subscriber %r failed', callback)

    # -- applying documents ----------------------------------------------------

    def load(self, docs, revision):
        with self.lock:
            self._reset()
            self.revision = revision
            for kind, items in docs.items():
                for doc in items:
                    self._put(kind, self._key(kind, doc), doc)

    def apply(self, change):
        """Follow one change of the feed; True if its kind is replicated."""
        if change.kind not in self.docs:
            return False
        with self.lock:
            self._remove(change.kind, change.key)
            if change.new is not None:
                self._put(change.kind, change.key, change.new)
            self.revision = change.revision
        return True

    @staticmethod
    def status_only(change):
        """Whether a change only reports a port's or a floating IP's status
        (the edge's and the network nodes' own ACTIVE/DOWN writes): nothing
        to recompute for flows or routes."""
        if change is None or change.kind not in ('ports', 'floatingips') \
                or change.old is None or change.new is None:
            return False
        ignored = ('status', 'updated_at', 'revision_number')
        return ({k: v for k, v in change.old.items() if k not in ignored} ==
                {k: v for k, v in change.new.items() if k not in ignored})

    def _reset(self):
        self.docs = {kind: {} for kind in KINDS}
        self._hosts_by_dpid = {}
        self._hosts_by_name = {}
        self._ports_by_ifname = {}
        self._ports_by_network = collections.defaultdict(dict)
        self._ports_by_host = collections.defaultdict(dict)
        self._ports_by_address = {}
        self._subnets_by_network = collections.defaultdict(dict)
        self._vrfs_by_host = collections.defaultdict(dict)
        self._encaps_by_network = collections.defaultdict(dict)
        self._rules_by_group = collections.defaultdict(dict)
        self._ports_by_group = collections.defaultdict(dict)
        self._routers_by_host = collections.defaultdict(dict)
        self._routers_by_network = collections.defaultdict(dict)
        self._router_allocations = {}
        self._fips_by_router = collections.defaultdict(dict)

    @staticmethod
    def _key(kind, doc):
        if kind == 'vrfallocations':
            return vrf_lib.allocation_key(doc['host'], doc['network_id'])
        if kind == 'routerallocations':
            return vrf_lib.router_allocation_key(doc['host'], doc['router_id'])
        return doc['id']

    def _indexes(self, kind, doc):
        """(index, key) pairs under which ``doc`` is found, besides its own key."""
        if kind == 'ports':
            return ((self._ports_by_ifname, naming.tap_name(doc['id'])),
                    (self._ports_by_network[doc['network_id']], doc['id']),
                    (self._ports_by_host[doc.get('binding:host_id') or ''], doc['id'])) + \
                tuple((self._ports_by_address, (doc['network_id'], fixed_ip['ip_address']))
                      for fixed_ip in doc.get('fixed_ips') or ()) + \
                tuple((self._ports_by_group[group_id], doc['id'])
                      for group_id in doc.get('security_groups') or ())
        if kind == 'subnets':
            return ((self._subnets_by_network[doc['network_id']], doc['id']),)
        if kind == 'hosts':
            return ((self._hosts_by_dpid, doc['datapath_id']),
                    (self._hosts_by_name, doc['name']))
        if kind == 'vrfallocations':
            return ((self._vrfs_by_host[doc['host']], doc['network_id']),)
        if kind == 'srv6_encap_networks':
            return ((self._encaps_by_network[doc['network_id']], doc['id']),)
        if kind == 'security_group_rules':
            return ((self._rules_by_group[doc['security_group_id']], doc['id']),)
        if kind == 'routers':
            return ((self._routers_by_host[doc.get('host') or ''], doc['id']),) + tuple(
                (self._routers_by_network[network_id], doc['id'])
                for network_id in sorted({i['network_id'] for i in doc.get('interfaces') or ()}))
        if kind == 'routerallocations':
            return ((self._router_allocations, (doc['host'], doc['router_id'])),)
        if kind == 'floatingips':
            return ((self._fips_by_router[doc.get('router_id') or ''], doc['id']),)
        return ()

    def _put(self, kind, key, doc):
        self._remove(kind, key)
        self.docs[kind][key] = doc
        for index, index_key in self._indexes(kind, doc):
            index[index_key] = doc

    def _remove(self, kind, key):
        doc = self.docs[kind].pop(key, None)
        if doc is None:
            return
        for index, index_key in self._indexes(kind, doc):
            current = index.get(index_key)
            # Another document may have taken the index key meanwhile.
            if current is not None and self._key(kind, current) == key:
                del index[index_key]

    # -- lookups ---------------------------------------------------------------

    def hosts(self):
        return list(self.docs['hosts'].values())

    def host_by_dpid(self, dpid):
        """The host whose datapath_id is ``dpid`` (16 hex digits), or None."""
        return self._hosts_by_dpid.get(dpid)

    def host_by_name(self, name):
        return self._hosts_by_name.get(name)

    def network(self, network_id):
        return self.docs['networks'].get(network_id)

    def subnets_of(self, network_id):
        """The network's subnets, oldest first (Neutron's order)."""
        return _by_created(self._subnets_by_network.get(network_id, {}).values())

    def port(self, port_id):
        return self.docs['ports'].get(port_id)

    def port_by_ifname(self, ifname):
        """The port whose OVS interface is ``ifname`` (tap + port_id[:11])."""
        return self._ports_by_ifname.get(ifname)

    def port_by_address(self, network_id, ip):
        """The port of ``network_id`` holding the fixed IP ``ip``, or None."""
        return self._ports_by_address.get((network_id, ip))

    def ports_of(self, network_id):
        return list(self._ports_by_network.get(network_id, {}).values())

    def ports_on(self, host_name):
        """The ports bound to ``host_name``."""
        return list(self._ports_by_host.get(host_name, {}).values())

    def vrf_allocation(self, host_name, network_id):
        """The VRF of (host, network), or None when no port binds them."""
        return self._vrfs_by_host.get(host_name, {}).get(network_id)

    def vrf_allocations_on(self, host_name):
        return list(self._vrfs_by_host.get(host_name, {}).values())

    def security_group(self, group_id):
        return self.docs['security_groups'].get(group_id)

    def rules_of(self, group_id):
        """A security group's rules, oldest first."""
        return _by_created(self._rules_by_group.get(group_id, {}).values())

    def members_of(self, group_id):
        """The ports in a security group (that this replica holds)."""
        return list(self._ports_by_group.get(group_id, {}).values())

    def router(self, router_id):
        return self.docs['routers'].get(router_id)

    def routers_on(self, host_name):
        """The routers scheduled on the network node ``host_name``."""
        return list(self._routers_by_host.get(host_name, {}).values())

    def routers_of_network(self, network_id):
        """The routers with an interface on ``network_id``."""
        return list(self._routers_by_network.get(network_id, {}).values())

    def router_allocation(self, host_name, router_id):
        """A router's SID allocation on its network node, or None."""
        return self._router_allocations.get((host_name, router_id))

    def floating_ips_of(self, router_id):
        return list(self._fips_by_router.get(router_id, {}).values())

    def encap_networks_of(self, network_id):
        return _by_created(self._encaps_by_network.get(network_id, {}).values())
