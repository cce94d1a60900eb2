"""Table-driven unit tests of rest.validators.

A validator returns the value normalised, or raises ValueError whose text
is the reason the REST layer reports in its 400.
"""

import pytest

from rest import validators as v

UUID = '01234567-89ab-cdef-0123-456789abcdef'

small_int = v.integer(minimum=0, maximum=10)
mtu = v.integer(minimum=68)
any_int = v.integer()
macs = v.list_of(v.mac_address, unique=True)
ips = v.list_of(v.ipv4_address, unique=True, max_items=2)
strings = v.list_of(v.string())
pair = v.dict_of(required={'ip_address': v.ipv4_address_or_cidr},
                 optional={'mac_address': v.mac_address})
open_dict = v.dict_of(optional={'a': v.boolean}, allow_extra=True)
name = v.string(max_len=5)
nullable_ip = v.nullable(v.ipv4_address)
host_id = v.none_clears(v.string(), '')
profile = v.none_clears(v.dict_of(allow_extra=True), {})
colour = v.one_of('red', 'blue')

# (validator, value, normalised result)
VALID = [
    # mac_address: any netaddr spelling, lower-case colon form out
    (v.mac_address, 'fa:16:3e:00:00:01', 'fa:16:3e:00:00:01'),
    (v.mac_address, 'FA:16:3E:AB:CD:EF', 'fa:16:3e:ab:cd:ef'),
    (v.mac_address, 'fa-16-3e-ab-cd-ef', 'fa:16:3e:ab:cd:ef'),
    (v.mac_address, 'fa163eabcdef', 'fa:16:3e:ab:cd:ef'),
    (v.mac_address, '02:00:00:00:00:00', '02:00:00:00:00:00'),
    # ipv4_address
    (v.ipv4_address, '10.0.0.1', '10.0.0.1'),
    (v.ipv4_address, '0.0.0.0', '0.0.0.0'),
    (v.ipv4_address, '255.255.255.255', '255.255.255.255'),
    # ipv6_address: compressed, lower case
    (v.ipv6_address, 'FD00:0000:0000:0002:0000:0000:0000:0000', 'fd00:0:0:2::'),
    (v.ipv6_address, '::1', '::1'),
    # ipv4_cidr: canonical network
    (v.ipv4_cidr, '10.0.0.0/8', '10.0.0.0/8'),
    (v.ipv4_cidr, '192.168.1.0/24', '192.168.1.0/24'),
    (v.ipv4_cidr, '10.0.0.5/32', '10.0.0.5/32'),
    (v.ipv4_cidr, '10.0.0.4/31', '10.0.0.4/31'),
    (v.ipv4_cidr, '0.0.0.0/0', '0.0.0.0/0'),
    (v.ipv4_cidr, '10.0.0.0/255.0.0.0', '10.0.0.0/8'),
    # ipv4_address_or_cidr
    (v.ipv4_address_or_cidr, '10.0.0.7', '10.0.0.7'),
    (v.ipv4_address_or_cidr, '10.0.0.0/24', '10.0.0.0/24'),
    # uuid_str: canonical dashed lower-case form
    (v.uuid_str, UUID, UUID),
    (v.uuid_str, UUID.upper(), UUID),
    (v.uuid_str, UUID.replace('-', ''), UUID),
    # boolean
    (v.boolean, True, True),
    (v.boolean, False, False),
    (v.boolean, 'True', True),
    (v.boolean, 'true', True),
    (v.boolean, 'TRUE', True),
    (v.boolean, 'false', False),
    (v.boolean, 'False', False),
    (v.boolean, '1', True),
    (v.boolean, '0', False),
    (v.boolean, 1, True),
    (v.boolean, 0, False),
    # integer, bounds included
    (small_int, 0, 0),
    (small_int, 10, 10),
    (small_int, '7', 7),
    (mtu, 68, 68),
    (mtu, 9000, 9000),
    (any_int, -5, -5),
    (any_int, '-5', -5),
    # string
    (name, '', ''),
    (name, 'abcde', 'abcde'),
    # nullable
    (nullable_ip, None, None),
    (nullable_ip, '10.0.0.1', '10.0.0.1'),
    # none_clears: null is the empty value (binding:host_id, binding:profile)
    (host_id, None, ''),
    (host_id, 'compute1', 'compute1'),
    (profile, None, {}),
    (profile, {'k': 1}, {'k': 1}),
    (colour, 'blue', 'blue'),
    (colour, 'BLUE', 'blue'),
    # list_of: items normalised
    (macs, [], []),
    (macs, ['FA:16:3E:00:00:01', 'fa:16:3e:00:00:02'],
     ['fa:16:3e:00:00:01', 'fa:16:3e:00:00:02']),
    (ips, ['10.0.0.1', '10.0.0.2'], ['10.0.0.1', '10.0.0.2']),
    (strings, ['a', 'a'], ['a', 'a']),  # duplicates allowed without unique
    # dict_of
    (pair, {'ip_address': '10.0.0.1'}, {'ip_address': '10.0.0.1'}),
    (pair, {'ip_address': '10.0.0.0/24', 'mac_address': 'FA:16:3E:00:00:01'},
     {'ip_address': '10.0.0.0/24', 'mac_address': 'fa:16:3e:00:00:01'}),
    (open_dict, {}, {}),
    (open_dict, {'a': 'true', 'extra': [1]}, {'a': True, 'extra': [1]}),
    # datapath_id: 16 hex digits, lower case, 0x dropped
    (v.datapath_id, '0000000000000001', '0000000000000001'),
    (v.datapath_id, '00000000000000AB', '00000000000000ab'),
    (v.datapath_id, '0x000000000000000A', '000000000000000a'),
    (v.datapath_id, 'ffffffffffffffff', 'ffffffffffffffff'),
    # ifname
    (v.ifname, 'br-int', 'br-int'),
    (v.ifname, 'eth0', 'eth0'),
    (v.ifname, 'vrfe6a5b23f2504', 'vrfe6a5b23f2504'),  # 15 chars
    (v.ifname, 'a', 'a'),
]

# (validator, value, a fragment of the reason)
INVALID = [
    # mac_address
    (v.mac_address, '01:00:5e:00:00:01', 'unicast'),     # multicast
    (v.mac_address, 'fb:16:3e:00:00:01', 'unicast'),     # multicast bit in fb
    (v.mac_address, 'ff:ff:ff:ff:ff:ff', 'unicast'),     # broadcast
    (v.mac_address, '00:00:00:00:00:00', 'unicast'),
    (v.mac_address, 'fa:16:3e:00:00', 'not a valid MAC'),
    (v.mac_address, 'fa:16:3e:00:00:01:02', 'not a valid MAC'),
    (v.mac_address, 'gg:16:3e:00:00:01', 'not a valid MAC'),
    (v.mac_address, 'fa:16:3e:00:00:01 ', 'not a valid MAC'),
    (v.mac_address, '', 'not a valid MAC'),
    (v.mac_address, '1', 'not a valid MAC'),
    (v.mac_address, 0xfa163e000001, 'not a valid MAC'),
    (v.mac_address, None, 'not a valid MAC'),
    # ipv4_address
    (v.ipv4_address, '10.1', 'not a valid IPv4'),
    (v.ipv4_address, '1', 'not a valid IPv4'),
    (v.ipv4_address, '010.0.0.1', 'not a valid IPv4'),
    (v.ipv4_address, '10.0.0.256', 'not a valid IPv4'),
    (v.ipv4_address, ' 10.0.0.1', 'not a valid IPv4'),
    (v.ipv4_address, '10.0.0.1 ', 'not a valid IPv4'),
    (v.ipv4_address, '10.0.0.0/24', 'not a valid IPv4'),
    (v.ipv4_address, '0x0a000001', 'not a valid IPv4'),
    (v.ipv4_address, 167772161, 'not a valid IPv4'),
    (v.ipv4_address, 1, 'not a valid IPv4'),
    (v.ipv4_address, '::1', 'not a valid IPv4'),
    (v.ipv4_address, 'fd00::1', 'not a valid IPv4'),
    (v.ipv4_address, '::ffff:10.0.0.1', 'not a valid IPv4'),
    (v.ipv4_address, '', 'not a valid IPv4'),
    (v.ipv4_address, None, 'not a valid IPv4'),
    # ipv6_address
    (v.ipv6_address, '10.0.0.1', 'not a valid IPv6'),
    (v.ipv6_address, 'fd00:::1', 'not a valid IPv6'),
    # ipv4_cidr
    (v.ipv4_cidr, '10.0.0.1/8', "isn't a recognized IP subnet cidr, '10.0.0.0/8'"),
    (v.ipv4_cidr, '192.168.1.1/24', "'192.168.1.0/24' is recommended"),
    (v.ipv4_cidr, '10.0.0.0', 'not a valid IPv4 CIDR'),
    (v.ipv4_cidr, '10.1/16', 'not a valid IPv4 CIDR'),
    (v.ipv4_cidr, '10/8', 'not a valid IPv4 CIDR'),
    (v.ipv4_cidr, '10.0.0.0/33', 'not a valid IPv4 CIDR'),
    (v.ipv4_cidr, '10.0.0.0/x', 'not a valid IPv4 CIDR'),
    (v.ipv4_cidr, ' 10.0.0.0/8', 'not a valid IPv4 CIDR'),
    (v.ipv4_cidr, 'fd00::/64', 'not a valid IPv4 CIDR'),
    (v.ipv4_cidr, '::/0', 'not a valid IPv4 CIDR'),
    (v.ipv4_cidr, 10, 'not a valid IPv4 CIDR'),
    (v.ipv4_cidr, None, 'not a valid IPv4 CIDR'),
    # ipv4_address_or_cidr
    (v.ipv4_address_or_cidr, '10.0.0.1/24', 'is recommended'),
    (v.ipv4_address_or_cidr, '10.1', 'not a valid IPv4'),
    # uuid_str
    (v.uuid_str, 'not-a-uuid', 'not a valid UUID'),
    (v.uuid_str, UUID[:-1], 'not a valid UUID'),
    (v.uuid_str, UUID + '0', 'not a valid UUID'),
    (v.uuid_str, 'x' * 32, 'not a valid UUID'),
    (v.uuid_str, '{%s}' % UUID, 'not a valid UUID'),
    (v.uuid_str, 'urn:uuid:' + UUID, 'not a valid UUID'),
    (v.uuid_str, '', 'not a valid UUID'),
    (v.uuid_str, 5, 'not a valid UUID'),
    (v.uuid_str, None, 'not a valid UUID'),
    # boolean
    (v.boolean, 'yes', 'cannot be converted to boolean'),
    (v.boolean, 'T', 'cannot be converted to boolean'),
    (v.boolean, '', 'cannot be converted to boolean'),
    (v.boolean, 2, 'cannot be converted to boolean'),
    (v.boolean, -1, 'cannot be converted to boolean'),
    (v.boolean, None, 'cannot be converted to boolean'),
    (v.boolean, 1.0, 'cannot be converted to boolean'),
    (v.boolean, [], 'cannot be converted to boolean'),
    # integer
    (small_int, -1, "too small - must be at least '0'"),
    (small_int, 11, "too large - must be no larger than '10'"),
    (small_int, '11', 'too large'),
    (mtu, 67, 'too small'),
    (small_int, True, 'not an integer'),   # bool is not an int here
    (small_int, False, 'not an integer'),
    (small_int, 5.0, 'not an integer'),
    (small_int, '5.0', 'not an integer'),
    (small_int, 'abc', 'not an integer'),
    (small_int, '', 'not an integer'),
    (small_int, None, 'not an integer'),
    (small_int, [], 'not an integer'),
    # string
    (name, 'abcdef', 'exceeds maximum length of 5'),
    (name, 5, 'not a valid string'),
    (name, None, 'not a valid string'),
    # nullable still validates non-null values
    (nullable_ip, '10.1', 'not a valid IPv4'),
    (host_id, 7, 'not a valid string'),
    (profile, [], 'not a dictionary'),
    (colour, 'green', "'green' is not in ['red', 'blue']"),
    (colour, ['red'], 'is not in'),
    # list_of
    (macs, 'fa:16:3e:00:00:01', 'is not a list'),
    (macs, None, 'is not a list'),
    (macs, ['fa:16:3e:00:00:01', 'fa:16:3e:00:00:01'], 'duplicate item'),
    (macs, ['FA:16:3E:00:00:01', 'fa:16:3e:00:00:01'], 'duplicate item'),  # after normalising
    (macs, ['fa:16:3e:00:00:01', '01:00:5e:00:00:01'], 'unicast'),
    (ips, ['10.0.0.1', '10.0.0.2', '10.0.0.3'], 'more than 2 items'),
    # dict_of
    (pair, {}, "missing key 'ip_address'"),
    (pair, {'mac_address': 'fa:16:3e:00:00:01'}, "missing key 'ip_address'"),
    (pair, {'ip_address': '10.1'}, 'not a valid IPv4'),
    (pair, {'ip_address': '10.0.0.1', 'mac_address': '01:00:5e:00:00:01'}, 'unicast'),
    (pair, {'ip_address': '10.0.0.1', 'bogus': 1, 'other': 2},
     "unexpected keys ['bogus', 'other']"),
    (pair, ['ip_address'], 'is not a dictionary'),
    (pair, None, 'is not a dictionary'),
    (open_dict, {'a': 'maybe'}, 'cannot be converted to boolean'),
    # datapath_id
    (v.datapath_id, '1', 'not a datapath id of 16 hex digits'),
    (v.datapath_id, '000000000000001', 'not a datapath id'),     # 15 digits
    (v.datapath_id, '00000000000000001', 'not a datapath id'),   # 17 digits
    (v.datapath_id, '000000000000000g', 'not a datapath id'),
    (v.datapath_id, '00:00:00:00:00:00:00:01', 'not a datapath id'),
    (v.datapath_id, '0x1', 'not a datapath id'),
    (v.datapath_id, 1, 'not a datapath id'),
    (v.datapath_id, None, 'not a datapath id'),
    # ifname
    (v.ifname, '', 'not a valid interface or namespace name'),
    (v.ifname, 'a' * 16, 'exceeds maximum length of 15'),
    (v.ifname, 'br int', 'not a valid interface'),
    (v.ifname, 'br\tint', 'not a valid interface'),
    (v.ifname, 'br\n', 'not a valid interface'),
    (v.ifname, 'a/b', 'not a valid interface'),
    (v.ifname, 5, 'not a valid string'),
    (v.ifname, None, 'not a valid string'),
]


def _id(case):
    check, value = case[0], case[1]
    label = getattr(check, '__qualname__', repr(check)).split('.')[0]
    return '%s-%r' % (label, value)


@pytest.mark.parametrize('check, value, expected', VALID, ids=[_id(c) for c in VALID])
def test_valid_values_are_normalised(check, value, expected):
    result = check(value)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize('check, value', [c[:2] for c in VALID],
                         ids=[_id(c) for c in VALID])
def test_normalisation_is_idempotent(check, value):
    once = check(value)
    assert check(once) == once


@pytest.mark.parametrize('check, value, reason', INVALID, ids=[_id(c) for c in INVALID])
def test_invalid_values_raise_value_error_with_reason(check, value, reason):
    with pytest.raises(ValueError) as info:
        check(value)
    assert reason in str(info.value)


def test_dict_of_does_not_mutate_its_input():
    value = {'ip_address': '10.0.0.1', 'mac_address': 'FA:16:3E:00:00:01'}
    copy = dict(value)
    pair(value)
    assert value == copy


def test_list_of_returns_a_new_list():
    value = ['FA:16:3E:00:00:01']
    result = macs(value)
    assert value == ['FA:16:3E:00:00:01']
    assert result == ['fa:16:3e:00:00:01']


def test_none_clears_gives_a_fresh_empty_value():
    first = profile(None)
    first['k'] = 1
    assert profile(None) == {}


def test_dict_of_accepts_required_as_pairs():
    check = v.dict_of(required=[('n', v.integer())])
    assert check({'n': '3'}) == {'n': 3}


# Linux dev_valid_name() (net/core/dev.c) refuses '.', '..', any ':' and
# names of IFNAMSIZ (16) bytes or more; ``ip netns`` refuses '.' and '..'.
@pytest.mark.parametrize('value', ['.', '..', 'eth0:1', '\u00e9' * 15])
def test_ifname_refuses_names_the_kernel_refuses(value):
    with pytest.raises(ValueError):
        v.ifname(value)
