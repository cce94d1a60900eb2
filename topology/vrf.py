"""VRF naming, vrf_ip allocation and SID computation, as networking-sr defines them.

Pure functions: the REST layer stores their results, the dataplane uses them.
"""

import netaddr

# IFNAMSIZ - 1: the VRF is a Linux device (or a namespace named alike).
MAX_VRF_NAME = 15


def vrf_name(project_id, network_id):
    """``vrf`` + project_id[:6] + network_id[:6]: 15 characters, a valid ifname."""
    return 'vrf' + project_id[:6] + network_id[:6]


def sid(segment_node_id, vrf_ip):
    """The SID of a VRF: the host's SID prefix with vrf_ip in its low 32 bits.

    >>> sid('fd00:0:0:2::', '169.254.1.44')  # fd00:0:0:2::a9fe:12c, RFC 5952 form
    'fd00::2:0:0:a9fe:12c'
    """
    prefix = netaddr.IPAddress(segment_node_id, version=6).value & ~0xffffffff
    return str(netaddr.IPAddress(prefix | netaddr.IPAddress(vrf_ip, version=4).value, version=6))


def first_free_vrf_ip(vrf_cidr, used):
    """The lowest host address of ``vrf_cidr`` not in ``used``, or None.

    Network and broadcast addresses are skipped for prefixes shorter than
    /31, as for any IPv4 subnet.
    """
    net = netaddr.IPNetwork(vrf_cidr)
    used = {int(netaddr.IPAddress(ip)) for ip in used}
    first, last = net.first, net.last
    if net.prefixlen < 31:
        first, last = first + 1, last - 1
    for value in range(first, last + 1):
        if value not in used:
            return str(netaddr.IPAddress(value, version=4))
    return None
