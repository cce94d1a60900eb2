"""Unit tests of srv6_ofapp.dhcp: client frames are built with scapy and the
replies parsed back with scapy, so the module's own os_ken code is checked
against an independent implementation of the wire format."""

import random

import pytest
from scapy.layers.dhcp import BOOTP, DHCP
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether
from scapy.utils import mac2str

from srv6_ofapp.edge import dhcp
from srv6_ofapp.edge import dhcp_options

CLIENT_MAC = 'fa:16:3e:11:22:33'
OTHER_MAC = 'fa:16:3e:99:99:99'
GATEWAY_MAC = 'fa:16:3e:00:00:01'
PORT_IP = '10.0.0.5'
GATEWAY_IP = '10.0.0.1'
CONFIG = dhcp.DhcpConfig(gateway_mac=GATEWAY_MAC)
NETWORK = {'id': 'net-1', 'mtu': 1436}

MESSAGE_TYPES = {'offer': 2, 'ack': 5, 'nak': 6}


def make_subnet(**changes):
    subnet = {'id': 'subnet-1', 'network_id': 'net-1', 'cidr': '10.0.0.0/24',
              'gateway_ip': GATEWAY_IP, 'dns_nameservers': ['8.8.8.8', '9.9.9.9'],
              'host_routes': [{'destination': '192.168.0.0/16', 'nexthop': '10.0.0.254'},
                              {'destination': '172.16.5.0/24', 'nexthop': '10.0.0.253'}],
              'enable_dhcp': True}
    subnet.update(changes)
    return subnet


def make_port(**changes):
    port = {'id': 'port-1', 'network_id': 'net-1', 'name': 'web-1',
            'mac_address': CLIENT_MAC,
            'fixed_ips': [{'subnet_id': 'subnet-1', 'ip_address': PORT_IP}],
            'extra_dhcp_opts': []}
    port.update(changes)
    return port


def client_frame(message_type, options=(), mac=CLIENT_MAC, xid=0x1234abcd, flags=0,
                 ciaddr='0.0.0.0', ip_src='0.0.0.0', ip_dst='255.255.255.255', op=1):
    """A DHCP message as a VM sends it (scapy fills lengths and checksums)."""
    return bytes(Ether(src=mac, dst='ff:ff:ff:ff:ff:ff') /
                 IP(src=ip_src, dst=ip_dst) /
                 UDP(sport=68, dport=67) /
                 BOOTP(op=op, chaddr=mac2str(mac), xid=xid, flags=flags, ciaddr=ciaddr) /
                 DHCP(options=[('message-type', message_type)] + list(options) + ['end']))


def answer(frame, port=None, network=NETWORK, subnets=None, config=CONFIG):
    """(scapy reply or None, event)."""
    reply, event = dhcp.handle_dhcp(frame, port or make_port(), network,
                                    [make_subnet()] if subnets is None else subnets, config)
    assert event in dhcp.EVENTS
    return (Ether(reply) if reply is not None else None), event


def options_of(reply):
    """{scapy option name: value, or a list when the option has several}."""
    found = {}
    for item in reply[DHCP].options:
        if isinstance(item, tuple):
            found[item[0]] = item[1] if len(item) == 2 else list(item[1:])
    return found


def raw_options(reply):
    """{code: value bytes}, walked by hand from the reply's bytes."""
    raw = bytes(reply[UDP].payload)[240:]
    found, offset = {}, 0
    while offset < len(raw) and raw[offset] != 255:
        if raw[offset] == 0:
            offset += 1
            continue
        length = raw[offset + 1]
        found[raw[offset]] = raw[offset + 2:offset + 2 + length]
        offset += 2 + length
    return found


def decode_classless_routes(value):
    """RFC 3442: [(destination CIDR, router)]."""
    routes, offset = [], 0
    while offset < len(value):
        width = value[offset]
        significant = (width + 7) // 8
        destination = value[offset + 1:offset + 1 + significant] + bytes(4 - significant)
        router = value[offset + 1 + significant:offset + 5 + significant]
        routes.append(('%s/%d' % ('.'.join(map(str, destination)), width),
                       '.'.join(map(str, router))))
        offset += 5 + significant
    return routes


def message_type(reply):
    return options_of(reply)['message-type']


# -- DISCOVER -> OFFER ---------------------------------------------------------

def test_discover_gets_an_offer_of_the_ports_address():
    reply, event = answer(client_frame('discover'))
    assert event == 'offer'
    assert message_type(reply) == MESSAGE_TYPES['offer']
    bootp = reply[BOOTP]
    assert (bootp.op, bootp.htype, bootp.hlen, bootp.hops) == (2, 1, 6, 0)
    assert bootp.xid == 0x1234abcd
    assert bootp.chaddr[:6] == mac2str(CLIENT_MAC)
    assert bootp.yiaddr == PORT_IP
    assert bootp.ciaddr == '0.0.0.0'
    assert bootp.siaddr == '0.0.0.0'
    assert (reply[UDP].sport, reply[UDP].dport) == (67, 68)


def test_offer_carries_every_option_when_the_client_sent_no_request_list():
    reply, _ = answer(client_frame('discover'))
    options = options_of(reply)
    assert options['server_id'] == GATEWAY_IP
    assert options['subnet_mask'] == '255.255.255.0'
    assert options['router'] == GATEWAY_IP
    assert options['name_server'] == ['8.8.8.8', '9.9.9.9']
    assert options['domain'] == b'openstacklocal'
    assert options['hostname'] == b'web-1'
    assert options['interface-mtu'] == 1436
    assert options['broadcast_address'] == '10.0.0.255'
    assert options['lease_time'] == 86400
    assert options['renewal_time'] == 43200
    assert options['rebinding_time'] == 75600
    # 249 repeats 121 for clients that ask; unasked, it only costs room.
    assert 249 not in raw_options(reply)


def test_classless_routes_hold_the_host_routes_and_a_default_route_via_the_gateway():
    reply, _ = answer(client_frame('discover'))
    assert decode_classless_routes(raw_options(reply)[121]) == [
        ('192.168.0.0/16', '10.0.0.254'), ('172.16.5.0/24', '10.0.0.253'),
        ('0.0.0.0/0', GATEWAY_IP)]


def test_a_default_host_route_replaces_the_gateway_default():
    subnet = make_subnet(host_routes=[{'destination': '0.0.0.0/0', 'nexthop': '10.0.0.9'}])
    reply, _ = answer(client_frame('discover'), subnets=[subnet])
    assert decode_classless_routes(raw_options(reply)[121]) == [('0.0.0.0/0', '10.0.0.9')]


def test_classless_route_encoding_uses_only_significant_octets():
    assert dhcp_options.classless_routes([('10.17.0.0/16', '10.0.0.1')]) == bytes(
        [16, 10, 17, 10, 0, 0, 1])
    assert dhcp_options.classless_routes([('0.0.0.0/0', '10.0.0.1')]) == bytes([0, 10, 0, 0, 1])
    assert dhcp_options.classless_routes([('10.229.0.128/25', '10.0.0.1')]) == bytes(
        [25, 10, 229, 0, 128, 10, 0, 0, 1])


def test_the_first_fixed_ip_on_a_dhcp_subnet_is_offered():
    subnets = [make_subnet(id='off', cidr='10.9.0.0/24', gateway_ip='10.9.0.1',
                           enable_dhcp=False),
               make_subnet()]
    port = make_port(fixed_ips=[{'subnet_id': 'off', 'ip_address': '10.9.0.7'},
                                {'subnet_id': 'subnet-1', 'ip_address': PORT_IP}])
    reply, event = answer(client_frame('discover'), port=port, subnets=subnets)
    assert event == 'offer'
    assert reply[BOOTP].yiaddr == PORT_IP


def test_no_dns_servers_means_no_option_6():
    reply, _ = answer(client_frame('discover'), subnets=[make_subnet(dns_nameservers=[])])
    assert 6 not in raw_options(reply)


def test_a_name_that_is_no_host_name_gives_neutrons_host_name():
    reply, _ = answer(client_frame('discover'), port=make_port(name='my_vm.example'))
    assert options_of(reply)['hostname'] == b'host-10-0-0-5'
    reply, _ = answer(client_frame('discover'), port=make_port(name=''))
    assert options_of(reply)['hostname'] == b'host-10-0-0-5'


def test_a_subnet_without_gateway_serves_from_its_service_address():
    subnet = make_subnet(gateway_ip=None, service_ip='10.0.0.1', host_routes=[])
    reply, _ = answer(client_frame('discover'), subnets=[subnet])
    assert options_of(reply)['server_id'] == '10.0.0.1'
    assert reply[IP].src == '10.0.0.1'
    codes = raw_options(reply)
    assert 3 not in codes
    assert 121 not in codes       # no gateway, no host routes: no routes at all


def test_without_gateway_host_routes_still_come_without_a_default_route():
    subnet = make_subnet(gateway_ip=None, service_ip='10.0.0.2')
    port = make_port(fixed_ips=[{'subnet_id': 'subnet-1', 'ip_address': '10.0.0.1'}])
    reply, _ = answer(client_frame('discover'), port=port, subnets=[subnet])
    assert options_of(reply)['server_id'] == '10.0.0.2'
    assert decode_classless_routes(raw_options(reply)[121]) == [
        ('192.168.0.0/16', '10.0.0.254'), ('172.16.5.0/24', '10.0.0.253')]


def test_a_subnet_without_any_server_address_is_not_served():
    # A store written before service addresses were reserved, not yet upgraded.
    subnet = make_subnet(gateway_ip=None)
    assert answer(client_frame('discover'), subnets=[subnet]) == (
        None, 'ignored_no_server_address')


def test_a_bootp_reply_is_at_least_300_bytes():
    subnet = make_subnet(dns_nameservers=[], host_routes=[])
    reply, _ = answer(client_frame('discover', [('param_req_list', [1])]), subnets=[subnet])
    assert len(bytes(reply[UDP].payload)) >= 300


# -- the parameter request list and the message size ---------------------------------

def test_only_requested_options_follow_the_mandatory_ones_in_the_clients_order():
    frame = client_frame('discover', [('param_req_list', [121, 15, 6, 1, 3])])
    reply, _ = answer(frame)
    codes = list(raw_options(reply))
    assert codes[0] == 53
    assert set(codes) == {53, 54, 51, 1, 3, 121, 15, 6}
    # Mandatory first, then what was asked in the order asked.
    assert codes[-3:] == [121, 15, 6]


def test_windows_gets_option_249_when_it_asks():
    reply, _ = answer(client_frame('discover', [('param_req_list', [249, 121])]))
    options = raw_options(reply)
    assert options[249] == options[121]


def test_options_that_would_overflow_576_bytes_are_left_out():
    routes = [{'destination': '10.%d.0.0/16' % i, 'nexthop': '10.0.0.254'}
              for i in range(100, 120)]
    subnet = make_subnet(host_routes=routes)
    config = CONFIG._replace(domain='d' * 200)
    reply, event = answer(client_frame('discover'), subnets=[subnet], config=config)
    assert event == 'offer'
    assert len(reply[IP]) <= 576
    assert {53, 54, 51, 1, 3} <= set(raw_options(reply))


def test_a_larger_maximum_message_size_lets_every_option_in():
    routes = [{'destination': '10.%d.0.0/16' % i, 'nexthop': '10.0.0.254'}
              for i in range(100, 120)]
    subnet = make_subnet(host_routes=routes)
    config = CONFIG._replace(domain='d' * 200)
    frame = client_frame('discover', [('max_dhcp_size', 1500)])
    reply, _ = answer(frame, subnets=[subnet], config=config)
    assert len(decode_classless_routes(raw_options(reply)[121])) == 21
    assert options_of(reply)['domain'] == b'd' * 200


# -- reply addressing (RFC 2131 4.1) -------------------------------------------------

def test_without_broadcast_flag_the_offer_is_unicast_to_the_offered_address():
    reply, _ = answer(client_frame('discover'))
    assert reply.src == GATEWAY_MAC
    assert reply.dst == CLIENT_MAC
    assert (reply[IP].src, reply[IP].dst) == (GATEWAY_IP, PORT_IP)
    assert reply[BOOTP].flags == 0


def test_with_broadcast_flag_the_offer_is_broadcast_at_ip_but_sent_to_the_clients_mac():
    reply, _ = answer(client_frame('discover', flags=0x8000))
    assert reply[IP].dst == '255.255.255.255'
    assert reply.dst == CLIENT_MAC
    assert reply[BOOTP].flags == 0x8000


# -- REQUEST -> ACK or NAK -----------------------------------------------------------

def test_selecting_request_for_the_offered_address_is_acked():
    frame = client_frame('request', [('requested_addr', PORT_IP), ('server_id', GATEWAY_IP)])
    reply, event = answer(frame)
    assert event == 'ack'
    assert message_type(reply) == MESSAGE_TYPES['ack']
    assert reply[BOOTP].yiaddr == PORT_IP
    assert options_of(reply)['lease_time'] == 86400
    assert reply[IP].dst == PORT_IP


def test_selecting_request_naming_another_server_gets_no_answer():
    frame = client_frame('request', [('requested_addr', PORT_IP), ('server_id', '10.0.0.99')])
    assert answer(frame) == (None, 'ignored_other_server')


def test_selecting_request_for_another_address_is_naked():
    frame = client_frame('request', [('requested_addr', '10.0.0.77'),
                                     ('server_id', GATEWAY_IP)])
    reply, event = answer(frame)
    assert event == 'nak'


def test_init_reboot_request_for_the_ports_address_is_acked():
    reply, event = answer(client_frame('request', [('requested_addr', PORT_IP)]))
    assert event == 'ack'
    assert reply[BOOTP].yiaddr == PORT_IP


def test_init_reboot_request_for_an_old_address_is_naked_by_broadcast():
    frame = client_frame('request', [('requested_addr', '10.0.0.77'),
                                     ('client_id', b'\x01' + mac2str(CLIENT_MAC))])
    reply, event = answer(frame)
    assert event == 'nak'
    assert message_type(reply) == MESSAGE_TYPES['nak']
    assert reply[IP].dst == '255.255.255.255'
    assert reply.dst == CLIENT_MAC
    bootp = reply[BOOTP]
    assert (bootp.yiaddr, bootp.ciaddr, bootp.siaddr) == ('0.0.0.0',) * 3
    # RFC 2131 table 3: a NAK carries no lease and no configuration.
    assert set(raw_options(reply)) == {53, 54, 56, 61}
    assert options_of(reply)['client_id'] == b'\x01' + mac2str(CLIENT_MAC)


def test_renewing_request_unicast_to_the_server_is_acked_by_unicast():
    frame = client_frame('request', ciaddr=PORT_IP, ip_src=PORT_IP, ip_dst=GATEWAY_IP)
    reply, event = answer(frame)
    assert event == 'ack'
    assert reply[IP].dst == PORT_IP
    assert reply.dst == CLIENT_MAC
    assert (reply[BOOTP].ciaddr, reply[BOOTP].yiaddr) == (PORT_IP, PORT_IP)


def test_rebinding_request_broadcast_is_acked_to_its_ciaddr_even_with_broadcast_flag():
    frame = client_frame('request', ciaddr=PORT_IP, ip_src=PORT_IP, flags=0x8000)
    reply, event = answer(frame)
    assert event == 'ack'
    assert reply[IP].dst == PORT_IP


def test_renewing_an_address_the_port_no_longer_has_is_naked():
    frame = client_frame('request', ciaddr='10.0.0.77', ip_src='10.0.0.77', ip_dst=GATEWAY_IP)
    reply, event = answer(frame)
    assert event == 'nak'
    assert reply[IP].dst == '255.255.255.255'


def test_renewing_unicast_to_another_server_gets_no_answer():
    frame = client_frame('request', ciaddr=PORT_IP, ip_src=PORT_IP, ip_dst='10.0.0.99')
    assert answer(frame) == (None, 'ignored_other_server')


def test_the_client_identifier_is_echoed():
    client_id = b'\xffclient-id'
    reply, _ = answer(client_frame('discover', [('client_id', client_id),
                                                ('param_req_list', [1])]))
    assert options_of(reply)['client_id'] == client_id


# -- INFORM, RELEASE, DECLINE ----------------------------------------------------------

def test_inform_gets_an_ack_without_lease_or_address():
    frame = client_frame('inform', ciaddr=PORT_IP, ip_src=PORT_IP, ip_dst=GATEWAY_IP)
    reply, event = answer(frame)
    assert event == 'inform'
    assert message_type(reply) == MESSAGE_TYPES['ack']
    assert reply[BOOTP].yiaddr == '0.0.0.0'
    assert reply[BOOTP].ciaddr == PORT_IP
    assert reply[IP].dst == PORT_IP
    codes = raw_options(reply)
    assert not {51, 58, 59} & set(codes)
    assert {54, 1, 3, 6, 121} <= set(codes)


@pytest.mark.parametrize('kind', ['release', 'decline'])
def test_release_and_decline_get_no_answer(kind):
    frame = client_frame(kind, [('server_id', GATEWAY_IP)], ciaddr=PORT_IP)
    assert answer(frame) == (None, kind)


# -- who gets no answer --------------------------------------------------------------

def test_a_subnet_with_dhcp_disabled_gets_no_answer():
    frame = client_frame('discover')
    assert answer(frame, subnets=[make_subnet(enable_dhcp=False)]) == (
        None, 'ignored_dhcp_disabled')


def test_a_frame_for_another_mac_gets_no_answer():
    assert answer(client_frame('discover', mac=OTHER_MAC)) == (None, 'ignored_foreign_mac')


@pytest.mark.parametrize('fixed_ips', [[], [{'subnet_id': 'gone', 'ip_address': '10.8.0.2'}]])
def test_a_port_without_address_gets_no_answer(fixed_ips):
    port = make_port(fixed_ips=fixed_ips)
    assert answer(client_frame('discover'), port=port) == (None, 'ignored_no_ip')


@pytest.mark.parametrize('kind', ['offer', 'ack', 'nak'])
def test_server_messages_from_a_client_are_ignored(kind):
    assert answer(client_frame(kind)) == (None, 'ignored_message_type')


# -- extra_dhcp_opts -------------------------------------------------------------------

def extra(name, value, ip_version=4):
    return {'opt_name': name, 'opt_value': value, 'ip_version': ip_version}


def test_pxe_options_set_boot_file_next_server_and_tftp_server():
    port = make_port(extra_dhcp_opts=[extra('bootfile-name', 'pxelinux.0'),
                                      extra('server-ip-address', '10.0.0.50'),
                                      extra('tftp-server', 'tftp.example.org')])
    reply, _ = answer(client_frame('discover'), port=port)
    options = options_of(reply)
    assert options['boot-file-name'] == b'pxelinux.0'
    assert options['tftp_server_name'] == b'tftp.example.org'
    assert reply[BOOTP].siaddr == '10.0.0.50'
    assert reply[BOOTP].file.rstrip(b'\x00') == b'pxelinux.0'


def test_an_extra_option_overrides_the_computed_one():
    port = make_port(extra_dhcp_opts=[extra('mtu', '1400'), extra('dns-server', '1.1.1.1'),
                                      extra('domain-name', 'corp.example')])
    reply, _ = answer(client_frame('discover'), port=port)
    options = options_of(reply)
    assert options['interface-mtu'] == 1400
    assert options['name_server'] == '1.1.1.1'
    assert options['domain'] == b'corp.example'


def test_ntp_tftp_address_and_numeric_options():
    port = make_port(extra_dhcp_opts=[extra('ntp-server', '10.0.0.30, 10.0.0.31'),
                                      extra('tftp-server-address', '10.0.0.50'),
                                      extra('252', 'http://wpad/wpad.dat'),
                                      extra('option:66', 'boot.example')])
    reply, _ = answer(client_frame('discover'), port=port)
    options = raw_options(reply)
    assert options[42] == bytes([10, 0, 0, 30, 10, 0, 0, 31])
    assert options[150] == bytes([10, 0, 0, 50])
    assert options[252] == b'http://wpad/wpad.dat'
    assert options[66] == b'boot.example'


def test_a_router_override_moves_the_default_route():
    port = make_port(extra_dhcp_opts=[extra('router', '10.0.0.9')])
    reply, _ = answer(client_frame('discover'), port=port)
    assert options_of(reply)['router'] == '10.0.0.9'
    assert decode_classless_routes(raw_options(reply)[121])[-1] == ('0.0.0.0/0', '10.0.0.9')


def test_an_empty_router_removes_the_router_and_the_default_route():
    port = make_port(extra_dhcp_opts=[extra('router', '')])
    reply, _ = answer(client_frame('discover'), port=port)
    options = raw_options(reply)
    assert 3 not in options
    assert ('0.0.0.0/0', GATEWAY_IP) not in decode_classless_routes(options[121])


def test_ipv6_bad_values_and_protocol_options_are_not_applied():
    port = make_port(extra_dhcp_opts=[extra('mtu', '1280', ip_version=6),
                                      extra('router', 'not-an-address'),
                                      extra('53', 'x'), extra('54', '10.9.9.9'),
                                      extra('no-such-option', 'x')])
    reply, event = answer(client_frame('discover'), port=port)
    assert event == 'offer'
    options = options_of(reply)
    assert options['interface-mtu'] == 1436
    assert options['router'] == GATEWAY_IP
    assert options['server_id'] == GATEWAY_IP
    assert message_type(reply) == MESSAGE_TYPES['offer']


def test_extra_options_obey_the_parameter_request_list():
    port = make_port(extra_dhcp_opts=[extra('bootfile-name', 'pxelinux.0')])
    reply, _ = answer(client_frame('discover', [('param_req_list', [1, 3])]), port=port)
    assert 67 not in raw_options(reply)
    reply, _ = answer(client_frame('discover', [('param_req_list', [1, 3, 67])]), port=port)
    assert raw_options(reply)[67] == b'pxelinux.0'


# -- checksums -------------------------------------------------------------------------

@pytest.mark.parametrize('frame', [
    client_frame('discover'),
    client_frame('request', [('requested_addr', PORT_IP), ('server_id', GATEWAY_IP)]),
    client_frame('request', [('requested_addr', '10.0.0.77')]),
    client_frame('inform', ciaddr=PORT_IP, ip_src=PORT_IP, ip_dst=GATEWAY_IP),
], ids=['offer', 'ack', 'nak', 'inform'])
def test_ip_and_udp_checksums_are_valid(frame):
    reply, _ = answer(frame)
    recomputed = reply.copy()
    del recomputed[IP].chksum
    del recomputed[UDP].chksum
    recomputed = Ether(bytes(recomputed))
    assert reply[IP].chksum == recomputed[IP].chksum
    assert reply[UDP].chksum == recomputed[UDP].chksum
    assert reply[IP].len == len(bytes(reply[IP]))
    assert reply[UDP].len == len(bytes(reply[UDP]))


# -- malformed input -------------------------------------------------------------------

def test_pad_options_between_options_are_skipped():
    # os_ken's own option parser stops at the first PAD; RFC 2132 allows them anywhere.
    frame = client_frame('discover', ['pad', 'pad', ('param_req_list', [1, 3]), 'pad'])
    reply, event = answer(frame)
    assert event == 'offer'
    assert set(raw_options(reply)) == {53, 54, 51, 1, 3}


def malformed_frames():
    good = Ether(client_frame('discover'))
    bad_cookie = bytearray(bytes(good))
    cookie_at = len(bad_cookie) - len(bytes(good[BOOTP])) + 236
    bad_cookie[cookie_at] ^= 0xff
    return {
        'empty': b'',
        'bad magic cookie': bytes(bad_cookie),
        'no message type': bytes(Ether(src=CLIENT_MAC) / IP() / UDP(sport=68, dport=67) /
                                 BOOTP(chaddr=mac2str(CLIENT_MAC)) /
                                 DHCP(options=[('hostname', b'x'), 'end'])),
        'message type of two bytes': client_frame('discover')[:-4] + b'\x35\x02\x01\x01\xff',
        'bootreply op': client_frame('discover', op=2),
        'bootp without options': bytes(Ether() / IP() / UDP(sport=68, dport=67) /
                                       BOOTP(chaddr=mac2str(CLIENT_MAC))),
        'not udp': bytes(Ether() / IP() / TCP(sport=68, dport=67)),
        'not to port 67': bytes(Ether() / IP() / UDP(sport=67, dport=68) /
                                BOOTP(chaddr=mac2str(CLIENT_MAC)) /
                                DHCP(options=[('message-type', 'discover'), 'end'])),
        'arp': bytes.fromhex('ffffffffffff' 'fa163e112233' '0806') + bytes(28),
        'option past the end': client_frame('discover')[:-1] + b'\x0c\x09abc',
    }


@pytest.mark.parametrize('name, frame', sorted(malformed_frames().items()))
def test_malformed_frames_get_no_answer(name, frame):
    assert answer(frame) == (None, 'malformed')


def test_every_truncation_of_a_valid_request_is_malformed():
    frame = client_frame('request', [('requested_addr', PORT_IP), ('server_id', GATEWAY_IP),
                                     ('param_req_list', [1, 3, 6, 121])])
    for length in range(len(frame)):
        assert answer(frame[:length]) == (None, 'malformed'), length


def test_random_bytes_never_raise():
    rng = random.Random(3442)
    valid = client_frame('discover')
    for _ in range(2000):
        garbage = bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 400)))
        assert answer(garbage) == (None, 'malformed')
    # Flipped bytes in a valid frame may still be valid: only require no exception.
    for _ in range(2000):
        mutated = bytearray(valid)
        for _ in range(rng.randrange(1, 8)):
            mutated[rng.randrange(len(mutated))] = rng.getrandbits(8)
        reply, event = dhcp.handle_dhcp(bytes(mutated), make_port(), NETWORK,
                                        [make_subnet()], CONFIG)
        assert event in dhcp.EVENTS
        assert (reply is None) == (event not in ('offer', 'ack', 'inform', 'nak'))
