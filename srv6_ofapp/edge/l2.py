"""The l2 table: unicast delivery within a network, by (network tag,
destination MAC), to a local VM -- through its security groups
(sg_ingress, with its port in reg5) when it has port security -- or to the
network's gateway port.  Nothing is ever flooded: broadcast, multicast and
unknown destinations miss and are dropped."""

from srv6_ofapp.edge import security_groups
from srv6_ofapp.edge.flows import COOKIE_NETWORK, COOKIE_PORT, cookie, make_flow, network_tag
from srv6_ofapp.edge.tables import PORT_REG
from topology import naming


def port_flows(switch, lp):
    port = lp.port
    if security_groups.filtered(port):
        deliver = [('apply', (('set', PORT_REG, lp.ofport),)), ('goto', 'sg_ingress')]
    else:
        deliver = [('apply', (('output', lp.ofport),))]
    return [make_flow('l2', 100, cookie(COOKIE_PORT, port['id']), deliver,
                      metadata=network_tag(port['network_id']), eth_dst=port['mac_address'])]


def network_flows(switch, network_id, members):
    gateway_ofport = switch.ports.ofports.get(naming.gateway_port_name(network_id))
    if gateway_ofport is None:
        return []
    # The way out of the network: the distributed gateway, in the VRF.
    return [make_flow('l2', 100, cookie(COOKIE_NETWORK, network_id),
                      [('apply', (('output', gateway_ofport),))],
                      metadata=network_tag(network_id), eth_dst=switch.config.gateway_mac)]
