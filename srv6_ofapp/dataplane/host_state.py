"""The kernel side of one host, as a pure function of the model.

For every network with at least one port bound to the host (the plugin
keeps a ``vrfallocations`` document exactly for those), the host holds:

  * the network's VRF, named ``vrf`` + project_id[:6] + network_id[:6], with
    its ``vrf_ip`` and SID (the host's segment_node_id with vrf_ip in the low
    32 bits), and the decap route: that SID/128 -> seg6local End.DX4 with
    nh4 = vrf_ip, so traffic for the VRF is decapsulated into it; beside
    it ``vrf_ip/32`` toward the gateway port, without a gateway: End.DX4
    routes by its nh4, and that route makes the kernel resolve the inner
    destination on the gateway port (the VM's own address), so one SID
    serves every VM of the network on the host;
  * the gateway port joining the VRF to br-int, holding each subnet's
    gateway IP (the one distributed gateway MAC is the driver's business);
  * /32 routes to the network's VMs on this host, through the gateway port;
  * /32 seg6 encap routes to the network's VMs on other hosts, toward the
    SID of that host's VRF for the network;
  * the encap rules of the network's srv6_encap_networks;
  * the default route, encapsulated toward the SID of the router attached
    to the network (router_state.network_router_sid: a router on a network
    node); for a network without a router, toward --default-route-sid if
    set, as networking-sr does.

A VRF's routes are route_codec.Routes whose ``oif`` is a role, not a
device: GATEWAY (the VRF's side of the gateway port) or UPLINK (toward the
underlay).  A VRF driver (vrf_drivers.py) puts each role on its own devices
and tables and turns the difference into netlink requests.
"""

import collections

import netaddr

from srv6_ofapp.dataplane.route_codec import Route
from srv6_ofapp.dataplane.router_state import network_router_sid
from topology import vrf as vrf_lib

# The device roles of a VRF's routes.
GATEWAY = 'gateway'
UPLINK = 'uplink'

Vrf = collections.namedtuple('Vrf', 'name network_id vrf_ip sid gateway_addresses')
Vrf.__doc__ = """gateway_addresses: sorted tuple of 'ip/prefixlen' for the gateway port."""

HostState = collections.namedtuple('HostState', 'vrfs routes')
HostState.__doc__ = """vrfs: {name: Vrf}; routes: {VRF name: frozenset of Route}, at
most one Route per destination in a VRF."""


def nothing():
    """The state of a host that should hold none of ours."""
    return HostState({}, {})


def host_state(replica, host, default_route_sid=None):
    """The VRFs and routes ``host`` should hold, from the Replica ``replica``."""
    state = nothing()
    if host is None:
        return state
    with replica.lock:
        for allocation in replica.vrf_allocations_on(host['name']):
            vrf = _vrf(replica, host, allocation)
            state.vrfs[vrf.name] = vrf
            state.routes[vrf.name] = frozenset(_routes(replica, host, vrf, default_route_sid))
    return state


def _vrf(replica, host, allocation):
    addresses = []
    for subnet in replica.subnets_of(allocation['network_id']):
        if subnet['gateway_ip']:
            prefixlen = netaddr.IPNetwork(subnet['cidr']).prefixlen
            addresses.append('%s/%d' % (subnet['gateway_ip'], prefixlen))
    return Vrf(allocation['vrf'], allocation['network_id'], allocation['vrf_ip'],
               vrf_lib.sid(host['segment_node_id'], allocation['vrf_ip']),
               tuple(sorted(addresses)))


def _routes(replica, host, vrf, default_route_sid):
    """Routes of one VRF, keyed by destination, each later kind winning over
    the earlier: a VM's /32 wins over an encap rule for the same prefix, and
    a local VM over a remote one."""
    by_dst = {}

    def add(route):
        by_dst[route.dst] = route
    add(Route(vrf.vrf_ip + '/32', GATEWAY))
    default_route_sid = network_router_sid(replica, vrf.network_id) or default_route_sid
    if default_route_sid:
        add(Route('0.0.0.0/0', UPLINK, 'encap', (default_route_sid,)))
    for encap in replica.encap_networks_of(vrf.network_id):
        for rule in encap['encap_rules']:
            add(Route(rule['destination'], UPLINK, 'encap', (rule['nexthop'],)))
    local = []
    for port in replica.ports_of(vrf.network_id):
        owner = port['binding:host_id']
        if owner == host['name']:
            local.append(port)
            continue
        remote_host = replica.host_by_name(owner)
        allocation = replica.vrf_allocation(owner, vrf.network_id)
        if remote_host is None or allocation is None:
            continue  # bound nowhere known: no route to it
        remote_sid = vrf_lib.sid(remote_host['segment_node_id'], allocation['vrf_ip'])
        for fixed_ip in port['fixed_ips']:
            add(Route(fixed_ip['ip_address'] + '/32', UPLINK, 'encap', (remote_sid,)))
    for port in local:
        for fixed_ip in port['fixed_ips']:
            add(Route(fixed_ip['ip_address'] + '/32', GATEWAY))
    add(Route(vrf.sid + '/128', UPLINK, 'decap', nh4=vrf.vrf_ip))
    return by_dst.values()
