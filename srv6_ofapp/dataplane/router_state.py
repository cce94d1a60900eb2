"""The routers of one network node, as a pure function of the model.

A Neutron router scheduled on a network node (its ``host``) becomes a
namespace there (router_driver.py builds it) holding:

  * the router's SID -- the node's segment_node_id with the router's
    ``routerallocations`` vrf_ip in its low 32 bits -- decapsulated by
    End.DX4 into the router.  One SID per router, not per attached
    network: compute hosts send every attached network's outbound traffic
    to it (host_state's default route), and the router forwards on the
    inner destination;
  * /32 seg6 encap routes back to every VM of the attached subnets,
    toward the SID of the VM's host VRF (as a compute host reaches a remote
    VM);
  * with an external gateway: the external port (Neutron's ``qg-``) holding
    the gateway's external address and the floating IPs (so the kernel
    answers ARP for them on the external segment), the default route via
    the external subnet's gateway, and the NAT ruleset (nat_ruleset()).

End.DX4 needs an IPv4 next hop and forwards the decapsulated packet to it
without passing netfilter's prerouting hook, so conntrack (and SNAT)
would never see it.  The router therefore decapsulates toward a next hop
behind a veth looped inside its own namespace (LOOP_OUT -> LOOP_IN): the
packet re-enters through LOOP_IN, is tracked, routed on its inner
destination and NATed like any forwarded packet.  (The kernel's
net.netfilter.nf_hooks_lwtunnel sysctl would do without the loop, but it
is global to the machine and cannot be switched off again.)
"""

import collections
import functools
import hashlib

import netaddr

from srv6_ofapp.dataplane.route_codec import Route
from topology import vrf as vrf_lib

# The router namespace's devices and the addresses of its plumbing.
UPLINK = 'uplink'        # veth toward the host's namespace (the underlay)
EXTERNAL = 'qg'          # veth toward the external bridge
LOOP_OUT, LOOP_IN = 'dx0', 'dx1'
LOOP_OUT_ADDRESS, LOOP_IN_ADDRESS = '169.254.255.1/30', '169.254.255.2/30'
# End.DX4's next hop: reached through the loop (a route via LOOP_IN's address).
DECAP_NEXTHOP = '169.254.254.1'

NAT_TABLE = 'srv6_nat'

Router = collections.namedtuple('Router', 'id sid external floating_ips internal_cidrs')
Router.__doc__ = """One router as its network node holds it.

sid:            the router's SID.
external:       External, or None without a gateway.
floating_ips:   sorted tuple of (floating IP, fixed IP) pairs.
internal_cidrs: sorted tuple of the attached subnets' CIDRs."""

External = collections.namedtuple('External', 'mac addresses gateway enable_snat')
External.__doc__ = """The router's external port.

mac:         the gateway port's MAC.
addresses:   sorted tuple of 'ip/prefixlen' of the gateway's external fixed IPs.
gateway:     the external subnet's gateway IP (the upstream router), or None.
enable_snat: SNAT the attached subnets to the first external address."""

RouterState = collections.namedtuple('RouterState', 'routers routes')
RouterState.__doc__ = """routers: {router id: Router}; routes: {router id: frozenset
of Route}, oif a device of the router's namespace, at most one per destination."""


def nothing():
    """The state of a network node that should hold no routers."""
    return RouterState({}, {})


def router_sid(replica, router):
    """The SID of ``router`` on its network node, or None while it has none
    (not scheduled, no allocation yet, or its host unknown)."""
    host_name = router.get('host')
    if not host_name or not router.get('admin_state_up', True):
        return None
    host = replica.host_by_name(host_name)
    allocation = replica.router_allocation(host_name, router['id'])
    if host is None or allocation is None:
        return None
    return vrf_lib.sid(host['segment_node_id'], allocation['vrf_ip'])


def network_router_sid(replica, network_id):
    """The SID a network's VRFs send their outbound traffic to: that of the
    router attached to the network (the lowest id if there are several),
    or None."""
    for router in sorted(replica.routers_of_network(network_id), key=lambda r: r['id']):
        sid = router_sid(replica, router)
        if sid is not None:
            return sid
    return None


def routers_state(replica, host):
    """The routers ``host`` (a network node) should hold, from ``replica``."""
    state = nothing()
    if host is None:
        return state
    with replica.lock:
        for doc in replica.routers_on(host['name']):
            sid = router_sid(replica, doc)
            if sid is None:
                continue
            attached = _attached_subnets(replica, doc)
            router = _router(replica, doc, sid, attached)
            state.routers[router.id] = router
            state.routes[router.id] = frozenset(_routes(replica, router, attached))
    return state


def floating_ips_to_activate(replica, state):
    """The floating IPs that ``state`` (applied on the node) makes work and
    that the model does not yet say ACTIVE: {id: (router id, floating IP,
    fixed IP)}, the association the node applied (the status is written
    only while the floating IP still has it)."""
    found = {}
    with replica.lock:
        for router in state.routers.values():
            applied = set(router.floating_ips)
            for fip in replica.floating_ips_of(router.id):
                pair = (fip['floating_ip_address'], fip.get('fixed_ip_address'))
                if fip.get('status') != 'ACTIVE' and pair in applied:
                    found[fip['id']] = (router.id,) + pair
    return found


def _attached_subnets(replica, doc):
    """{subnet id: subnet} of the router's interfaces."""
    subnets = {}
    for interface in doc.get('interfaces') or ():
        for subnet in replica.subnets_of(interface['network_id']):
            if subnet['id'] == interface['subnet_id']:
                subnets[subnet['id']] = subnet
    return subnets


@functools.lru_cache(maxsize=4096)
def _network(cidr):
    """netaddr's parse of a CIDR (the same few, asked for on every change)."""
    return netaddr.IPNetwork(cidr)


def _router(replica, doc, sid, attached):
    internal = tuple(sorted({s['cidr'] for s in attached.values()}, key=_network))
    external = _external(replica, doc)
    floating = ()
    if external is not None:
        floating = tuple(sorted(
            (fip['floating_ip_address'], fip['fixed_ip_address'])
            for fip in replica.floating_ips_of(doc['id'])
            if fip.get('port_id') and fip.get('fixed_ip_address')))
    return Router(doc['id'], sid, external, floating, internal)


def _external(replica, doc):
    info = doc.get('external_gateway_info')
    if not info:
        return None
    subnets = {s['id']: s for s in replica.subnets_of(info['network_id'])}
    addresses, gateway = [], None
    for fixed_ip in info.get('external_fixed_ips') or ():
        subnet = subnets.get(fixed_ip['subnet_id'])
        if subnet is None:
            continue
        addresses.append('%s/%d' % (fixed_ip['ip_address'], _network(subnet['cidr']).prefixlen))
        gateway = gateway or subnet.get('gateway_ip')
    if not addresses:
        return None
    port = replica.port(doc.get('gw_port_id')) if doc.get('gw_port_id') else None
    return External(port['mac_address'] if port else None, tuple(addresses), gateway,
                    bool(info.get('enable_snat', True)))


def _routes(replica, router, attached):
    by_dst = {}

    def add(route):
        by_dst[route.dst] = route
    if router.external is not None and router.external.gateway:
        add(Route('0.0.0.0/0', EXTERNAL, 'dev', via=router.external.gateway))
    for network_id in sorted({s['network_id'] for s in attached.values()}):
        for port in replica.ports_of(network_id):
            owner = port.get('binding:host_id')
            host = replica.host_by_name(owner) if owner else None
            allocation = replica.vrf_allocation(owner, network_id) if owner else None
            if host is None or allocation is None:
                continue  # not bound (or not yet): no VM to route to
            vrf_sid = vrf_lib.sid(host['segment_node_id'], allocation['vrf_ip'])
            for fixed_ip in port['fixed_ips']:
                if fixed_ip['subnet_id'] in attached:
                    add(Route(fixed_ip['ip_address'] + '/32', UPLINK, 'encap', (vrf_sid,)))
    add(Route(router.sid + '/128', UPLINK, 'decap', nh4=DECAP_NEXTHOP))
    return by_dst.values()


def nat_ruleset(router):
    """The nftables ruleset of ``router``'s namespace (table ip NAT_TABLE),
    or '' when it needs none (no external gateway).

    * floating IPs: 1:1 NAT by two maps, one rule each way whatever their
      number (a lookup that misses lets the packet on to the next rule);
    * SNAT of the attached subnets to the external address (enable_snat);
    * from the external side, only replies, DNATed (floating) traffic,
      traffic to the router's own addresses and, without SNAT, traffic to
      the attached subnets get in; and nothing for an attached subnet
      leaves by the external port (an address no VM holds must not be
      routed to the outside world).

    The external side's filter hooks prerouting (after DNAT, so that
    ``ct status dnat`` is known), not forward: a packet routed to a VM
    takes an SRv6 encap route, and the kernel hands such packets to the
    tunnel on input (lwtunnel input redirect), so IPv4's forward hook
    never sees them.
    """
    external = router.external
    if external is None:
        return ''
    lines = ['table ip %s {' % NAT_TABLE,
             '\tcomment "srv6-ofapp router %s"' % router.id]
    if router.internal_cidrs:
        lines.append('\tset internal { type ipv4_addr; flags interval; elements = { %s } }'
                     % ', '.join(router.internal_cidrs))
    else:
        lines.append('\tset internal { type ipv4_addr; flags interval; }')
    # One floating IP per fixed IP (the API's rule); were there two, the
    # first would be the source outbound, as a map holds one value per key.
    snat = {}
    for fip, fixed in router.floating_ips:
        snat.setdefault(fixed, fip)
    for name, pairs in (('floating_dnat', router.floating_ips),
                        ('floating_snat', snat.items())):
        elements = ', '.join('%s : %s' % pair for pair in sorted(pairs))
        lines.append('\tmap %s { type ipv4_addr : ipv4_addr;%s }'
                     % (name, ' elements = { %s }' % elements if elements else ''))
    lines += ['\tchain prerouting {',
              '\t\ttype nat hook prerouting priority dstnat; policy accept;',
              '\t\tiifname "%s" dnat to ip daddr map @floating_dnat' % EXTERNAL,
              '\t}',
              '\tchain postrouting {',
              '\t\ttype nat hook postrouting priority srcnat; policy accept;',
              '\t\toifname "%s" snat to ip saddr map @floating_snat' % EXTERNAL]
    if external.enable_snat:
        lines.append('\t\toifname "%s" ip saddr @internal snat to %s'
                     % (EXTERNAL, external.addresses[0].split('/')[0]))
    lines += ['\t}',
              '\tchain from_external {',
              '\t\ttype filter hook prerouting priority dstnat + 10; policy accept;',
              '\t\tiifname "%s" ct state established,related accept' % EXTERNAL,
              '\t\tiifname "%s" ct status dnat accept' % EXTERNAL]
    if not external.enable_snat:
        lines.append('\t\tiifname "%s" ip daddr @internal accept' % EXTERNAL)
    lines += ['\t\tiifname "%s" fib daddr type { local, broadcast, multicast } accept'
              % EXTERNAL,
              '\t\tiifname "%s" drop' % EXTERNAL,
              '\t}',
              '\tchain forward {',
              '\t\ttype filter hook forward priority filter; policy accept;',
              '\t\toifname "%s" ip daddr @internal drop' % EXTERNAL,
              '\t}',
              '}']
    return '\n'.join(lines) + '\n'


def floating_ips_gone(before, router):
    """The floating IPs whose mapping ``before`` (a Router, or the pairs the
    kernel's floating_dnat map holds) has and ``router`` has not: their
    connections must end, as Neutron ends them, or a disassociated address
    would keep reaching its old VM (conntrack remembers the NAT)."""
    old = set(before.floating_ips if isinstance(before, Router) else before)
    new = set(router.floating_ips if router.external is not None else ())
    return sorted({fip for fip, fixed in old - new})


def digest(router):
    """A short fingerprint of everything of ``router`` but its routes: what
    the router driver leaves in its namespace to know, after a restart,
    that nothing else needs rewriting.  The NAT ruleset is in it as
    written, so that a release writing other rules rewrites them."""
    return hashlib.sha1((repr(tuple(router)) + nat_ruleset(router)).encode()).hexdigest()[:16]
