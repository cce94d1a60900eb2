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
import socket

from os_ken.lib.packet import arp
from os_ken.lib.packet import ether_types

from srv6_ofapp import ipam
from srv6_ofapp.edge import wire
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
# Read and written with bytes: an Ethernet header and the 28 bytes of an
# Ethernet/IPv4 ARP message; frames are padded to Ethernet's 60 bytes.

ETH_TYPE_ARP = b'\x08\x06'
_ARP_ETHERNET_IPV4 = b'\x00\x01\x08\x00\x06\x04'
_OP_REQUEST = b'\x00\x01'
_OP_REPLY = b'\x00\x02'
_PADDING = bytes(60 - 42)

EVENTS = {'service': 'arp_reply_gateway', 'remote': 'arp_reply_remote',
          'local': 'arp_unicast'}
MALFORMED = 'arp_malformed'
IGNORED_REPLY = 'arp_ignored_reply'
IGNORED_PROBE = 'arp_ignored_probe'
IGNORED_GRATUITOUS = 'arp_ignored_gratuitous'
IGNORED_UNKNOWN_TARGET = 'arp_ignored_unknown_target'
ALL_EVENTS = tuple(EVENTS.values()) + (MALFORMED, IGNORED_REPLY, IGNORED_PROBE,
                                       IGNORED_GRATUITOUS, IGNORED_UNKNOWN_TARGET)


class NetworkArp:
    """The ARP answers of one network on one switch, target by target as
    requests ask for them: {target address (4 bytes): (event, MAC bytes,
    unicast port or None)}.  Built from the model; the adapter drops it when
    the model or the switch's ports change (edge/responder.py)."""

    # Targets remembered; asking for more (a scan) starts over.
    CACHE_SIZE = 4096

    def __init__(self, replica, network_id, gateway_mac, local_ofport):
        self.replica = replica
        self.network_id = network_id
        self.gateway_mac = gateway_mac
        self.local_ofport = local_ofport
        self._targets = {}

    def target(self, tpa):
        found = self._targets.get(tpa, False)
        if found is False:
            if len(self._targets) >= self.CACHE_SIZE:
                self._targets.clear()
            answered = answer(self.replica, self.network_id, socket.inet_ntoa(tpa),
                              self.gateway_mac, self.local_ofport)
            found = self._targets[tpa] = None if answered is None else (
                EVENTS[answered.holder], wire.mac_bytes(answered.mac), answered.ofport)
        return found

    def answer(self, frame):
        """(Reply or None, event name) for an ARP frame from a port of the network."""
        if len(frame) < 42 or frame[12:14] != ETH_TYPE_ARP or \
                frame[14:20] != _ARP_ETHERNET_IPV4:
            return None, MALFORMED
        if frame[20:22] != _OP_REQUEST:
            return None, IGNORED_REPLY
        spa, tpa = frame[28:32], frame[38:42]
        if spa == wire.ZERO_IP:
            return None, IGNORED_PROBE
        if spa == tpa:
            return None, IGNORED_GRATUITOUS
        found = self.target(tpa)
        if found is None:
            return None, IGNORED_UNKNOWN_TARGET
        event, mac, ofport = found
        if ofport is not None:
            # The request itself, as unicast to the VM that owns the address.
            return Reply(mac + frame[6:12] + ETH_TYPE_ARP + frame[14:42] + _PADDING,
                         ofport), event
        # "tpa is at mac", to the asker's MAC and address.
        return Reply(frame[6:12] + mac + ETH_TYPE_ARP + _ARP_ETHERNET_IPV4 + _OP_REPLY + mac +
                     tpa + frame[22:32] + _PADDING, None), event


def handle_arp(frame, network_id, replica, local_ofport, gateway_mac):
    """(Reply or None, event name) for an ARP frame from a port of ``network_id``;
    ``local_ofport`` as for :func:`answer`.  The adapter keeps NetworkArp."""
    return NetworkArp(replica, network_id, gateway_mac, local_ofport).answer(frame)
