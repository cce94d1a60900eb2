"""The packet-in responder of one switch: which port a packet-in came from,
and that port's DHCP and its network's ARP answers, compiled from the model
once and kept until the model or the switch's ports change.

    responder = Responder(replica, switch_ports, gateway_mac, dhcp_config)
    out_port, frame, event = responder.answer(in_port, frame)
    responder.invalidate()      # the model or the switch's ports changed

A hit costs a dict lookup and the protocol's own work (dhcp.PortDhcp,
arp.NetworkArp); a miss (the first packet of a port after a change) reads
the replica under its lock.  ``invalidate`` may run on any thread: entries
carry the generation they were built in, and an entry built from the model
before a change, by a packet-in racing with it, is not used after it.
"""

from srv6_ofapp.edge import arp
from srv6_ofapp.edge import dhcp

ETH_TYPE_ARP = b'\x08\x06'
ETH_TYPE_IP = b'\x08\x00'

UNKNOWN_PORT = 'packet_in_unknown_port'
UNEXPECTED = 'packet_in_unexpected'


class _Port:
    __slots__ = ('generation', 'port', 'network_id', 'dhcp')

    def __init__(self, generation, port, network_id, dhcp_port):
        self.generation = generation
        self.port = port
        self.network_id = network_id
        self.dhcp = dhcp_port


class Responder:

    def __init__(self, replica, switch_ports, gateway_mac, dhcp_config):
        self.replica = replica
        self.ports = switch_ports
        self.gateway_mac = gateway_mac
        self.dhcp_config = dhcp_config
        self.generation = 0
        self._ports = {}       # OpenFlow port -> _Port (or a generation: no model port there)
        self._networks = {}    # network id -> (generation, arp.NetworkArp)

    def invalidate(self):
        self.generation += 1

    def port_at(self, in_port):
        """The model port behind ``in_port`` (as of the last change), or None."""
        entry = self._port(in_port)
        return entry.port if entry is not None else None

    def _port(self, in_port):
        entry = self._ports.get(in_port)
        generation = self.generation
        if entry is not None and (entry if entry.__class__ is int else entry.generation) \
                == generation:
            return None if entry.__class__ is int else entry
        with self.replica.lock:
            port = self.ports.port_at(self.replica, in_port)
            if port is None:
                self._ports[in_port] = generation
                return None
            network_id = port['network_id']
            compiled = dhcp.PortDhcp(port, self.replica.network(network_id) or {},
                                     self.replica.subnets_of(network_id), self.dhcp_config)
        entry = self._ports[in_port] = _Port(generation, port, network_id, compiled)
        return entry

    def _network_arp(self, network_id):
        found = self._networks.get(network_id)
        generation = self.generation
        if found is not None and found[0] == generation:
            return found[1]
        network_arp = _LockedNetworkArp(self.replica, network_id, self.gateway_mac,
                                        self.ports.ofport_of)
        self._networks[network_id] = (generation, network_arp)
        return network_arp

    def answer(self, in_port, frame):
        """(out_port, reply frame or None, event) for a frame that came in on
        OpenFlow port ``in_port``; out_port None means back out of in_port."""
        entry = self._port(in_port)
        if entry is None:
            return None, None, UNKNOWN_PORT
        eth_type = frame[12:14]
        if eth_type == ETH_TYPE_IP:
            reply, event = entry.dhcp.answer(frame)
            return None, reply, event
        if eth_type == ETH_TYPE_ARP:
            reply, event = self._network_arp(entry.network_id).answer(frame)
            if reply is None:
                return None, None, event
            return reply.out_port, reply.frame, event
        return None, None, UNEXPECTED


class _LockedNetworkArp(arp.NetworkArp):
    """Reads the replica under its lock on a miss."""

    def target(self, tpa):
        found = self._targets.get(tpa, False)
        if found is not False:
            return found
        with self.replica.lock:
            return super().target(tpa)
