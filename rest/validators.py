"""Attribute validators and converters, in the spirit of neutron_lib.api.validators.

A validator takes a value and returns it normalised, or raises
``ValueError`` with the reason, which the REST layer turns into Neutron's
"Invalid input for <attr>. Reason: <reason>." 400.  A reason quotes the
value cut short (exceptions.shown), and every validator takes time linear
in the size of its value; a list's length is checked before its items.
"""

import copy
import json
import uuid

import netaddr

from srv6_ofapp.exceptions import shown


def string(max_len=255, min_len=0):
    def check(value):
        if not isinstance(value, str):
            raise ValueError("'%s' is not a valid string" % shown(value))
        if len(value) < min_len:
            raise ValueError("'%s' is shorter than %d characters" % (shown(value), min_len))
        if len(value) > max_len:
            raise ValueError("'%s' exceeds maximum length of %d" % (shown(value), max_len))
        return value
    return check


def nullable(check):
    def nullable_check(value):
        return None if value is None else check(value)
    return nullable_check


def none_clears(check, empty):
    """Neutron's convention for attributes a client clears with null
    (binding:host_id, binding:profile): None becomes ``empty``."""
    def check_or_clear(value):
        return copy.deepcopy(empty) if value is None else check(value)
    return check_or_clear


def boolean(value):
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ('true', 'false', '1', '0'):
        return value.lower() in ('true', '1')
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise ValueError("'%s' cannot be converted to boolean" % shown(value))


def uuid_str(value):
    if isinstance(value, str) and len(value) in (32, 36):
        try:
            return str(uuid.UUID(value))
        except ValueError:
            pass
    raise ValueError("'%s' is not a valid UUID" % shown(value))


def integer(minimum=None, maximum=None):
    def check(value):
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise ValueError("'%s' is not an integer" % shown(value))
        try:
            number = int(value)
        except ValueError:
            raise ValueError("'%s' is not an integer" % shown(value))
        if minimum is not None and number < minimum:
            raise ValueError("'%s' is too small - must be at least '%d'" % (shown(number),
                                                                           minimum))
        if maximum is not None and number > maximum:
            raise ValueError("'%s' is too large - must be no larger than '%d'"
                             % (shown(number), maximum))
        return number
    return check


def mac_address(value):
    if not isinstance(value, str):
        raise ValueError("'%s' is not a valid MAC address" % shown(value))
    try:
        mac = netaddr.EUI(value, version=48, dialect=netaddr.mac_unix_expanded)
    except (netaddr.AddrFormatError, TypeError):
        raise ValueError("'%s' is not a valid MAC address" % shown(value))
    if mac.words[0] & 1 or int(mac) == 0:
        raise ValueError("'%s' is not a valid unicast MAC address" % shown(value))
    return str(mac)


def ip_address(version):
    def check(value):
        try:
            if not isinstance(value, str):
                raise TypeError
            # netaddr 1.x parses strictly (inet_pton): no "10.1" shorthand
            ip = netaddr.IPAddress(value)
        except (netaddr.AddrFormatError, TypeError, ValueError):
            raise ValueError("'%s' is not a valid IPv%d address" % (shown(value), version))
        if ip.version != version:
            raise ValueError("'%s' is not a valid IPv%d address" % (shown(value), version))
        return str(ip)
    return check


ipv4_address = ip_address(4)
ipv6_address = ip_address(6)


def ipv4_cidr(value):
    """An IPv4 network in canonical form; a host address with bits set past
    the prefix is refused (Neutron accepts it with a warning; we prefer an
    explicit error)."""
    try:
        if not isinstance(value, str) or '/' not in value:
            raise ValueError
        net = netaddr.IPNetwork(value)
    except (netaddr.AddrFormatError, TypeError, ValueError):
        raise ValueError("'%s' is not a valid IPv4 CIDR" % shown(value))
    if net.version != 4:
        raise ValueError("'%s' is not a valid IPv4 CIDR" % shown(value))
    if net.ip != net.network:
        raise ValueError("'%s' isn't a recognized IP subnet cidr, '%s' is recommended"
                         % (shown(value), net.cidr))
    return str(net.cidr)


def ipv4_address_or_cidr(value):
    if isinstance(value, str) and '/' in value:
        return ipv4_cidr(value)
    return ipv4_address(value)


def one_of(*values):
    """One of ``values``, whatever its letter case (given as listed)."""
    by_lower = {value.lower(): value for value in values}

    def check(value):
        if isinstance(value, str) and value.lower() in by_lower:
            return by_lower[value.lower()]
        raise ValueError("'%s' is not in %s" % (shown(value), list(values)))
    return check


def ip_cidr(value):
    """An IPv4 or IPv6 prefix in canonical form ('10.0.0.5' is
    '10.0.0.5/32'); host bits past the prefix are cleared."""
    try:
        if not isinstance(value, str):
            raise TypeError
        return str(netaddr.IPNetwork(value).cidr)
    except (netaddr.AddrFormatError, TypeError, ValueError):
        raise ValueError("'%s' is not a valid IP prefix" % shown(value))


def protocol_text(value):
    """An IP protocol as a client gives it: a name or a number (as text),
    lower-cased; whether it is one the model knows is the model's call."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ValueError("'%s' is not a protocol name or number" % shown(value))
    return str(value).lower()


def list_of(check, unique=False, max_items=None):
    """A list of items ``check`` accepts, at most ``max_items`` of them
    (counted before any item is checked), once each if ``unique``."""
    def check_list(value):
        if not isinstance(value, list):
            raise ValueError("'%s' is not a list" % shown(value))
        if max_items is not None and len(value) > max_items:
            raise ValueError('more than %d items (%d given)' % (max_items, len(value)))
        items = [check(item) for item in value]
        if unique:
            seen = set()
            for item in items:
                key = json.dumps(item, sort_keys=True)  # items may be dicts
                if key in seen:
                    raise ValueError("duplicate item '%s' in list" % shown(item))
                seen.add(key)
        return items
    return check_list


def dict_of(required=(), optional=None, allow_extra=False):
    """A dict whose keys are validated by ``required`` and ``optional``
    (name -> validator); unknown keys are refused unless ``allow_extra``."""
    required = dict(required)
    optional = dict(optional or {})

    def check(value):
        if not isinstance(value, dict):
            raise ValueError("'%s' is not a dictionary" % shown(value))
        result = {}
        for key, check_item in required.items():
            if key not in value:
                raise ValueError("missing key '%s' in %s" % (key, shown(value)))
            result[key] = check_item(value[key])
        for key, check_item in optional.items():
            if key in value:
                result[key] = check_item(value[key])
        extra = set(value) - set(required) - set(optional)
        if extra and not allow_extra:
            raise ValueError("unexpected keys %s in %s" % (shown(sorted(extra)), shown(value)))
        for key in extra:
            result[key] = value[key]
        return result
    return check


def json_size(check, max_bytes):
    """``check``'s value, at most ``max_bytes`` as compact JSON (a free-form
    value the model keeps: Neutron's binding:profile column is 4095 characters)."""
    def check_size(value):
        value = check(value)
        size = len(json.dumps(value, separators=(',', ':')))
        if size > max_bytes:
            raise ValueError('larger than %d characters as JSON (%d given)' % (max_bytes, size))
        return value
    return check_size


def datapath_id(value):
    """16 hex digits (OVS other_config:datapath-id style), lower case."""
    if isinstance(value, str):
        text = value.lower()
        if text.startswith('0x'):
            text = text[2:]
        if len(text) == 16 and all(c in '0123456789abcdef' for c in text):
            return text
    raise ValueError("'%s' is not a datapath id of 16 hex digits" % shown(value))


def printable(check):
    """``check``'s text, refused if it holds a control or other
    non-printable character (NUL, escapes, zero-width spaces): names that
    become device, namespace or file names, or ovs-vsctl arguments."""
    def check_printable(value):
        value = check(value)
        if not value.isprintable():
            raise ValueError("'%s' has a control or non-printable character"
                             % shown(value.encode('unicode_escape').decode()))
        return value
    return check_printable


@printable
def ifname(value):
    string(15)(value)
    # Linux's dev_valid_name(): at most 15 bytes, not . or .., no / : or space.
    if (not value or value in ('.', '..') or len(value.encode()) > 15 or
            any(c in '/:' or c.isspace() for c in value)):
        raise ValueError("'%s' is not a valid interface or namespace name" % shown(value))
    return value


@printable
def ovsdb_target(value):
    """An OVSDB connection method as ovs-vsctl --db takes it."""
    string(255)(value)
    kind, _, rest = value.partition(':')
    if kind == 'unix' and rest.startswith('/'):
        return value
    if kind in ('tcp', 'ssl'):
        host, _, port = rest.rpartition(':')
        if host and port.isdigit() and 0 < int(port) < 65536:
            return value
    raise ValueError("'%s' is not an OVSDB target (unix:PATH, tcp:IP:PORT, ssl:IP:PORT)"
                     % shown(value))


@printable
def netns_name(value):
    """A network namespace name: a file name under /var/run/netns."""
    string(200)(value)
    if not value or value in ('.', '..') or '/' in value or any(c.isspace() for c in value):
        raise ValueError("'%s' is not a valid network namespace name" % shown(value))
    return value


# Where a SID (or a host's SID prefix) may live: global unicast and unique
# local addresses.  Unspecified, loopback, multicast, link-local, the
# IPv4-mapped and -compatible ranges and the discard prefix are not routable
# segment endpoints.
SID_SPACE = netaddr.IPSet(['2000::/3', 'fc00::/7'])


def global_ipv6(value):
    """An IPv6 global unicast or unique local address: a SID, a host's SID
    prefix or underlay address."""
    address = ipv6_address(value)
    if netaddr.IPAddress(address) not in SID_SPACE:
        raise ValueError("'%s' is not a global unicast or unique local IPv6 address "
                         "(2000::/3 or fc00::/7)" % shown(value))
    return address
