"""What a host is, by its ``role`` attribute: a compute host (VMs, the
default, also for hosts registered before roles existed) or a network node
(routers: the scheduler places them there, its dataplane builds them),
and the agent that serves each in Neutron's agents API.  An agent's id is
a function of its type and host, so a restarted agent is the same agent."""

import uuid

ROLES = ('compute', 'network')
NETWORK_ROLE = 'network'


def is_network_node(host):
    return host.get('role') == NETWORK_ROLE


OPENFLOW_AGENT = 'SRv6 OpenFlow agent'
L3_AGENT = 'L3 agent'  # neutron_lib.constants.AGENT_TYPE_L3
AGENT_TYPES = (OPENFLOW_AGENT, L3_AGENT)
_ID_NAMESPACE = uuid.UUID('0f5c7f0a-8f3e-4c4b-9d2e-5a6b1c3d7e21')


def agent_id(agent_type, host):
    return str(uuid.uuid5(_ID_NAMESPACE, '%s/%s' % (agent_type, host)))


def agent_type_of(host_doc):
    """The type of the agent serving a host (None: not registered)."""
    return L3_AGENT if host_doc and is_network_node(host_doc) else OPENFLOW_AGENT
