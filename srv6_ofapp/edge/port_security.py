"""The ingress table: port security and classification.

A frame from a VM port must carry the port's MAC and one of its IPs
(allowed_address_pairs extend that; port_security_enabled false lifts it);
ARP must also claim those addresses.  An admitted frame is tagged with its
network (metadata) and sent to the arp or dhcp table, or its IPv4 on to the
port's security groups (sg_egress, with its port in reg5) -- straight to l2
when port security is off.  The gateway port
is the VRF's side of the network: trusted, and tagged likewise.  Anything
else misses and is dropped.
"""

import netaddr
from os_ken.lib.packet import ether_types, in_proto

from srv6_ofapp.edge import dhcp
from srv6_ofapp.edge import security_groups
from srv6_ofapp.edge.flows import COOKIE_NETWORK, COOKIE_PORT, cookie, make_flow, network_tag
from srv6_ofapp.edge.tables import PORT_REG
from topology import naming


def addresses(port):
    """(mac, ip-or-cidr) pairs a port may send from."""
    pairs = [(port['mac_address'], f['ip_address']) for f in port['fixed_ips']]
    for pair in port.get('allowed_address_pairs', ()):
        pairs.append((pair.get('mac_address') or port['mac_address'], pair['ip_address']))
    return sorted(set(pairs))


def _ip_match(ip):
    """An exact address, or (network, mask) for a CIDR of an address pair."""
    if '/' in ip:
        net = netaddr.IPNetwork(ip)
        if net.prefixlen < 32:
            return (str(net.network), str(net.netmask))
        ip = str(net.ip)
    return ip


def port_flows(switch, lp):
    port, ofport = lp.port, lp.ofport
    port_cookie = cookie(COOKIE_PORT, port['id'])
    classify = ('write_metadata', network_tag(port['network_id']))
    flows = []

    def admit(priority, next_table, **match):
        mark = [('apply', (('set', PORT_REG, ofport),))] if next_table == 'sg_egress' else []
        flows.append(make_flow('ingress', priority, port_cookie,
                               [classify] + mark + [('goto', next_table)], in_port=ofport,
                               **match))

    dhcp_request = dict(eth_type=ether_types.ETH_TYPE_IP, ip_proto=in_proto.IPPROTO_UDP,
                        udp_dst=dhcp.SERVER_PORT)
    if not port['port_security_enabled']:
        admit(110, 'dhcp', **dhcp_request)
        admit(100, 'arp', eth_type=ether_types.ETH_TYPE_ARP)
        admit(100, 'l2', eth_type=ether_types.ETH_TYPE_IP)
        return flows
    pairs = addresses(port)
    ip_table = 'sg_egress' if security_groups.filtered(port) else 'l2'
    for mac, ip in pairs:
        admit(100, 'arp', eth_src=mac, eth_type=ether_types.ETH_TYPE_ARP, arp_sha=mac,
              arp_spa=_ip_match(ip))
        admit(100, ip_table, eth_src=mac, eth_type=ether_types.ETH_TYPE_IP,
              ipv4_src=_ip_match(ip))
        # Renewals are unicast to the server: they must not reach the
        # gateway port as ordinary traffic.
        admit(110, 'dhcp', eth_src=mac, ipv4_src=_ip_match(ip), **dhcp_request)
    for mac in sorted({mac for mac, _ in pairs}):
        # DHCP before the client has an address, and probes of an address it
        # was offered (RFC 5227: sender address 0.0.0.0).
        admit(110, 'dhcp', eth_src=mac, ipv4_src='0.0.0.0', **dhcp_request)
        admit(100, 'arp', eth_src=mac, eth_type=ether_types.ETH_TYPE_ARP, arp_sha=mac,
              arp_spa='0.0.0.0')
    return flows


def network_flows(switch, network_id, members):
    gateway_ofport = switch.ports.ofports.get(naming.gateway_port_name(network_id))
    if gateway_ofport is None:
        return []
    tag, net_cookie = network_tag(network_id), cookie(COOKIE_NETWORK, network_id)
    # Its ARP requests for local VMs take the same unicast path as a VM's.
    return [make_flow('ingress', 100, net_cookie, [('write_metadata', tag), ('goto', 'l2')],
                      in_port=gateway_ofport),
            make_flow('ingress', 110, net_cookie, [('write_metadata', tag), ('goto', 'arp')],
                      in_port=gateway_ofport, eth_type=ether_types.ETH_TYPE_ARP)]
