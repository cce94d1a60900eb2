"""The OS-Ken application: ``srv6_ofapp.app``, loadable by name like any Ryu app.

A thin adapter (faucet's valve_ryuapp.py is the model): OpenFlow events
in; the pure modules (pipeline, dhcp, arp) decide; flow-mods, meter-mods
and packet-outs go out.

Reconcile, don't replay: when a switch connects, the app reads its ports,
flows and meters, and sends only the difference from what the model wants
(a reconnect with nothing changed sends nothing).  After that it keeps its
own record of what the switch holds and, on every change of the model (the
store's change feed) or of the switch's ports, sends the difference again.
"""

import collections
import functools
import logging
import threading
import time

from os_ken.base import app_manager
from os_ken.controller import ofp_event
from os_ken.controller.handler import (CONFIG_DISPATCHER, DEAD_DISPATCHER,
                                       MAIN_DISPATCHER, set_ev_cls)
from os_ken.ofproto import ofproto_v1_3

from srv6_ofapp.edge import arp
from srv6_ofapp.edge import dhcp
from srv6_ofapp import metrics
from srv6_ofapp import runtime
from srv6_ofapp.edge import ofmsg
from srv6_ofapp import ovsdb
from srv6_ofapp.edge import pipeline
from srv6_ofapp.config import CONF
from srv6_ofapp.replica import Replica
from topology import naming

LOG = logging.getLogger(__name__)

ETH_TYPE_OFFSET = 12
# After a switch reports an error, re-read its flows at most this often (s).
RESYNC_HOLDDOWN = 10.0


def guarded(handler):
    """Log and count what a handler raises instead of letting it escape.

    With OS-Ken's native hub, hub.TaskExit is Exception itself, so any
    exception a handler lets out silently ends the app's event loop -- every
    later event would be ignored.  Every handler is wrapped in this.
    """
    @functools.wraps(handler)
    def wrapper(self, ev):
        try:
            return handler(self, ev)
        except Exception:
            metrics.count('handler_error')
            LOG.exception('%s failed', handler.__name__)
    return wrapper


def dpid_str(dpid):
    """A datapath id as the hosts resource spells it: 16 hex digits."""
    return '%016x' % dpid


class SwitchState:
    """What the app knows of one connected switch."""

    def __init__(self, datapath, dpid):
        self.datapath = datapath
        self.dpid = dpid_str(dpid)
        self.ofports = {}         # interface name -> OpenFlow port number
        self.names = {}           # OpenFlow port number -> interface name
        self.iface_ids = {}       # interface name -> port id, from OVSDB
        self.flows = None         # {(table, priority, match): Flow} it holds
        self.foreign = []         # flow-stats entries that are not ours
        self.meters = None        # {meter id: Meter} it holds
        self.metered = True
        self.ports_known = False
        self.last_resync = 0.0
        self.resync_timer = None
        self.meter_xid = None     # of the meter-config request in flight
        self._parts = collections.defaultdict(list)
        self.synced = False

    def collect(self, kind, msg):
        """Gather a multipart reply; the whole body once the last part is in."""
        self._parts[kind].extend(msg.body)
        if msg.flags & self.datapath.ofproto.OFPMPF_REPLY_MORE:
            return None
        return self._parts.pop(kind)

    def set_ports(self, ofports):
        self.ofports = dict(ofports)
        self.names = {number: name for name, number in self.ofports.items()}

    def add_port(self, name, number):
        self.ofports[name] = number
        self.names[number] = name

    def remove_port(self, name):
        number = self.ofports.pop(name, None)
        self.names.pop(number, None)

    def ofport_of(self, port_id):
        """The OpenFlow port of a model port on this switch, or None."""
        number = self.ofports.get(naming.tap_name(port_id))
        if number is None:
            for name, iface_id in self.iface_ids.items():
                if iface_id == port_id:
                    return self.ofports.get(name)
        return number


class SRv6OFApp(app_manager.OSKenApp):
    OFP_VERSIONS = [ofproto_v1_3.OFP_VERSION]
    _CONTEXTS = {'runtime': runtime.Runtime}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.runtime = kwargs['runtime']
        self.store = self.runtime.store
        self.plugin = self.runtime.plugin
        self.gateway_mac = CONF.gateway_mac
        self.dhcp_config = dhcp.DhcpConfig(gateway_mac=CONF.gateway_mac,
                                           domain=CONF.dhcp_domain,
                                           lease_time=CONF.dhcp_lease_time)
        self.switches = {}
        self.lock = threading.RLock()
        self.view = self.runtime.replica
        self.view.subscribe(self._model_changed)

    # -- model changes (the store's feed thread) ----------------------------

    def _model_changed(self, change):
        if Replica.status_only(change):
            return
        if change is not None and change.kind == 'hosts':
            # A host registered (or changed) after its switch connected: its
            # OVSDB may name ports by iface-id, and its ports' status is ours.
            self._host_changed(change.new or change.old)
        self._reconcile_all()

    def _host_changed(self, host):
        with self.lock:
            states = [s for s in self.switches.values()
                      if s.synced and s.dpid == host['datapath_id']]
            for state in states:
                self._read_iface_ids(state)
        for state in states:
            self._report_port_status(state)

    def _reconcile_all(self):
        with self.lock:
            for state in list(self.switches.values()):
                if state.synced:
                    self._reconcile(state)

    # -- switch connection ---------------------------------------------------

    @set_ev_cls(ofp_event.EventOFPSwitchFeatures, CONFIG_DISPATCHER)
    @guarded
    def switch_features_handler(self, ev):
        datapath = ev.msg.datapath
        ofp, parser = datapath.ofproto, datapath.ofproto_parser
        # datapath.id is set by OS-Ken's own handler, which may not have run
        # yet: the features reply carries the id.
        dpid = ev.msg.datapath_id
        with self.lock:
            self.switches[dpid] = SwitchState(datapath, dpid)
            metrics.SWITCHES.set(len(self.switches))
        host = self.view.host_by_dpid(dpid_str(dpid))
        if host is None:
            LOG.warning('unknown datapath %s connected; no host has this datapath_id, '
                        'keeping it at drop-all', dpid_str(dpid))
        else:
            LOG.info('datapath %s connected: host %s', dpid_str(dpid), host['name'])
        datapath.send_msg(parser.OFPPortDescStatsRequest(datapath, 0))
        datapath.send_msg(parser.OFPFlowStatsRequest(datapath, 0, ofp.OFPTT_ALL))
        self._request_meters(self.switches[dpid])
        metrics.count('switch_connected')

    @set_ev_cls(ofp_event.EventOFPStateChange, DEAD_DISPATCHER)
    @guarded
    def switch_gone_handler(self, ev):
        if ev.datapath.id is None:
            return
        with self.lock:
            state = self.switches.get(ev.datapath.id)
            if state is not None and state.datapath is ev.datapath:
                del self.switches[ev.datapath.id]
                metrics.SWITCHES.set(len(self.switches))
                LOG.info('datapath %s disconnected', state.dpid)
                metrics.count('switch_disconnected')

    def _state(self, datapath):
        state = self.switches.get(datapath.id)
        return state if state is not None and state.datapath is datapath else None

    @set_ev_cls(ofp_event.EventOFPPortDescStatsReply, MAIN_DISPATCHER)
    @guarded
    def port_desc_handler(self, ev):
        with self.lock:
            state = self._state(ev.msg.datapath)
            body = state and state.collect('ports', ev.msg)
            if body is None:
                return
            ofp = state.datapath.ofproto
            state.set_ports({p.name.decode(errors='replace'): p.port_no for p in body
                             if p.port_no <= ofp.OFPP_MAX})
            self._read_iface_ids(state)
            state.ports_known = True
            self._maybe_synced(state)

    @set_ev_cls(ofp_event.EventOFPFlowStatsReply, MAIN_DISPATCHER)
    @guarded
    def flow_stats_handler(self, ev):
        with self.lock:
            state = self._state(ev.msg.datapath)
            body = state and state.collect('flows', ev.msg)
            if body is None:
                return
            ofp = state.datapath.ofproto
            state.flows, state.foreign = {}, []
            for stat in body:
                flow = ofmsg.flow_from_stats(ofp, stat)
                if flow is None:
                    state.foreign.append(stat)
                else:
                    state.flows[pipeline.flow_key(flow)] = flow
            self._maybe_synced(state)

    @set_ev_cls(ofp_event.EventOFPMeterConfigStatsReply, MAIN_DISPATCHER)
    @guarded
    def meter_config_handler(self, ev):
        with self.lock:
            state = self._state(ev.msg.datapath)
            body = state and state.collect('meters', ev.msg)
            if body is None:
                return
            ofp = state.datapath.ofproto
            state.meters = {}
            for config in body:
                meter = ofmsg.meter_from_stats(ofp, config)
                # A meter not ours is replaced (same id) or deleted.
                state.meters[config.meter_id] = meter
            self._maybe_synced(state)

    @set_ev_cls(ofp_event.EventOFPErrorMsg, [CONFIG_DISPATCHER, MAIN_DISPATCHER])
    @guarded
    def error_handler(self, ev):
        msg = ev.msg
        metrics.count('switch_error')
        with self.lock:
            state = self._state(msg.datapath)
            if (state is not None and state.meters is None and
                    msg.xid == state.meter_xid):
                # No meter support (an OVS too old for its datapath): run
                # without packet-in metering rather than not at all.
                LOG.warning('datapath %s has no meters; packet-ins are not rate-limited',
                            state.dpid)
                state.metered, state.meters = False, {}
                self._maybe_synced(state)
                return
            LOG.error('datapath %s reported error type %d code %d',
                      dpid_str(msg.datapath.id), msg.type, msg.code)
            if state is not None and state.synced:
                # Our record of its flows may now be wrong: read them again
                # and send the difference, as on a reconnect -- at most every
                # RESYNC_HOLDDOWN seconds, should it refuse a flow every time.
                wait = state.last_resync + RESYNC_HOLDDOWN - time.monotonic()
                if wait <= 0:
                    self._resync(state)
                elif state.resync_timer is None:
                    state.resync_timer = threading.Timer(wait, self._deferred_resync,
                                                         (state,))
                    state.resync_timer.daemon = True
                    state.resync_timer.start()

    def _deferred_resync(self, state):
        with self.lock:
            state.resync_timer = None
            if self._state(state.datapath) is state and state.synced:
                self._resync(state)

    @staticmethod
    def _request_meters(state):
        datapath = state.datapath
        ofp, parser = datapath.ofproto, datapath.ofproto_parser
        request = parser.OFPMeterConfigStatsRequest(datapath, 0, ofp.OFPM_ALL)
        datapath.set_xid(request)
        state.meter_xid = request.xid
        datapath.send_msg(request)

    def _resync(self, state):
        datapath = state.datapath
        ofp, parser = datapath.ofproto, datapath.ofproto_parser
        state.last_resync = time.monotonic()
        state.synced, state.flows = False, None
        state.meters = None if state.metered else {}
        datapath.send_msg(parser.OFPFlowStatsRequest(datapath, 0, ofp.OFPTT_ALL))
        if state.metered:
            self._request_meters(state)
        metrics.count('switch_resync')

    def _read_iface_ids(self, state):
        host = self.view.host_by_dpid(state.dpid)
        if host and host.get('ovsdb'):
            found = ovsdb.iface_ids(host['ovsdb'])
            if found is not None:
                state.iface_ids = found

    def _maybe_synced(self, state):
        if state.synced or not state.ports_known or state.flows is None \
                or state.meters is None:
            return
        state.synced = True
        sent = self._reconcile(state)
        LOG.info('datapath %s synced: %d flows held, %d messages sent', state.dpid,
                 len(state.flows), sent)
        self._report_port_status(state)

    @set_ev_cls(ofp_event.EventOFPPortStatus, MAIN_DISPATCHER)
    @guarded
    def port_status_handler(self, ev):
        msg = ev.msg
        ofp = msg.datapath.ofproto
        name = msg.desc.name.decode(errors='replace')
        with self.lock:
            state = self._state(msg.datapath)
            if state is None:
                return
            if msg.reason == ofp.OFPPR_DELETE:
                state.remove_port(name)
            elif msg.desc.port_no <= ofp.OFPP_MAX:
                state.add_port(name, msg.desc.port_no)
                # Ports found by name (a model port's tap, a gateway port)
                # need no (slow) OVSDB read; other names may carry an iface-id.
                if (msg.reason == ofp.OFPPR_ADD and name not in state.iface_ids and
                        not name.startswith(naming.GATEWAY_PREFIX) and
                        self.view.port_by_ifname(name) is None):
                    self._read_iface_ids(state)
            metrics.count('port_status')
            if state.synced:
                self._reconcile(state)
        if state.synced:
            self._report_port_status(state)

    # -- reconciliation --------------------------------------------------------

    def _desired(self, state):
        with self.view.lock:
            if self.view.host_by_dpid(state.dpid) is None:
                return set(pipeline.base_flows()), {}
            flows = pipeline.switch_flows(self.view, state.ofports, self.gateway_mac,
                                          state.metered, CONF.arp_responder, state.iface_ids)
            meters = (pipeline.meters(self.view, state.ofports, CONF.packet_in_rate,
                                      CONF.packet_in_burst, state.iface_ids)
                      if state.metered else {})
        return flows, meters

    def _reconcile(self, state):
        """Send the switch the difference to the model; returns messages sent."""
        datapath = state.datapath
        ofp = datapath.ofproto
        flows, meters = self._desired(state)
        adds, deletes = pipeline.flow_changes(flows, state.flows.values())
        meter_adds, meter_mods, meter_deletes = pipeline.meter_changes(meters, state.meters)
        messages = []
        # Meters before the flows that use them; deletes after the flows
        # that replace them, so traffic never falls between two flows.
        messages += [ofmsg.meter_mod(datapath, m, ofp.OFPMC_ADD) for m in meter_adds]
        messages += [ofmsg.meter_mod(datapath, m, ofp.OFPMC_MODIFY) for m in meter_mods]
        messages += [ofmsg.flow_mod(datapath, f, ofp.OFPFC_ADD) for f in adds]
        messages += [ofmsg.flow_mod(datapath, f, ofp.OFPFC_DELETE_STRICT) for f in deletes]
        messages += [ofmsg.delete_stat(datapath, stat) for stat in state.foreign]
        messages += [ofmsg.meter_mod(datapath, pipeline.Meter(i, 0, 0), ofp.OFPMC_DELETE)
                     for i in meter_deletes]
        if LOG.isEnabledFor(logging.DEBUG):
            for change in (['add %s (had %s)' % (f, state.flows.get(pipeline.flow_key(f)))
                            for f in adds] + ['delete %s' % (f,) for f in deletes] +
                           ['foreign %s' % (s,) for s in state.foreign] +
                           ['meter add %s' % (m,) for m in meter_adds] +
                           ['meter modify %s (had %s)' % (m, state.meters[m.meter_id])
                            for m in meter_mods] +
                           ['meter delete %s' % i for i in meter_deletes]):
                LOG.debug('datapath %s: %s', state.dpid, change)
        for message in messages:
            datapath.send_msg(message)
        metrics.count('flow_mods', len(adds) + len(deletes) + len(state.foreign))
        state.flows = {pipeline.flow_key(f): f for f in flows}
        state.foreign = []
        state.meters = dict(meters)
        metrics.count('meter_mods', len(meter_adds) + len(meter_mods) + len(meter_deletes))
        return len(messages)

    def _report_port_status(self, state):
        """Ports whose tap is on the switch are ACTIVE; ports bound to its
        host whose tap is not are DOWN."""
        with self.lock:  # the event thread changes these
            ofports, iface_ids = dict(state.ofports), dict(state.iface_ids)
        with self.view.lock:
            host = self.view.host_by_dpid(state.dpid)
            present = {lp.port['id'] for lp in
                       pipeline.local_ports(self.view, ofports, iface_ids)}
            bound = {p['id'] for p in self.view.docs['ports'].values()
                     if host and p['binding:host_id'] == host['name']}
        statuses = {port_id: 'ACTIVE' for port_id in present}
        statuses.update({port_id: 'DOWN' for port_id in bound - present})
        if statuses:
            # One transaction for the whole switch; it writes (and fsyncs)
            # only the ports whose status changed.
            self.plugin.set_port_statuses(statuses)

    # -- packet-in ---------------------------------------------------------------

    @set_ev_cls(ofp_event.EventOFPPacketIn, MAIN_DISPATCHER)
    @guarded
    def packet_in_handler(self, ev):
        metrics.count('packet_in')
        self._packet_in(ev.msg)

    def _packet_in(self, msg):
        datapath = msg.datapath
        state = self._state(datapath)
        if state is None:
            return
        in_port = msg.match['in_port']
        name = state.names.get(in_port, '')
        port = self.view.port_by_ifname(name) or self.view.port(state.iface_ids.get(name))
        if port is None:
            metrics.count('packet_in_unknown_port')
            return
        frame = bytes(msg.data)
        eth_type = int.from_bytes(frame[ETH_TYPE_OFFSET:ETH_TYPE_OFFSET + 2], 'big')
        with self.view.lock:
            if eth_type == pipeline.ETH_TYPE_ARP:
                reply, event = arp.handle_arp(frame, port['network_id'], self.view,
                                              state.ofport_of, self.gateway_mac)
                out_port = in_port if reply is None or reply.out_port is None \
                    else reply.out_port
                frame_out = reply and reply.frame
            elif eth_type == pipeline.ETH_TYPE_IP:
                network = self.view.network(port['network_id'])
                frame_out, event = dhcp.handle_dhcp(
                    frame, port, network, self.view.subnets_of(port['network_id']),
                    self.dhcp_config)
                out_port = in_port
            else:
                frame_out, event = None, 'packet_in_unexpected'
        metrics.count(event)
        if frame_out:
            self._packet_out(datapath, out_port, frame_out)

    @staticmethod
    def _packet_out(datapath, out_port, frame):
        ofp, parser = datapath.ofproto, datapath.ofproto_parser
        datapath.send_msg(parser.OFPPacketOut(
            datapath, buffer_id=ofp.OFP_NO_BUFFER, in_port=ofp.OFPP_CONTROLLER,
            actions=[parser.OFPActionOutput(out_port)], data=frame))
