"""ARP on packet-in: what the datapath's flows did not answer.  Pure.

Normally the arp table answers in the datapath; a request reaches the
controller when the flows do not cover it (yet).  The answer follows the
same rules as the flows: a VM of the network on this host gets the request
as unicast and answers itself; the gateway and VMs on other hosts are
answered with the distributed gateway MAC; probes, gratuitous ARP and
unknown targets get nothing -- and nothing is ever flooded.
"""

import collections

from os_ken.lib.packet import arp, ethernet, packet
from os_ken.lib.packet import ether_types

from srv6_ofapp import ipam

Reply = collections.namedtuple('Reply', 'frame out_port')
Reply.__doc__ = "A frame to send; out_port None means back out of the in_port."


def _reply_frame(request_eth, request_arp, mac):
    reply = packet.Packet()
    reply.add_protocol(ethernet.ethernet(dst=request_eth.src, src=mac,
                                         ethertype=ether_types.ETH_TYPE_ARP))
    reply.add_protocol(arp.arp(opcode=arp.ARP_REPLY, src_mac=mac, src_ip=request_arp.dst_ip,
                               dst_mac=request_arp.src_mac, dst_ip=request_arp.src_ip))
    reply.serialize()
    return bytes(reply.data)


def _unicast_frame(request_eth, request_arp, target_mac):
    out = packet.Packet()
    out.add_protocol(ethernet.ethernet(dst=target_mac, src=request_eth.src,
                                       ethertype=ether_types.ETH_TYPE_ARP))
    out.add_protocol(request_arp)
    out.serialize()
    return bytes(out.data)


def handle_arp(frame, network_id, view, local_ofports, gateway_mac):
    """(Reply or None, event name) for an ARP frame from a port of ``network_id``.

    ``local_ofports`` maps the ids of the ports on this switch to their
    OpenFlow port numbers.
    """
    try:
        pkt = packet.Packet(frame)
        eth = pkt.get_protocol(ethernet.ethernet)
        request = pkt.get_protocol(arp.arp)
    except Exception:  # os_ken's parsers raise anything on garbage
        return None, 'arp_malformed'
    if eth is None or request is None:
        return None, 'arp_malformed'
    if request.opcode != arp.ARP_REQUEST:
        return None, 'arp_ignored_reply'
    if request.src_ip == '0.0.0.0':
        return None, 'arp_ignored_probe'
    if request.src_ip == request.dst_ip:
        return None, 'arp_ignored_gratuitous'
    for subnet in view.subnets_of(network_id):
        if ipam.router_address(subnet) == request.dst_ip:
            return Reply(_reply_frame(eth, request, gateway_mac), None), 'arp_reply_gateway'
    for port in view.ports_of(network_id):
        if any(f['ip_address'] == request.dst_ip for f in port['fixed_ips']):
            if port['id'] in local_ofports:
                return (Reply(_unicast_frame(eth, request, port['mac_address']),
                              local_ofports[port['id']]), 'arp_unicast')
            return Reply(_reply_frame(eth, request, gateway_mac), None), 'arp_reply_remote'
    return None, 'arp_ignored_unknown_target'
