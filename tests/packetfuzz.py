"""Mutated DHCP and ARP frames for the edge app's packet-in path, and the
invariants every answer must keep.

``frames(rng, world)`` yields (in_port, frame) without end: valid DHCP
requests (DISCOVER, REQUEST, INFORM, RELEASE, DECLINE) and ARP (requests
for the gateway, local and remote VMs, another network's address, probes,
gratuitous, replies), from the port's own MAC or another, then mutated:
truncated, extended, bytes flipped, wrong IP/UDP lengths and header
lengths, IP options, fragments, VLAN tags, wrong hardware types and
lengths, DHCP options overflowing, repeated, missing END, overloaded.
Built with struct, not scapy: a million frames must be cheap.

``Invariants(world).check(in_port, outs)`` says what is wrong with the
packet-outs ``outs`` that one packet-in caused: a DHCP reply goes only back
to its port, to its MAC, offering only its own address; an ARP reply only
back to the asker, from the gateway MAC, for an address the gateway stands
for in the asker's network; a request turned unicast only to the owner of
its target, in the asker's network.  Nothing else goes out.
"""

import ipaddress
import random
import struct

from tests.unit.test_pipeline import GW_MAC

BROADCAST = b'\xff' * 6
ETH_IP, ETH_ARP, ETH_VLAN, ETH_IPV6 = 0x0800, 0x0806, 0x8100, 0x86dd
MAGIC = b'\x63\x82\x53\x63'
UNKNOWN_PORT = 99       # no port of the switch
LOCAL_PORT = 0xfffe     # the bridge's own port: no VM's


def mac_bytes(text):
    return bytes.fromhex(text.replace(':', ''))


def ip_bytes(text):
    return ipaddress.IPv4Address(text).packed


def ip_text(raw):
    return str(ipaddress.IPv4Address(raw))


# -- building -------------------------------------------------------------------

def ether(dst, src, ethertype, payload):
    return dst + src + struct.pack('!H', ethertype) + payload


def ipv4(src, dst, payload, proto=17, options=b'', flags_offset=0):
    ihl = 5 + len(options) // 4
    header = struct.pack('!BBHHHBBH4s4s', 0x40 | ihl, 0, ihl * 4 + len(payload), 0x1234,
                         flags_offset, 64, proto, 0, src, dst) + options
    return header + payload


def udp(sport, dport, payload):
    return struct.pack('!HHHH', sport, dport, 8 + len(payload), 0) + payload


def bootp(chaddr, options, ciaddr=b'\0' * 4, op=1, htype=1, hlen=6, flags=0):
    return (struct.pack('!BBBBIHH4s4s4s4s', op, htype, hlen, 0, 0x3903f326, 0, flags,
                        ciaddr, b'\0' * 4, b'\0' * 4, b'\0' * 4) +
            chaddr + b'\0' * 10 + b'\0' * 64 + b'\0' * 128 + MAGIC + options)


def option(code, value):
    return bytes([code, len(value)]) + value


def arp(op, sha, spa, tha, tpa, htype=1, ptype=ETH_IP, hlen=6, plen=4):
    return struct.pack('!HHBBH', htype, ptype, hlen, plen, op) + sha + spa + tha + tpa


class World:
    """What the fuzzer knows of the edge's model (tests.unit.test_pipeline.World)."""

    def __init__(self, world):
        self.ports = {1: world.a1, 2: world.a2, 3: world.b1}
        self.network_of = {p['id']: p['network_id'] for p in self.ports.values()}
        everyone = (world.a1, world.a2, world.a_remote, world.b1)
        self.ips = sorted({f['ip_address'] for p in everyone for f in p['fixed_ips']} |
                          {world.sub_a['gateway_ip'], '10.0.0.99', '0.0.0.0',
                           '255.255.255.255', '10.0.0.255'})
        self.macs = [mac_bytes(p['mac_address']) for p in everyone] + \
            [mac_bytes(GW_MAC), BROADCAST, b'\x02\0\0\0\0\x01']
        self.server_ids = [world.sub_a['gateway_ip'], world.sub_b['gateway_ip'], '10.0.0.7']


# -- valid frames ----------------------------------------------------------------

def _dhcp(rng, world, port):
    mac = mac_bytes(port['mac_address']) if rng.random() < 0.8 else rng.choice(world.macs)
    own = ip_bytes(port['fixed_ips'][0]['ip_address'])
    kind = rng.choice((1, 1, 3, 3, 3, 4, 7, 8, 2, 5, 0, 9))
    options = option(53, bytes([kind]))
    if kind == 3 or rng.random() < 0.2:
        options += option(50, own if rng.random() < 0.7 else ip_bytes(rng.choice(world.ips)))
    if kind == 3 and rng.random() < 0.6:
        options += option(54, ip_bytes(rng.choice(world.server_ids)))
    if rng.random() < 0.3:
        options += option(55, bytes(rng.sample(range(1, 255), rng.randint(0, 20))))
    if rng.random() < 0.2:
        options += option(57, struct.pack('!H', rng.choice((0, 576, 1500, 65535))))
    if rng.random() < 0.2:
        options += option(61, b'\x01' + mac)
    options += b'\xff'
    ciaddr = own if kind in (3, 8) and rng.random() < 0.5 else b'\0' * 4
    src = ciaddr if ciaddr != b'\0' * 4 else b'\0' * 4
    dst = BROADCAST if rng.random() < 0.8 else mac_bytes(GW_MAC)
    ip_dst = b'\xff' * 4 if dst == BROADCAST else ip_bytes(rng.choice(world.server_ids))
    flags = 0x8000 if rng.random() < 0.3 else 0
    return ether(dst, mac, ETH_IP, ipv4(src, ip_dst, udp(68, 67, bootp(
        mac, options, ciaddr, flags=flags))))


def _arp(rng, world, port):
    mac = mac_bytes(port['mac_address']) if rng.random() < 0.8 else rng.choice(world.macs)
    own = ip_bytes(port['fixed_ips'][0]['ip_address'])
    spa = own if rng.random() < 0.7 else ip_bytes(rng.choice(world.ips))
    tpa = ip_bytes(rng.choice(world.ips))
    op = rng.choice((1, 1, 1, 1, 2, 3, 0))
    tha = b'\0' * 6 if op == 1 else rng.choice(world.macs)
    dst = BROADCAST if op == 1 else rng.choice(world.macs)
    return ether(dst, mac, ETH_ARP, arp(op, mac, spa, tha, tpa))


# -- mutations -------------------------------------------------------------------

def _truncate(rng, frame):
    return frame[:rng.randrange(len(frame))]


def _extend(rng, frame):
    return frame + rng.randbytes(rng.randint(1, 64))


def _flip(rng, frame):
    frame = bytearray(frame)
    for _ in range(rng.randint(1, 8)):
        frame[rng.randrange(len(frame))] = rng.randrange(256)
    return bytes(frame)


def _set(frame, offset, fmt, value):
    if len(frame) < offset + struct.calcsize(fmt):
        return frame
    return frame[:offset] + struct.pack(fmt, value) + frame[offset + struct.calcsize(fmt):]


def _ip_total_length(rng, frame):
    return _set(frame, 16, '!H', rng.randrange(65536))


def _ip_header_length(rng, frame):
    return _set(frame, 14, '!B', 0x40 | rng.randrange(16))


def _ip_version(rng, frame):
    return _set(frame, 14, '!B', (rng.randrange(16) << 4) | 5)


def _ip_fragment(rng, frame):
    return _set(frame, 20, '!H', rng.choice((0x2000, 0x0001, 0x2005, 0x4000)))


def _ip_options(rng, frame):
    """Valid IP options (NOPs, a record-route), the lengths fixed up."""
    if len(frame) < 34 or frame[12:14] != b'\x08\x00':
        return frame
    options = rng.choice((b'\x01\x01\x01\x00', b'\x07\x07\x04\0\0\0\0\x00',
                          b'\x94\x04\x00\x00'))
    header, payload = frame[14:34], frame[34:]
    ihl = 5 + len(options) // 4
    header = bytes([0x40 | ihl]) + header[1:2] + struct.pack('!H', ihl * 4 + len(payload)) + \
        header[4:]
    return frame[:14] + header + options + payload


def _udp_length(rng, frame):
    return _set(frame, 38, '!H', rng.randrange(65536))


def _udp_ports(rng, frame):
    return _set(frame, 36, '!H', rng.choice((67, 68, 0, 53, 65535)))


def _bootp_hardware(rng, frame):
    frame = _set(frame, 43, '!B', rng.choice((0, 1, 6, 32, 255)))  # htype
    return _set(frame, 44, '!B', rng.choice((0, 6, 16, 255)))      # hlen


def _bootp_op(rng, frame):
    return _set(frame, 42, '!B', rng.choice((0, 2, 3, 255)))


def _dhcp_options(rng, frame):
    """Replace the options after the magic cookie with hostile ones."""
    start = 14 + 20 + 8 + 240
    if len(frame) < start or frame[start - 4:start] != MAGIC:
        return frame
    choice = rng.randrange(8)
    if choice == 0:    # an option running past the end
        options = option(53, b'\x01') + bytes([55, 200]) + b'\x01\x02'
    elif choice == 1:  # no END
        options = option(53, b'\x03') + option(50, b'\x0a\0\0\x0b')
    elif choice == 2:  # wrong lengths for what the server reads
        options = bytes([53, rng.choice((0, 2, 255))]) + b'\x01\x01' + \
            bytes([50, rng.choice((0, 3, 5))]) + b'\x0a\0\0\x0b\x00' + b'\xff'
    elif choice == 3:  # repeated (RFC 3396 concatenation)
        options = option(53, b'\x01') + option(53, b'\x03') + option(50, b'\x0a\0') + \
            option(50, b'\0\x0b') + b'\xff'
    elif choice == 4:  # overload into sname/file
        options = option(53, b'\x01') + option(52, bytes([rng.randint(0, 4)])) + b'\xff'
    elif choice == 5:  # PAD everywhere, or only PAD
        options = b'\x00' * rng.randint(0, 300) + option(53, b'\x01') + b'\x00' * 3 + b'\xff'
    elif choice == 6:  # many tiny options
        options = b''.join(option(rng.randrange(1, 255), b'') for _ in range(400)) + \
            option(53, b'\x01') + b'\xff'
    else:              # no message type at all
        options = b'\xff'
    return _fix_lengths(frame[:start] + options)


def _fix_lengths(frame):
    """IP total length and UDP length for the frame as it now is."""
    frame = _set(frame, 16, '!H', len(frame) - 14)
    return _set(frame, 38, '!H', len(frame) - 34)


def _vlan(rng, frame):
    tag = struct.pack('!HH', ETH_VLAN, rng.randrange(4096))
    return frame[:12] + tag + frame[12:]


def _ethertype(rng, frame):
    return _set(frame, 12, '!H', rng.choice((ETH_IP, ETH_ARP, ETH_IPV6, ETH_VLAN, 0x88cc, 0)))


def _arp_fields(rng, frame):
    if len(frame) < 22:
        return frame
    htype, ptype, hlen, plen = rng.choice(((1, ETH_IPV6, 6, 16), (6, ETH_IP, 6, 4),
                                           (1, ETH_IP, 8, 4), (1, ETH_IP, 6, 16),
                                           (1, ETH_IP, 0, 0), (1, ETH_IP, 6, 4)))
    return frame[:14] + struct.pack('!HHBB', htype, ptype, hlen, plen) + frame[20:]


def _arp_op(rng, frame):
    return _set(frame, 20, '!H', rng.choice((0, 1, 2, 3, 4, 8, 65535)))


IP_MUTATIONS = (_truncate, _extend, _flip, _ip_total_length, _ip_header_length,
                _ip_version, _ip_fragment, _ip_options, _udp_length, _udp_ports,
                _bootp_hardware, _bootp_op, _dhcp_options, _dhcp_options, _vlan, _ethertype)
ARP_MUTATIONS = (_truncate, _extend, _flip, _arp_fields, _arp_op, _vlan, _ethertype)


def frames(rng, world):
    """(in_port, frame) for ever: a fifth valid, the rest mutated 1-3 times."""
    vm_ports = list(world.ports)
    while True:
        in_port = rng.choice(vm_ports) if rng.random() < 0.95 else \
            rng.choice((UNKNOWN_PORT, LOCAL_PORT))
        port = world.ports.get(in_port) or world.ports[1]
        is_dhcp = rng.random() < 0.6
        frame = (_dhcp if is_dhcp else _arp)(rng, world, port)
        if rng.random() < 0.8:
            for mutate in rng.choices(IP_MUTATIONS if is_dhcp else ARP_MUTATIONS,
                                      k=rng.randint(1, 3)):
                if frame:
                    frame = mutate(rng, frame)
        yield in_port, frame


# -- invariants ------------------------------------------------------------------

class Invariants:
    """What may go out for a packet-in, from the world's model."""

    def __init__(self, pipeline_world):
        w = pipeline_world
        self.world = World(w)
        self.gateway = mac_bytes(GW_MAC)
        local_ids = {p['id'] for p in self.world.ports.values()}
        # Per network: the addresses the gateway MAC answers for (services
        # address, VMs on other hosts), and the local owner of each VM address.
        self.gateway_answers = {w.net_a['id']: {w.sub_a['gateway_ip']},
                                w.net_b['id']: {w.sub_b['gateway_ip']}}
        for port in (w.a1, w.a2, w.a_remote, w.b1):
            if port['id'] not in local_ids:
                self.gateway_answers[port['network_id']].update(
                    f['ip_address'] for f in port['fixed_ips'])
        self.ofport_of = {p['id']: n for n, p in self.world.ports.items()}

    def check(self, in_port, outs):
        """The broken invariants (texts) of ``outs``, [(out_port, frame)]."""
        port = self.world.ports.get(in_port)
        if port is None:
            return ['packet-out for a packet-in from port %s, which is no VM' % in_port] \
                if outs else []
        problems = []
        for out_port, frame in outs:
            problem = self._check_one(port, in_port, out_port, frame)
            if problem:
                problems.append('to port %s: %s' % (out_port, problem))
        if len(outs) > 1:
            problems.append('%d packet-outs for one packet-in' % len(outs))
        return problems

    def _check_one(self, port, in_port, out_port, frame):
        ethertype = struct.unpack('!H', frame[12:14])[0]
        if ethertype == ETH_IP:
            return self._check_dhcp(port, in_port, out_port, frame)
        if ethertype == ETH_ARP:
            return self._check_arp(port, in_port, out_port, frame)
        return 'an unexpected ethertype %#x' % ethertype

    def _check_dhcp(self, port, in_port, out_port, frame):
        mac = mac_bytes(port['mac_address'])
        ihl = (frame[14] & 0xf) * 4
        bootp_at = 14 + ihl + 8
        sport, dport = struct.unpack('!HH', frame[14 + ihl:14 + ihl + 4])
        yiaddr = ip_text(frame[bootp_at + 16:bootp_at + 20])
        chaddr = frame[bootp_at + 28:bootp_at + 34]
        own = {f['ip_address'] for f in port['fixed_ips']} | {'0.0.0.0'}
        if (sport, dport) != (67, 68):
            return 'an IPv4 packet-out that is not a DHCP reply'
        if out_port != in_port:
            return 'a DHCP reply to another port than the asker (%s)' % in_port
        if frame[0:6] != mac or chaddr != mac:
            return 'a DHCP reply not to the port\'s own MAC'
        if yiaddr not in own:
            return 'a DHCP reply offering %s, not the port\'s address' % yiaddr
        return None

    def _check_arp(self, port, in_port, out_port, frame):
        op = struct.unpack('!H', frame[20:22])[0]
        sha, spa = frame[22:28], ip_text(frame[28:32])
        tpa = ip_text(frame[38:42])
        network = port['network_id']
        if op == 2:  # answered by the controller: back to the asker only
            if out_port != in_port:
                return 'an ARP answer to another port than the asker (%s)' % in_port
            if sha != self.gateway or frame[6:12] != self.gateway:
                return 'an ARP answer not from the gateway MAC'
            if spa not in self.gateway_answers[network]:
                return 'the gateway answered for %s, not its to answer in this network' % spa
            return None
        # A request turned unicast: only to the owner of its target (the
        # asker itself when it asks for its own address), in its network.
        owner = self.world.ports.get(out_port)
        if owner is None or owner['network_id'] != network:
            return 'an ARP request sent to a port of another network (or none)'
        if op != 1 or frame[0:6] != mac_bytes(owner['mac_address']) or \
                tpa not in {f['ip_address'] for f in owner['fixed_ips']}:
            return 'an ARP request unicast to a port that does not own %s' % tpa
        return None


def run(pipeline_world, app, switch, count, seed, keep=5):
    """Push ``count`` frames (a ``seed``-ed stream) through ``app``'s
    packet-in handler on ``switch``; returns ([(in_port, frame, problems)]
    of the first ``keep`` frames that broke an invariant or made the handler
    fail, how many did)."""
    from srv6_ofapp import metrics
    invariants = Invariants(pipeline_world)
    stream = frames(random.Random(seed), invariants.world)
    found, failed = [], 0
    for _ in range(count):
        in_port, frame = next(stream)
        errors, sent = metrics.value('handler_error'), len(switch.packet_outs)
        switch.packet_in(app, in_port, frame)
        problems = invariants.check(in_port, switch.packet_outs[sent:])
        if metrics.value('handler_error') != errors:
            problems.append('the handler failed')
        del switch.packet_outs[sent:]
        if problems:
            failed += 1
            if len(found) < keep:
                found.append((in_port, frame, problems))
    return found, failed
