"""Distributed DHCP: the reply to a VM's DHCP message, computed from the model.

Pure (faucet style): the OpenFlow adapter hands over the raw frame of a
packet-in and the model documents of the port it came in on; it gets back
the reply frame (or None) and an event name to count.  No I/O here.

    reply, event = handle_dhcp(frame, port, network, subnets, config)

The hot path (numbers: bench/packet_in.py) compiles a port once,
``PortDhcp(port, network, subnets, config)``, when the model changes (the
adapter keeps it, edge/responder.py) and answers each frame with
``PortDhcp.answer(frame)``: the request is read with struct, the port's MAC
and addresses compared as bytes, and the reply is a template built once per
kind of request (reply type and the request's options: what it asks for, its
size limit, its client id) and patched per request (xid, flags, ciaddr,
giaddr, the IP destination; both checksums by arithmetic, see wire.py).  The
protocol's rules below read as before; tests/edge_reference/ keeps the
os_ken-built implementation the tests compare with, byte for byte.

What the adapter must know:
  * ``port`` is the port whose OpenFlow in_port the frame arrived on; send
    ``reply`` out of that same port (packet-out, in_port=OFPP_CONTROLLER).
    The reply's Ethernet destination is always the client's MAC, also when
    its IP destination is 255.255.255.255 (broadcast flag, NAK): the frame
    goes to exactly one port, and every NIC accepts its own MAC.
  * Incoming checksums are not verified: a VM with checksum offload hands
    frames to its tap with the UDP checksum not yet filled.
  * Clients send to UDP 67 both broadcast and, when renewing, unicast to the
    server identifier (ipam.service_address: the gateway, or the address
    the plugin reserved on a gateway-less subnet) at the distributed
    gateway MAC: the pipeline punts both, and the ARP rule (arp.answer)
    answers for that address.
  * RELEASE is a no-op (addresses belong to ports, not leases); DECLINE means
    another machine uses the port's address: worth a warning in the log.

Events (EVENTS lists them; the edge registers a counter for each at start):
  offer, ack, inform (ACK to an INFORM), nak      a reply is returned
  release, decline                                no reply, by design
  ignored_other_server                            a REQUEST for another server
  ignored_foreign_mac                             chaddr is not the port's MAC
  ignored_no_ip                                   the port has no address on these subnets
  ignored_dhcp_disabled                           its subnets have enable_dhcp false
  ignored_message_type                            a type a server never answers (OFFER, ACK...)
  ignored_no_server_address                       the subnet has neither gateway_ip nor service_ip
  malformed                                       cannot be parsed as a DHCP request

Options: dhcp_options.py.

Not handled: relay agents (giaddr is echoed, replies are not sent to it),
option overload (52), IPv6.
"""

import collections
import struct

from srv6_ofapp import ipam
from srv6_ofapp.edge import wire
from srv6_ofapp.edge.dhcp_options import (
    BOOTP_FIXED_LEN, END, MAGIC_COOKIE, MIN_BOOTP_LEN, OPT_CLIENT_ID, OPT_MAX_MESSAGE_SIZE,
    OPT_MESSAGE, OPT_MESSAGE_TYPE, OPT_REQUESTED_ADDRESS, OPT_SERVER_ID, OPTIONS_OFFSET, PAD,
    choose_options, lease_options)
from srv6_ofapp.edge.flows import COOKIE_PORT, cookie, make_flow, to_controller

DhcpConfig = collections.namedtuple('DhcpConfig', 'gateway_mac domain lease_time',
                                    defaults=('openstacklocal', 86400))
DhcpConfig.__doc__ = """gateway_mac: source MAC of replies (the distributed gateway MAC);
domain: option 15 ('' sends none); lease_time: seconds (0xffffffff is infinite)."""

# -- events ---------------------------------------------------------------

OFFER = 'offer'
ACK = 'ack'
INFORM = 'inform'
NAK = 'nak'
RELEASE = 'release'
DECLINE = 'decline'
IGNORED_OTHER_SERVER = 'ignored_other_server'
IGNORED_FOREIGN_MAC = 'ignored_foreign_mac'
IGNORED_NO_IP = 'ignored_no_ip'
IGNORED_DHCP_DISABLED = 'ignored_dhcp_disabled'
IGNORED_MESSAGE_TYPE = 'ignored_message_type'
IGNORED_NO_SERVER_ADDRESS = 'ignored_no_server_address'
MALFORMED = 'malformed'
EVENTS = (OFFER, ACK, INFORM, NAK, RELEASE, DECLINE, IGNORED_OTHER_SERVER,
          IGNORED_FOREIGN_MAC, IGNORED_NO_IP, IGNORED_DHCP_DISABLED, IGNORED_MESSAGE_TYPE,
          IGNORED_NO_SERVER_ADDRESS, MALFORMED)

# -- protocol numbers (RFC 2131, 2132) -------------------------------------

DHCP_DISCOVER = 1
DHCP_OFFER = 2
DHCP_REQUEST = 3
DHCP_DECLINE = 4
DHCP_ACK = 5
DHCP_NAK = 6
DHCP_RELEASE = 7
DHCP_INFORM = 8
ANSWERED_TYPES = frozenset([DHCP_DISCOVER, DHCP_REQUEST, DHCP_DECLINE, DHCP_RELEASE,
                            DHCP_INFORM])

BOOTREQUEST = 1
BOOTREPLY = 2
BROADCAST_FLAG = 0x8000
LIMITED_BROADCAST = wire.BROADCAST_IP
UNSPECIFIED = wire.ZERO_IP
SERVER_PORT = 67
CLIENT_PORT = 68
REPLY_TTL = 64
IPPROTO_UDP = 17

ETHERNET_HTYPE = 1
MAC_LEN = 6

# Options of a request whose length the server relies on.
_REQUEST_OPTION_LENGTHS = {OPT_MESSAGE_TYPE: 1, OPT_REQUESTED_ADDRESS: 4, OPT_SERVER_ID: 4,
                           OPT_MAX_MESSAGE_SIZE: 2}

# -- where things are in a frame: Ethernet, IPv4 (options allowed), UDP, BOOTP -----

ETH_LEN = 14
ETH_TYPE_IP = b'\x08\x00'
_IP_FIXED = struct.Struct('!BxHxxH')          # version/ihl, total length, flags/fragment
_UDP = struct.Struct('!HHH')                  # source port, destination port, length
_BOOTP = struct.Struct('!BBBxIxxH4s4s4s4s6s')  # op htype hlen (hops) xid (secs) flags ci yi si gi chaddr
_MIN_FRAME = ETH_LEN + 20 + 8 + OPTIONS_OFFSET


# -- the dhcp table -----------------------------------------------------------

def port_flows(switch, lp):
    """What the ingress table admits as DHCP goes to the controller, through
    the port's packet-in meter."""
    return [make_flow('dhcp', 100, cookie(COOKIE_PORT, lp.port['id']),
                      to_controller(lp.ofport, switch.metered), in_port=lp.ofport)]


def network_flows(switch, network_id, members):
    return []


# -- the responder --------------------------------------------------------------

def handle_dhcp(frame, port, network, subnets, config):
    """(reply frame bytes or None, event name) for ``frame``, which arrived
    from ``port``; ``subnets`` are the subnets of the port's ``network``.
    Compiles the port for this one frame: the adapter keeps PortDhcp."""
    return PortDhcp(port, network, subnets, config).answer(frame)


class PortDhcp:
    """What a port's DHCP answers need, computed from the model once: its MAC
    and address as bytes, its subnet's services address, the options a lease
    offers it; and the reply templates built so far (a few per client)."""

    # Templates and parsed options kept per port; a client sends two or
    # three kinds of messages, a port that sends more kinds (or garbage)
    # just starts over.
    CACHE_SIZE = 16

    def __init__(self, port, network, subnets, config):
        self.port = port
        self.network = network
        self.config = config
        self.mac = wire.mac_bytes(port['mac_address'])
        self.gateway_mac = wire.mac_bytes(config.gateway_mac)
        address, subnet, why_not = dhcp_address(port, subnets)
        self.address_text, self.subnet, self.why_not = address, subnet, why_not
        self.address = wire.ip_bytes(address) if address else None
        server_id = ipam.service_address(subnet) if subnet else None
        self.server_text = server_id
        self.server = wire.ip_bytes(server_id) if server_id else None
        self._offered = {}
        self._templates = {}
        self._parsed = {}

    def answer(self, frame):
        """(reply frame bytes or None, event name) for a frame from the port."""
        try:
            request = parse_request(frame, self._parsed)
            if len(self._parsed) > self.CACHE_SIZE:
                self._parsed.clear()
        except Exception:  # Malformed, or whatever a VM's bytes make a parser raise
            return None, MALFORMED
        message_type = request.message_type
        if message_type not in ANSWERED_TYPES:
            return None, IGNORED_MESSAGE_TYPE
        if request.chaddr != self.mac:
            return None, IGNORED_FOREIGN_MAC
        if message_type == DHCP_RELEASE:
            return None, RELEASE
        if message_type == DHCP_DECLINE:
            return None, DECLINE
        if self.address is None:
            return None, self.why_not
        if self.server is None:
            return None, IGNORED_NO_SERVER_ADDRESS
        if message_type == DHCP_DISCOVER:
            return self._reply(request, DHCP_OFFER), OFFER
        if message_type == DHCP_INFORM:
            return self._reply(request, DHCP_ACK), INFORM
        requested = requested_address(request, self.server)
        if requested is None:
            return None, IGNORED_OTHER_SERVER
        if requested != self.address:
            return self._reply(request, DHCP_NAK, requested), NAK
        return self._reply(request, DHCP_ACK), ACK

    # -- replies from templates --

    def _reply(self, request, reply_type, requested=None):
        key = (reply_type, request.message_type == DHCP_INFORM, request.raw_options, requested)
        template = self._templates.get(key)
        if template is None:
            if len(self._templates) >= self.CACHE_SIZE:
                self._templates.clear()
            template = self._templates[key] = self._template(request, reply_type, requested)
        return template.fill(request)

    def _template(self, request, reply_type, requested):
        if reply_type == DHCP_NAK:
            # RFC 2131 table 3: a NAK carries the server identifier, a message
            # and the client identifier (RFC 6842), nothing else.
            message = 'requested address %s is not this port\'s' % wire.ip_text(requested)
            options = [(OPT_MESSAGE_TYPE, bytes([DHCP_NAK])), (OPT_SERVER_ID, self.server),
                       (OPT_MESSAGE, message.encode('ascii'))]
            if OPT_CLIENT_ID in request.options:
                options.append((OPT_CLIENT_ID, request.options[OPT_CLIENT_ID]))
            return ReplyTemplate(self, options, UNSPECIFIED, UNSPECIFIED, b'', False,
                                 broadcast=True)
        inform = request.message_type == DHCP_INFORM
        offered, extras = self._lease(inform)
        if OPT_CLIENT_ID in request.options:
            offered = dict(offered)
            offered[OPT_CLIENT_ID] = request.options[OPT_CLIENT_ID]
        options = [(OPT_MESSAGE_TYPE, bytes([reply_type]))]
        options += choose_options(offered, request.options)
        siaddr = wire.ip_bytes(extras.siaddr) if extras.siaddr else UNSPECIFIED
        # RFC 2131 table 3: an OFFER has no ciaddr, an ACK echoes it; an ACK
        # to INFORM carries no lease and no yiaddr.
        return ReplyTemplate(self, options, UNSPECIFIED if inform else self.address, siaddr,
                             extras.boot_file.encode('ascii'),
                             echo_ciaddr=reply_type != DHCP_OFFER)

    def _lease(self, inform):
        found = self._offered.get(inform)
        if found is None:
            found = self._offered[inform] = lease_options(
                self.port, self.network, self.subnet, self.address_text, self.server_text,
                self.config, with_lease=not inform)
        return found


class ReplyTemplate:
    """One reply frame with the per-request fields zero, and the checksum
    sums of the rest; ``fill(request)`` patches in xid, flags, ciaddr,
    giaddr and the IP destination (RFC 2131 4.1, no relay: a NAK is
    broadcast; a client with an address (ciaddr) gets unicast; one that asked
    for broadcast gets it; else unicast to the new address, which the client
    accepts unconfigured).  The Ethernet destination is always the client's
    MAC: the frame goes to exactly one port."""

    # 24..70 of the frame: IP checksum, source, destination; UDP ports and
    # length, checksum; BOOTP op..hops, xid, (secs), flags, ciaddr, yiaddr
    # and siaddr, giaddr.
    _PATCH = struct.Struct('!H4s4s6sH4sI2xH4s8s4s')

    __slots__ = ('head', 'tail', 'server', 'udp_head', 'bootp_head', 'yi_si', 'yiaddr',
                 'ip_sum', 'udp_sum', 'echo_ciaddr', 'broadcast')

    def __init__(self, port, options, yiaddr, siaddr, boot_file, echo_ciaddr, broadcast=False):
        options_len = sum(2 + len(value) for _, value in options)
        padding = max(0, MIN_BOOTP_LEN - (OPTIONS_OFFSET + options_len + 1))
        option_bytes = b''.join(bytes([code, len(value)]) + value for code, value in options)
        after_giaddr = (port.mac + bytes(10) + bytes(64) + boot_file.ljust(128, b'\0')[:128] +
                        MAGIC_COOKIE + option_bytes + bytes([END]) + bytes(padding))
        bootp_len = 28 + len(after_giaddr)
        udp_len = 8 + bootp_len
        self.head = (port.mac + port.gateway_mac + ETH_TYPE_IP +
                     struct.pack('!BBHHHBB', 0x45, 0, 20 + udp_len, 0, 0, REPLY_TTL,
                                 IPPROTO_UDP))
        self.server = port.server
        self.udp_head = struct.pack('!HHH', SERVER_PORT, CLIENT_PORT, udp_len)
        self.bootp_head = bytes([BOOTREPLY, ETHERNET_HTYPE, MAC_LEN, 0])
        self.yiaddr = yiaddr
        self.yi_si = yiaddr + siaddr
        self.tail = after_giaddr
        self.echo_ciaddr = echo_ciaddr
        self.broadcast = broadcast
        # The sums of everything but the patched fields (zero there).
        self.ip_sum = wire.word_sum(self.head[ETH_LEN:] + bytes(2) + self.server + bytes(4))
        pseudo = self.server + bytes(4) + struct.pack('!BBH', 0, IPPROTO_UDP, udp_len)
        self.udp_sum = wire.word_sum(pseudo + self.udp_head + bytes(2) + self.bootp_head +
                                     bytes(20) + self.yi_si + bytes(4) + after_giaddr)

    def fill(self, request):
        ciaddr = request.ciaddr
        if self.broadcast:
            destination = LIMITED_BROADCAST
        elif ciaddr != UNSPECIFIED:
            destination = ciaddr
        elif request.flags & BROADCAST_FLAG or self.yiaddr == UNSPECIFIED:
            destination = LIMITED_BROADCAST
        else:
            destination = self.yiaddr
        if not self.echo_ciaddr:
            ciaddr = UNSPECIFIED
        giaddr = request.giaddr
        to = int.from_bytes(destination, 'big')
        udp_checksum = wire.checksum(self.udp_sum + to + request.xid + request.flags +
                                     int.from_bytes(ciaddr, 'big') +
                                     int.from_bytes(giaddr, 'big')) or 0xffff
        return self.head + self._PATCH.pack(
            wire.checksum(self.ip_sum + to), self.server, destination, self.udp_head,
            udp_checksum, self.bootp_head, request.xid, request.flags, ciaddr, self.yi_si,
            giaddr) + self.tail


# -- reading the request -----------------------------------------------------

class Malformed(ValueError):
    """The frame is not a DHCP request this server can read."""


Request = collections.namedtuple(
    'Request', 'message_type xid flags ciaddr giaddr chaddr ip_dst options raw_options')
Request.__doc__ = """A DHCP request: addresses as 4 bytes (chaddr 6), xid and flags as
integers; options {code: raw value bytes} and raw_options the bytes they
were read from (what the reply templates are keyed by)."""


def parse_request(frame, cache=None):
    """The Request in an Ethernet frame; raises Malformed.  ``cache``
    ({raw options: options}) saves walking a client's options again."""
    if len(frame) < _MIN_FRAME or frame[12:14] != ETH_TYPE_IP:
        raise Malformed('not IPv4, or too short for DHCP')
    version_ihl, total_length, fragment = _IP_FIXED.unpack_from(frame, ETH_LEN)
    ihl = (version_ihl & 0x0f) * 4
    if version_ihl >> 4 != 4 or ihl < 20 or frame[ETH_LEN + 9] != IPPROTO_UDP:
        raise Malformed('not UDP over IPv4')
    if fragment & 0x3fff:
        raise Malformed('IP fragment')
    ip_end = ETH_LEN + total_length
    if total_length < ihl or ip_end > len(frame):
        raise Malformed('truncated IP datagram')
    udp_at = ETH_LEN + ihl
    if udp_at + 8 > ip_end:
        raise Malformed('truncated UDP header')
    _, dst_port, udp_length = _UDP.unpack_from(frame, udp_at)
    if dst_port != SERVER_PORT:
        raise Malformed('not to the DHCP server port')
    udp_end = udp_at + udp_length
    if udp_length < 8 or udp_end > ip_end:
        raise Malformed('truncated UDP datagram')
    bootp_at = udp_at + 8
    if udp_end - bootp_at < OPTIONS_OFFSET or \
            frame[bootp_at + BOOTP_FIXED_LEN:bootp_at + OPTIONS_OFFSET] != MAGIC_COOKIE:
        raise Malformed('no DHCP magic cookie')
    op, htype, hlen, xid, flags, ciaddr, _, _, giaddr, chaddr = \
        _BOOTP.unpack_from(frame, bootp_at)
    if op != BOOTREQUEST:
        raise Malformed('not a BOOTREQUEST')
    if htype != ETHERNET_HTYPE or hlen != MAC_LEN:
        raise Malformed('not an Ethernet client')
    raw_options = bytes(frame[bootp_at + OPTIONS_OFFSET:udp_end])
    options = cache.get(raw_options) if cache is not None else None
    if options is None:
        options = parse_options(raw_options)
        for code, length in _REQUEST_OPTION_LENGTHS.items():
            if code in options and len(options[code]) != length:
                raise Malformed('option %d has length %d' % (code, len(options[code])))
        if OPT_MESSAGE_TYPE not in options:
            raise Malformed('no DHCP message type')
        if cache is not None:
            cache[raw_options] = options
    return Request(options[OPT_MESSAGE_TYPE][0], xid, flags, ciaddr, giaddr, chaddr,
                   bytes(frame[ETH_LEN + 16:ETH_LEN + 20]), options, raw_options)


def peek_message_type(frame):
    """The DHCP message type of a frame, or None if it is no DHCP request
    (for shedding load: edge/datapath.py)."""
    try:
        return parse_request(frame).message_type
    except Exception:
        return None


def parse_options(raw):
    """{code: value} of the options after the magic cookie.

    RFC 2132 allows PAD anywhere; a repeated option is concatenated (RFC
    3396); a missing END is tolerated, an option running past the end is
    not."""
    options = {}
    offset = 0
    end = len(raw)
    while offset < end:
        code = raw[offset]
        if code == PAD:
            offset += 1
            continue
        if code == END:
            break
        if offset + 2 > end:
            raise Malformed('option %d has no length' % code)
        length = raw[offset + 1]
        value = raw[offset + 2:offset + 2 + length]
        if len(value) != length:
            raise Malformed('option %d is truncated' % code)
        options[code] = options[code] + value if code in options else value
        offset += 2 + length
    return options


def requested_address(request, server):
    """The address (4 bytes) a REQUEST asks to be confirmed (RFC 2131
    4.3.2), or None when the client addressed another server; ``server``:
    our server identifier (4 bytes)."""
    options = request.options
    if OPT_SERVER_ID in options:
        # SELECTING: the client answers one OFFER, naming its server.
        if options[OPT_SERVER_ID] != server:
            return None
        return options.get(OPT_REQUESTED_ADDRESS, request.ciaddr)
    if OPT_REQUESTED_ADDRESS in options:
        # INIT-REBOOT: a client that remembers its address after a reboot.
        return options[OPT_REQUESTED_ADDRESS]
    # RENEWING is unicast to the server that gave the lease, REBINDING is
    # broadcast; both carry the address in ciaddr.
    if request.ip_dst not in (LIMITED_BROADCAST, server):
        return None
    return request.ciaddr


# -- what the model says ------------------------------------------------------

def dhcp_address(port, subnets):
    """(address, subnet, None): the port's first fixed IP on a subnet with
    DHCP enabled; or (None, None, event) saying why there is none."""
    subnets_by_id = {subnet['id']: subnet for subnet in subnets}
    known = [(fixed_ip['ip_address'], subnets_by_id[fixed_ip['subnet_id']])
             for fixed_ip in port.get('fixed_ips') or ()
             if fixed_ip.get('subnet_id') in subnets_by_id]
    for address, subnet in known:
        if subnet.get('enable_dhcp', True):
            return address, subnet, None
    return None, None, IGNORED_DHCP_DISABLED if known else IGNORED_NO_IP
