"""Flows survive the trip to OpenFlow 1.3 wire format and back unchanged,
so a switch that holds exactly the desired flows gets no flow-mods."""

import collections

import pytest
from os_ken.ofproto import ofproto_v1_3 as ofp
from os_ken.ofproto import ofproto_v1_3_parser as parser

from srv6_ofapp.edge import ofmsg
from srv6_ofapp.edge.flows import Meter
from tests.unit.test_pipeline import World

Stat = collections.namedtuple('Stat', 'table_id priority cookie match instructions')


class FakeDatapath:
    ofproto = ofp
    ofproto_parser = parser
    id = 1

    def set_xid(self, msg):
        msg.xid = 1


def wire_round_trip(flow):
    """Serialise the flow-mod, parse it back as the switch would report it."""
    datapath = FakeDatapath()
    mod = ofmsg.flow_mod(datapath, flow, ofp.OFPFC_ADD)
    mod.serialize()
    parsed = parser.OFPFlowMod.parser(datapath, ofp.OFP_VERSION, ofp.OFPT_FLOW_MOD,
                                      len(mod.buf), mod.xid, bytes(mod.buf))
    return Stat(parsed.table_id, parsed.priority, parsed.cookie, parsed.match,
                parsed.instructions)


def every_flow():
    world = World()
    world.a1['allowed_address_pairs'] = [{'ip_address': '192.168.5.0/24'}]
    world.a2['port_security_enabled'] = False
    ofports = dict(world.ofports, **{'gw-' + world.net_a['id'][:11]: 9})
    return sorted(world.flows(ofports=ofports), key=repr)


@pytest.mark.parametrize('flow', every_flow(), ids=lambda f: '%s-%d' % (f.table, f.priority))
def test_flow_round_trip(flow):
    assert ofmsg.flow_from_stats(ofp, wire_round_trip(flow)) == flow


def test_a_foreign_flow_reads_back_with_its_key_and_no_instructions():
    stat = Stat(0, 5, 0, parser.OFPMatch(in_port=1),
                [parser.OFPInstructionActions(ofp.OFPIT_APPLY_ACTIONS,
                                              [parser.OFPActionOutput(ofp.OFPP_NORMAL)])])
    # NORMAL is an output port number: a flow we could have written.
    assert ofmsg.flow_from_stats(ofp, stat).instructions is not None
    odd = Stat(0, 5, 0, parser.OFPMatch(in_port=1),
               [parser.OFPInstructionActions(ofp.OFPIT_APPLY_ACTIONS,
                                             [parser.OFPActionPopVlan()])])
    flow = ofmsg.flow_from_stats(ofp, odd)
    assert (flow.table, flow.priority, flow.match, flow.instructions) == (
        'ingress', 5, (('in_port', 1),), None)
    # A table we do not use keeps its number, so the flow can be deleted.
    other = ofmsg.flow_from_stats(ofp, Stat(200, 0, 0, parser.OFPMatch(), []))
    assert other.table == 200
    delete = ofmsg.flow_mod(FakeDatapath(), other, ofp.OFPFC_DELETE_STRICT)
    assert (delete.table_id, delete.priority) == (200, 0)


def test_meter_round_trip():
    datapath = FakeDatapath()
    meter = Meter(3, 100, 50)
    mod = ofmsg.meter_mod(datapath, meter, ofp.OFPMC_ADD)
    config = parser.OFPMeterConfigStats(flags=mod.flags, meter_id=mod.meter_id,
                                        bands=mod.bands)
    assert ofmsg.meter_from_stats(ofp, config) == meter


def test_nxm_field_names_read_back_as_oxm_names():
    """OVS reports move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[] with NXM names."""
    move = parser.NXActionRegMove(src_field='eth_src_nxm', dst_field='eth_dst_nxm', n_bits=48)
    stat = Stat(10, 200, 0, parser.OFPMatch(),
                [parser.OFPInstructionActions(ofp.OFPIT_APPLY_ACTIONS, [move])])
    flow = ofmsg.flow_from_stats(ofp, stat)
    assert flow.instructions == (('apply', (('move', 'eth_src', 'eth_dst', 48),)),)
