"""The edge app driven through a fake switch (real OpenFlow encodings, no OVS):
reconciliation, restarts, the upgrade from the old table numbering, and
blocking work kept off the OpenFlow thread."""

import threading
import time
import types

import pytest
from os_ken.ofproto import ofproto_v1_3 as ofp
from os_ken.ofproto import ofproto_v1_3_parser as parser
from scapy.layers.l2 import ARP, Ether

from srv6_ofapp import config
from srv6_ofapp import ovsdb
from srv6_ofapp.edge import app as app_lib
from srv6_ofapp.edge import ofmsg
from srv6_ofapp.edge import pipeline
from srv6_ofapp.edge.flows import flow_key
from srv6_ofapp.edge.tables import TABLE_ID, TABLE_NAME
from srv6_ofapp.runtime import HostReports, Role
from srv6_ofapp.store.base import Change
from tests.fakeswitch import FakeSwitch
from tests.unit.test_pipeline import GW_MAC, World, rule

# The table ids of the releases before ids were fixed: their list position.
OLD_TABLE_ID = {'ingress': 0, 'arp': 1, 'dhcp': 2, 'l2': 3}


class RecordingPlugin:
    """What the app asks of the plugin: port statuses, recorded, and written
    back to the replica as the store's feed would."""

    def __init__(self, replica):
        self.replica = replica
        self.statuses = {}
        self.calls = 0
        self.hold = None  # an Event the write waits for: a slow disk

    def set_port_statuses(self, statuses):
        if self.hold is not None:
            self.hold.wait(10)
        self.calls += 1
        self.statuses.update(statuses)
        for port_id, status in statuses.items():
            old = self.replica.port(port_id)
            if old is not None:
                self.replica.apply(Change(self.replica.revision + 1, 'ports', port_id, old,
                                          dict(old, status=status)))


@pytest.fixture
def world():
    config.register_opts()
    return World()


def make_app(world, replica=None, role=None):
    replica = replica or world.view()
    runtime = types.SimpleNamespace(plugin=RecordingPlugin(replica), replica=replica,
                                    role=role or Role('all'), reports=HostReports())
    return app_lib.SRv6OFApp(runtime=runtime)


@pytest.fixture
def apps():
    made = []
    yield made
    for app in made:
        app.close()


def desired(app, switch):
    state = app.switches[switch.id]
    return app._desired(state)[0]


def connected(apps, world, switch, replica=None):
    app = make_app(world, replica)
    apps.append(app)
    switch.connect(app)
    assert app.worker.wait_idle(5)
    assert app.switches[switch.id].synced
    return app


def test_a_connecting_switch_gets_exactly_the_desired_flows(world, apps):
    switch = FakeSwitch(1, world.ofports)
    app = connected(apps, world, switch)
    assert set(switch.read_flows()) == desired(app, switch)
    assert set(switch.meters) == {1, 2, 3}
    # The three ports on the switch; a_remote is bound to another host.
    assert app.plugin.statuses == {world.a1['id']: 'ACTIVE', world.a2['id']: 'ACTIVE',
                                   world.b1['id']: 'ACTIVE'}


def test_a_restart_with_nothing_changed_sends_nothing(world, apps):
    switch = FakeSwitch(1, world.ofports)
    connected(apps, world, switch)
    before = len(switch.sent)
    connected(apps, world, switch)  # a new process: nothing remembered
    kinds = [type(m).__name__ for m in switch.sent[before:]]
    assert kinds == ['OFPPortDescStatsRequest', 'OFPFlowStatsRequest',
                     'OFPMeterConfigStatsRequest']


def legacy_flow_mod(switch, flow):
    """The flow-mod a release with list-position table ids sent for ``flow``
    (one of that release's tables, which had no security groups: its IPv4
    went from ingress straight to l2)."""
    if flow.instructions and flow.instructions[-1] == ('goto', 'sg_egress'):
        flow = flow._replace(instructions=flow.instructions[:1] + (('goto', 'l2'),))
    if flow.instructions and flow.instructions[-1] == ('goto', 'sg_ingress'):
        [(_, [(_, _, ofport)]), _] = flow.instructions  # set reg5 to the port, go on
        flow = flow._replace(instructions=(('apply', (('output', ofport),)),))
    mod = ofmsg.flow_mod(switch, flow, ofp.OFPFC_ADD)
    mod.table_id = OLD_TABLE_ID[flow.table]
    for instruction in mod.instructions:
        if isinstance(instruction, parser.OFPInstructionGotoTable):
            instruction.table_id = OLD_TABLE_ID[TABLE_NAME[instruction.table_id]]
    return mod


def test_flows_of_the_old_table_numbering_are_replaced_in_one_pass(world, apps):
    switch = FakeSwitch(1, world.ofports)
    wanted = connected(apps, world, FakeSwitch(1, world.ofports)).switches[1]
    for flow in wanted.flows.values():
        if flow.table in OLD_TABLE_ID:
            switch.send_msg(legacy_flow_mod(switch, flow))
    for meter in wanted.meters.values():
        switch.send_msg(ofmsg.meter_mod(switch, meter, ofp.OFPMC_ADD))
    assert {key[0] for key in switch.flows} == {0, 1, 2, 3}
    before = len(switch.sent)

    app = connected(apps, world, switch)
    assert set(switch.read_flows()) == desired(app, switch)
    assert {key[0] for key in switch.flows} == set(TABLE_ID.values())
    mods = [m for m in switch.sent[before:] if isinstance(m, parser.OFPFlowMod)]
    adds = [m for m in mods if m.command == ofp.OFPFC_ADD]
    deletes = [m for m in mods if m.command == ofp.OFPFC_DELETE_STRICT]
    assert adds and deletes and mods == adds + deletes
    # Downstream tables are filled before a flow upstream points at them.
    assert [m.table_id for m in adds] == sorted((m.table_id for m in adds), reverse=True)
    assert {m.table_id for m in deletes} == {1, 2, 3}
    # And the next start finds nothing to do.
    before = len(switch.sent)
    connected(apps, world, switch)
    assert not [m for m in switch.sent[before:] if isinstance(m, parser.OFPFlowMod)]


def test_a_flow_whose_actions_do_not_read_back_is_replaced_not_deleted(world, apps):
    """Reconciliation replaces such a flow in place; deleting what it cannot
    read after adding the desired flow at the same key would delete the new
    flow itself."""
    switch = FakeSwitch(1, world.ofports)
    target = next(f for f in connected(apps, world, FakeSwitch(1, world.ofports))
                  .switches[1].flows.values() if f.table == 'l2' and f.priority == 100)
    odd = parser.OFPFlowMod(
        switch, table_id=TABLE_ID['l2'], priority=target.priority, cookie=target.cookie,
        match=parser.OFPMatch(**dict(target.match)), command=ofp.OFPFC_ADD,
        instructions=[parser.OFPInstructionActions(ofp.OFPIT_APPLY_ACTIONS,
                                                   [parser.OFPActionPopVlan()])])
    switch.send_msg(odd)
    assert [f.instructions for f in switch.read_flows()] == [None]
    app = connected(apps, world, switch)
    held = {flow_key(f): f for f in switch.read_flows()}
    assert held[flow_key(target)] == target
    assert set(held.values()) == desired(app, switch)


def test_a_port_plugged_later_gets_its_flows(world, apps):
    ofports = dict(world.ofports)
    tap = next(name for name, number in ofports.items() if number == 2)
    del ofports[tap]
    switch = FakeSwitch(1, ofports)
    app = connected(apps, world, switch)
    assert not any(('in_port', 2) in f.match for f in switch.read_flows())
    switch.port_added(app, tap, 2)
    assert any(('in_port', 2) in f.match for f in switch.read_flows())
    assert set(switch.read_flows()) == desired(app, switch)
    assert app.worker.wait_idle(5)
    assert app.plugin.statuses[world.a2['id']] == 'ACTIVE'
    switch.port_deleted(app, tap)
    assert not any(('in_port', 2) in f.match for f in switch.read_flows())
    assert app.worker.wait_idle(5)
    assert app.plugin.statuses[world.a2['id']] == 'DOWN'


def arp_request(src_port, target_ip):
    mac = src_port['mac_address']
    return bytes(Ether(src=mac, dst='ff:ff:ff:ff:ff:ff') / ARP(
        op=1, hwsrc=mac, psrc=src_port['fixed_ips'][0]['ip_address'], pdst=target_ip))


def test_a_slow_ovsdb_or_disk_does_not_hold_up_packet_ins(world, apps, monkeypatch):
    """The host's OVSDB read and the port-status write run on the worker: a
    switch whose OVSDB hangs syncs late, but another switch's packet-ins are
    answered meanwhile."""
    view = world.view()
    slow_host = dict(view.host_by_name('hv1'), id='h2', name='hv2',
                     datapath_id='0000000000000002', ovsdb='unix:/nowhere')
    view.load({kind: list(docs.values()) for kind, docs in view.docs.items()
               if kind != 'hosts'} | {'hosts': [view.host_by_name('hv1'), slow_host]}, 1)
    ovsdb_answers = threading.Event()

    def hanging_iface_ids(target, timeout=5):
        ovsdb_answers.wait(10)
        return {}
    monkeypatch.setattr(ovsdb, 'iface_ids', hanging_iface_ids)
    app = make_app(world, view)
    apps.append(app)
    app.plugin.hold = threading.Event()

    slow = FakeSwitch(2, {'tap-none': 5})
    started = time.monotonic()
    slow.connect(app)
    fast = FakeSwitch(1, world.ofports)
    fast.connect(app)
    fast.packet_in(app, 1, arp_request(world.a1, '10.0.0.1'))
    assert time.monotonic() - started < 2
    assert fast.packet_outs and Ether(fast.packet_outs[0][1])[ARP].hwsrc == GW_MAC
    assert app.switches[1].synced and not app.switches[2].synced
    ovsdb_answers.set()
    app.plugin.hold.set()
    assert app.worker.wait_idle(5)
    assert app.switches[2].synced


def test_iface_ids_found_later_bring_the_ports_flows(world, apps, monkeypatch):
    view = world.view()
    host = dict(view.host_by_name('hv1'), ovsdb='unix:/db.sock')
    view.load({kind: list(docs.values()) for kind, docs in view.docs.items()
               if kind != 'hosts'} | {'hosts': [host]}, 1)
    monkeypatch.setattr(ovsdb, 'iface_ids',
                        lambda target, timeout=5: {'vm-a1': world.a1['id']})
    switch = FakeSwitch(1, {'vm-a1': 7})
    app = connected(apps, world, switch, view)
    assert any(('in_port', 7) in f.match for f in switch.read_flows())
    assert app.plugin.statuses[world.a1['id']] == 'ACTIVE'
    assert app.switches[1].ports.ofport_of(world.a1['id']) == 7
    assert pipeline.meters(pipeline.Switch(view, app.switches[1].ports, app.config, True)) \
        == {7: (7, 100, 50)}


def test_a_port_moved_to_stateless_groups_gets_its_flows_replaced(world, apps):
    """From a stateful group to a stateless one and back: the reconciliation
    replaces the port's conntrack flows, and leaves nothing of them."""
    group = {'id': 'g-stateful', 'tenant_id': 'p1', 'created_at': '2026-01-01T00:00:00Z'}
    notrack = dict(group, id='g-stateless', stateful=False)
    rules = [rule(group_id, direction) for group_id in (group['id'], notrack['id'])
             for direction in ('ingress', 'egress')]
    world.a1['security_groups'] = [group['id']]
    replica = world.view(groups=[group, notrack], rules=rules)
    switch = FakeSwitch(1, world.ofports)
    app = connected(apps, world, switch, replica)

    def a1_flows():
        return [f for f in switch.read_flows() if ('reg5', 1) in f.match]

    def uses_conntrack(flow):
        actions = [a for i in flow.instructions if i[0] == 'apply' for a in i[1]]
        return 'ct_state' in dict(flow.match) or any(a[0] == 'ct' for a in actions)

    assert any(uses_conntrack(f) for f in a1_flows())
    for groups, conntrack in (([notrack['id']], False), ([group['id']], True)):
        old = replica.port(world.a1['id'])
        change = Change(replica.revision + 1, 'ports', old['id'], old,
                        dict(old, security_groups=groups))
        replica.apply(change)
        app._model_changed(change)
        assert set(switch.read_flows()) == desired(app, switch)
        assert any(uses_conntrack(f) for f in a1_flows()) is conntrack
        assert a1_flows()
