"""Run packets through Flows without a switch (faucet's FakeOFTable idea).

A packet is a dict of OXM field names (in_port, eth_src, eth_dst, eth_type,
arp_op, arp_spa, arp_tpa, arp_sha, arp_tha, ipv4_src, ipv4_dst, ip_proto,
udp_dst, ...).  ``process`` returns what leaves the switch: a list of
(port, packet) with port an OpenFlow port number or 'controller'.

``FakeOFTable.through_the_wire(flows)`` first sends the flows the way the
app does (ofmsg flow-mods, serialized and parsed back as a switch would,
then read back as flow stats), so a flow that does not survive that trip
fails here instead of on a real switch.
"""

import ipaddress

from srv6_ofapp.edge.tables import TABLE_ID, TABLES


def _field_matches(packet, field, wanted):
    value = packet.get(field)
    if value is None:
        return False
    if isinstance(wanted, tuple):  # (value, mask) of an IPv4 field
        address, mask = (int(ipaddress.ip_address(x)) for x in wanted)
        return int(ipaddress.ip_address(value)) & mask == address & mask
    return value == wanted


class FakeOFTable:

    def __init__(self, flows):
        flows = list(flows)
        unreadable = [f for f in flows if f.instructions is None]
        assert not unreadable, 'flows that did not read back: %s' % unreadable
        self.tables = {table.name: sorted((f for f in flows if f.table == table.name),
                                          key=lambda f: -f.priority)
                       for table in TABLES}
        self.meters_hit = []

    @classmethod
    def through_the_wire(cls, flows):
        from tests.fakeswitch import FakeSwitch
        switch = FakeSwitch(1)
        switch.install(flows)
        return cls(switch.read_flows())

    def lookup(self, table, packet):
        for flow in self.tables[table]:
            if all(_field_matches(packet, k, v) for k, v in flow.match):
                return flow
        return None

    def process(self, packet):
        packet = dict(packet)
        outputs = []
        table = 'ingress'
        while table is not None:
            flow = self.lookup(table, packet)
            if flow is None:
                return outputs  # table miss: dropped
            table = None
            for instruction in flow.instructions:
                kind = instruction[0]
                if kind == 'meter':
                    self.meters_hit.append(instruction[1])
                elif kind == 'apply':
                    for action in instruction[1]:
                        self._act(action, packet, outputs)
                elif kind == 'write_metadata':
                    packet['metadata'] = instruction[1]
                elif kind == 'goto':
                    assert TABLE_ID[instruction[1]] > TABLE_ID[flow.table]
                    table = instruction[1]
        return outputs

    @staticmethod
    def _act(action, packet, outputs):
        kind = action[0]
        if kind == 'output':
            # OpenFlow never sends a frame back out of its in_port unless
            # told so with IN_PORT.
            if action[1] != packet['in_port']:
                outputs.append((action[1], dict(packet)))
        elif kind == 'in_port':
            outputs.append((packet['in_port'], dict(packet)))
        elif kind == 'controller':
            outputs.append(('controller', dict(packet)))
        elif kind == 'set':
            packet[action[1]] = action[2]
        elif kind == 'move':
            packet[action[2]] = packet[action[1]]
        else:
            raise AssertionError('unknown action %r' % (action,))
