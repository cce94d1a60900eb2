"""Run packets through Flows without a switch (faucet's FakeOFTable idea).

A packet is a dict of OXM field names (in_port, eth_src, eth_dst, eth_type,
arp_op, arp_spa, arp_tpa, arp_sha, arp_tha, ipv4_src, ipv4_dst, ip_proto,
udp_dst, ...).  ``process`` returns what leaves the switch: a list of
(port, packet) with port an OpenFlow port number or 'controller'.

``FakeOFTable.through_the_wire(flows)`` first sends the flows the way the
app does (ofmsg flow-mods, serialized and parsed back as a switch would,
then read back as flow stats), so a flow that does not survive that trip
fails here instead of on a real switch.

Connection tracking and conjunctive matches are played as OVS plays them,
as far as the pipeline uses them (FakeConntrack: a committed connection's
later packets are +est, the other direction's +rpl; ct_mark; zones).
"""

import ipaddress

from srv6_ofapp.edge.tables import TABLE_ID, TABLES

TRK, NEW, EST, RPL = 0x20, 0x01, 0x02, 0x08
PORT_FIELDS = {6: ('tcp_src', 'tcp_dst'), 17: ('udp_src', 'udp_dst'),
               132: ('sctp_src', 'sctp_dst')}


class FakeConntrack:
    """Connections by (zone, 5-tuple), with their mark."""

    def __init__(self):
        self.connections = {}

    @staticmethod
    def _tuple(packet):
        proto = packet.get('ip_proto')
        src, dst = PORT_FIELDS.get(proto, (None, None))
        if src:
            return (packet['ipv4_src'], packet.get(src), packet['ipv4_dst'], packet.get(dst),
                    proto)
        return (packet['ipv4_src'], None, packet['ipv4_dst'], None, proto)

    def lookup(self, packet, zone):
        """Set the packet's ct_state, ct_mark and ct_zone, as ct(zone) does."""
        forward = self._tuple(packet)
        reverse = (forward[2], forward[3], forward[0], forward[1], forward[4])
        if (zone, forward) in self.connections:
            state, key = TRK | EST, (zone, forward)
        elif (zone, reverse) in self.connections:
            state, key = TRK | EST | RPL, (zone, reverse)
        else:
            state, key = TRK | NEW, None
        packet.update(ct_state=state, ct_zone=zone,
                      ct_mark=self.connections[key] if key else 0)

    def commit(self, packet, zone, mark):
        forward = self._tuple(packet)
        reverse = (forward[2], forward[3], forward[0], forward[1], forward[4])
        key = (zone, reverse) if (zone, reverse) in self.connections else (zone, forward)
        old = self.connections.get(key, 0)
        self.connections[key] = old if mark is None else mark
        packet['ct_mark'] = self.connections[key]


def _field_matches(packet, field, wanted):
    value = packet.get(field)
    if value is None:
        return False
    if isinstance(wanted, tuple):  # (value, mask)
        if isinstance(wanted[0], int):
            return value & wanted[1] == wanted[0] & wanted[1]
        address, mask = (int(ipaddress.ip_address(x)) for x in wanted)
        return int(ipaddress.ip_address(value)) & mask == address & mask
    return value == wanted


class FakeOFTable:

    def __init__(self, flows, conntrack=None):
        flows = list(flows)
        unreadable = [f for f in flows if f.instructions is None]
        assert not unreadable, 'flows that did not read back: %s' % unreadable
        self.tables = {table.name: sorted((f for f in flows if f.table == table.name),
                                          key=lambda f: -f.priority)
                       for table in TABLES}
        self.meters_hit = []
        # A switch's connections outlive a change of its flows: pass them on.
        self.conntrack = conntrack or FakeConntrack()

    @classmethod
    def through_the_wire(cls, flows, conntrack=None):
        from tests.fakeswitch import FakeSwitch
        switch = FakeSwitch(1)
        switch.install(flows)
        return cls(switch.read_flows(), conntrack)

    def lookup(self, table, packet):
        """The flow a packet meets: the highest priority with a match, where
        a conjunction all of whose clauses match sends the lookup on to the
        flows that match its conj_id (OVS's conjunctive matches)."""
        flows = [f for f in self.tables[table] if 'conj_id' not in dict(f.match)]
        for priority in sorted({f.priority for f in flows}, reverse=True):
            level = [f for f in flows if f.priority == priority and
                     all(_field_matches(packet, k, v) for k, v in f.match)]
            clauses = {}
            plain = None
            for flow in level:
                actions = [a for i in flow.instructions if i[0] == 'apply' for a in i[1]]
                conjunctions = [a for a in actions if a[0] == 'conjunction']
                if not conjunctions:
                    plain = plain or flow
                for _, conj_id, clause, n_clauses in conjunctions:
                    clauses.setdefault(conj_id, (n_clauses, set()))[1].add(clause)
            for conj_id, (n_clauses, seen) in sorted(clauses.items()):
                if len(seen) == n_clauses:
                    found = self._conjunction(table, dict(packet, conj_id=conj_id))
                    if found is not None:
                        return found
            if plain is not None:
                return plain
        return None

    def _conjunction(self, table, packet):
        for flow in self.tables[table]:
            if 'conj_id' in dict(flow.match) and \
                    all(_field_matches(packet, k, v) for k, v in flow.match):
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
                        recirculate = self._act(action, packet, outputs)
                        if recirculate:
                            table = recirculate
                            break
                    if table is not None:
                        break
                elif kind == 'write_metadata':
                    packet['metadata'] = instruction[1]
                elif kind == 'goto':
                    assert TABLE_ID[instruction[1]] > TABLE_ID[flow.table]
                    table = instruction[1]
        return outputs

    def _act(self, action, packet, outputs):
        """Apply one action; a table name when it recirculates there."""
        kind = action[0]
        if kind == 'ct':
            _, commit, table, zone_field, mark = action
            zone = packet[zone_field] & 0xffff
            if packet.get('ct_zone') != zone:
                self.conntrack.lookup(packet, zone)
            if commit:
                self.conntrack.commit(packet, zone, mark)
            return table
        if kind == 'ct_clear':
            for field in ('ct_state', 'ct_zone', 'ct_mark'):
                packet.pop(field, None)
            return None
        if kind == 'conjunction':
            raise AssertionError('a conjunction action is only looked up, never run')
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
