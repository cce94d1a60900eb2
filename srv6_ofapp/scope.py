"""What a process replicates of the model: everything (the all-in-one
process), or only what concerns one host (an agent).

A host's agent needs its host, the ports bound to it, the networks they are
on, and of those networks: every port (ARP answers, routes to remote VMs,
the addresses of security group members), the subnets, the VRF allocations
on every host (the remote SIDs) and the encap rules; plus the hosts (their
SID prefixes), the security groups with their rules, and the routers with
their SIDs (a network's default route goes to its router).  A network node
also needs, of the routers scheduled on it, the networks they are attached
to (the same documents as above: the routes back to every VM), their
external networks, and their floating IPs.  Nothing else: its memory and
its work follow its own host, not the size of the cloud.

The scope's footprint -- the networks and routers a host touches -- moves
when ports bind and go or routers are scheduled and attached: what comes
into it is read from the store, what leaves it is dropped.
"""

import collections

KINDS = ('networks', 'subnets', 'ports', 'hosts', 'vrfallocations', 'srv6_encap_networks',
         'security_groups', 'security_group_rules', 'routers', 'routerallocations',
         'floatingips')
# Kinds every scope holds whole: they grow with hosts, projects and routers,
# not with ports.
WHOLE_KINDS = ('hosts', 'security_groups', 'security_group_rules', 'routers',
               'routerallocations')
# The kinds whose documents belong to one network (their network_id).
NETWORK_KINDS = ('subnets', 'ports', 'vrfallocations', 'srv6_encap_networks')
# The kinds whose changes may move a footprint.
FOOTPRINT_KINDS = ('ports', 'routers')

Footprint = collections.namedtuple('Footprint', 'networks routers')

# Footprints larger than this are read a kind at a time (footprint_docs).
SCAN_ABOVE = 16


def router_networks(router):
    """The networks a router touches: its interfaces' and its gateway's."""
    networks = {interface['network_id'] for interface in router.get('interfaces') or ()}
    gateway = router.get('external_gateway_info')
    if gateway:
        networks.add(gateway['network_id'])
    return networks


class Everything:
    """Replicate every document of the replicated kinds."""

    def snapshot(self, txn):
        return {kind: txn.list(kind) for kind in KINDS}

    def admits(self, replica, change):
        return True

    def footprint(self, replica):
        """None: nothing is ever out of scope."""
        return None


class HostScope:
    """Replicate what concerns the host named ``host_name``."""

    def __init__(self, host_name):
        self.host_name = host_name

    def snapshot(self, txn):
        docs = {kind: txn.list(kind) for kind in WHOLE_KINDS}
        routers = {r['id'] for r in docs['routers'] if r.get('host') == self.host_name}
        networks = {port['network_id'] for port in
                    txn.list('ports', where={'binding:host_id': self.host_name})}
        for router in docs['routers']:
            if router['id'] in routers:
                networks |= router_networks(router)
        for kind, items in self.footprint_docs(txn, Footprint(networks, routers)).items():
            docs[kind] = docs.get(kind, []) + items
        return docs

    @staticmethod
    def footprint_docs(txn, footprint):
        """{kind: [document]} of the networks and routers of ``footprint``
        (besides the whole kinds).

        A query per network and kind while the footprint is small (an agent's
        start, a port binding somewhere new); beyond SCAN_ABOVE networks or
        routers (a network node's start), one read of each kind filtered
        here: a query costs an etcd round trip or two, and a thousand
        routers' networks would take thousands of them."""
        docs = {kind: [] for kind in KINDS if kind not in WHOLE_KINDS}
        networks = footprint.networks
        if len(networks) > SCAN_ABOVE:
            docs['networks'] = [n for n in txn.list('networks') if n['id'] in networks]
            for kind in NETWORK_KINDS:
                docs[kind] = [d for d in txn.list(kind) if d.get('network_id') in networks]
        else:
            for network_id in sorted(networks):
                network = txn.get('networks', network_id)
                if network is None:
                    continue
                docs['networks'].append(network)
                for kind in NETWORK_KINDS:
                    docs[kind] += txn.list(kind, where={'network_id': network_id})
        if len(footprint.routers) > SCAN_ABOVE:
            docs['floatingips'] = [f for f in txn.list('floatingips')
                                   if f.get('router_id') in footprint.routers]
        else:
            for router_id in sorted(footprint.routers):
                docs['floatingips'] += txn.list('floatingips', where={'router_id': router_id})
        return docs

    def footprint(self, replica):
        """The networks and routers this host touches, as the replica holds them."""
        networks = {port['network_id'] for port in replica.ports_on(self.host_name)}
        routers = set()
        for router in replica.routers_on(self.host_name):
            routers.add(router['id'])
            networks |= router_networks(router)
        return Footprint(networks, routers)

    def admits(self, replica, change):
        if change.kind in WHOLE_KINDS:
            return True
        mine = self.footprint(replica)
        for doc in (change.old, change.new):
            if doc is None:
                continue
            if change.kind == 'ports' and doc.get('binding:host_id') == self.host_name:
                return True
            if change.kind == 'floatingips':
                if doc.get('router_id') in mine.routers:
                    return True
                continue
            network_id = doc['id'] if change.kind == 'networks' else doc.get('network_id')
            if network_id in mine.networks:
                return True
        return False
