"""Port binding: a port bound to a known host needs its (host, network)
VRF, which this module allocates when the first such port binds and
releases when the last one leaves.  The VRF's key, name and vrf_ip rules are
topology's; the binding:profile a bound port shows is made in views.

This backend binds a VM's tap on the host's br-int: binding:vnic_type
normal.  Neutron's other VNIC types (SR-IOV direct, macvtap, baremetal ...)
need another mechanism; such a port asking for a host is binding_failed
and holds no VRF.

A host's vrf_cidr is one address space for every SID on the host: its
VRFs' and those of the routers scheduled on it (model/scheduler.py), so
each vrf_ip is allocated here, unique among both.

Store kinds:
  vrfallocations     <host name>/<network_id>  -> {host, network_id, vrf, vrf_ip}
  routerallocations  <host name>/<router_id>   -> {host, router_id, vrf_ip}
                                                  (written by the scheduler)
"""

from srv6_ofapp import exceptions as exc
from topology import naming
from topology import vrf as vrf_lib

VRFALLOCATIONS = 'vrfallocations'
ROUTERALLOCATIONS = 'routerallocations'
# The kinds whose documents hold a vrf_ip of the host their key starts with.
SID_KINDS = (VRFALLOCATIONS, ROUTERALLOCATIONS)
VNIC_TYPES_BOUND = ('normal',)


def bound_host(port):
    """The host whose VRF the port needs: its binding:host_id, when this
    backend binds its VNIC type; else ''."""
    if port.get('binding:vnic_type', 'normal') not in VNIC_TYPES_BOUND:
        return ''
    return port['binding:host_id']


def vif_type(port, allocation):
    """Neutron's binding:vif_type, given the VRF allocation of the port's
    bound_host (None when it has none)."""
    if allocation:
        return 'ovs'
    return 'binding_failed' if port['binding:host_id'] else 'unbound'


def allocation_of(txn, port):
    """The VRF allocation the port is bound with, or None."""
    host_name = bound_host(port)
    return host_name and txn.get(VRFALLOCATIONS,
                                 vrf_lib.allocation_key(host_name, port['network_id']))


def bind(txn, port, strict=True):
    """Make sure the port's (host, network) VRF has a vrf_ip, and that a
    client-supplied binding:profile agrees with it (``strict``) or, when
    the host has only just become known, give way to it."""
    host_name = bound_host(port)
    host = host_name and host_by_name(txn, host_name)
    if not host:
        return
    allocation = _ensure_vrf(txn, host, port['network_id'])
    computed = vrf_lib.binding_profile(host, allocation)
    for key, value in computed.items():
        given = port['binding:profile'].get(key)
        if strict and given is not None and given != value:
            raise exc.InvalidInput(
                error_message='binding:profile %s %s disagrees with host %s, whose VRF '
                              'for this network has %s' % (key, given, host_name, value))
        # Computed keys are derived at read time, never stored twice.
        port['binding:profile'].pop(key, None)


def unbind(txn, port):
    """Release the (host, network) vrf_ip when the last port leaves."""
    host_name = bound_host(port)
    if not host_name:
        return
    others = [p for p in txn.list('ports', where={'network_id': port['network_id'],
                                                  'binding:host_id': host_name})
              if p['id'] != port['id'] and bound_host(p)]
    if not others:
        txn.delete(VRFALLOCATIONS, vrf_lib.allocation_key(host_name, port['network_id']))


def bind_waiting_ports(txn, host_name):
    """A host has just become known: the ports already bound to its name
    get their VRFs, their client-supplied profiles giving way."""
    for port in txn.list('ports', where={'binding:host_id': host_name}):
        bind(txn, port, strict=False)
        txn.put('ports', port['id'], port)


def host_has_vrfs(txn, host_name):
    """Whether a VRF or a router holds a vrf_ip of the host."""
    return any(txn.list(kind, prefix=vrf_lib.host_prefix(host_name)) for kind in SID_KINDS)


def allocate_vrf_ip(txn, host):
    """The lowest address of the host's vrf_cidr that no VRF and no router
    of the host holds; the caller stores it in this transaction."""
    prefix = vrf_lib.host_prefix(host['name'])
    used = [a['vrf_ip'] for kind in SID_KINDS for a in txn.list(kind, prefix=prefix)]
    vrf_ip = vrf_lib.first_free_vrf_ip(host['vrf_cidr'], used)
    if vrf_ip is None:
        raise exc.VrfIpGenerationFailure(vrf_cidr=host['vrf_cidr'], host=host['name'])
    return vrf_ip


def host_by_name(txn, name):
    hosts = [h for h in txn.list('hosts') if h['name'] == name]
    return hosts[0] if hosts else None


def _ensure_vrf(txn, host, network_id):
    key = vrf_lib.allocation_key(host['name'], network_id)
    allocation = txn.get(VRFALLOCATIONS, key)
    if allocation:
        return allocation
    on_host = txn.list(VRFALLOCATIONS, prefix=vrf_lib.host_prefix(host['name']))
    vrf_ip = allocate_vrf_ip(txn, host)
    network = txn.get('networks', network_id)
    name = naming.vrf_name(network['tenant_id'], network_id)
    for other in on_host:
        # The name keeps 24 bits of the network id: two networks of one
        # project may share it, and one host cannot hold both.
        if other['vrf'] == name:
            raise exc.VrfNameInUse(vrf=name, host=host['name'],
                                   other=other['network_id'], net_id=network_id)
    allocation = {'host': host['name'], 'network_id': network_id, 'vrf_ip': vrf_ip,
                  'vrf': name}
    txn.put(VRFALLOCATIONS, key, allocation)
    return allocation
