"""IPv4 address management for subnets, and MAC generation.  Pure functions."""

import random

import netaddr


def default_gateway(cidr):
    """The first host address of the subnet (Neutron's default)."""
    net = netaddr.IPNetwork(cidr)
    if net.size < 4:
        return None
    return str(netaddr.IPAddress(net.first + 1))


def service_address(subnet):
    """The address that stands for the network's services on ``subnet``: the
    distributed gateway answers ARP for it and DHCP replies come from it (the
    server identifier, where clients renew).  The gateway; on a gateway-less
    subnet the address the plugin reserved for them (``service_ip``, held
    in the address bookkeeping, so never a port's); else None."""
    return subnet.get('gateway_ip') or subnet.get('service_ip')


def host_range(cidr):
    """(first, last) usable host addresses, as integers."""
    net = netaddr.IPNetwork(cidr)
    if net.prefixlen >= 31:
        return net.first, net.last
    return net.first + 1, net.last - 1


def is_host_address(cidr, ip):
    """Whether ``ip`` is a usable host address of ``cidr`` (not its network
    or broadcast address, nor outside it)."""
    first, last = host_range(cidr)
    return first <= int(netaddr.IPAddress(ip)) <= last


def first_free_host(cidr, is_used):
    """The lowest host address of ``cidr`` for which ``is_used(ip)`` is
    false, or None: pools do not matter, any host address will do."""
    first, last = host_range(cidr)
    whole = {'start': str(netaddr.IPAddress(first)), 'end': str(netaddr.IPAddress(last))}
    return first_free_ip([whole], is_used)


def default_pools(cidr, gateway_ip):
    """Every host address of the subnet except the gateway, as pools."""
    first, last = host_range(cidr)
    hosts = netaddr.IPSet([netaddr.IPRange(first, last)])
    if gateway_ip:
        hosts.remove(gateway_ip)
    return [{'start': str(netaddr.IPAddress(r.first)), 'end': str(netaddr.IPAddress(r.last))}
            for r in hosts.iter_ipranges()]


def pool_errors(cidr, pools, gateway_ip):
    """Why ``pools`` do not fit the subnet, or None when they do."""
    net = netaddr.IPNetwork(cidr)
    first, last = host_range(cidr)
    seen = netaddr.IPSet()
    for pool in pools:
        start, end = netaddr.IPAddress(pool['start']), netaddr.IPAddress(pool['end'])
        if start > end:
            return 'allocation pool %s-%s: start is after end' % (start, end)
        if start not in net or end not in net or int(start) < first or int(end) > last:
            return 'allocation pool %s-%s spans beyond the subnet %s host range' % (
                start, end, cidr)
        pool_set = netaddr.IPSet(netaddr.IPRange(start, end))
        if seen & pool_set:
            return 'allocation pool %s-%s overlaps another pool' % (start, end)
        seen |= pool_set
        if gateway_ip and netaddr.IPAddress(gateway_ip) in pool_set:
            return 'gateway ip %s conflicts with allocation pool %s-%s' % (
                gateway_ip, start, end)
    return None


def first_free_ip(pools, is_used, start=None):
    """The lowest pool address for which ``is_used(ip)`` is false, or None.

    ``start`` (an address) skips what lies below it: the caller knows those
    are all taken, so a search costs a few probes, not one per allocation.
    """
    lowest = int(netaddr.IPAddress(start)) if start else 0
    for pool in sorted(pools, key=lambda p: int(netaddr.IPAddress(p['start']))):
        first = max(int(netaddr.IPAddress(pool['start'])), lowest)
        for value in range(first, int(netaddr.IPAddress(pool['end'])) + 1):
            ip = str(netaddr.IPAddress(value, version=4))
            if not is_used(ip):
                return ip
    return None


def generate_mac(base_mac='fa:16:3e:00:00:00', rng=random):
    """A MAC with the first three octets of ``base_mac`` (Neutron's fa:16:3e
    by default) and random others."""
    prefix = netaddr.EUI(base_mac).words[:3]
    words = list(prefix) + [rng.randint(0, 255) for _ in range(3)]
    return ':'.join('%02x' % w for w in words)
