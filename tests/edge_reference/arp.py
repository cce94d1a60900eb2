"""The reference ARP responder: the product's rule (``answer`` in
srv6_ofapp/edge/arp.py: who answers for an address, with which MAC, or to
which port a request goes as unicast) applied to frames parsed and built
with os_ken's packet classes, the independent encoder the fast path is
compared with, byte for byte (tests/unit/test_fastpath.py)."""

from os_ken.lib.packet import arp, ethernet, packet
from os_ken.lib.packet import ether_types

from srv6_ofapp.edge.arp import Reply, answer


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


EVENTS = {'service': 'arp_reply_gateway', 'remote': 'arp_reply_remote',
          'local': 'arp_unicast'}


def handle_arp(frame, network_id, replica, local_ofport, gateway_mac):
    """(Reply or None, event name) for an ARP frame from a port of ``network_id``;
    ``local_ofport`` as for :func:`answer`."""
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
    found = answer(replica, network_id, request.dst_ip, gateway_mac, local_ofport)
    if found is None:
        return None, 'arp_ignored_unknown_target'
    if found.holder == 'local':
        return Reply(_unicast_frame(eth, request, found.mac), found.ofport), EVENTS['local']
    return Reply(_reply_frame(eth, request, found.mac), None), EVENTS[found.holder]
