"""What a process replicates of the model: everything (the all-in-one
process), or only what concerns one host (an agent).

A host's agent needs its host, the ports bound to it, the networks they are
on, and of those networks: every port (ARP answers, routes to remote VMs,
the addresses of security group members), the subnets, the VRF allocations
on every host (the remote SIDs) and the encap rules; plus the hosts (their
SID prefixes) and the security groups with their rules.  Nothing else: its
memory and its work follow its own host, not the size of the cloud.  When a
port bound to it lands on a network it did not know, the network's
documents are read from the store; when its last port there goes, they are
dropped.
"""

KINDS = ('networks', 'subnets', 'ports', 'hosts', 'vrfallocations', 'srv6_encap_networks',
         'security_groups', 'security_group_rules')
# Kinds every scope holds whole: they grow with hosts and projects, not ports.
WHOLE_KINDS = ('hosts', 'security_groups', 'security_group_rules')
# The kinds whose documents belong to one network (their network_id).
NETWORK_KINDS = ('subnets', 'ports', 'vrfallocations', 'srv6_encap_networks')


class Everything:
    """Replicate every document of the replicated kinds."""

    def snapshot(self, txn):
        return {kind: txn.list(kind) for kind in KINDS}

    def admits(self, replica, change):
        return True

    def networks(self, replica):
        """None: no network is ever out of scope."""
        return None


class HostScope:
    """Replicate what concerns the host named ``host_name``."""

    def __init__(self, host_name):
        self.host_name = host_name

    def snapshot(self, txn):
        here = txn.list('ports', where={'binding:host_id': self.host_name})
        docs = self.network_docs(txn, {port['network_id'] for port in here})
        for kind in WHOLE_KINDS:
            docs[kind] = txn.list(kind)
        return docs

    @staticmethod
    def network_docs(txn, network_ids):
        """{kind: [document]} of the networks ``network_ids``."""
        docs = {kind: [] for kind in KINDS}
        for network_id in sorted(network_ids):
            network = txn.get('networks', network_id)
            if network is None:
                continue
            docs['networks'].append(network)
            for kind in NETWORK_KINDS:
                docs[kind] += txn.list(kind, where={'network_id': network_id})
        return docs

    def networks(self, replica):
        """The networks with a port bound to this host."""
        return {port['network_id'] for port in replica.ports_on(self.host_name)}

    def admits(self, replica, change):
        if change.kind in WHOLE_KINDS:
            return True
        mine = self.networks(replica)
        for doc in (change.old, change.new):
            if doc is None:
                continue
            if change.kind == 'ports' and doc.get('binding:host_id') == self.host_name:
                return True
            network_id = doc['id'] if change.kind == 'networks' else doc.get('network_id')
            if network_id in mine:
                return True
        return False
