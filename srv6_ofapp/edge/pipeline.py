"""The OpenFlow pipeline of an edge bridge, as a pure function of the model.

``switch_flows`` returns the complete set of flows one switch should hold,
and ``meters`` its packet-in meters; the adapter (app.py) diffs them against
what the switch has and sends only the difference.

Each feature owns the flows of its table (tables.py states the contract)
and builds them through two functions:

    port_flows(switch, local_port)              for a VM port on this switch
    network_flows(switch, network_id, members)  once per network with VM
                                                ports on this switch
    switch_flows()                              (optional) once per switch

A new feature is a module with these functions, registered in FEATURES,
and its tables in tables.py.
"""

import collections

from srv6_ofapp.edge import arp
from srv6_ofapp.edge import dhcp
from srv6_ofapp.edge import l2
from srv6_ofapp.edge import port_security
from srv6_ofapp.edge import security_groups
from srv6_ofapp.edge.flows import Meter, base_flows

FEATURES = (port_security, arp, dhcp, security_groups, l2)

# Per VM port, packet-ins (DHCP, ARP misses) beyond this are dropped in the
# datapath, so one VM cannot starve the controller for the others.
PACKET_IN_RATE_PPS = 100
PACKET_IN_BURST = 50

EdgeConfig = collections.namedtuple(
    'EdgeConfig', 'gateway_mac arp_responder packet_in_rate packet_in_burst',
    defaults=(True, PACKET_IN_RATE_PPS, PACKET_IN_BURST))
EdgeConfig.__doc__ = """gateway_mac: the distributed gateway MAC;
arp_responder: answer ARP in the datapath (else every request takes the
packet-in path: same answers, slower); packet_in_rate/burst: the per-port
packet-in meter."""

Switch = collections.namedtuple('Switch', 'replica ports config metered')
Switch.__doc__ = """What a feature knows of the switch it builds flows for:
the model's replica, the switch's topology.switch_ports.SwitchPorts, the
EdgeConfig, and whether the switch has meters (packet-ins rate-limited)."""


def active_ports(replica, ports):
    """The local VM ports that get flows: administratively up ones."""
    return [lp for lp in ports.local_ports(replica) if lp.port['admin_state_up']]


def switch_flows(switch):
    """Every flow the switch should hold."""
    flows = set(base_flows())
    for feature in FEATURES:
        if hasattr(feature, 'switch_flows'):
            flows.update(feature.switch_flows())
    members = collections.defaultdict(list)
    for lp in active_ports(switch.replica, switch.ports):
        members[lp.port['network_id']].append(lp)
        for feature in FEATURES:
            flows.update(feature.port_flows(switch, lp))
    for network_id, local in members.items():
        for feature in FEATURES:
            flows.update(feature.network_flows(switch, network_id, local))
    return flows


def meters(switch):
    """One packet-in meter per local VM port, numbered by its port number."""
    if not switch.metered:
        return {}
    config = switch.config
    return {lp.ofport: Meter(lp.ofport, config.packet_in_rate, config.packet_in_burst)
            for lp in active_ports(switch.replica, switch.ports)}
