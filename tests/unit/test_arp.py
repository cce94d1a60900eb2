"""ARP on packet-in, with replies parsed back by scapy (an independent parser)."""

import os

from scapy.layers.l2 import ARP, Ether

from srv6_ofapp.edge import arp
from tests.unit.test_pipeline import GW_MAC, World


def request(src_port, target_ip, spa=None):
    mac = src_port['mac_address']
    frame = Ether(src=mac, dst='ff:ff:ff:ff:ff:ff') / ARP(
        op=1, hwsrc=mac, psrc=spa or src_port['fixed_ips'][0]['ip_address'], pdst=target_ip)
    return bytes(frame)


def handle(world, frame, network=None):
    local = {world.a1['id']: 1, world.a2['id']: 2, world.b1['id']: 3}
    return arp.handle_arp(frame, (network or world.net_a)['id'], world.view(), local.get, GW_MAC)


def test_gateway_and_remote_vm_are_answered_with_the_gateway_mac():
    world = World()
    for target, event in (('10.0.0.1', 'arp_reply_gateway'), ('10.0.0.13', 'arp_reply_remote')):
        reply, got = handle(world, request(world.a1, target))
        assert got == event and reply.out_port is None
        parsed = Ether(reply.frame)
        assert parsed.src == GW_MAC and parsed.dst == world.a1['mac_address']
        assert parsed[ARP].op == 2
        assert (parsed[ARP].hwsrc, parsed[ARP].psrc) == (GW_MAC, target)
        assert (parsed[ARP].hwdst, parsed[ARP].pdst) == (world.a1['mac_address'], '10.0.0.11')


def test_local_vm_gets_the_request_as_unicast():
    world = World()
    reply, event = handle(world, request(world.a1, '10.0.0.12'))
    assert event == 'arp_unicast' and reply.out_port == 2
    parsed = Ether(reply.frame)
    assert parsed.dst == world.a2['mac_address'] and parsed[ARP].op == 1
    assert parsed[ARP].pdst == '10.0.0.12' and parsed[ARP].hwsrc == world.a1['mac_address']


def test_never_answered():
    world = World()
    cases = [(request(world.a1, '10.0.0.13', spa='0.0.0.0'), 'arp_ignored_probe'),
             (request(world.a1, '10.0.0.11'), 'arp_ignored_gratuitous'),
             (request(world.a1, '10.0.0.99'), 'arp_ignored_unknown_target'),
             (bytes(Ether(dst=GW_MAC) / ARP(op=2, psrc='10.0.0.11', pdst='10.0.0.1')),
              'arp_ignored_reply')]
    for frame, event in cases:
        assert handle(world, frame) == (None, event)
    # The other project's identical address is not looked up in this network.
    assert handle(world, request(world.b1, '10.0.0.12'), world.net_b) == (
        None, 'arp_ignored_unknown_target')


def test_malformed_frames_are_counted_not_raised():
    world = World()
    valid = request(world.a1, '10.0.0.1')
    for frame in [b'', b'\x00' * 13, valid[:20], os.urandom(60), valid[:14] + os.urandom(10)]:
        reply, event = handle(world, frame)
        assert reply is None and event.startswith('arp_')


def test_service_address_of_a_subnet_without_gateway_is_answered():
    world = World()
    world.sub_a.update(gateway_ip=None, service_ip='10.0.0.2')
    reply, event = handle(world, request(world.a1, '10.0.0.2'))
    assert event == 'arp_reply_gateway' and Ether(reply.frame)[ARP].hwsrc == GW_MAC
    # The old gateway address is nobody's now.
    assert handle(world, request(world.a1, '10.0.0.1')) == (None, 'arp_ignored_unknown_target')


def test_a_port_administratively_down_is_not_answered_for():
    world = World()
    world.a2['admin_state_up'] = False
    world.a_remote['admin_state_up'] = False
    for target in ('10.0.0.12', '10.0.0.13'):
        assert handle(world, request(world.a1, target)) == (None,
                                                             'arp_ignored_unknown_target')
