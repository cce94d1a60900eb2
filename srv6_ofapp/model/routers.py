"""Routers, with Neutron's semantics (extensions router, ext-gw-mode,
l3_agent_scheduler; neutron/db/l3_db.py, l3_gwmode_db.py).

A router belongs to a project.  Its gateway (``external_gateway_info``:
network_id, enable_snat (default true), external_fixed_ips) is a port on an
external network, device_owner ``network:router_gateway``, of no project,
whose fixed IPs come from the external subnets (or the
external_fixed_ips an admin asks for; only an admin may set those or
enable_snat).  Its interfaces are router_interfaces'.  A router with
interfaces cannot be deleted; one going takes its gateway port along.  A
gateway that floating IPs reach the outside through stays.

A router runs on the network node the scheduler gives it.  Internal fields
of its document, not in the API:
  host        the network node it is scheduled on, or None
  interfaces  [{port_id, subnet_id, network_id}], sorted by port_id
  gw_port_id  its gateway port, or None
"""

from srv6_ofapp import exceptions as exc
from srv6_ofapp.model import agents
from srv6_ofapp.model import l3_ports
from srv6_ofapp.model import networks
from srv6_ofapp.model import ports
from srv6_ofapp.model import resource
from srv6_ofapp.model import router_interfaces
from srv6_ofapp.model import scheduler

# ext-gw-mode: a gateway's SNAT when the request does not say
# (neutron's enable_snat_by_default).
ENABLE_SNAT_BY_DEFAULT = True
# Neutron's default policy: only an admin chooses these of a gateway.
_ADMIN_GATEWAY_KEYS = ('enable_snat', 'external_fixed_ips')


class Routers(resource.Resource):

    collection = 'routers'
    store_filters = ('tenant_id',)

    def not_found(self, id_):
        return exc.RouterNotFound(router_id=id_)

    def create(self, txn, ctx, attrs):
        project = self.project_of(ctx, attrs)
        info = attrs.pop('external_gateway_info', None)
        doc = self.new_doc(attrs, project)
        doc.update(status='ACTIVE', external_gateway_info=None, gw_port_id=None,
                   interfaces=[], host=None)
        if info:
            _check_gateway_policy(ctx, info, 'create')
            self._set_gateway(txn, ctx, doc, info)
        scheduler.place(txn, doc)
        txn.put(self.collection, doc['id'], doc)
        return doc

    def update(self, txn, ctx, doc, changes):
        changes = dict(changes)
        if 'external_gateway_info' in changes:
            info = changes.pop('external_gateway_info')
            _check_gateway_policy(ctx, info, 'update')
            self._set_gateway(txn, ctx, doc, info)
            scheduler.place(txn, doc)
        if changes.get('admin_state_up') is False and doc['admin_state_up']:
            # Its node takes it down (no SID for a router set down).
            l3_ports.router_floating_ips_down(txn, doc['id'])
        doc.update(changes)
        return doc

    def delete(self, txn, doc):
        if doc['interfaces']:
            raise exc.RouterInUse(router_id=doc['id'], reason='has ports still attached: ' +
                                  ', '.join(i['port_id'] for i in doc['interfaces']))
        self._set_gateway(txn, None, doc, None)
        scheduler.unschedule(txn, doc)

    def act(self, txn, ctx, action, doc, body):
        if action == 'add_router_interface':
            response = router_interfaces.add(txn, ctx, self.settings, doc, body)
        elif action == 'remove_router_interface':
            response = router_interfaces.remove(txn, ctx, doc, body)
        else:
            return super().act(txn, ctx, action, doc, body)
        scheduler.place(txn, doc)
        return doc, response

    def related(self, txn, ctx, doc, name):
        """l3-agents: the L3 agent of the router's network node, once it
        has reported."""
        if name != 'l3-agents':
            return super().related(txn, ctx, doc, name)
        agent = doc['host'] and txn.get('agents', agents.agent_id(agents.L3_AGENT,
                                                                  doc['host']))
        return 'agents', [agent] if agent else []

    # -- the gateway --------------------------------------------------------

    def _set_gateway(self, txn, ctx, router, info):
        """Give ``router`` the gateway ``info`` asks for (None: none),
        Neutron's _update_router_gw_info."""
        current = router['gw_port_id'] and txn.get('ports', router['gw_port_id'])
        if not info:
            if current:
                _remove_gateway_port(txn, router, current)
            return
        network = txn.get('networks', info['network_id'])
        if network is None or not networks.visible_to(ctx, network):
            raise exc.NetworkNotFound(net_id=info['network_id'])
        if not networks.is_external(network):
            raise _bad('Network %s is not an external network' % network['id'])
        subnets = txn.list('subnets', where={'network_id': network['id']})
        wanted = info.get('external_fixed_ips') or []
        gateways = {s['gateway_ip'] for s in subnets if s['gateway_ip']}
        for fixed_ip in wanted:
            if fixed_ip.get('ip_address') in gateways:
                raise _bad('External IP %s is the same as the gateway IP'
                           % fixed_ip['ip_address'])
        if current and current['network_id'] == network['id']:
            port = current
            if _fixed_ips_change(current, wanted):
                port = ports.update_owned(txn, self.settings, current, {'fixed_ips': wanted})
        else:
            if current:
                _remove_gateway_port(txn, router, current)
            if not subnets:
                # Not Neutron's (it makes a port without addresses): SNAT
                # and floating IPs need an address on the external segment.
                raise _bad('External network %s has no subnet to take the gateway '
                           'address from' % network['id'])
            router_interfaces.check_new_subnets(txn, router, subnets)
            port = ports.create_owned(txn, self.settings, network['id'],
                                      l3_ports.ROUTER_GATEWAY, router['id'], '', wanted or None)
            router['gw_port_id'] = port['id']
        router['external_gateway_info'] = {
            'network_id': network['id'],
            'enable_snat': info.get('enable_snat', ENABLE_SNAT_BY_DEFAULT),
            'external_fixed_ips': [{'subnet_id': f['subnet_id'], 'ip_address': f['ip_address']}
                                   for f in port['fixed_ips']]}


def _remove_gateway_port(txn, router, port):
    """Neutron's _delete_current_gw_port."""
    if txn.list(l3_ports.FLOATINGIPS, where={'router_id': router['id']}):
        raise exc.RouterExternalGatewayInUseByFloatingIp(router_id=router['id'],
                                                         net_id=port['network_id'])
    ports.remove(txn, port)
    router.update(gw_port_id=None, external_gateway_info=None)


def _fixed_ips_change(port, wanted):
    """Neutron's _check_for_external_ip_change: whether ``wanted`` (the
    request's external_fixed_ips) asks for other addresses than the port's."""
    if not wanted:
        return False
    have_subnets = {f['subnet_id'] for f in port['fixed_ips']}
    want_subnets = {f['subnet_id'] for f in wanted if f.get('subnet_id')}
    if have_subnets != want_subnets:
        return True
    return ({f['ip_address'] for f in port['fixed_ips']} !=
            {f['ip_address'] for f in wanted if f.get('ip_address')})


def _check_gateway_policy(ctx, info, action):
    for key in _ADMIN_GATEWAY_KEYS:
        if info and key in info and not ctx.is_admin:
            raise exc.PolicyNotAuthorized(
                action='%s_router:external_gateway_info:%s' % (action, key))


def _bad(msg):
    return exc.BadRequest(resource='router', msg=msg)
