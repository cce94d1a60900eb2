"""Unit tests of srv6_ofapp.ipam: pure functions, no store, no network."""

import random

import netaddr
import pytest

from srv6_ofapp import ipam


def pool(start, end):
    return {'start': start, 'end': end}


# -- default_gateway ------------------------------------------------------

@pytest.mark.parametrize('cidr, gateway', [
    ('10.0.0.0/24', '10.0.0.1'),
    ('192.168.5.0/29', '192.168.5.1'),
    ('10.0.0.0/30', '10.0.0.1'),
    ('10.0.0.0/8', '10.0.0.1'),
    ('10.0.0.0/31', None),   # no room for a gateway next to two hosts
    ('10.0.0.7/32', None),
])
def test_default_gateway(cidr, gateway):
    assert ipam.default_gateway(cidr) == gateway


# -- default_pools ----------------------------------------------------------

def test_default_pools_exclude_the_gateway_at_the_start():
    assert ipam.default_pools('10.0.0.0/24', '10.0.0.1') == [pool('10.0.0.2', '10.0.0.254')]


def test_default_pools_split_around_a_gateway_in_the_middle():
    assert ipam.default_pools('10.0.0.0/29', '10.0.0.4') == [
        pool('10.0.0.1', '10.0.0.3'), pool('10.0.0.5', '10.0.0.6')]


def test_default_pools_exclude_a_gateway_at_the_end():
    assert ipam.default_pools('10.0.0.0/29', '10.0.0.6') == [pool('10.0.0.1', '10.0.0.5')]


def test_default_pools_without_gateway_cover_every_host():
    assert ipam.default_pools('10.0.0.0/24', None) == [pool('10.0.0.1', '10.0.0.254')]


def test_default_pools_slash_30_leave_one_address():
    assert ipam.default_pools('10.0.0.0/30', '10.0.0.1') == [pool('10.0.0.2', '10.0.0.2')]


def test_default_pools_slash_31_use_both_addresses():
    # RFC 3021: a /31 has no network or broadcast address.
    assert ipam.default_pools('10.0.0.0/31', None) == [pool('10.0.0.0', '10.0.0.1')]
    assert ipam.default_pools('10.0.0.0/31', ipam.default_gateway('10.0.0.0/31')) == [
        pool('10.0.0.0', '10.0.0.1')]


def test_default_pools_slash_32_single_address():
    assert ipam.default_pools('10.0.0.7/32', None) == [pool('10.0.0.7', '10.0.0.7')]


def test_default_pools_of_a_full_subnet_are_empty():
    assert ipam.default_pools('10.0.0.0/32', '10.0.0.0') == []


@pytest.mark.parametrize('cidr', ['10.0.0.0/24', '10.1.0.0/16', '172.16.0.0/28'])
def test_default_pools_are_valid_pools(cidr):
    gateway = ipam.default_gateway(cidr)
    pools = ipam.default_pools(cidr, gateway)
    assert ipam.pool_errors(cidr, pools, gateway) is None
    in_a_pool = netaddr.IPSet(netaddr.IPRange(p['start'], p['end']) for p in pools)
    assert netaddr.IPAddress(gateway) not in in_a_pool


# -- host_range -------------------------------------------------------------

@pytest.mark.parametrize('cidr, first, last', [
    ('10.0.0.0/24', '10.0.0.1', '10.0.0.254'),
    ('10.0.0.0/30', '10.0.0.1', '10.0.0.2'),
    ('10.0.0.0/31', '10.0.0.0', '10.0.0.1'),
    ('10.0.0.7/32', '10.0.0.7', '10.0.0.7'),
])
def test_host_range(cidr, first, last):
    assert ipam.host_range(cidr) == (int(netaddr.IPAddress(first)),
                                     int(netaddr.IPAddress(last)))


# -- pool_errors ------------------------------------------------------------

CIDR = '10.0.0.0/24'
GATEWAY = '10.0.0.1'


@pytest.mark.parametrize('pools', [
    [],
    [pool('10.0.0.2', '10.0.0.254')],
    [pool('10.0.0.2', '10.0.0.2')],
    [pool('10.0.0.2', '10.0.0.9'), pool('10.0.0.10', '10.0.0.20')],   # adjacent
    [pool('10.0.0.100', '10.0.0.200'), pool('10.0.0.2', '10.0.0.50')],  # any order
], ids=['none', 'all', 'single', 'adjacent', 'unordered'])
def test_pool_errors_valid_pools(pools):
    assert ipam.pool_errors(CIDR, pools, GATEWAY) is None


@pytest.mark.parametrize('pools, gateway, reason', [
    ([pool('10.0.0.20', '10.0.0.10')], GATEWAY, 'start is after end'),
    ([pool('10.0.0.2', '10.0.1.5')], GATEWAY, 'spans beyond'),
    ([pool('10.0.1.2', '10.0.1.5')], GATEWAY, 'spans beyond'),
    ([pool('9.255.255.250', '10.0.0.5')], None, 'spans beyond'),
    ([pool('10.0.0.0', '10.0.0.5')], None, 'spans beyond'),       # network address
    ([pool('10.0.0.200', '10.0.0.255')], GATEWAY, 'spans beyond'),  # broadcast
    ([pool('10.0.0.2', '10.0.0.20'), pool('10.0.0.20', '10.0.0.30')], GATEWAY, 'overlaps'),
    ([pool('10.0.0.2', '10.0.0.50'), pool('10.0.0.10', '10.0.0.12')], GATEWAY, 'overlaps'),
    ([pool('10.0.0.1', '10.0.0.10')], GATEWAY, 'conflicts'),
    ([pool('10.0.0.2', '10.0.0.254')], '10.0.0.100', 'conflicts'),
    ([pool('10.0.0.100', '10.0.0.100')], '10.0.0.100', 'conflicts'),
], ids=['reversed', 'past-end', 'other-subnet', 'before-start', 'network-address',
        'broadcast', 'overlap-edge', 'overlap-inside', 'gateway-first', 'gateway-middle',
        'gateway-only'])
def test_pool_errors_invalid_pools(pools, gateway, reason):
    error = ipam.pool_errors(CIDR, pools, gateway)
    assert error is not None
    assert reason in error


def test_pool_errors_name_the_offending_pool():
    error = ipam.pool_errors(CIDR, [pool('10.0.0.2', '10.0.0.5'), pool('10.0.0.5', '10.0.0.9')],
                             None)
    assert '10.0.0.5-10.0.0.9' in error


def test_pool_errors_slash_31_accepts_both_addresses():
    assert ipam.pool_errors('10.0.0.0/31', [pool('10.0.0.0', '10.0.0.1')], None) is None


# -- first_free_ip ----------------------------------------------------------

def test_first_free_ip_fills_sequentially():
    pools = [pool('10.0.0.2', '10.0.0.6')]
    used = []
    for expected in ['10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5', '10.0.0.6']:
        ip = ipam.first_free_ip(pools, set(used).__contains__)
        assert ip == expected
        used.append(ip)
    assert ipam.first_free_ip(pools, set(used).__contains__) is None


def test_first_free_ip_fills_gaps_first():
    pools = [pool('10.0.0.2', '10.0.0.10')]
    assert ipam.first_free_ip(pools, set(['10.0.0.2', '10.0.0.4', '10.0.0.5']).__contains__) == '10.0.0.3'
    assert ipam.first_free_ip(pools, set(['10.0.0.3', '10.0.0.4']).__contains__) == '10.0.0.2'


def test_first_free_ip_ignores_used_addresses_outside_the_pools():
    pools = [pool('10.0.0.2', '10.0.0.3')]
    assert ipam.first_free_ip(pools, set(['10.0.0.1', '10.0.0.200']).__contains__) == '10.0.0.2'


def test_first_free_ip_moves_to_the_next_pool():
    pools = [pool('10.0.0.2', '10.0.0.3'), pool('10.0.0.10', '10.0.0.11')]
    assert ipam.first_free_ip(pools, set(['10.0.0.2', '10.0.0.3']).__contains__) == '10.0.0.10'
    assert ipam.first_free_ip(pools, set(['10.0.0.2', '10.0.0.3', '10.0.0.10']).__contains__) == '10.0.0.11'
    # A hole in the first pool is used before the second pool.
    assert ipam.first_free_ip(pools, set(['10.0.0.2', '10.0.0.10']).__contains__) == '10.0.0.3'


def test_first_free_ip_exhausted_returns_none():
    pools = [pool('10.0.0.2', '10.0.0.3'), pool('10.0.0.10', '10.0.0.10')]
    assert ipam.first_free_ip(pools, set(['10.0.0.2', '10.0.0.3', '10.0.0.10']).__contains__) is None


def test_first_free_ip_no_pools():
    assert ipam.first_free_ip([], []) is None


def test_first_free_ip_starts_at_the_hint():
    pools = [pool('10.0.0.2', '10.0.0.5'), pool('10.0.0.10', '10.0.0.12')]
    nothing_used = set().__contains__
    assert ipam.first_free_ip(pools, nothing_used, start='10.0.0.4') == '10.0.0.4'
    assert ipam.first_free_ip(pools, nothing_used, start='10.0.0.6') == '10.0.0.10'
    assert ipam.first_free_ip(pools, nothing_used, start='10.0.0.13') is None
    assert ipam.first_free_ip(pools, {'10.0.0.4'}.__contains__, start='10.0.0.4') == \
        '10.0.0.5'


def test_first_free_ip_returns_the_lowest_address_whatever_the_pool_order():
    pools = [pool('10.0.0.100', '10.0.0.110'), pool('10.0.0.2', '10.0.0.10')]
    assert ipam.first_free_ip(pools, set([]).__contains__) == '10.0.0.2'


# -- generate_mac -----------------------------------------------------------

def _octets(mac):
    return [int(part, 16) for part in mac.split(':')]


def test_generate_mac_default_prefix():
    mac = ipam.generate_mac()
    assert mac.startswith('fa:16:3e:')
    assert len(_octets(mac)) == 6
    assert mac == mac.lower()
    netaddr.EUI(mac)  # parses


def test_generate_mac_is_unicast():
    for seed in range(50):
        mac = ipam.generate_mac(rng=random.Random(seed))
        assert _octets(mac)[0] & 1 == 0
        assert int(netaddr.EUI(mac)) != 0


def test_generate_mac_is_reproducible_with_a_seeded_rng():
    first = [ipam.generate_mac(rng=random.Random(42)) for _ in range(3)]
    assert len(set(first)) == 1
    rng_a, rng_b = random.Random(7), random.Random(7)
    seq_a = [ipam.generate_mac(rng=rng_a) for _ in range(20)]
    seq_b = [ipam.generate_mac(rng=rng_b) for _ in range(20)]
    assert seq_a == seq_b
    assert len(set(seq_a)) > 1  # the random octets do change


def test_generate_mac_custom_base_mac():
    rng = random.Random(1)
    for base in ('02:00:00:00:00:00', 'AA:BB:CC:00:00:00', 'aa-bb-cc-dd-ee-ff'):
        mac = ipam.generate_mac(base, rng)
        assert _octets(mac)[:3] == _octets(str(netaddr.EUI(base)).replace('-', ':'))[:3]
    assert ipam.generate_mac('AA:BB:CC:00:00:00', rng).startswith('aa:bb:cc:')


def test_generate_mac_random_octets_in_range():
    rng = random.Random(3)
    seen = set()
    for _ in range(200):
        octets = _octets(ipam.generate_mac(rng=rng))
        assert all(0 <= o <= 255 for o in octets[3:])
        seen.add(tuple(octets[3:]))
    assert len(seen) > 150
