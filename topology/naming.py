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
# A router on a network node: its namespace, the host end of the veth into
# it (toward the underlay), the host end of its external port (Neutron's qg-).
ROUTER_PREFIX = 'rtr'
ROUTER_LINK_PREFIX = 'rr-'
EXTERNAL_PORT_PREFIX = 'qg-'
# A network node's bridge to its external interface.
EXTERNAL_BRIDGE = 'br-ex'


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


def router_name(router_id):
    """``rtr`` + router_id[:11]: a router's namespace (under its host's or
    its cluster's prefix)."""
    return ROUTER_PREFIX + router_id[:11]


def router_link_name(router_id):
    """``rr-`` + router_id[:11]: the host end of the veth into a router."""
    return ROUTER_LINK_PREFIX + router_id[:11]


def is_router_link(name):
    """Whether the device ``name`` is the host end of a veth into a router."""
    return str(name).startswith(ROUTER_LINK_PREFIX)


def external_port_name(router_id):
    """``qg-`` + router_id[:11]: the host end of a router's external port,
    on the network node's external bridge."""
    return EXTERNAL_PORT_PREFIX + router_id[:11]
