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

Options (RFC 2132).  Sent always: 53 message type, 54 server identifier,
1 subnet mask, 3 router, 51 lease time (not to INFORM), 61 client
identifier echoed (RFC 6842).  Sent when the client's parameter request list
(55) asks for them, or when it gave none: 28 broadcast, 6 DNS (only if the
subnet has some), 15 domain, 12 host name, 26 MTU, 58/59 T1/T2, 121
classless routes, and the port's extra_dhcp_opts.  249 (Microsoft's copy of
121) only when asked for.  Requested options go in the client's order
(RFC 2131 4.3.1) and are dropped, last first, when they would overflow the
client's maximum message size (57, at least 576).  Options longer than 255
bytes are not split (RFC 3396): they are left out.

Not handled: relay agents (giaddr is echoed, replies are not sent to it),
option overload (52), IPv6.
"""

import collections
import re
import struct

import netaddr
from os_ken.lib import addrconv
from os_ken.lib.packet import dhcp
from os_ken.lib.packet import ether_types
from os_ken.lib.packet import ethernet
from os_ken.lib.packet import in_proto
from os_ken.lib.packet import ipv4
from os_ken.lib.packet import packet
from os_ken.lib.packet import udp

from srv6_ofapp import ipam

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

# -- protocol numbers os_ken.lib.packet.dhcp does not name -----------------

DHCP_DECLINE = 4
DHCP_NAK = 6
DHCP_RELEASE = 7
DHCP_INFORM = 8

OPT_SUBNET_MASK = dhcp.DHCP_SUBNET_MASK_OPT                    # 1
OPT_ROUTER = dhcp.DHCP_GATEWAY_ADDR_OPT                        # 3
OPT_DNS_SERVERS = dhcp.DHCP_DNS_SERVER_ADDR_OPT                # 6
OPT_HOST_NAME = dhcp.DHCP_HOST_NAME_OPT                        # 12
OPT_DOMAIN_NAME = dhcp.DHCP_DOMAIN_NAME_OPT                    # 15
OPT_INTERFACE_MTU = dhcp.DHCP_INTERFACE_MTU_OPT                # 26
OPT_BROADCAST = 28
OPT_NTP_SERVERS = 42
OPT_REQUESTED_ADDRESS = dhcp.DHCP_REQUESTED_IP_ADDR_OPT        # 50
OPT_LEASE_TIME = dhcp.DHCP_IP_ADDR_LEASE_TIME_OPT              # 51
OPT_MESSAGE_TYPE = dhcp.DHCP_MESSAGE_TYPE_OPT                  # 53
OPT_SERVER_ID = dhcp.DHCP_SERVER_IDENTIFIER_OPT                # 54
OPT_PARAMETER_REQUEST_LIST = dhcp.DHCP_PARAMETER_REQUEST_LIST_OPT  # 55
OPT_MESSAGE = 56
OPT_MAX_MESSAGE_SIZE = 57
OPT_RENEWAL_TIME = dhcp.DHCP_RENEWAL_TIME_OPT                  # 58
OPT_REBINDING_TIME = dhcp.DHCP_REBINDING_TIME_OPT              # 59
OPT_CLIENT_ID = 61
OPT_TFTP_SERVER_NAME = 66
OPT_BOOTFILE_NAME = 67
OPT_CLASSLESS_ROUTES = dhcp.DHCP_CLASSLESS_ROUTE_OPT           # 121
OPT_TFTP_SERVER_ADDRESS = 150
OPT_MS_CLASSLESS_ROUTES = 249

# Sent whatever the parameter request list says: without them a client
# cannot use the lease (RFC 2131 table 3 makes 51 and 54 mandatory).
ALWAYS_SENT = frozenset([OPT_MESSAGE_TYPE, OPT_SERVER_ID, OPT_CLIENT_ID, OPT_LEASE_TIME,
                         OPT_SUBNET_MASK, OPT_ROUTER])
# Only for clients that ask: 249 repeats 121 for old Windows, which asks for it.
ONLY_WHEN_REQUESTED = frozenset([OPT_MS_CLASSLESS_ROUTES])

INFINITE_LEASE = 0xffffffff
BROADCAST_FLAG = 0x8000
LIMITED_BROADCAST = '255.255.255.255'
UNSPECIFIED = '0.0.0.0'
SERVER_PORT = 67
CLIENT_PORT = 68
REPLY_TTL = 64

MAGIC_COOKIE = b'\x63\x82\x53\x63'
PAD = 0
END = 255
BOOTP_FIXED_LEN = dhcp.dhcp._MIN_LEN          # op .. file: 236 bytes
SNAME_OFFSET = 44                             # where sname and file start
OPTIONS_OFFSET = BOOTP_FIXED_LEN + len(MAGIC_COOKIE)
# RFC 1542 2.1: some BOOTP-era clients drop replies shorter than this.
MIN_BOOTP_LEN = 300
# RFC 2131 2: every client accepts a 576-byte IP datagram.
MIN_MAX_MESSAGE_SIZE = 576
IP_UDP_HEADERS_LEN = 20 + 8
ETHERNET_HTYPE = 1
MAC_LEN = 6

# Options of a request whose length the server relies on.
_REQUEST_OPTION_LENGTHS = {OPT_MESSAGE_TYPE: 1, OPT_REQUESTED_ADDRESS: 4, OPT_SERVER_ID: 4,
                           OPT_MAX_MESSAGE_SIZE: 2}

_HOSTNAME_LABEL = re.compile(r'[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?')


# -- the entry point ---------------------------------------------------------

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
        if _address(options[OPT_SERVER_ID]) != server_id:
            return None
        if OPT_REQUESTED_ADDRESS in options:
            return _address(options[OPT_REQUESTED_ADDRESS])
        return ciaddr
    if OPT_REQUESTED_ADDRESS in options:
        # INIT-REBOOT: a client that remembers its address after a reboot.
        return _address(options[OPT_REQUESTED_ADDRESS])
    # RENEWING is unicast to the server that gave the lease, REBINDING is
    # broadcast; both carry the address in ciaddr.
    if request.ip_dst not in (LIMITED_BROADCAST, server_id):
        return None
    return ciaddr


def _address(value):
    return addrconv.ipv4.bin_to_text(value)


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


def host_name(port, address):
    """The port name when it is a valid host name label, else Neutron's
    'host-10-0-0-5'."""
    name = port.get('name') or ''
    if _HOSTNAME_LABEL.fullmatch(name):
        return name
    return 'host-' + address.replace('.', '-')


def classless_routes(routes):
    """Option 121 (RFC 3442) for [(destination CIDR, router)]: per route the
    prefix length, the destination's significant octets, the router."""
    encoded = bytearray()
    for destination, router in routes:
        network = netaddr.IPNetwork(destination)
        encoded.append(network.prefixlen)
        encoded += network.network.packed[:(network.prefixlen + 7) // 8]
        encoded += netaddr.IPAddress(router, version=4).packed
    return bytes(encoded)


# -- extra_dhcp_opts -----------------------------------------------------------

def _ip_list(value):
    return b''.join(netaddr.IPAddress(item.strip(), version=4).packed
                    for item in value.split(','))


def _single_ip(value):
    encoded = _ip_list(value)
    if len(encoded) != 4:
        raise ValueError('one address expected')
    return encoded


def _uint16(value):
    return struct.pack('!H', int(value))


def _uint32(value):
    return struct.pack('!I', int(value))


def _text(value):
    return value.encode('utf-8')


def _route_list(value):
    """dnsmasq's 'destination/len,router,destination/len,router'."""
    items = [item.strip() for item in value.split(',')]
    if len(items) % 2:
        raise ValueError('destination and router pairs expected')
    return classless_routes(zip(items[::2], items[1::2]))


# dnsmasq's option names, as Neutron passes them.
EXTRA_OPTION_CODES = {
    'netmask': OPT_SUBNET_MASK,
    'router': OPT_ROUTER,
    'dns-server': OPT_DNS_SERVERS,
    'hostname': OPT_HOST_NAME,
    'domain-name': OPT_DOMAIN_NAME,
    'mtu': OPT_INTERFACE_MTU,
    'broadcast': OPT_BROADCAST,
    'ntp-server': OPT_NTP_SERVERS,
    'lease-time': OPT_LEASE_TIME,
    'T1': OPT_RENEWAL_TIME,
    'T2': OPT_REBINDING_TIME,
    'tftp-server': OPT_TFTP_SERVER_NAME,
    'bootfile-name': OPT_BOOTFILE_NAME,
    'classless-static-route': OPT_CLASSLESS_ROUTES,
    'tftp-server-address': OPT_TFTP_SERVER_ADDRESS,
}
# How values of known codes are encoded; other numeric names are sent as text.
EXTRA_OPTION_ENCODERS = {
    OPT_SUBNET_MASK: _single_ip,
    OPT_ROUTER: _ip_list,
    OPT_DNS_SERVERS: _ip_list,
    OPT_INTERFACE_MTU: _uint16,
    OPT_BROADCAST: _single_ip,
    OPT_NTP_SERVERS: _ip_list,
    OPT_LEASE_TIME: _uint32,
    OPT_RENEWAL_TIME: _uint32,
    OPT_REBINDING_TIME: _uint32,
    OPT_CLASSLESS_ROUTES: _route_list,
    OPT_TFTP_SERVER_ADDRESS: _ip_list,
    OPT_MS_CLASSLESS_ROUTES: _route_list,
}
# 'server-ip-address' (Ironic calls it '255', which is END as an option) is
# not an option: it is the BOOTP next-server field siaddr.
SERVER_IP_ADDRESS_NAMES = ('server-ip-address', '255')
# The protocol's own options are not the operator's to replace.
PROTECTED_CODES = frozenset([PAD, END, OPT_MESSAGE_TYPE, OPT_SERVER_ID, OPT_CLIENT_ID,
                             OPT_PARAMETER_REQUEST_LIST, OPT_REQUESTED_ADDRESS])

ExtraOptions = collections.namedtuple('ExtraOptions', 'options siaddr boot_file')
ExtraOptions.__doc__ = """options: {code: bytes, or None to suppress the option (an
empty value, as dnsmasq's 'router' with no address)}; siaddr: next server or None;
boot_file: the BOOTP file field or ''."""


def extra_options(port):
    """The port's IPv4 extra_dhcp_opts, encoded; values that do not parse
    are left out rather than sent broken."""
    options = {}
    siaddr = None
    for opt in port.get('extra_dhcp_opts') or ():
        if opt.get('ip_version', 4) != 4 or opt.get('opt_value') is None:
            continue
        name = opt['opt_name'].strip()
        name = name[len('option:'):] if name.startswith('option:') else name
        value = opt['opt_value'].strip()
        try:
            if name in SERVER_IP_ADDRESS_NAMES:
                siaddr = netaddr.IPAddress(value, version=4).format()
                continue
            code = EXTRA_OPTION_CODES.get(name) or (int(name) if name.isdigit() else None)
            if code is None or not 0 < code < 255 or code in PROTECTED_CODES:
                continue
            encoder = EXTRA_OPTION_ENCODERS.get(code, _text)
            options[code] = encoder(value) if value else None
        except (ValueError, struct.error, netaddr.AddrFormatError):
            continue
    boot_file = options.get(OPT_BOOTFILE_NAME) or b''
    # Legacy PXE ROMs read the file field, newer clients option 67: fill both.
    boot_file = boot_file.decode('ascii') if boot_file.isascii() and len(boot_file) < 128 \
        else ''
    return ExtraOptions(options, siaddr, boot_file)


# -- building the reply --------------------------------------------------------

def lease_options(port, network, subnet, address, server_id, config, with_lease=True):
    """({code: value bytes} offered to the port, in sending order, before the
    parameter request list and size limit choose among them; ExtraOptions)."""
    cidr = netaddr.IPNetwork(subnet['cidr'])
    extras = extra_options(port)
    gateway = subnet.get('gateway_ip')
    # Clients ignore option 3 when 121 is present, so the default route in
    # 121 follows whatever router option is sent, overridden or not.
    router = gateway
    if OPT_ROUTER in extras.options:
        router_value = extras.options[OPT_ROUTER]
        router = _address(router_value[:4]) if router_value else None

    options = {OPT_SERVER_ID: netaddr.IPAddress(server_id).packed}
    if with_lease:
        options[OPT_LEASE_TIME] = struct.pack('!I', config.lease_time)
        if config.lease_time != INFINITE_LEASE:
            options[OPT_RENEWAL_TIME] = struct.pack('!I', config.lease_time // 2)
            options[OPT_REBINDING_TIME] = struct.pack('!I', config.lease_time * 7 // 8)
    options[OPT_SUBNET_MASK] = cidr.netmask.packed
    if gateway:
        options[OPT_ROUTER] = netaddr.IPAddress(gateway).packed
    if cidr.prefixlen < 31:
        options[OPT_BROADCAST] = cidr.broadcast.packed
    if subnet.get('dns_nameservers'):
        options[OPT_DNS_SERVERS] = _ip_list(','.join(subnet['dns_nameservers']))
    if config.domain:
        options[OPT_DOMAIN_NAME] = config.domain.encode('ascii')
    options[OPT_HOST_NAME] = host_name(port, address).encode('ascii')
    if network.get('mtu'):
        options[OPT_INTERFACE_MTU] = struct.pack('!H', network['mtu'])
    routes = [(r['destination'], r['nexthop']) for r in subnet.get('host_routes') or ()]
    has_default = any(netaddr.IPNetwork(d).prefixlen == 0 for d, _ in routes)
    if router and not has_default:
        routes.append(('0.0.0.0/0', router))
    if routes:
        options[OPT_CLASSLESS_ROUTES] = options[OPT_MS_CLASSLESS_ROUTES] = \
            classless_routes(routes)

    # An extra option replaces the computed one in place, or comes after.
    options.update(extras.options)
    if OPT_CLASSLESS_ROUTES in extras.options and OPT_MS_CLASSLESS_ROUTES not in extras.options:
        options[OPT_MS_CLASSLESS_ROUTES] = extras.options[OPT_CLASSLESS_ROUTES]
    if not with_lease:
        for code in (OPT_LEASE_TIME, OPT_RENEWAL_TIME, OPT_REBINDING_TIME):
            options.pop(code, None)
    return {code: value for code, value in options.items() if value is not None}, extras


def choose_options(offered, request):
    """The options sent, as os_ken options: ALWAYS_SENT ones first, then the
    requested ones in the client's order (all but ONLY_WHEN_REQUESTED when it
    sent no list), each only while the message stays within the client's
    maximum size."""
    requested = request.options.get(OPT_PARAMETER_REQUEST_LIST)
    first = [code for code in offered if code in ALWAYS_SENT]
    if requested is None:
        then = [code for code in offered
                if code not in ALWAYS_SENT and code not in ONLY_WHEN_REQUESTED]
    else:
        then = [code for code in dict.fromkeys(requested)
                if code in offered and code not in ALWAYS_SENT]
    max_size = MIN_MAX_MESSAGE_SIZE
    if OPT_MAX_MESSAGE_SIZE in request.options:
        max_size = max(max_size, struct.unpack('!H', request.options[OPT_MAX_MESSAGE_SIZE])[0])
    room = max_size - IP_UDP_HEADERS_LEN - OPTIONS_OFFSET - 1  # 1: END
    chosen = []
    for code in first + then:
        value = offered[code]
        if len(value) > 255 or 2 + len(value) > room:
            continue
        room -= 2 + len(value)
        chosen.append(dhcp.option(code, value))
    return chosen


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
