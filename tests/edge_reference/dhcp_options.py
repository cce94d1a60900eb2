"""DHCP options: what a lease offers a port, and which of them a reply carries.

Pure functions over the model's documents.  Options (RFC 2132) the server
computes: 54 server identifier, 51/58/59 lease times, 1 subnet mask, 3
router, 28 broadcast, 6 DNS, 15 domain, 12 host name, 26 MTU, 121 (and 249)
classless routes; a port's extra_dhcp_opts (dnsmasq's names, as Neutron
passes them) replace or add to them.  ``choose_options`` picks what one
reply carries: the mandatory ones, then what the client's parameter request
list (55) asks for, in its order, within its maximum message size (57).
"""

import collections
import re
import struct

import netaddr
from os_ken.lib import addrconv
from os_ken.lib.packet import dhcp

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

# -- where the options are in a BOOTP message ------------------------------------

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

_HOSTNAME_LABEL = re.compile(r'[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?')



def ip_text(value):
    """The dotted text of a 4-byte IPv4 address."""
    return addrconv.ipv4.bin_to_text(value)


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


# -- what a lease offers ---------------------------------------------------------

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
        router = ip_text(router_value[:4]) if router_value else None

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


