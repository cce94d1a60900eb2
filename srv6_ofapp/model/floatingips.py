"""Floating IPs, with Neutron's semantics (neutron/db/l3_db.py).

A floating IP is an address of an external network, held by a port there
(device_owner ``network:floatingip``, of no project, device_id the
floating IP; its id is the internal ``floating_port_id``), allocated or,
by an admin, requested (``floating_ip_address``, or ``subnet_id`` for the
subnet to take it from).  It is associated with a port (``port_id``) and
one of that port's IPv4 addresses (``fixed_ip_address``) through the
router that has an interface on that address's subnet and its gateway on
the floating IP's network (``router_id``, derived; the router whose
interface is the subnet's gateway first): by POST or PUT with port_id,
disassociated by PUT with port_id null or when the port goes.  Its
``status`` is DOWN when created and whenever its association changes, and
ACTIVE once the network node running its router has applied the
association (activate, called by that node's dataplane), as Neutron's L3
agent reports it.
"""

from srv6_ofapp import exceptions as exc
from srv6_ofapp.model import l3_ports
from srv6_ofapp.model import networks
from srv6_ofapp.model import ports
from srv6_ofapp.model import resource

def activate(txn, host, working):
    """Say ACTIVE the floating IPs the network node ``host`` has applied:
    {id: (router id, floating IP, fixed IP)} as it applied them.  One whose
    association has changed since, or whose router is no longer on
    ``host``, stays as it is.  Returns the ids written."""
    written, routers = [], {}
    for fip_id, (router_id, address, fixed_ip) in sorted(working.items()):
        fip = txn.get(l3_ports.FLOATINGIPS, fip_id)
        if fip is None or fip['status'] == 'ACTIVE' or \
                (fip['router_id'], fip['floating_ip_address'],
                 fip['fixed_ip_address']) != (router_id, address, fixed_ip):
            continue
        if router_id not in routers:
            routers[router_id] = txn.get('routers', router_id)
        if (routers[router_id] or {}).get('host') != host:
            continue
        resource.put_next_revision(txn, l3_ports.FLOATINGIPS, fip, dict(fip, status='ACTIVE'))
        written.append(fip_id)
    return written


class FloatingIPs(resource.Resource):

    collection = l3_ports.FLOATINGIPS
    store_filters = ('tenant_id', 'floating_network_id', 'floating_ip_address')

    def not_found(self, id_):
        return exc.FloatingIPNotFound(floatingip_id=id_)

    def create(self, txn, ctx, attrs):
        project = self.project_of(ctx, attrs)
        network = txn.get('networks', attrs['floating_network_id'])
        if network is None or not networks.visible_to(ctx, network):
            raise exc.NetworkNotFound(net_id=attrs['floating_network_id'])
        if not networks.is_external(network):
            raise _bad('Network %s is not a valid external network' % network['id'])
        if not txn.list('subnets', where={'network_id': network['id']}):
            raise _bad('Network %s does not contain any IPv4 subnet' % network['id'])
        wanted = _wanted_address(attrs)
        doc = self.new_doc({'floating_network_id': network['id'],
                            'description': attrs.get('description', ''),
                            'tags': attrs['tags']}, project)
        port = ports.create_owned(txn, self.settings, network['id'], l3_ports.FLOATINGIP,
                                  doc['id'], '', [wanted] if wanted else None)
        doc.update(floating_port_id=port['id'],
                   floating_ip_address=port['fixed_ips'][0]['ip_address'])
        doc.update(l3_ports.disassociated(doc))
        _associate(txn, ctx, doc, attrs)
        txn.put(self.collection, doc['id'], doc)
        return doc

    def update(self, txn, ctx, doc, changes):
        changes = dict(changes)
        _associate(txn, ctx, doc, changes)
        if 'description' in changes:
            doc['description'] = changes['description']
        return doc

    def delete(self, txn, doc):
        port = txn.get('ports', doc['floating_port_id'])
        if port:
            ports.remove(txn, port)


def _wanted_address(attrs):
    """The fixed_ips entry of the floating port a request asks for, or None."""
    wanted = {}
    if attrs.get('subnet_id'):
        wanted['subnet_id'] = attrs['subnet_id']
    if attrs.get('floating_ip_address'):
        wanted['ip_address'] = attrs['floating_ip_address']
    return wanted or None


def _associate(txn, ctx, fip, request):
    """Neutron's _update_fip_assoc: associate ``fip`` (changed in place) as
    ``request`` (a POST's or PUT's attributes) asks."""
    if request.get('fixed_ip_address') and not request.get('port_id'):
        raise _bad('fixed_ip_address cannot be specified without a port_id')
    if 'port_id' not in request:
        return  # the association stays as it is
    if request['port_id'] is None:
        fip.update(l3_ports.disassociated(fip))
        return
    port, fixed_ip, router_id = _association(txn, ctx, fip, request)
    if port['id'] != fip['port_id']:
        for other in l3_ports.floating_ips_of(txn, port['id']):
            if (other['floating_network_id'] == fip['floating_network_id'] and
                    other['fixed_ip_address'] == fixed_ip and other['id'] != fip['id']):
                raise exc.FloatingIPPortAlreadyAssociated(
                    port_id=port['id'], fip_id=fip['id'], fixed_ip=fixed_ip,
                    floating_ip_address=fip['floating_ip_address'],
                    net_id=fip['floating_network_id'])
    if (port['id'], fixed_ip, router_id) != (fip['port_id'], fip.get('fixed_ip_address'),
                                             fip.get('router_id')):
        # The node has this association to apply: DOWN until it says so.
        fip.update(port_id=port['id'], fixed_ip_address=fixed_ip, router_id=router_id,
                   status='DOWN')


def _association(txn, ctx, fip, request):
    """(port, fixed IP, router id) of an association: Neutron's
    _internal_fip_assoc_data and get_router_for_floatingip."""
    port = txn.get('ports', request['port_id'])
    if port is None or not (ctx.is_admin or port['tenant_id'] == ctx.project_id):
        raise exc.PortNotFound(port_id=request['port_id'])
    if port['tenant_id'] != fip['tenant_id'] and not ctx.is_admin:
        raise _bad('Cannot process floating IP association with Port %s, since that port is '
                   'owned by a different project' % port['id'])
    if port['device_owner'].startswith('network:'):
        raise _bad('Port %s is unable to be assigned a floating IP' % port['id'])
    wanted = request.get('fixed_ip_address')
    if wanted:
        matching = [f for f in port['fixed_ips'] if f['ip_address'] == wanted]
        if not matching:
            raise _bad('Port %s does not have fixed ip %s' % (port['id'], wanted))
    else:
        matching = port['fixed_ips']  # all IPv4
        if not matching:
            raise _bad('Cannot add floating IP to port %s that has no fixed IPv4 addresses'
                       % port['id'])
        if len(matching) > 1:
            raise _bad('Port %s has multiple fixed IPv4 addresses.  Must provide a specific '
                       'IPv4 address when assigning a floating IP' % port['id'])
    fixed_ip = matching[0]
    return port, fixed_ip['ip_address'], _router_for(txn, port, fixed_ip['subnet_id'],
                                                      fip['floating_network_id'])


def _router_for(txn, port, subnet_id, external_network_id):
    """The router with an interface on the subnet and its gateway on the
    external network; the one whose interface is the subnet's gateway
    first, else the oldest."""
    subnet = txn.get('subnets', subnet_id)
    found = []
    for router in txn.list('routers'):
        info = router['external_gateway_info']
        if not info or info['network_id'] != external_network_id:
            continue
        for interface in router['interfaces']:
            if interface['subnet_id'] != subnet_id:
                continue
            addresses = [f['ip_address'] for f in txn.get('ports', interface['port_id'])[
                'fixed_ips'] if f['subnet_id'] == subnet_id]
            found.append((subnet['gateway_ip'] not in addresses, router['created_at'],
                          router['id']))
    if not found:
        raise exc.ExternalGatewayForFloatingIPNotFound(
            subnet_id=subnet_id, external_network_id=external_network_id, port_id=port['id'])
    return min(found)[2]


def _bad(msg):
    return exc.BadRequest(resource='floatingip', msg=msg)
