"""The ports routers and floating IPs own (Neutron's router_device_owners),
and what the port API may not do to them.

A router's interfaces (device_owner ``network:router_interface``) and its
gateway (``network:router_gateway``) name the router as their device_id; a
floating IP's port (``network:floatingip``) on the external network holds
its address and names the floating IP.  While that owner exists, the port
cannot be deleted through the port API (Neutron's ServicePortInUse), nor
its addresses, owner or binding changed there (the owner's document
repeats them).  A port a floating IP is associated with keeps the fixed
IP it is associated through, and when the port goes the floating IP lets
go of it.
"""

from srv6_ofapp import exceptions as exc
from srv6_ofapp.model import resource

ROUTER_INTERFACE = 'network:router_interface'
# neutron_lib.constants.ROUTER_INTERFACE_OWNERS
ROUTER_INTERFACE_OWNERS = (ROUTER_INTERFACE, 'network:ha_router_replicated_interface',
                           'network:router_interface_distributed')
ROUTER_GATEWAY = 'network:router_gateway'
FLOATINGIP = 'network:floatingip'
FLOATINGIPS = 'floatingips'

# What the port API leaves alone on an owned port.
_KEPT = ('fixed_ips', 'device_id', 'device_owner', 'binding:host_id')


def owner_kind(port):
    """The collection of the document an L3 port belongs to, or None."""
    if port['device_owner'] in ROUTER_INTERFACE_OWNERS + (ROUTER_GATEWAY,):
        return 'routers'
    if port['device_owner'] == FLOATINGIP:
        return FLOATINGIPS
    return None


def owner_of(txn, port):
    """The router or floating IP that owns ``port``, or None: a port whose
    owner is gone, or that only names it (made through the port API), is
    the port API's (Neutron lets the first go; the second it would keep)."""
    kind = owner_kind(port)
    owner = txn.get(kind, port['device_id']) if kind and port['device_id'] else None
    if owner is None:
        return None
    if kind == FLOATINGIPS:
        held = [owner['floating_port_id']]
    else:
        held = [i['port_id'] for i in owner['interfaces']] + [owner['gw_port_id']]
    return owner if port['id'] in held else None


def check_delete(txn, ctx, port):
    """Neutron's prevent_l3_port_deletion, and disassociate_floatingips'
    refusal to let a project's port go with a floating IP it cannot see."""
    if owner_of(txn, port):
        raise exc.ServicePortInUse(port_id=port['id'],
                                   reason='has device owner %s' % port['device_owner'])
    if not ctx.is_admin and any(fip['tenant_id'] != ctx.project_id
                                for fip in floating_ips_of(txn, port['id'])):
        raise exc.FipAssociated(port_id=port['id'])


def check_update(txn, port, changes):
    """What the port API asks to change of ``port``: not what its owner
    gave it."""
    if owner_of(txn, port):
        for attr in _KEPT:
            if attr in changes and changes[attr] != port[attr]:
                raise exc.ServicePortChange(port_id=port['id'], attr=attr,
                                            device_owner=port['device_owner'],
                                            device_id=port['device_id'])


def check_fixed_ips(txn, port, fixed_ips):
    """A port keeps the fixed IPs its floating IPs are associated through."""
    addresses = {f['ip_address'] for f in fixed_ips}
    for fip in floating_ips_of(txn, port['id']):
        if fip['fixed_ip_address'] not in addresses:
            raise exc.BadRequest(resource='port', msg='Cannot update the fixed_ips of the '
                                 'port %s, because its original fixed_ip has been associated '
                                 'to a floating ip' % port['id'])


def floating_ips_of(txn, port_id):
    """The floating IPs associated with a port."""
    return txn.list(FLOATINGIPS, where={'port_id': port_id})


def router_floating_ips_down(txn, router_id):
    """The floating IPs through ``router_id`` no longer work where they did
    (the router left its network node, or was set down): DOWN until a node
    applies them again and says so."""
    for fip in txn.list(FLOATINGIPS, where={'router_id': router_id}):
        if fip['status'] != 'DOWN':
            resource.put_next_revision(txn, FLOATINGIPS, fip, dict(fip, status='DOWN'))


def disassociated(fip):
    """``fip`` associated with nothing (the router follows the port)."""
    return dict(fip, port_id=None, fixed_ip_address=None, router_id=None, status='DOWN')


def release_floating_ips(txn, port_id):
    """A port goes: its floating IPs let go of it."""
    for fip in floating_ips_of(txn, port_id):
        resource.put_next_revision(txn, FLOATINGIPS, fip, disassociated(fip))
