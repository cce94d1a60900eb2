"""ARP without broadcast: the arp table's flows and the packet-in responder,
both from one rule (``answer``).

A VM of the network on this switch gets a request for its address as
unicast and answers itself; the network's services address (gateway) and
VMs on other hosts are answered with the distributed gateway MAC; probes,
gratuitous ARP and unknown targets get nothing -- and nothing is ever
flooded.  The arp table answers in the datapath (Neutron's ARP responder);
a request reaches the controller, metered, only when no flow covers it (yet,
or with the responder turned off), and gets the same answer there.  Pure.
"""

import collections

from os_ken.lib.packet import arp, ethernet, packet
from os_ken.lib.packet import ether_types

from srv6_ofapp import ipam
from srv6_ofapp.edge.flows import (COOKIE_NETWORK, COOKIE_PORT, cookie, make_flow,
                                   network_tag, to_controller)

Reply = collections.namedtuple('Reply', 'frame out_port')
Reply.__doc__ = "A frame to send; out_port None means back out of the in_port."

Answer = collections.namedtuple('Answer', 'holder mac ofport')
Answer.__doc__ = """Who answers an ARP request for an address of a network.

holder: 'service' (the subnet's gateway or service address), 'remote' (a VM
on another host) or 'local' (a VM on this switch); mac: the MAC in the
answer; ofport: for 'local', the port the request is unicast to (the VM
answers itself), else None (answered with ``mac``)."""


def answer(replica, network_id, ip, gateway_mac, local_ofport):
    """The one ARP rule, for the datapath's responder flows and for
    packet-ins alike: the Answer for ``ip`` in ``network_id``, or None when
    nobody answers (an unknown address, a port administratively down).

    ``local_ofport(port_id)`` is the OpenFlow port of a model port on this
    switch, or None.  The services address of a subnet belongs to the
    distributed gateway on every host; a VM's address to the VM itself when
    it is local, else to the gateway, which routes toward the VM's host.
    """
    for subnet in replica.subnets_of(network_id):
        if ipam.service_address(subnet) == ip:
            return Answer('service', gateway_mac, None)
    port = replica.port_by_address(network_id, ip)
    if port is None or not port['admin_state_up']:
        return None
    ofport = local_ofport(port['id'])
    if ofport is None:
        return Answer('remote', gateway_mac, None)
    return Answer('local', port['mac_address'], ofport)


def answers(replica, network_id, gateway_mac, local_ofport):
    """{ip: Answer} for every address of ``network_id`` someone answers for."""
    addresses = {ipam.service_address(subnet) for subnet in replica.subnets_of(network_id)}
    for port in replica.ports_of(network_id):
        addresses.update(fixed_ip['ip_address'] for fixed_ip in port['fixed_ips'])
    addresses.discard(None)
    found = {ip: answer(replica, network_id, ip, gateway_mac, local_ofport)
             for ip in addresses}
    return {ip: found_answer for ip, found_answer in found.items() if found_answer}


# -- the arp table ----------------------------------------------------------

def responder_actions(mac, ip):
    """Turn the ARP request in hand into the reply "ip is at mac" and send it
    back where it came from (Neutron's ARP responder)."""
    return (('move', 'eth_src', 'eth_dst', 48),
            ('set', 'eth_src', mac),
            ('set', 'arp_op', arp.ARP_REPLY),
            ('move', 'arp_sha', 'arp_tha', 48),
            ('move', 'arp_spa', 'arp_tpa', 32),
            ('set', 'arp_sha', mac),
            ('set', 'arp_spa', ip),
            ('in_port',))


def port_flows(switch, lp):
    """ARP from the port that no network flow covers goes to the controller."""
    return [make_flow('arp', 1, cookie(COOKIE_PORT, lp.port['id']),
                      to_controller(lp.ofport, switch.metered), in_port=lp.ofport)]


def network_flows(switch, network_id, members):
    net_cookie = cookie(COOKIE_NETWORK, network_id)
    flows = []

    def arp_flow(priority, instructions, **match):
        flows.append(make_flow('arp', priority, net_cookie, instructions,
                               metadata=network_tag(network_id),
                               eth_type=ether_types.ETH_TYPE_ARP, **match))

    # A duplicate-address probe is never answered on the owner's behalf.
    arp_flow(300, [], arp_op=arp.ARP_REQUEST, arp_spa='0.0.0.0')
    # Replies are unicast like any frame.
    arp_flow(100, [('goto', 'l2')], arp_op=arp.ARP_REPLY)
    if not switch.config.arp_responder:
        return flows
    local = {lp.port['id']: lp.ofport for lp in members}
    gateway_mac = switch.config.gateway_mac
    for ip, found in sorted(answers(switch.replica, network_id, gateway_mac,
                                    local.get).items()):
        if found.holder == 'local':
            actions = (('set', 'eth_dst', found.mac), ('output', found.ofport))
        else:
            actions = responder_actions(found.mac, ip)
        arp_flow(200, [('apply', actions)], arp_op=arp.ARP_REQUEST, arp_tpa=ip)
    return flows


# -- the packet-in responder ----------------------------------------------------

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
