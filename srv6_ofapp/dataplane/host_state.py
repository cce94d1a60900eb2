"""The kernel side of one host, as a pure function of the model.

For every network with at least one port bound to the host (the plugin
keeps a ``vrfallocations`` document exactly for those), the host holds:

  * the network's VRF, named ``vrf`` + project_id[:6] + network_id[:6], with
    its ``vrf_ip`` and SID (the host's segment_node_id with vrf_ip in the low
    32 bits), and the decap route: that SID -> seg6local End.DX4, so traffic
    for the VRF is decapsulated into it;
  * the gateway port joining the VRF to br-int, holding each subnet's
    gateway IP (the one distributed gateway MAC is the driver's business);
  * /32 routes to the network's VMs on this host, through the gateway port;
  * /32 seg6 encap routes to the network's VMs on other hosts, toward the
    SID of that host's VRF for the network;
  * the encap rules of the network's srv6_encap_networks;
  * optionally a default route encapsulated toward a gateway SID (a
    network node), as networking-sr does.

A VRF driver (srv6_ofapp/vrf_driver.py) turns this into netlink requests.
"""

import collections

import netaddr

from topology import vrf as vrf_lib

Vrf = collections.namedtuple('Vrf', 'name network_id vrf_ip sid gateway_addresses')
Vrf.__doc__ = """gateway_addresses: sorted tuple of 'ip/prefixlen' for the gateway port."""

Route = collections.namedtuple('Route', 'vrf dst action segments')
Route.__doc__ = """A route inside a VRF.

action: 'gateway' (out of the gateway port, to a local VM), 'encap' (seg6
encap toward ``segments``, SIDs in travel order), or 'decap' (``dst`` is
the VRF's own SID/128: seg6local End.DX4 into the VRF)."""

HostState = collections.namedtuple('HostState', 'vrfs routes')


def host_state(view, host, default_route_sid=None):
    """The VRFs ({name: Vrf}) and routes (set of Route) ``host`` should hold."""
    vrfs, routes = {}, set()
    if host is None:
        return HostState(vrfs, routes)
    with view.lock:
        hosts = {h['name']: h for h in view.docs['hosts'].values()}
        allocations = view.docs['vrfallocations']
        for allocation in allocations.values():
            if allocation['host'] != host['name']:
                continue
            vrf = _vrf(view, host, allocation)
            vrfs[vrf.name] = vrf
            routes.update(_routes(view, host, hosts, allocations, vrf, default_route_sid))
    return HostState(vrfs, routes)


def _vrf(view, host, allocation):
    addresses = []
    for subnet in view.subnets_of(allocation['network_id']):
        if subnet['gateway_ip']:
            prefixlen = netaddr.IPNetwork(subnet['cidr']).prefixlen
            addresses.append('%s/%d' % (subnet['gateway_ip'], prefixlen))
    return Vrf(allocation['vrf'], allocation['network_id'], allocation['vrf_ip'],
               vrf_lib.sid(host['segment_node_id'], allocation['vrf_ip']),
               tuple(sorted(addresses)))


def _routes(view, host, hosts, allocations, vrf, default_route_sid):
    """Routes of one VRF, keyed by destination: a VM's /32 wins over an
    encap rule for the same prefix, and a local VM over a remote one."""
    by_dst = {}
    if default_route_sid:
        by_dst['0.0.0.0/0'] = Route(vrf.name, '0.0.0.0/0', 'encap', (default_route_sid,))
    for encap in view.docs['srv6_encap_networks'].values():
        if encap['network_id'] != vrf.network_id:
            continue
        for rule in encap['encap_rules']:
            by_dst[rule['destination']] = Route(vrf.name, rule['destination'], 'encap',
                                                (rule['nexthop'],))
    local = []
    for port in view.ports_of(vrf.network_id):
        owner = port['binding:host_id']
        if owner == host['name']:
            local.append(port)
            continue
        remote_host = hosts.get(owner)
        allocation = allocations.get('%s/%s' % (owner, vrf.network_id))
        if remote_host is None or allocation is None:
            continue  # bound nowhere known: no route to it
        remote_sid = vrf_lib.sid(remote_host['segment_node_id'], allocation['vrf_ip'])
        for fixed_ip in port['fixed_ips']:
            dst = fixed_ip['ip_address'] + '/32'
            by_dst[dst] = Route(vrf.name, dst, 'encap', (remote_sid,))
    for port in local:
        for fixed_ip in port['fixed_ips']:
            dst = fixed_ip['ip_address'] + '/32'
            by_dst[dst] = Route(vrf.name, dst, 'gateway', ())
    decap = vrf.sid + '/128'
    by_dst[decap] = Route(vrf.name, decap, 'decap', ())
    return by_dst.values()
