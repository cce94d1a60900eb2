"""After a switch error the app re-reads the switch instead of trusting its record."""

from os_ken.ofproto import ofproto_v1_3 as ofp
from os_ken.ofproto import ofproto_v1_3_parser as parser

from srv6_ofapp.edge import app


class RecordingDatapath:
    ofproto = ofp
    ofproto_parser = parser
    id = 1

    def __init__(self):
        self.sent = []

    def send_msg(self, msg):
        self.sent.append(msg)

    def set_xid(self, msg):
        msg.xid = 7


# _resync needs nothing of the app but this.
APP = type('App', (), {'_request_meters': staticmethod(app.SRv6OFApp._request_meters)})()


def test_resync_forgets_the_record_and_asks_again():
    datapath = RecordingDatapath()
    state = app.SwitchState(datapath, 1)
    state.synced, state.ports_known, state.flows, state.meters = True, True, {'k': 'f'}, {}
    app.SRv6OFApp._resync(APP, state)
    assert not state.synced and state.flows is None and state.meters is None
    assert state.ports_known  # ports are still known from port-status events
    kinds = [type(m).__name__ for m in datapath.sent]
    assert kinds == ['OFPFlowStatsRequest', 'OFPMeterConfigStatsRequest']
    assert state.meter_xid == 7  # a meter error is recognised by this xid


def test_resync_of_a_switch_without_meters_asks_for_flows_only():
    datapath = RecordingDatapath()
    state = app.SwitchState(datapath, 1)
    state.synced, state.metered, state.flows, state.meters = True, False, {}, {}
    app.SRv6OFApp._resync(APP, state)
    assert state.meters == {}
    assert [type(m).__name__ for m in datapath.sent] == ['OFPFlowStatsRequest']


def test_the_edges_own_status_writes_do_not_trigger_recomputation():
    from srv6_ofapp.store.base import Change
    from srv6_ofapp.replica import Replica
    old = {'id': 'p', 'network_id': 'n', 'status': 'DOWN', 'updated_at': 'a',
           'revision_number': 1, 'fixed_ips': []}
    new = dict(old, status='ACTIVE', updated_at='b', revision_number=2)
    assert Replica.status_only(Change(5, 'ports', 'p', old, new))
    assert not Replica.status_only(Change(5, 'ports', 'p', old, dict(new, name='x')))
    assert not Replica.status_only(Change(5, 'ports', 'p', None, new))
    assert not Replica.status_only(Change(5, 'networks', 'p', old, new))
