"""Names of the things the controller finds on, or puts on, a host.

Linux limits interface names to 15 characters; these follow Nova/Neutron.
"""

# OVS interface of a VM port: the Nova/Neutron convention.
TAP_PREFIX = 'tap'
# The br-int end of the veth pair that joins a network to its VRF.
GATEWAY_PREFIX = 'gw-'


def tap_name(port_id):
    """``tap`` + port_id[:11], e.g. tapa1b2c3d4-e5."""
    return TAP_PREFIX + port_id[:11]


def gateway_port_name(network_id):
    """``gw-`` + network_id[:11]: the network's gateway port on br-int."""
    return GATEWAY_PREFIX + network_id[:11]
