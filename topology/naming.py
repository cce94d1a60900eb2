"""Names of the things the controller finds on, or puts on, a host.

Every device and namespace name the controller reads or creates is made
here, so a prefix has one home.  Linux limits interface names to 15
characters (IFNAMSIZ - 1); these follow Nova/Neutron and networking-sr.
"""

# IFNAMSIZ - 1: the longest Linux interface name.
MAX_IFNAME = 15

# OVS interface of a VM port: the Nova/Neutron convention.
TAP_PREFIX = 'tap'
# The br-int end of the veth pair that joins a network to its VRF.
GATEWAY_PREFIX = 'gw-'
# A VRF: a Linux VRF device, or the namespace that plays one.
VRF_PREFIX = 'vrf'
# The host end of the veth into a VRF namespace (netns VRF driver).
VRF_LINK_PREFIX = 'vr-'
# The VRF end of the gateway veth, enslaved to a VRF device (vrf driver).
GATEWAY_SLAVE_PREFIX = 'gv-'


def tap_name(port_id):
    """``tap`` + port_id[:11], e.g. tapa1b2c3d4-e5."""
    return TAP_PREFIX + port_id[:11]


def gateway_port_name(network_id):
    """``gw-`` + network_id[:11]: the network's gateway port on br-int."""
    return GATEWAY_PREFIX + network_id[:11]


def vrf_name(project_id, network_id):
    """``vrf`` + project_id[:6] + network_id[:6]: 15 characters, as
    networking-sr names a network's VRF on a host."""
    return VRF_PREFIX + project_id[:6] + network_id[:6]


def vrf_link_name(vrf):
    """``vr-`` + the VRF name without ``vrf``: the host end of the veth into
    a VRF namespace."""
    return VRF_LINK_PREFIX + vrf[len(VRF_PREFIX):]


def gateway_slave_name(network_id):
    """``gv-`` + network_id[:11]: the VRF end of the gateway veth."""
    return GATEWAY_SLAVE_PREFIX + network_id[:11]
