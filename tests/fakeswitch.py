"""A switch the edge app can drive without OVS, through real OpenFlow encodings.

Flow-mods and meter-mods the app sends are serialized to OpenFlow 1.3 wire
format and parsed back, as a switch would receive them;
flow-mods and meter-mods then change the switch's tables with OpenFlow's
semantics (an add replaces the entry with the same table, priority and
match; a strict delete removes exactly that entry).  Statistics requests
are answered through the app's own handlers with what the tables hold, so
the app reads back exactly what survived the trip.  ``connect`` plays the
handshake OS-Ken delivers; ``port_added``, ``packet_in`` etc. play events.
"""

import struct
import types

from os_ken.ofproto import ofproto_parser
from os_ken.ofproto import ofproto_v1_3 as ofp
from os_ken.ofproto import ofproto_v1_3_parser as parser

from srv6_ofapp.edge import ofmsg


def match_key(match):
    return tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in match.items()))


def _event(**msg):
    return types.SimpleNamespace(msg=types.SimpleNamespace(**msg))


def _port(name, number):
    return parser.OFPPort(port_no=number, hw_addr='02:00:00:00:%02x:%02x' % divmod(number, 256),
                          name=name.encode(), config=0, state=0, curr=0, advertised=0,
                          supported=0, peer=0, curr_speed=0, max_speed=0)


class FakeSwitch:
    ofproto = ofp
    ofproto_parser = parser

    def __init__(self, dpid, ports=None):
        self.id = dpid
        self.ports = dict(ports or {})   # interface name -> OpenFlow port number
        self.flows = {}                  # (table id, priority, match key) -> OFPFlowMod
        self.meters = {}                 # meter id -> OFPMeterMod
        self.sent = []                   # every message the app sent, in order
        self.packet_outs = []            # (out port, frame)
        self.requests = []               # statistics requests not answered yet
        self._xid = 0

    # -- what the app calls ------------------------------------------------------

    def set_xid(self, msg):
        self._xid += 1
        msg.xid = self._xid

    def send_msg(self, msg):
        if msg.xid is None:
            self.set_xid(msg)
        self.sent.append(msg)
        if isinstance(msg, parser.OFPFlowMod):
            self._flow_mod(self._round_trip(msg))
        elif isinstance(msg, parser.OFPMeterMod):
            self._meter_mod(self._meter_mod_round_trip(msg))
        elif isinstance(msg, parser.OFPPacketOut):
            self.packet_outs.append((msg.actions[0].port, bytes(msg.data)))
        else:
            self.requests.append(msg)

    def _round_trip(self, msg):
        msg.serialize()
        buf = bytes(msg.buf)
        version, msg_type, msg_len, xid = ofproto_parser.header(buf)
        return ofproto_parser.msg(self, version, msg_type, msg_len, xid, buf)

    def _meter_mod_round_trip(self, msg):
        # OS-Ken parses flow-mods but not meter-mods: read the body here.
        msg.serialize()
        buf = bytes(msg.buf)
        command, flags, meter_id = struct.unpack_from(ofp.OFP_METER_MOD_PACK_STR, buf,
                                                      ofp.OFP_HEADER_SIZE)
        offset, bands = ofp.OFP_METER_MOD_SIZE, []
        while offset < len(buf):
            band = parser.OFPMeterBandHeader.parser(buf, offset)
            bands.append(band)
            offset += band.len
        return parser.OFPMeterMod(self, command=command, flags=flags, meter_id=meter_id,
                                  bands=bands)

    def _flow_mod(self, mod):
        key = (mod.table_id, mod.priority, match_key(mod.match))
        if mod.command == ofp.OFPFC_ADD:
            self.flows[key] = mod
        elif mod.command == ofp.OFPFC_DELETE_STRICT:
            self.flows.pop(key, None)
        else:
            raise AssertionError('the app sent flow-mod command %d' % mod.command)

    def _meter_mod(self, mod):
        exists = mod.meter_id in self.meters
        if mod.command == ofp.OFPMC_DELETE:
            self.meters.pop(mod.meter_id, None)
            return
        # OVS refuses to add a meter twice or to modify a missing one.
        assert exists == (mod.command == ofp.OFPMC_MODIFY), (mod.command, mod.meter_id)
        self.meters[mod.meter_id] = mod

    # -- what the switch holds -----------------------------------------------------

    def flow_stats(self):
        return [parser.OFPFlowStats(table_id=m.table_id, duration_sec=0, duration_nsec=0,
                                    priority=m.priority, idle_timeout=0, hard_timeout=0,
                                    flags=0, cookie=m.cookie, packet_count=0, byte_count=0,
                                    match=m.match, instructions=m.instructions)
                for _, m in sorted(self.flows.items(), key=lambda item: repr(item[0]))]

    def read_flows(self):
        """The switch's flows as the app reads them back."""
        return [ofmsg.flow_from_stats(ofp, stat) for stat in self.flow_stats()]

    def install(self, flows):
        """Put ``flows`` on the switch, as the app would send them."""
        for flow in flows:
            self.send_msg(ofmsg.flow_mod(self, flow, ofp.OFPFC_ADD))

    def flow_mods_sent(self):
        return [m for m in self.sent if isinstance(m, parser.OFPFlowMod)]

    # -- events, as OS-Ken delivers them to the app ---------------------------------

    def connect(self, app):
        """The handshake: the features reply, then the answers to the
        statistics requests the app makes in return."""
        app.switch_features_handler(_event(datapath=self, datapath_id=self.id))
        self.answer(app)

    def answer(self, app):
        """Answer the statistics requests the app has sent."""
        while self.requests:
            request = self.requests.pop(0)
            if isinstance(request, parser.OFPPortDescStatsRequest):
                body = [_port(name, number) for name, number in sorted(self.ports.items())]
                app.port_desc_handler(_event(datapath=self, body=body, flags=0))
            elif isinstance(request, parser.OFPFlowStatsRequest):
                app.flow_stats_handler(_event(datapath=self, body=self.flow_stats(), flags=0))
            elif isinstance(request, parser.OFPMeterConfigStatsRequest):
                body = [parser.OFPMeterConfigStats(flags=m.flags, meter_id=m.meter_id,
                                                   bands=m.bands)
                        for _, m in sorted(self.meters.items())]
                app.meter_config_handler(_event(datapath=self, body=body, flags=0))
            else:
                raise AssertionError('no answer for %s' % type(request).__name__)

    def disconnect(self, app):
        app.switch_gone_handler(types.SimpleNamespace(datapath=self))

    def port_added(self, app, name, number):
        self.ports[name] = number
        app.port_status_handler(_event(datapath=self, reason=ofp.OFPPR_ADD,
                                       desc=_port(name, number)))

    def port_deleted(self, app, name):
        number = self.ports.pop(name)
        app.port_status_handler(_event(datapath=self, reason=ofp.OFPPR_DELETE,
                                       desc=_port(name, number)))

    def packet_in(self, app, in_port, frame):
        app.packet_in_handler(_event(datapath=self, match={'in_port': in_port}, data=frame))
