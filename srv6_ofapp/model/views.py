"""Stored documents -> API views.

A view adds what is derived rather than stored: project_id beside
tenant_id, tags and router:external on a document written before them, a network's subnet ids, a port's binding (the networking-sr
binding:profile keys of its host's VRF, binding:vif_type and details).
The lookups those need are read lazily, once per request, however many
documents it shows.
"""

from srv6_ofapp.model import agents
from srv6_ofapp.model import binding
from srv6_ofapp.model import networks
from srv6_ofapp.model import tags
from topology import vrf as vrf_lib


class Views:

    def __init__(self, txn):
        self._txn = txn
        self._heartbeats = None
        self._rules = None
        self._hosts = None
        self._vrfs = None
        self._subnets = None

    # -- lookups ------------------------------------------------------------

    @property
    def hosts(self):
        if self._hosts is None:
            self._hosts = {h['name']: h for h in self._txn.list('hosts')}
        return self._hosts

    def vrf_allocation(self, host_name, network_id):
        # One host's allocations at a time (their keys share its prefix): a
        # port's view reads its host's, not every VRF of the cloud.
        if self._vrfs is None:
            self._vrfs = {}
        if host_name not in self._vrfs:
            self._vrfs[host_name] = {
                a['network_id']: a for a in self._txn.list(
                    binding.VRFALLOCATIONS, prefix=vrf_lib.host_prefix(host_name))}
        return self._vrfs[host_name].get(network_id)

    def heartbeat(self, agent_id):
        """An agent's heartbeat, or None when it is dead."""
        if self._heartbeats is None:
            self._heartbeats = {h['id']: h for h in self._txn.list(agents.HEARTBEATS)}
        return self._heartbeats.get(agent_id)

    def rules_of(self, group_id):
        """A security group's rules, oldest first."""
        if self._rules is None:
            self._rules = {}
            for rule in self._txn.list('security_group_rules'):
                self._rules.setdefault(rule['security_group_id'], []).append(rule)
        return sorted(self._rules.get(group_id, []),
                      key=lambda r: (r['created_at'], r['id']))

    def subnet_ids(self, network_id):
        """The network's subnets, oldest first."""
        if self._subnets is None:
            self._subnets = {}
            for subnet in self._txn.list('subnets'):
                self._subnets.setdefault(subnet['network_id'], []).append(subnet)
        subnets = sorted(self._subnets.get(network_id, []), key=lambda s: s['created_at'])
        return [s['id'] for s in subnets]

    # -- views --------------------------------------------------------------

    @staticmethod
    def standard(doc):
        view = dict(doc, tags=tags.of(doc))
        if 'tenant_id' in doc:
            view['project_id'] = doc['tenant_id']
        return view

    def network(self, doc):
        return dict(self.standard(doc), subnets=self.subnet_ids(doc['id']),
                    **{'router:external': networks.is_external(doc)})

    def port(self, doc):
        view = self.standard(doc)
        profile = dict(doc['binding:profile'])
        host_name = binding.bound_host(doc)
        host = self.hosts.get(host_name) if host_name else None
        allocation = host and self.vrf_allocation(host_name, doc['network_id'])
        view['binding:vif_type'] = binding.vif_type(doc, allocation)
        if allocation:
            profile.update(vrf_lib.binding_profile(host, allocation))
            view['binding:vif_details'] = {'port_filter': True, 'bridge_name': host['bridge']}
        else:
            view['binding:vif_details'] = {}
        view['binding:profile'] = profile
        return view
