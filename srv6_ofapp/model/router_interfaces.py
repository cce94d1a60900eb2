"""A router's interfaces on its subnets: Neutron's add_router_interface and
remove_router_interface (neutron/db/l3_db.py), and the rule both they and
the gateway follow: one router port per subnet, no two of its subnets
overlapping.

By ``subnet_id`` the router makes its interface: a port of the router's
project holding the subnet's gateway IP, device_owner
``network:router_interface``, no port security, not bound.  By ``port_id``
a port of the caller's (no device, at least one fixed IP, on one IPv4
subnet, not bound) becomes one: it keeps its addresses, its device is the
router.  Removing an interface deletes its port; an interface a floating IP
reaches its port through stays.

The router document lists its interfaces, sorted by port id:
``interfaces: [{port_id, subnet_id, network_id}]``.
"""

import uuid

import netaddr

from srv6_ofapp import exceptions as exc
from srv6_ofapp.model import l3_ports
from srv6_ofapp.model import networks
from srv6_ofapp.model import ports


def check_new_subnets(txn, router, new_subnets):
    """Neutron's _check_for_dup_router_subnets: the router has no port on
    ``new_subnets`` yet, and none of its subnets (all those of its
    gateway's network) overlaps them."""
    new_ids = {s['id'] for s in new_subnets}
    router_subnets = []
    for port in router_ports(txn, router):
        for fixed_ip in port['fixed_ips']:
            if fixed_ip['subnet_id'] in new_ids:
                raise _bad('Router already has a port on subnet %s' % fixed_ip['subnet_id'])
            if port['device_owner'] == l3_ports.ROUTER_GATEWAY:
                router_subnets += txn.list('subnets', where={'network_id': port['network_id']})
            else:
                router_subnets.append(txn.get('subnets', fixed_ip['subnet_id']))
    for subnet in router_subnets:
        for new in new_subnets:
            if netaddr.IPSet([subnet['cidr']]) & netaddr.IPSet([new['cidr']]):
                raise _bad('Cidr %s of subnet %s overlaps with cidr %s of subnet %s'
                           % (new['cidr'], new['id'], subnet['cidr'], subnet['id']))


def router_ports(txn, router):
    """The router's interface ports, then its gateway port."""
    ids = [i['port_id'] for i in router['interfaces']] + \
        ([router['gw_port_id']] if router['gw_port_id'] else [])
    return [txn.get('ports', id_) for id_ in ids]


def add(txn, ctx, settings, router, body):
    """Attach a subnet or a port to ``router`` (a document the caller
    stores); returns Neutron's response body."""
    by_port = _interface_info(body, for_removal=False)
    if by_port:
        port = _caller_port(txn, ctx, body['port_id'])
        subnets = _check_port(txn, ctx, router, port)
        port = ports.update_owned(txn, settings, port, {
            'device_id': router['id'], 'device_owner': l3_ports.ROUTER_INTERFACE})
    else:
        subnet = _caller_subnet(txn, ctx, body['subnet_id'])
        if not subnet['gateway_ip']:
            raise _bad('Subnet for router interface must have a gateway IP')
        if not ctx.is_admin and subnet['tenant_id'] != ctx.project_id:
            raise _bad('Cannot add interface to router because subnet %s is not owned by '
                       'project making the request' % subnet['id'])
        check_new_subnets(txn, router, [subnet])
        subnets = [subnet]
        port = ports.create_owned(
            txn, settings, subnet['network_id'], l3_ports.ROUTER_INTERFACE, router['id'],
            router['tenant_id'], [{'subnet_id': subnet['id'], 'ip_address': subnet['gateway_ip']}])
    router['interfaces'] = sorted(router['interfaces'] + [{
        'port_id': port['id'], 'subnet_id': subnets[-1]['id'],
        'network_id': port['network_id']}], key=lambda i: i['port_id'])
    return _response(router, port, subnets, subnets[-1])


def remove(txn, ctx, router, body):
    """Detach the interface ``body`` names (port_id, subnet_id or both)
    from ``router`` and delete its port; returns Neutron's response body."""
    by_port = _interface_info(body, for_removal=True)
    if by_port:
        interface = _interface(router, port_id=body['port_id'])
        if interface is None:
            raise exc.RouterInterfaceNotFound(router_id=router['id'], port_id=body['port_id'])
        port = txn.get('ports', interface['port_id'])
        port_subnets = _unique(f['subnet_id'] for f in port['fixed_ips'])
        if body.get('subnet_id') and body['subnet_id'] not in port_subnets:
            raise exc.SubnetMismatchForPort(port_id=port['id'], subnet_id=body['subnet_id'])
        subnets = [txn.get('subnets', id_) for id_ in port_subnets]
    else:
        subnet = _caller_subnet(txn, ctx, body['subnet_id'])
        interface = _interface(router, subnet_id=subnet['id'])
        if interface is None:
            raise exc.RouterInterfaceNotFoundForSubnet(router_id=router['id'],
                                                       subnet_id=subnet['id'])
        port = txn.get('ports', interface['port_id'])
        subnets = [subnet]
    for subnet in subnets:
        _check_not_used_by_floating_ips(txn, router, subnet)
    ports.remove(txn, port)
    router['interfaces'] = [i for i in router['interfaces'] if i is not interface]
    return _response(router, port, subnets, subnets[0])


def _interface_info(body, for_removal):
    """Neutron's _validate_interface_info: whether ``body`` names a port
    (else a subnet)."""
    body = body if isinstance(body, dict) else {}
    if 'port_id' not in body and 'subnet_id' not in body:
        raise _bad('Either subnet_id or port_id must be specified')
    for key in ('port_id', 'subnet_id'):
        if key in body:
            try:
                body[key] = str(uuid.UUID(body[key]))
            except (TypeError, ValueError, AttributeError):
                raise _bad("'%s' is not a valid UUID" % (body[key],))
    if not for_removal and 'port_id' in body and 'subnet_id' in body:
        raise _bad('Cannot specify both subnet-id and port-id')
    return 'port_id' in body


def _check_port(txn, ctx, router, port):
    """Neutron's _check_router_port and _validate_router_port_info: the
    subnets of a port that may become an interface of ``router``."""
    if port['device_id']:
        raise exc.PortInUse(net_id=port['network_id'], port_id=port['id'],
                            device_id=port['device_id'])
    if not port['fixed_ips']:
        raise _bad('Router port must have at least one fixed IP')
    if port['binding:host_id']:
        # Not Neutron's: a router's interface is on its network node, not a host's br-int.
        raise _bad('Port %s is bound to host %s; unbind it first'
                   % (port['id'], port['binding:host_id']))
    subnets = [txn.get('subnets', id_) for id_ in _unique(f['subnet_id'] for f in port['fixed_ips'])]
    check_new_subnets(txn, router, subnets)
    if len(subnets) > 1:  # every subnet is IPv4
        raise _bad('Cannot have multiple IPv4 subnets on router port')
    subnet = subnets[0]
    pools = netaddr.IPSet(netaddr.IPRange(p['start'], p['end'])
                          for p in subnet['allocation_pools'])
    if (not ctx.is_admin and subnet['tenant_id'] != ctx.project_id and
            any(f['ip_address'] not in pools for f in port['fixed_ips'])):
        raise _bad('Cannot add interface to router because specified port %s has an IP '
                   'address out of the allocation pool of subnet %s, which is not owned by '
                   'the project making the request' % (port['id'], subnet['id']))
    return subnets


def _check_not_used_by_floating_ips(txn, router, subnet):
    """Neutron's _check_router_interface_not_in_use."""
    cidr = netaddr.IPNetwork(subnet['cidr'])
    for fip in txn.list(l3_ports.FLOATINGIPS, where={'router_id': router['id']}):
        if not fip['fixed_ip_address'] or netaddr.IPAddress(fip['fixed_ip_address']) not in cidr:
            continue
        fixed_port = txn.get('ports', fip['port_id'])
        if fixed_port and any(f['subnet_id'] == subnet['id'] for f in fixed_port['fixed_ips']):
            raise exc.RouterInterfaceInUseByFloatingIP(router_id=router['id'],
                                                       subnet_id=subnet['id'])


def _interface(router, port_id=None, subnet_id=None):
    for interface in router['interfaces']:
        if interface['port_id'] == port_id or interface['subnet_id'] == subnet_id:
            return interface
    return None


def _caller_port(txn, ctx, port_id):
    """A port the caller may make an interface: its own (an admin's: any)."""
    port = txn.get('ports', port_id)
    if port is None or not (ctx.is_admin or port['tenant_id'] == ctx.project_id):
        raise exc.PortNotFound(port_id=port_id)
    return port


def _caller_subnet(txn, ctx, subnet_id):
    """A subnet the caller sees (its network's visibility)."""
    subnet = txn.get('subnets', subnet_id)
    if subnet is None or not networks.visible_to(ctx, txn.get('networks',
                                                              subnet['network_id'])):
        raise exc.SubnetNotFound(subnet_id=subnet_id)
    return subnet


def _response(router, port, subnets, subnet):
    """Neutron's _make_router_interface_info."""
    return {'id': router['id'], 'tenant_id': port['tenant_id'],
            'project_id': port['tenant_id'], 'port_id': port['id'],
            'network_id': port['network_id'], 'subnet_id': subnet['id'],
            'subnet_ids': [s['id'] for s in subnets]}


def _unique(items):
    found = []
    for item in items:
        if item not in found:
            found.append(item)
    return found


def _bad(msg):
    return exc.BadRequest(resource='router', msg=msg)
