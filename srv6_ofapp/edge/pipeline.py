"""The OpenFlow pipeline of an edge bridge, as a pure function of the model.

``switch_flows`` returns the complete set of flows one switch should hold;
the adapter (app.py) diffs it against what the switch has and sends only
the difference.  Flows are plain hashable tuples (``Flow``), with tables
referred to by name, so tests can compare and run them without a switch
(tests/fakeoftable.py).

Tables, in packet order:

  ingress  port security and classification: a frame from a VM port must
           carry the port's MAC and one of its IPs (allowed_address_pairs
           extend that; port_security_enabled=false lifts it); it is tagged
           with its network (metadata) and sent on.  Anything else is dropped.
  arp      ARP requests, within the network: answered in the datapath for
           the gateway and for VMs on other hosts (with the distributed
           gateway MAC), turned into unicast for VMs on this host; probes
           are dropped; the rest goes to the controller (metered).
  dhcp     DHCP from a VM goes to the controller (metered per port).
  l2       unicast to a local VM of the network or to the network's
           gateway port.  Nothing is ever flooded: broadcast, multicast and
           unknown destinations are dropped.
"""

import collections

import netaddr

from srv6_ofapp.edge import arp
from topology import naming

TABLES = ('ingress', 'arp', 'dhcp', 'l2')
TABLE_ID = {name: number for number, name in enumerate(TABLES)}

ETH_TYPE_IP = 0x0800
ETH_TYPE_ARP = 0x0806
IPPROTO_UDP = 17
ARP_REQUEST = 1
ARP_REPLY = 2
DHCP_SERVER_PORT = 67

# Cookies say which resource a flow belongs to: a kind in the top byte and
# 56 bits of the resource's UUID below it.
COOKIE_SWITCH = 1
COOKIE_NETWORK = 2
COOKIE_PORT = 3

# Per VM port, packet-ins (DHCP, ARP misses) beyond this are dropped in the
# datapath, so one VM cannot starve the controller for the others.
PACKET_IN_RATE_PPS = 100
PACKET_IN_BURST = 50

Flow = collections.namedtuple('Flow', 'table priority match instructions cookie')
Flow.__doc__ = """One flow entry.

match: tuple of sorted (OXM field name, value) pairs, as OS-Ken names them.
instructions: tuple, in OpenFlow execution order, of
    ('meter', meter_id) | ('apply', actions) | ('write_metadata', value) |
    ('goto', table name); with actions a tuple of
    ('output', port number) | ('in_port',) | ('controller',) |
    ('set', field, value) | ('move', src field, dst field, n_bits).
An empty instruction tuple drops."""

Meter = collections.namedtuple('Meter', 'meter_id rate burst')


def make_flow(table, priority, cookie, instructions=(), **match):
    return Flow(table, priority, tuple(sorted(match.items())), tuple(instructions), cookie)


def cookie(kind, resource_id=None):
    low = int(resource_id.replace('-', '')[:14], 16) if resource_id else 0
    return (kind << 56) | low


def network_tag(network_id):
    """The metadata value that marks a frame as belonging to a network:
    64 bits of its UUID (UUID4 ids make a clash vanishingly unlikely)."""
    return int(network_id.replace('-', '')[:16], 16)


def arp_responder_actions(mac, ip):
    """Turn the ARP request in hand into the reply "ip is at mac" and send it
    back where it came from (Neutron's ARP responder)."""
    return (('move', 'eth_src', 'eth_dst', 48),
            ('set', 'eth_src', mac),
            ('set', 'arp_op', ARP_REPLY),
            ('move', 'arp_sha', 'arp_tha', 48),
            ('move', 'arp_spa', 'arp_tpa', 32),
            ('set', 'arp_sha', mac),
            ('set', 'arp_spa', ip),
            ('in_port',))


class LocalPort(collections.namedtuple('LocalPort', 'port ofport')):
    """A VM port of the model whose tap is on this switch."""


def local_ports(view, ofports, iface_ids=None):
    """The model's ports present on a switch whose ports are ``ofports``
    ({interface name: port number}): by name (tap + port_id[:11]) or by the
    interface's external_ids:iface-id (``iface_ids``: {name: port id})."""
    found = []
    for name, ofport in sorted(ofports.items()):
        port = view.port_by_ifname(name)
        if port is None and iface_ids and name in iface_ids:
            port = view.port(iface_ids[name])
        if port is not None:
            found.append(LocalPort(port, ofport))
    return found


def meters(view, ofports, rate=PACKET_IN_RATE_PPS, burst=PACKET_IN_BURST, iface_ids=None):
    """One packet-in meter per local VM port, numbered by its port number."""
    return {lp.ofport: Meter(lp.ofport, rate, burst)
            for lp in local_ports(view, ofports, iface_ids) if lp.port['admin_state_up']}


def switch_flows(view, ofports, gateway_mac, metered=True, arp_responder=True,
                 iface_ids=None):
    """Every flow the switch with ports ``ofports`` should hold.

    ``metered``: the switch supports meters (packet-ins are rate-limited).
    ``arp_responder``: answer ARP in the datapath; without it every ARP
    request takes the packet-in path (same answers, slower).
    """
    flows = set(base_flows())
    locals_ = [lp for lp in local_ports(view, ofports, iface_ids)
               if lp.port['admin_state_up']]
    local_by_network = collections.defaultdict(list)
    for lp in locals_:
        local_by_network[lp.port['network_id']].append(lp)
        flows.update(_vm_port_flows(view, lp, metered))
    for network_id, members in local_by_network.items():
        gateway_ofport = ofports.get(naming.gateway_port_name(network_id))
        flows.update(_network_flows(view, network_id, members, gateway_ofport,
                                    gateway_mac, arp_responder))
    return flows


def base_flows():
    """Explicit lowest-priority drops, so dropped traffic shows in counters;
    all an unknown switch gets."""
    switch_cookie = cookie(COOKIE_SWITCH)
    return [make_flow(table, 0, switch_cookie) for table in TABLES]


def _addresses(port):
    """(mac, ip-or-cidr) pairs a port may send from."""
    pairs = [(port['mac_address'], f['ip_address']) for f in port['fixed_ips']]
    for pair in port.get('allowed_address_pairs', ()):
        pairs.append((pair.get('mac_address') or port['mac_address'], pair['ip_address']))
    return pairs


def _ip_match(ip):
    """An exact address, or (network, mask) for a CIDR of an address pair."""
    if '/' in ip:
        net = netaddr.IPNetwork(ip)
        if net.prefixlen < 32:
            return (str(net.network), str(net.netmask))
        ip = str(net.ip)
    return ip


def _vm_port_flows(view, lp, metered):
    port, ofport = lp.port, lp.ofport
    tag = network_tag(port['network_id'])
    port_cookie = cookie(COOKIE_PORT, port['id'])
    meter = ('meter', ofport)
    classify = ('write_metadata', tag)
    flows = []

    def ingress(priority, next_table, **match):
        flows.append(make_flow('ingress', priority, port_cookie,
                               [classify, ('goto', next_table)], in_port=ofport, **match))

    if port['port_security_enabled']:
        macs = sorted({mac for mac, _ in _addresses(port)})
        for mac, ip in sorted(set(_addresses(port))):
            ingress(100, 'arp', eth_src=mac, eth_type=ETH_TYPE_ARP, arp_sha=mac,
                    arp_spa=_ip_match(ip))
            ingress(100, 'l2', eth_src=mac, eth_type=ETH_TYPE_IP, ipv4_src=_ip_match(ip))
        for mac in macs:
            # DHCP before the client has an address, and probes of an
            # address it was offered (RFC 5227: sender address 0.0.0.0).
            ingress(110, 'dhcp', eth_src=mac, eth_type=ETH_TYPE_IP, ipv4_src='0.0.0.0',
                    ip_proto=IPPROTO_UDP, udp_dst=DHCP_SERVER_PORT)
            ingress(100, 'arp', eth_src=mac, eth_type=ETH_TYPE_ARP, arp_sha=mac,
                    arp_spa='0.0.0.0')
        for mac, ip in sorted(set(_addresses(port))):
            # Renewals are unicast to the server: they must not reach the
            # gateway port as ordinary traffic.
            ingress(110, 'dhcp', eth_src=mac, eth_type=ETH_TYPE_IP, ipv4_src=_ip_match(ip),
                    ip_proto=IPPROTO_UDP, udp_dst=DHCP_SERVER_PORT)
    else:
        ingress(110, 'dhcp', eth_type=ETH_TYPE_IP, ip_proto=IPPROTO_UDP,
                udp_dst=DHCP_SERVER_PORT)
        ingress(100, 'arp', eth_type=ETH_TYPE_ARP)
        ingress(100, 'l2', eth_type=ETH_TYPE_IP)

    to_controller = ([meter] if metered else []) + [('apply', (('controller',),))]
    flows.append(make_flow('dhcp', 100, port_cookie, to_controller, in_port=ofport))
    # ARP the datapath flows do not cover goes to the controller, metered.
    flows.append(make_flow('arp', 1, port_cookie, to_controller, in_port=ofport))
    # Delivery to this VM, within its network only.
    flows.append(make_flow('l2', 100, port_cookie, [('apply', (('output', ofport),))],
                           metadata=tag, eth_dst=port['mac_address']))
    return flows


def _network_flows(view, network_id, members, gateway_ofport, gateway_mac, arp_responder):
    tag = network_tag(network_id)
    net_cookie = cookie(COOKIE_NETWORK, network_id)
    flows = []

    def arp_flow(priority, instructions, **match):
        flows.append(make_flow('arp', priority, net_cookie, instructions, metadata=tag,
                               eth_type=ETH_TYPE_ARP, **match))

    # A duplicate-address probe is never answered on the owner's behalf.
    arp_flow(300, [], arp_op=ARP_REQUEST, arp_spa='0.0.0.0')
    # Replies are unicast like any frame.
    arp_flow(100, [('goto', 'l2')], arp_op=ARP_REPLY)
    local = {lp.port['id']: lp.ofport for lp in members}
    answers = arp.answers(view, network_id, gateway_mac, local.get) if arp_responder else {}
    for ip, found in sorted(answers.items()):
        if found.holder == 'local':
            # ARP-to-unicast: only the owner sees the request, and answers it.
            actions = (('set', 'eth_dst', found.mac), ('output', found.ofport))
        else:
            actions = arp_responder_actions(found.mac, ip)
        arp_flow(200, [('apply', actions)], arp_op=ARP_REQUEST, arp_tpa=ip)

    if gateway_ofport is not None:
        # The gateway port is the VRF's side: trusted, and the way out; its
        # ARP requests for local VMs take the same unicast path as a VM's.
        flows.append(make_flow('ingress', 100, net_cookie,
                               [('write_metadata', tag), ('goto', 'l2')],
                               in_port=gateway_ofport))
        flows.append(make_flow('ingress', 110, net_cookie,
                               [('write_metadata', tag), ('goto', 'arp')],
                               in_port=gateway_ofport, eth_type=ETH_TYPE_ARP))
        flows.append(make_flow('l2', 100, net_cookie,
                               [('apply', (('output', gateway_ofport),))],
                               metadata=tag, eth_dst=gateway_mac))
    return flows


def flow_key(flow):
    return (flow.table, flow.priority, flow.match)


def flow_changes(desired, actual):
    """(flows to add or replace, flows to delete) to turn ``actual`` into
    ``desired``.  A changed flow is replaced in place by an add with the same
    match and priority -- never deleted and re-added -- so traffic that
    matches it sees no gap.  ``actual`` may hold None for entries that are
    not ours; those are ignored here and removed by their own deletes."""
    have = {flow_key(f): f for f in actual if f is not None}
    want = {flow_key(f): f for f in desired}
    adds = sorted((f for k, f in want.items() if have.get(k) != f), key=_order)
    deletes = sorted((f for k, f in have.items() if k not in want), key=_order)
    return adds, deletes


def meter_changes(desired, actual):
    """(meters to add, meters to modify, meter ids to delete).  ``actual``
    maps meter ids to Meters, or to None for meters that are not ours."""
    adds = [m for i, m in sorted(desired.items()) if i not in actual]
    modifies = [m for i, m in sorted(desired.items()) if i in actual and actual[i] != m]
    deletes = sorted(i for i in actual if i not in desired)
    return adds, modifies, deletes


def _order(flow):
    return (TABLE_ID[flow.table], -flow.priority, repr(flow.match))
