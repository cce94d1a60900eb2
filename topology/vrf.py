"""The per (host, network) VRF, as networking-sr defines it: its allocation
key, its vrf_ip, its SID and the binding:profile a bound port shows.

Pure functions: the plugin stores their results, the edge and the host
dataplane use them.  The VRF's name is made in topology.naming.
"""

import functools

import netaddr

from srv6_ofapp import ipam


def allocation_key(host_name, network_id):
    """The key of the ``vrfallocations`` document of (host, network): one VRF,
    one vrf_ip.  Keys start with the host name, so a host's VRFs are one
    key range."""
    return '%s/%s' % (host_name, network_id)


def router_allocation_key(host_name, router_id):
    """The key of the ``routerallocations`` document of a router on its
    network node: its SID's low 32 bits, from the same pool as the host's
    VRFs' vrf_ips."""
    return '%s/%s' % (host_name, router_id)


def host_prefix(host_name):
    """The key prefix of every VRF allocation on ``host_name``."""
    return host_name + '/'


@functools.lru_cache(maxsize=65536)
def sid(segment_node_id, vrf_ip):
    """The SID of a VRF: the host's SID prefix with vrf_ip in its low 32 bits.

    >>> sid('fd00:0:0:2::', '169.254.1.44')  # fd00:0:0:2::a9fe:12c, RFC 5952 form
    'fd00::2:0:0:a9fe:12c'

    Cached: the dataplane asks for every VM's and router's SID on every
    change, and netaddr's parsing is most of that work.
    """
    prefix = netaddr.IPAddress(segment_node_id, version=6).value & ~0xffffffff
    return str(netaddr.IPAddress(prefix | netaddr.IPAddress(vrf_ip, version=4).value, version=6))


def first_free_vrf_ip(vrf_cidr, used):
    """The lowest host address of ``vrf_cidr`` not in ``used``, or None."""
    used = set(used)
    return ipam.first_free_host(vrf_cidr, lambda ip: ip in used)


def binding_profile(host, allocation):
    """The networking-sr keys of a port bound to ``host``, whose VRF for the
    port's network is ``allocation``."""
    return {'segment_node_id': host['segment_node_id'],
            'vrf': allocation['vrf'],
            'vrf_cidr': host['vrf_cidr'],
            'vrf_ip': allocation['vrf_ip']}
