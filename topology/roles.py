"""What a host is, by its ``role`` attribute: a compute host (VMs, the
default, also for hosts registered before roles existed) or a network node
(routers: the scheduler places them there, its dataplane builds them)."""

ROLES = ('compute', 'network')
NETWORK_ROLE = 'network'


def is_network_node(host):
    return host.get('role') == NETWORK_ROLE
