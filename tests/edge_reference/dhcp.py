"""Distributed DHCP: the reply to a VM's DHCP message, computed from the model.

Pure functions (faucet style): the OpenFlow adapter hands over the raw frame
of a packet-in and the model documents of the port it came in on; it gets
back the reply frame (or None) and an event name to count.  No I/O here.

    reply, event = handle_dhcp(frame, port, network, subnets, config)

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

Options: the product's rules (srv6_ofapp/edge/dhcp_options.py), as os_ken
options: the reference differs from the product in how it parses and
builds packets, not in what it answers.

Not handled: relay agents (giaddr is echoed, replies are not sent to it),
option overload (52), IPv6.
"""

import collections

import netaddr
from os_ken.lib.packet import dhcp
from os_ken.lib.packet import ether_types
from os_ken.lib.packet import ethernet
from os_ken.lib.packet import in_proto
from os_ken.lib.packet import ipv4
from os_ken.lib.packet import packet
from os_ken.lib.packet import udp

from srv6_ofapp import ipam
from srv6_ofapp.edge import dhcp_options
from srv6_ofapp.edge.dhcp_options import (
    BOOTP_FIXED_LEN, END, MAGIC_COOKIE, MIN_BOOTP_LEN, OPT_CLIENT_ID, OPT_MAX_MESSAGE_SIZE,
    OPT_MESSAGE, OPT_MESSAGE_TYPE, OPT_REQUESTED_ADDRESS, OPT_SERVER_ID, OPTIONS_OFFSET, PAD,
    SNAME_OFFSET, ip_text, lease_options)
from srv6_ofapp.edge.dhcp import (  # noqa: F401 (the events and config the tests name)
    ACK, DECLINE, EVENTS, IGNORED_DHCP_DISABLED, IGNORED_FOREIGN_MAC, IGNORED_MESSAGE_TYPE,
    IGNORED_NO_IP, IGNORED_NO_SERVER_ADDRESS, IGNORED_OTHER_SERVER, INFORM, MALFORMED, NAK,
    OFFER, RELEASE, DhcpConfig)
from srv6_ofapp.edge.flows import COOKIE_PORT, cookie, make_flow, to_controller

# -- protocol numbers os_ken.lib.packet.dhcp does not name -----------------

DHCP_DECLINE = 4
DHCP_NAK = 6
DHCP_RELEASE = 7
DHCP_INFORM = 8

BROADCAST_FLAG = 0x8000
LIMITED_BROADCAST = '255.255.255.255'
UNSPECIFIED = '0.0.0.0'
SERVER_PORT = 67
CLIENT_PORT = 68
REPLY_TTL = 64

ETHERNET_HTYPE = 1
MAC_LEN = 6

# Options of a request whose length the server relies on.
_REQUEST_OPTION_LENGTHS = {OPT_MESSAGE_TYPE: 1, OPT_REQUESTED_ADDRESS: 4, OPT_SERVER_ID: 4,
                           OPT_MAX_MESSAGE_SIZE: 2}

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
    from ``port``; ``subnets`` are the subnets of the port's ``network``."""
    try:
        request = parse_request(frame)
    except Exception:  # whatever a VM sends, and os_ken's parsers raise, must not kill the handler
        return None, MALFORMED

    message_type = request.message_type
    if message_type not in (dhcp.DHCP_DISCOVER, dhcp.DHCP_REQUEST, DHCP_DECLINE,
                            DHCP_RELEASE, DHCP_INFORM):
        return None, IGNORED_MESSAGE_TYPE
    if netaddr.EUI(request.header.chaddr) != netaddr.EUI(port['mac_address']):
        return None, IGNORED_FOREIGN_MAC
    if message_type == DHCP_RELEASE:
        return None, RELEASE
    if message_type == DHCP_DECLINE:
        return None, DECLINE

    address, subnet, why_not = dhcp_address(port, subnets)
    if address is None:
        return None, why_not
    server_id = ipam.service_address(subnet)
    if server_id is None:
        return None, IGNORED_NO_SERVER_ADDRESS

    if message_type == dhcp.DHCP_DISCOVER:
        return _lease_reply(request, dhcp.DHCP_OFFER, address, subnet, server_id, port,
                            network, config), OFFER
    if message_type == DHCP_INFORM:
        return _lease_reply(request, dhcp.DHCP_ACK, address, subnet, server_id, port,
                            network, config), INFORM
    requested = requested_address(request, server_id)
    if requested is None:
        return None, IGNORED_OTHER_SERVER
    if requested != address:
        return _nak(request, server_id, config,
                    'requested address %s is not this port\'s' % requested), NAK
    return _lease_reply(request, dhcp.DHCP_ACK, address, subnet, server_id, port,
                        network, config), ACK


# -- reading the request -----------------------------------------------------

class Malformed(ValueError):
    """The frame is not a DHCP request this server can read."""


class DhcpRequest(collections.namedtuple('DhcpRequest', 'ip_dst header options')):
    """ip_dst: the IP destination (broadcast, or the server when renewing);
    header: os_ken dhcp.dhcp of the fixed BOOTP fields (options not parsed);
    options: {code: raw value bytes}."""
    __slots__ = ()

    @property
    def message_type(self):
        return self.options[OPT_MESSAGE_TYPE][0]


def parse_request(frame):
    """The DhcpRequest in an Ethernet frame; raises Malformed (or any parser
    error on bytes that are not even that)."""
    eth, _, rest = ethernet.ethernet.parser(bytes(frame))
    if eth.ethertype != ether_types.ETH_TYPE_IP:
        raise Malformed('not IPv4')
    ip, _, rest = ipv4.ipv4.parser(rest)
    if ip.version != 4 or ip.header_length < 5 or ip.proto != in_proto.IPPROTO_UDP:
        raise Malformed('not UDP over IPv4')
    if ip.offset or ip.flags & 0x1:
        raise Malformed('IP fragment')
    # os_ken slices to the lengths the headers claim: shorter means truncated.
    if len(rest) != ip.total_length - ip.header_length * 4:
        raise Malformed('truncated IP datagram')
    datagram, _, payload = udp.udp.parser(rest)
    if datagram.dst_port != SERVER_PORT:
        raise Malformed('not to the DHCP server port')
    if datagram.total_length < udp.udp._MIN_LEN or \
            len(payload) != datagram.total_length - udp.udp._MIN_LEN:
        raise Malformed('truncated UDP datagram')
    if len(payload) < OPTIONS_OFFSET or \
            payload[BOOTP_FIXED_LEN:OPTIONS_OFFSET] != MAGIC_COOKIE:
        raise Malformed('no DHCP magic cookie')
    # os_ken reads the fixed fields; sname and file are blanked because the
    # server never reads them and os_ken refuses non-ASCII bytes in them.
    fixed = payload[:SNAME_OFFSET] + bytes(BOOTP_FIXED_LEN - SNAME_OFFSET)
    header, _, _ = dhcp.dhcp.parser(fixed)
    if header.op != dhcp.DHCP_BOOT_REQUEST:
        raise Malformed('not a BOOTREQUEST')
    if header.htype != ETHERNET_HTYPE or header.hlen != MAC_LEN:
        raise Malformed('not an Ethernet client')
    options = parse_options(payload[OPTIONS_OFFSET:])
    for code, length in _REQUEST_OPTION_LENGTHS.items():
        if code in options and len(options[code]) != length:
            raise Malformed('option %d has length %d' % (code, len(options[code])))
    if OPT_MESSAGE_TYPE not in options:
        raise Malformed('no DHCP message type')
    return DhcpRequest(ip.dst, header, options)


def parse_options(raw):
    """{code: value} of the options after the magic cookie.

    Walked here rather than by os_ken's dhcp.options, which stops at the
    first PAD (RFC 2132 allows PAD anywhere) and keeps a truncated option
    as raw bytes.  A repeated option is concatenated (RFC 3396); a missing
    END is tolerated, an option running past the end is not."""
    options = {}
    offset = 0
    while offset < len(raw):
        code = raw[offset]
        if code == PAD:
            offset += 1
            continue
        if code == END:
            break
        if offset + 2 > len(raw):
            raise Malformed('option %d has no length' % code)
        length = raw[offset + 1]
        value = raw[offset + 2:offset + 2 + length]
        if len(value) != length:
            raise Malformed('option %d is truncated' % code)
        options[code] = options.get(code, b'') + value
        offset += 2 + length
    return options


def requested_address(request, server_id):
    """The address a REQUEST asks to be confirmed (RFC 2131 4.3.2), or None
    when the client addressed another server."""
    options = request.options
    ciaddr = request.header.ciaddr
    if OPT_SERVER_ID in options:
        # SELECTING: the client answers one OFFER, naming its server.
        if ip_text(options[OPT_SERVER_ID]) != server_id:
            return None
        if OPT_REQUESTED_ADDRESS in options:
            return ip_text(options[OPT_REQUESTED_ADDRESS])
        return ciaddr
    if OPT_REQUESTED_ADDRESS in options:
        # INIT-REBOOT: a client that remembers its address after a reboot.
        return ip_text(options[OPT_REQUESTED_ADDRESS])
    # RENEWING is unicast to the server that gave the lease, REBINDING is
    # broadcast; both carry the address in ciaddr.
    if request.ip_dst not in (LIMITED_BROADCAST, server_id):
        return None
    return ciaddr


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


# -- building the reply --------------------------------------------------------

def _lease_reply(request, message_type, address, subnet, server_id, port, network, config):
    """OFFER or ACK; an ACK to INFORM carries no lease and no yiaddr."""
    inform = request.message_type == DHCP_INFORM
    offered, extras = lease_options(port, network, subnet, address, server_id, config,
                                    with_lease=not inform)
    if OPT_CLIENT_ID in request.options:
        offered[OPT_CLIENT_ID] = request.options[OPT_CLIENT_ID]
    options = [dhcp.option(OPT_MESSAGE_TYPE, bytes([message_type]))]
    options += choose_options(offered, request)
    # RFC 2131 table 3: an OFFER has no ciaddr, an ACK echoes it.
    ciaddr = UNSPECIFIED if message_type == dhcp.DHCP_OFFER else request.header.ciaddr
    return _reply_frame(request, config, server_id, options,
                        yiaddr=UNSPECIFIED if inform else address, ciaddr=ciaddr,
                        siaddr=extras.siaddr or UNSPECIFIED, boot_file=extras.boot_file)


def _nak(request, server_id, config, message):
    # RFC 2131 table 3: a NAK carries the server identifier, a message and
    # the client identifier (RFC 6842), nothing else.
    options = [dhcp.option(OPT_MESSAGE_TYPE, bytes([DHCP_NAK])),
               dhcp.option(OPT_SERVER_ID, netaddr.IPAddress(server_id).packed),
               dhcp.option(OPT_MESSAGE, message.encode('ascii'))]
    if OPT_CLIENT_ID in request.options:
        options.append(dhcp.option(OPT_CLIENT_ID, request.options[OPT_CLIENT_ID]))
    return _reply_frame(request, config, server_id, options, yiaddr=UNSPECIFIED,
                        ciaddr=UNSPECIFIED, siaddr=UNSPECIFIED, boot_file='')


def reply_destination(request, reply_type, yiaddr):
    """RFC 2131 4.1 (no relay): a NAK is broadcast; a client with an
    address (ciaddr) gets unicast; one that asked for broadcast gets it;
    else unicast to the new address, which the client accepts unconfigured."""
    if reply_type == DHCP_NAK:
        return LIMITED_BROADCAST
    if request.header.ciaddr != UNSPECIFIED:
        return request.header.ciaddr
    if request.header.flags & BROADCAST_FLAG or yiaddr == UNSPECIFIED:
        return LIMITED_BROADCAST
    return yiaddr


def _reply_frame(request, config, server_id, options, yiaddr, ciaddr, siaddr, boot_file):
    header = request.header
    reply_type = options[0].value[0]
    options_len = sum(2 + len(option.value) for option in options)
    padding = max(0, MIN_BOOTP_LEN - (OPTIONS_OFFSET + options_len + 1))
    # A raw last item stops os_ken from adding its own END.
    options.append(bytes([END]) + bytes(padding))
    reply = packet.Packet()
    reply.add_protocol(ethernet.ethernet(dst=header.chaddr, src=config.gateway_mac,
                                         ethertype=ether_types.ETH_TYPE_IP))
    reply.add_protocol(ipv4.ipv4(src=server_id,
                                 dst=reply_destination(request, reply_type, yiaddr),
                                 proto=in_proto.IPPROTO_UDP, ttl=REPLY_TTL))
    reply.add_protocol(udp.udp(src_port=SERVER_PORT, dst_port=CLIENT_PORT))
    reply.add_protocol(dhcp.dhcp(op=dhcp.DHCP_BOOT_REPLY, chaddr=header.chaddr,
                                 options=dhcp.options(option_list=options),
                                 hops=0, xid=header.xid, flags=header.flags,
                                 ciaddr=ciaddr, yiaddr=yiaddr, siaddr=siaddr,
                                 giaddr=header.giaddr, boot_file=boot_file))
    reply.serialize()
    return bytes(reply.data)


def choose_options(offered, request):
    """The options a reply to ``request`` carries (the product's rule), as
    os_ken options."""
    return [dhcp.option(code, value)
            for code, value in dhcp_options.choose_options(offered, request.options)]
