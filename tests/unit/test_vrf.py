"""Unit tests of topology.vrf and topology.naming: VRF names, SIDs and vrf_ip allocation."""

import ipaddress

import netaddr
import pytest

from topology import naming
from topology import vrf

PROJECT = 'e6a5b2c7d8f94a0b9c1d2e3f4a5b6c7d'
NETWORK = '3f2504e0-4f89-11d3-9a0c-0305e82c3301'


# -- vrf_name ---------------------------------------------------------------

def test_vrf_name_layout():
    name = naming.vrf_name(PROJECT, NETWORK)
    assert name == 'vrf' + PROJECT[:6] + NETWORK[:6]
    assert name == 'vrfe6a5b23f2504'


def test_vrf_name_fits_ifnamsiz():
    name = naming.vrf_name(PROJECT, NETWORK)
    assert len(name) == naming.MAX_IFNAME == 15
    assert len(name.encode()) <= 15


@pytest.mark.parametrize('project, network', [
    (PROJECT, NETWORK),
    ('0123456789abcdef0123456789abcdef', 'fedcba98-7654-3210-fedc-ba9876543210'),
    ('abc', 'de'),  # short ids: never longer, only shorter
])
def test_vrf_name_at_most_15_chars_and_a_valid_ifname(project, network):
    name = naming.vrf_name(project, network)
    assert name.startswith('vrf')
    assert len(name) <= naming.MAX_IFNAME
    assert '/' not in name and not any(c.isspace() for c in name)


def test_vrf_name_distinguishes_networks_and_projects():
    other_network = 'aaaaaaaa-4f89-11d3-9a0c-0305e82c3301'
    other_project = 'ffffff' + PROJECT[6:]
    assert naming.vrf_name(PROJECT, NETWORK) != naming.vrf_name(PROJECT, other_network)
    assert naming.vrf_name(PROJECT, NETWORK) != naming.vrf_name(other_project, NETWORK)


# -- sid --------------------------------------------------------------------

def test_sid_design_example():
    result = vrf.sid('fd00:0:0:2::', '169.254.1.44')
    # fd00:0:0:2::a9fe:12c and fd00::2:0:0:a9fe:12c are one address; sid()
    # returns the RFC 5952 text (first longest run of zeros compressed).
    assert netaddr.IPAddress(result) == netaddr.IPAddress('fd00:0:0:2::a9fe:12c')
    assert result == str(ipaddress.IPv6Address('fd00:0:0:2::a9fe:12c'))
    assert ipaddress.IPv6Address(result).packed[-4:] == ipaddress.IPv4Address(
        '169.254.1.44').packed


def test_sid_replaces_the_low_32_bits_of_the_prefix():
    # Bits already set in the low 32 bits of segment_node_id are overwritten.
    result = vrf.sid('fd00:0:0:2::ffff:ffff', '169.254.1.44')
    assert netaddr.IPAddress(result) == netaddr.IPAddress('fd00:0:0:2::a9fe:12c')
    result = vrf.sid('fd00:0:0:2::1234:5678', '0.0.0.1')
    assert netaddr.IPAddress(result) == netaddr.IPAddress('fd00:0:0:2::1')


def test_sid_keeps_the_high_96_bits():
    prefix = 'fd00:1234:5678:9abc:def0:1111::'
    result = netaddr.IPAddress(vrf.sid(prefix, '10.20.30.40'))
    assert result.value >> 32 == netaddr.IPAddress(prefix).value >> 32
    assert result.value & 0xffffffff == int(netaddr.IPAddress('10.20.30.40'))


@pytest.mark.parametrize('vrf_ip', ['0.0.0.0', '255.255.255.255', '169.254.0.1'])
def test_sid_low_bits_equal_the_vrf_ip(vrf_ip):
    result = netaddr.IPAddress(vrf.sid('2001:db8::', vrf_ip))
    assert result.version == 6
    assert result.value & 0xffffffff == int(netaddr.IPAddress(vrf_ip))
    assert result.value >> 32 == netaddr.IPAddress('2001:db8::').value >> 32


def test_sid_refuses_wrong_families():
    with pytest.raises(netaddr.AddrFormatError):
        vrf.sid('10.0.0.1', '169.254.1.44')
    with pytest.raises(netaddr.AddrFormatError):
        vrf.sid('fd00::', 'fd00::1')


# -- first_free_vrf_ip ------------------------------------------------------

def test_first_free_vrf_ip_skips_the_network_address():
    assert vrf.first_free_vrf_ip('169.254.0.0/16', []) == '169.254.0.1'


def test_first_free_vrf_ip_fills_sequentially_and_skips_broadcast():
    used = []
    for expected in ['169.254.1.1', '169.254.1.2', '169.254.1.3', '169.254.1.4',
                     '169.254.1.5', '169.254.1.6']:
        ip = vrf.first_free_vrf_ip('169.254.1.0/29', used)
        assert ip == expected
        used.append(ip)
    # 169.254.1.7 is the broadcast address: never handed out.
    assert vrf.first_free_vrf_ip('169.254.1.0/29', used) is None


def test_first_free_vrf_ip_fills_gaps():
    used = ['169.254.1.1', '169.254.1.2', '169.254.1.4']
    assert vrf.first_free_vrf_ip('169.254.1.0/24', used) == '169.254.1.3'
    assert vrf.first_free_vrf_ip('169.254.1.0/24', used + ['169.254.1.3']) == '169.254.1.5'


def test_first_free_vrf_ip_ignores_foreign_addresses():
    used = ['10.0.0.1', '169.254.2.1']
    assert vrf.first_free_vrf_ip('169.254.1.0/24', used) == '169.254.1.1'


def test_first_free_vrf_ip_exhausted():
    assert vrf.first_free_vrf_ip('169.254.1.0/30', ['169.254.1.1', '169.254.1.2']) is None


@pytest.mark.parametrize('cidr, used, expected', [
    ('169.254.1.0/31', [], '169.254.1.0'),
    ('169.254.1.0/31', ['169.254.1.0'], '169.254.1.1'),
    ('169.254.1.0/31', ['169.254.1.0', '169.254.1.1'], None),
    ('169.254.1.9/32', [], '169.254.1.9'),
    ('169.254.1.9/32', ['169.254.1.9'], None),
])
def test_first_free_vrf_ip_point_to_point_prefixes_use_every_address(cidr, used, expected):
    assert vrf.first_free_vrf_ip(cidr, used) == expected


def test_first_free_vrf_ip_results_make_distinct_sids():
    used = []
    sids = set()
    for _ in range(10):
        ip = vrf.first_free_vrf_ip('169.254.0.0/24', used)
        used.append(ip)
        sids.add(vrf.sid('fd00:0:0:2::', ip))
    assert len(sids) == 10
