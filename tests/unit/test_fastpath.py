"""The packet-in fast path against the implementation it replaced.

DHCP and ARP replies built by struct and templates (srv6_ofapp.edge.dhcp,
arp) must be the bytes the os_ken-built responders produced
(tests/edge_reference/, the code as it was), for every kind of request, also
when one compiled port answers many requests from its templates; malformed
frames are counted and dropped; the OpenFlow messages of the fast path are
os_ken's encodings; the receive loop answers, batches and sheds load.
"""

import random
import socket
import struct
import threading
import time

import pytest
from os_ken.ofproto import ofproto_parser
from os_ken.ofproto import ofproto_v1_3 as ofp
from os_ken.ofproto import ofproto_v1_3_parser as parser
from scapy.layers.dhcp import BOOTP, DHCP
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import ARP, Ether

from srv6_ofapp import config
from srv6_ofapp import metrics
from srv6_ofapp.edge import arp, datapath, dhcp, ofwire
from tests.edge_reference import arp as ref_arp
from tests.edge_reference import dhcp as ref_dhcp
from tests.fakeswitch import FakeSwitch
from tests.unit import test_dhcp as td
from tests.unit.test_arp import request as arp_request
from tests.unit.test_edge_app import connected
from tests.unit.test_pipeline import GW_MAC, World



@pytest.fixture
def world():
    config.register_opts()
    return World()


@pytest.fixture
def apps():
    made = []
    yield made
    for app in made:
        app.close()


REF_CONFIG = ref_dhcp.DhcpConfig(gateway_mac=td.GATEWAY_MAC)

PXE_PORT = td.make_port(extra_dhcp_opts=[
    {'opt_name': 'bootfile-name', 'opt_value': 'pxelinux.0'},
    {'opt_name': 'server-ip-address', 'opt_value': '10.0.0.9'},
    {'opt_name': 'tftp-server', 'opt_value': 'tftp.example'},
    {'opt_name': '42', 'opt_value': '10.0.0.123'},
    {'opt_name': 'router', 'opt_value': '10.0.0.254'}])


def dhcp_cases():
    """(name, frame, port, subnets): every kind of request the tests know."""
    sub = td.make_subnet()
    no_gw = td.make_subnet(gateway_ip=None, service_ip='10.0.0.2', host_routes=[])
    selecting = [('requested_addr', td.PORT_IP), ('server_id', td.GATEWAY_IP)]
    cases = [
        ('discover', td.client_frame('discover'), None, [sub]),
        ('discover, request list', td.client_frame(
            'discover', [('param_req_list', [1, 3, 6, 12, 15, 26, 28, 121, 249])]), None, [sub]),
        ('discover, broadcast flag', td.client_frame('discover', flags=0x8000), None, [sub]),
        ('discover, client id and max size', td.client_frame(
            'discover', [('client_id', b'\x01' + bytes(6)), ('max_dhcp_size', 1500)]),
         None, [sub]),
        ('discover, small max size', td.client_frame(
            'discover', [('max_dhcp_size', 300)]), None, [sub]),
        ('discover, pxe', td.client_frame('discover', [('param_req_list', [1, 3, 42, 66, 67])]),
         PXE_PORT, [sub]),
        ('discover, no gateway', td.client_frame('discover'), None, [no_gw]),
        ('request selecting', td.client_frame('request', selecting), None, [sub]),
        ('request selecting, no gateway', td.client_frame(
            'request', [('requested_addr', td.PORT_IP), ('server_id', '10.0.0.2')]),
         None, [no_gw]),
        ('request other server', td.client_frame(
            'request', [('requested_addr', td.PORT_IP), ('server_id', '10.9.9.9')]),
         None, [sub]),
        ('request other address', td.client_frame(
            'request', [('requested_addr', '10.0.0.77'), ('server_id', td.GATEWAY_IP),
                        ('client_id', b'\x01abcdef')]), None, [sub]),
        ('init-reboot', td.client_frame('request', [('requested_addr', td.PORT_IP)]),
         None, [sub]),
        ('init-reboot old address', td.client_frame('request', [('requested_addr', '10.0.0.8')]),
         None, [sub]),
        ('renewing', td.client_frame('request', ciaddr=td.PORT_IP, ip_src=td.PORT_IP,
                                     ip_dst=td.GATEWAY_IP), None, [sub]),
        ('renewing elsewhere', td.client_frame('request', ciaddr=td.PORT_IP,
                                               ip_src=td.PORT_IP, ip_dst='10.0.0.250'),
         None, [sub]),
        ('rebinding, broadcast flag', td.client_frame('request', ciaddr=td.PORT_IP,
                                                      ip_src=td.PORT_IP, flags=0x8000),
         None, [sub]),
        ('renewing a lost address', td.client_frame('request', ciaddr='10.0.0.66',
                                                    ip_src='10.0.0.66', ip_dst=td.GATEWAY_IP),
         None, [sub]),
        ('inform', td.client_frame('inform', ciaddr=td.PORT_IP, ip_src=td.PORT_IP,
                                   ip_dst=td.GATEWAY_IP), None, [sub]),
        ('release', td.client_frame('release', ciaddr=td.PORT_IP), None, [sub]),
        ('decline', td.client_frame('decline', [('requested_addr', td.PORT_IP)]), None, [sub]),
        ('offer from a client', td.client_frame('offer'), None, [sub]),
        ('foreign mac', td.client_frame('discover', mac=td.OTHER_MAC), None, [sub]),
        ('dhcp disabled', td.client_frame('discover'), None, [td.make_subnet(enable_dhcp=False)]),
        ('no address', td.client_frame('discover'), td.make_port(fixed_ips=[]), [sub]),
        ('no server address', td.client_frame('discover'), None,
         [td.make_subnet(gateway_ip=None, host_routes=[])]),
        ('relayed (giaddr)', bytes(
            Ether(src=td.CLIENT_MAC, dst='ff:ff:ff:ff:ff:ff') / IP(src='10.0.0.200',
                                                                    dst='255.255.255.255') /
            UDP(sport=67, dport=67) /
            BOOTP(chaddr=bytes.fromhex(td.CLIENT_MAC.replace(':', '')), xid=77, giaddr='10.0.0.200',
                  hops=1) / DHCP(options=[('message-type', 'discover'), 'end'])), None, [sub]),
    ]
    return [(name, frame, port or td.make_port(), subnets) for name, frame, port, subnets in cases]


@pytest.mark.parametrize('name, frame, port, subnets', dhcp_cases(),
                         ids=[case[0] for case in dhcp_cases()])
def test_dhcp_replies_are_the_os_ken_built_bytes(name, frame, port, subnets):
    expected = ref_dhcp.handle_dhcp(frame, port, td.NETWORK, subnets, REF_CONFIG)
    got = dhcp.handle_dhcp(frame, port, td.NETWORK, subnets, td.CONFIG)
    assert got == expected
    if got[0] is not None:
        # An independent parser agrees the reply is well formed.
        assert Ether(got[0])[BOOTP].op == 2


def test_one_compiled_port_answers_many_requests_from_its_templates():
    """Templates are patched per request: xid, flags, ciaddr, giaddr and the
    destination (hence both checksums) differ from one request to the next."""
    rng = random.Random(2131)
    port, subnets = td.make_port(), [td.make_subnet()]
    compiled = dhcp.PortDhcp(port, td.NETWORK, subnets, td.CONFIG)
    kinds = [('discover', []), ('request', [('requested_addr', td.PORT_IP),
                                            ('server_id', td.GATEWAY_IP)]),
             ('request', [('requested_addr', '10.0.0.99')])]
    for _ in range(300):
        kind, options = rng.choice(kinds)
        renewing = kind == 'request' and not options
        frame = td.client_frame(
            kind, options, xid=rng.getrandbits(32), flags=rng.choice([0, 0x8000]),
            ciaddr=td.PORT_IP if renewing else '0.0.0.0',
            ip_dst=td.GATEWAY_IP if renewing else '255.255.255.255')
        assert compiled.answer(frame) == ref_dhcp.handle_dhcp(frame, port, td.NETWORK, subnets,
                                                              REF_CONFIG)
    assert len(compiled._templates) <= 4


def test_mutated_requests_get_the_answer_the_reference_gives():
    rng = random.Random(1542)
    port, subnets = td.make_port(), [td.make_subnet()]
    compiled = dhcp.PortDhcp(port, td.NETWORK, subnets, td.CONFIG)
    valid = [frame for _, frame, case_port, case_subnets in dhcp_cases()
             if case_port == port and case_subnets == subnets]
    answered = 0
    for _ in range(3000):
        mutated = bytearray(rng.choice(valid))
        for _ in range(rng.randrange(1, 4)):
            mutated[rng.randrange(len(mutated))] = rng.getrandbits(8)
        got = compiled.answer(bytes(mutated))
        assert got[1] in dhcp.EVENTS
        expected = ref_dhcp.handle_dhcp(bytes(mutated), port, td.NETWORK, subnets, REF_CONFIG)
        if expected[0] is not None:
            answered += 1
            assert got == expected
        else:
            assert got[0] is None
    assert answered > 300


def test_arp_answers_are_the_os_ken_built_bytes():
    world = World()
    local = {world.a1['id']: 1, world.a2['id']: 2, world.b1['id']: 3}
    view = world.view()
    frames = [arp_request(world.a1, target) for target in
              ('10.0.0.1', '10.0.0.12', '10.0.0.13', '10.0.0.99', '10.0.0.11')]
    frames.append(arp_request(world.a1, '10.0.0.1', spa='0.0.0.0'))
    frames.append(bytes(Ether(src=world.a1['mac_address']) /
                        ARP(op=2, hwsrc=world.a1['mac_address'], psrc='10.0.0.11',
                            pdst='10.0.0.1')))
    frames.append(arp_request(world.a1, '10.0.0.1') + b'trailer')
    for frame in frames:
        got = arp.handle_arp(frame, world.net_a['id'], view, local.get, GW_MAC)
        expected = ref_arp.handle_arp(frame, world.net_a['id'], view, local.get, GW_MAC)
        assert got == expected


def test_malformed_arp_is_dropped_and_named():
    world = World()
    compiled = arp.NetworkArp(world.view(), world.net_a['id'], GW_MAC, {}.get)
    good = arp_request(world.a1, '10.0.0.1')
    rng = random.Random(826)
    for length in range(42):
        assert compiled.answer(good[:length]) == (None, arp.MALFORMED)
    for _ in range(3000):
        mutated = bytearray(good)
        for _ in range(rng.randrange(1, 5)):
            mutated[rng.randrange(len(mutated))] = rng.getrandbits(8)
        reply, event = compiled.answer(bytes(mutated))
        assert event in arp.ALL_EVENTS and (reply is None) == (event not in arp.EVENTS.values())


# -- the OpenFlow messages ---------------------------------------------------------

def test_packet_in_and_packet_out_are_os_kens_encodings():
    frame = td.client_frame('discover')
    raw = ofwire.packet_in(7, frame, table_id=20, xid=99)
    header = ofproto_parser.header(raw)
    parsed = ofproto_parser.msg(FakeSwitch(1), *header, bytearray(raw))
    assert parsed.match['in_port'] == 7 and bytes(parsed.data) == frame
    assert ofwire.parse_packet_in(raw) == (7, frame)
    # in_port after other match fields (OVS may send metadata, tunnel ids...)
    match = bytearray()
    parser.OFPMatch(metadata=5, tunnel_id=6, in_port=9).serialize(match, 0)
    body = struct.pack('!IHBBQ', ofp.OFP_NO_BUFFER, len(frame), ofp.OFPR_ACTION, 1, 0) + \
        bytes(match) + b'\0\0' + frame
    raw = struct.pack('!BBHI', 4, ofp.OFPT_PACKET_IN, 8 + len(body), 1) + body
    parsed = ofproto_parser.msg(FakeSwitch(1), *ofproto_parser.header(raw), bytearray(raw))
    assert parsed.match['in_port'] == 9 and bytes(parsed.data) == frame
    assert ofwire.parse_packet_in(raw) == (9, frame)

    out = parser.OFPPacketOut(FakeSwitch(1), buffer_id=ofp.OFP_NO_BUFFER,
                              in_port=ofp.OFPP_CONTROLLER,
                              actions=[parser.OFPActionOutput(4)], data=frame)
    out.set_xid(1234)
    out.serialize()
    assert ofwire.packet_out(1234, 4, frame) == bytes(out.buf)


@pytest.mark.parametrize('raw', [b'', bytes(30), ofwire.packet_in(1, b'')[:26],
                                 ofwire.packet_in(1, b'x')[:24] + b'\x00\x01\x00\x08' + bytes(8),
                                 ofwire.packet_in(1, b'x')[:24] + b'\x00\x01\xff\xff'])
def test_bad_packet_ins_raise_bad_message(raw):
    with pytest.raises(ofwire.BadMessage):
        ofwire.parse_packet_in(raw)


# -- the app's entry ------------------------------------------------------------------

def test_the_raw_entry_answers_counts_and_follows_the_model(world, apps):
    switch = FakeSwitch(1, world.ofports)
    app = connected(apps, world, switch)
    dhcp_frame = td.client_frame('discover', mac=world.a1['mac_address'])
    before = metrics.value('offer')
    out = app.packet_in_raw(switch, ofwire.packet_in(1, dhcp_frame))
    assert out[:2] == bytes([4, ofp.OFPT_PACKET_OUT]) and len(out) == struct.unpack_from(
        '!H', out, 2)[0]
    assert struct.unpack_from('!I', out, 28)[0] == 1
    assert Ether(out[40:])[BOOTP].yiaddr == '10.0.0.11'
    assert metrics.value('offer') == before + 1

    # The model changes: the port's address moves; the next answer follows.
    moved = dict(world.a1, fixed_ips=[{'subnet_id': world.sub_a['id'],
                                       'ip_address': '10.0.0.50'}])
    from srv6_ofapp.store.base import Change
    app.replica.apply(Change(app.replica.revision + 1, 'ports', moved['id'], world.a1, moved))
    app._model_changed(Change(app.replica.revision, 'ports', moved['id'], world.a1, moved))
    out = app.packet_in_raw(switch, ofwire.packet_in(1, dhcp_frame))
    assert Ether(out[40:])[BOOTP].yiaddr == '10.0.0.50'

    # ARP for a local VM: the request, unicast to its port.
    out = app.packet_in_raw(switch, ofwire.packet_in(1, arp_request(world.a1, '10.0.0.12')))
    assert struct.unpack_from('!I', out, 28)[0] == 2

    # Garbage is counted and dropped; unknown ports too.
    before = metrics.value('packet_in_malformed'), metrics.value('packet_in_unknown_port')
    assert app.packet_in_raw(switch, b'\x04\x0a\x00\x10' + bytes(12)) is None
    assert app.packet_in_raw(switch, ofwire.packet_in(77, dhcp_frame)) is None
    assert (metrics.value('packet_in_malformed'), metrics.value('packet_in_unknown_port')) == \
        (before[0] + 1, before[1] + 1)


def test_random_packet_ins_never_escape_the_raw_entry(world, apps):
    switch = FakeSwitch(1, world.ofports)
    app = connected(apps, world, switch)
    rng = random.Random(7)
    valid = [ofwire.packet_in(1, td.client_frame('discover', mac=world.a1['mac_address'])),
             ofwire.packet_in(1, arp_request(world.a1, '10.0.0.1'))]
    for _ in range(3000):
        mutated = bytearray(rng.choice(valid))
        for _ in range(rng.randrange(1, 6)):
            mutated[rng.randrange(len(mutated))] = rng.getrandbits(8)
        if rng.random() < 0.2:
            del mutated[rng.randrange(len(mutated)):]
        out = app.packet_in_raw(switch, bytes(mutated))
        assert out is None or out[1] == ofwire.OFPT_PACKET_OUT


# -- the receive loop: batching and shedding -----------------------------------------

class LoopbackSwitch:
    """A FastDatapath on one end of a socketpair; the test is the switch."""

    def __init__(self, handler, on_shed=None):
        config.register_opts()
        listener = socket.create_server(('127.0.0.1', 0))
        self.theirs = socket.create_connection(listener.getsockname())
        self.ours, _ = listener.accept()
        listener.close()
        self.handled = []

        def recording(dp, message):
            self.handled.append(message)
            return handler(dp, message)
        datapath.install(recording, on_shed)
        try:
            self.dp = datapath.FastDatapath(self.ours, ('test', 0))
        finally:
            datapath.uninstall()
        self.dp.packet_in_handler = recording
        self.dp.shed_handler = on_shed
        self.thread = threading.Thread(target=self.dp._recv_loop, daemon=True)

    def close(self):
        self.theirs.close()
        self.thread.join(5)
        self.ours.close()


def test_the_receive_loop_answers_in_one_write_and_sheds_new_exchanges_when_behind():
    def handler(dp, message):
        in_port, frame = ofwire.parse_packet_in(message)
        return ofwire.packet_out(0, in_port, frame[:60])

    shed = []
    switch = LoopbackSwitch(handler, lambda reason, count: shed.append((reason, count)))
    try:
        discover = ofwire.packet_in(1, td.client_frame('discover'))
        request = ofwire.packet_in(2, td.client_frame(
            'request', [('requested_addr', td.PORT_IP), ('server_id', td.GATEWAY_IP)]))
        arp_in = ofwire.packet_in(3, arp_request(World().a1, '10.0.0.1'))
        # A backlog well past BACKLOG waits before the loop starts reading.
        burst = (discover + request + arp_in) * (2 * datapath.BACKLOG // len(discover))
        switch.theirs.sendall(burst)
        switch.thread.start()
        received = b''
        deadline = time.monotonic() + 10
        switch.theirs.settimeout(0.5)
        while time.monotonic() < deadline:
            try:
                chunk = switch.theirs.recv(1 << 20)
            except socket.timeout:
                break
            received += chunk
        ports = []
        offset = 0
        while offset < len(received):
            length = struct.unpack_from('!H', received, offset + 2)[0]
            ports.append(struct.unpack_from('!I', received, offset + 28)[0])
            offset += length
        count = len(burst) // (len(discover) + len(request) + len(arp_in))
        # Every REQUEST and ARP answered; DISCOVERs shed while the backlog lasted.
        assert ports.count(2) == ports.count(3) == count
        assert ports.count(1) < count
        assert sum(n for _, n in shed) == count - ports.count(1)
    finally:
        switch.close()


def test_other_messages_take_os_kens_path_in_order():
    switch = LoopbackSwitch(lambda dp, message: None)
    dispatched = []
    switch.dp._dispatch = lambda *args: dispatched.append(args[1])
    try:
        echo = struct.pack('!BBHI', 4, 2, 8, 1)   # OFPT_ECHO_REQUEST
        packet_in = ofwire.packet_in(1, td.client_frame('discover'))
        switch.theirs.sendall(echo + packet_in + echo[:5])
        switch.thread.start()
        time.sleep(0.2)
        switch.theirs.sendall(echo[5:])
        time.sleep(0.2)
        assert dispatched == [2, 2] and len(switch.handled) == 1
    finally:
        switch.close()
