"""Networks: a project's L2 domain, maybe shared with every project, maybe
external (router:external: every project sees it and its subnets, only a
shared one takes their ports; routers have their gateways and floating IPs
their addresses there).

A network's MTU is bounded by what fits the underlay once encapsulated;
unsharing it is refused while other projects' ports use it, making it
internal while routers have their gateway there; deleting it is refused
while it has ports (a router's gateway, a floating IP's address) and takes
its subnets and encap rules along.
"""

from srv6_ofapp import exceptions as exc
from srv6_ofapp.model import addresses
from srv6_ofapp.model import l3_ports
from srv6_ofapp.model import resource

# Outer IPv6 header (40) + SRH with one segment (8 + 16): what seg6 encap adds.
SRV6_ENCAP_OVERHEAD = 64


def is_external(network):
    return network.get('router:external', False)  # not on networks written before it


def seen_by_all(network):
    """Neutron's rule:shared or rule:external."""
    return network['shared'] or is_external(network)


def visible_to(ctx, network):
    return ctx.is_admin or network['tenant_id'] == ctx.project_id or seen_by_all(network)


def parent_network(txn, ctx, network_id, collection, owner_only):
    """The network a subnet, port or encap network is created on: visible
    to the caller, and owned by it unless ports on shared networks are meant
    (``owner_only`` false)."""
    network = txn.get('networks', network_id)
    if network is None or not visible_to(ctx, network):
        raise exc.NetworkNotFound(net_id=network_id)
    if (not ctx.is_admin and network['tenant_id'] != ctx.project_id and
            (owner_only or not network['shared'])):
        raise exc.PolicyNotAuthorized(action='create_%s:network_id' % collection)
    return network


class Networks(resource.Resource):

    collection = 'networks'
    store_filters = ('tenant_id',)

    def not_found(self, id_):
        return exc.NetworkNotFound(net_id=id_)

    def visible(self, txn, ctx, doc):
        return visible_to(ctx, doc)

    def caller_where(self, ctx):
        return {}  # other projects' shared and external networks are visible too

    def view(self, views, doc):
        return views.network(doc)

    def create(self, txn, ctx, attrs):
        project = self.project_of(ctx, attrs)
        attrs.setdefault('mtu', self.settings.default_mtu)
        self._check_mtu(attrs['mtu'])
        doc = self.new_doc(attrs, project)
        doc['status'] = 'ACTIVE'
        txn.put(self.collection, doc['id'], doc)
        return doc

    def update(self, txn, ctx, doc, changes):
        if 'mtu' in changes:
            self._check_mtu(changes['mtu'])
        if changes.get('shared') is False and doc['shared']:
            foreign = [p for p in txn.list('ports', where={'network_id': doc['id']})
                       if p['tenant_id'] != doc['tenant_id']]
            if foreign:
                raise exc.Conflict('Unable to reconfigure sharing settings for network %s. '
                                   'Multiple tenants are using it.' % doc['id'])
        if changes.get('router:external') is False and is_external(doc) and txn.list(
                'ports', where={'network_id': doc['id'],
                                'device_owner': l3_ports.ROUTER_GATEWAY}):
            raise exc.ExternalNetworkInUse(net_id=doc['id'])
        doc.update(changes)
        return doc

    def delete(self, txn, doc):
        if txn.list('ports', where={'network_id': doc['id']}):
            raise exc.NetworkInUse(net_id=doc['id'])
        # Subnets and encap rules belong to the network and go with it, as
        # Neutron removes a network's subnets.  Without ports, a subnet's
        # only address allocation is its service_ip.
        for subnet in txn.list('subnets', where={'network_id': doc['id']}):
            addresses.forget_subnet(txn, subnet['id'])
            txn.delete('subnets', subnet['id'])
        for encap in txn.list('srv6_encap_networks', where={'network_id': doc['id']}):
            txn.delete('srv6_encap_networks', encap['id'])

    def _check_mtu(self, mtu):
        # Bigger inner packets would not fit the underlay once encapsulated.
        if mtu > self.settings.default_mtu:
            raise exc.InvalidInput(error_message='Requested MTU is too big, maximum is %d '
                                   '(global_physnet_mtu minus the SRv6 encapsulation)'
                                   % self.settings.default_mtu)
