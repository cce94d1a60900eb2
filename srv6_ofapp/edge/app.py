"""The OS-Ken application of the edge: ``srv6_ofapp.edge.app``, loadable by
name like any Ryu app.

A thin adapter (faucet's faucet.py over valve.py is the model): OpenFlow
events in; the pure modules (pipeline and its features, arp, dhcp) decide;
flow-mods, meter-mods and packet-outs go out.

Reconcile, don't replay: when a switch connects, the app reads its ports,
flows and meters, and sends only the difference from what the model wants
(a reconnect with nothing changed sends nothing).  After that it keeps its
own record of what the switch holds and, on every change of the model (the
replica's feed) or of the switch's ports, sends the difference again.

Threads: OpenFlow handlers run on OS-Ken's event thread and the replica's
callbacks on its feed thread; both only compute and send messages.  What
blocks (an OVSDB read, a port-status write that waits for the disk) runs on
the edge's worker thread.
"""

import functools
import logging
import threading
import time

from os_ken.base import app_manager
from os_ken.controller import ofp_event
from os_ken.controller.handler import (CONFIG_DISPATCHER, DEAD_DISPATCHER,
                                       MAIN_DISPATCHER, set_ev_cls)
from os_ken.ofproto import ofproto_v1_3

from srv6_ofapp import metrics
from srv6_ofapp import ovsdb
from srv6_ofapp import runtime
from srv6_ofapp.config import CONF
from srv6_ofapp.edge import arp
from srv6_ofapp.edge import datapath as fast_datapath
from srv6_ofapp.edge import dhcp
from srv6_ofapp.edge import ofmsg
from srv6_ofapp.edge import ofwire
from srv6_ofapp.edge import pipeline
from srv6_ofapp.edge import responder as responder_lib
from srv6_ofapp.edge.flows import Meter, base_flows, flow_changes, flow_key, meter_changes
from srv6_ofapp.edge.switch import SwitchState, dpid_str
from srv6_ofapp.edge.worker import Worker
from srv6_ofapp.replica import Replica
from topology import naming

LOG = logging.getLogger(__name__)

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


def multipart(kind):
    """Handle a multipart reply once its last part is in, as
    ``handler(self, state, body)`` under the app's lock; parts of a
    connection that has gone are dropped."""
    def decorate(handler):
        @functools.wraps(handler)
        def wrapper(self, ev):
            with self.lock:
                state = self._state(ev.msg.datapath)
                body = state and state.collect(kind, ev.msg)
                if body is not None:
                    handler(self, state, body)
        return wrapper
    return decorate


class SRv6OFApp(app_manager.OSKenApp):
    OFP_VERSIONS = [ofproto_v1_3.OFP_VERSION]
    _CONTEXTS = {'runtime': runtime.Runtime}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.runtime = kwargs['runtime']
        self.plugin = self.runtime.plugin
        self.replica = self.runtime.replica
        self.config = pipeline.EdgeConfig(CONF.gateway_mac, CONF.arp_responder,
                                          CONF.packet_in_rate, CONF.packet_in_burst)
        self.dhcp_config = dhcp.DhcpConfig(gateway_mac=CONF.gateway_mac,
                                           domain=CONF.dhcp_domain,
                                           lease_time=CONF.dhcp_lease_time)
        self.switches = {}
        self.lock = threading.RLock()
        self.worker = Worker('edge-worker')
        self.packet_in_events = (dhcp.EVENTS + arp.ALL_EVENTS +
                                 (responder_lib.UNKNOWN_PORT, responder_lib.UNEXPECTED,
                                  'packet_in', 'packet_in_malformed',
                                  'packet_in_shed_backlog', 'packet_in_shed_stale'))
        metrics.register(self.packet_in_events)
        self.count = metrics.counters(self.packet_in_events)
        self.replica.subscribe(self._model_changed)
        if getattr(CONF, 'packet_in_fast_path', False):
            fast_datapath.install(self.packet_in_raw, self._shed)

    def close(self):
        if fast_datapath.FastDatapath.packet_in_handler == self.packet_in_raw:
            fast_datapath.uninstall()
        self.worker.stop()

    # -- model changes (the replica's feed thread) ---------------------------

    def _model_changed(self, change):
        if Replica.status_only(change):
            return
        self._invalidate_responders()
        for state in self._switches_of_host(change):
            # A host registered (or changed) after its switch connected: its
            # OVSDB may name ports by iface-id.
            self._refresh_iface_ids(state)
        self._reconcile_all()
        if change is None or change.kind in ('hosts', 'ports'):
            # Which ports are bound here, or on a switch, may have changed.
            for state in self._synced_switches():
                self._report_port_status_later(state)

    def _switches_of_host(self, change):
        """The synced switches a host change concerns (all, after a reload)."""
        if change is not None and change.kind != 'hosts':
            return []
        dpids = None if change is None else {
            doc['datapath_id'] for doc in (change.old, change.new) if doc is not None}
        return [state for state in self._synced_switches()
                if dpids is None or state.dpid in dpids]

    def _invalidate_responders(self):
        """The model changed: packet-in answers are compiled anew, lazily."""
        for state in list(self.switches.values()):
            state.responder.invalidate()

    def _synced_switches(self):
        with self.lock:
            return [state for state in self.switches.values() if state.synced]

    def _reconcile_all(self):
        with self.lock:
            for state in self.switches.values():
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
            state = self.switches[dpid] = SwitchState(datapath, dpid)
            state.responder = responder_lib.Responder(
                self.replica, state.ports, self.config.gateway_mac, self.dhcp_config)
            metrics.SWITCHES.set(len(self.switches))
        host = self._host_of(state)
        if host is None:
            LOG.warning('unknown datapath %s connected; no host served here has this '
                        'datapath_id, keeping it at drop-all', state.dpid)
        else:
            LOG.info('datapath %s connected: host %s', state.dpid, host['name'])
        datapath.send_msg(parser.OFPPortDescStatsRequest(datapath, 0))
        datapath.send_msg(parser.OFPFlowStatsRequest(datapath, 0, ofp.OFPTT_ALL))
        self._request_meters(state)
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
                host = self._host_of(state)
                if host is not None:
                    self.runtime.reports.post(host['name'], switch_connected=False)
                metrics.count('switch_disconnected')

    def _host_of(self, state):
        """The host whose bridge the switch is, if this process serves it."""
        host = self.replica.host_by_dpid(state.dpid)
        return host if host is not None and self.runtime.role.serves_switch(host) else None

    def _state(self, datapath):
        """The state of ``datapath``'s current connection, or None."""
        state = self.switches.get(datapath.id)
        return state if state is not None and state.datapath is datapath else None

    @set_ev_cls(ofp_event.EventOFPPortDescStatsReply, MAIN_DISPATCHER)
    @guarded
    @multipart('ports')
    def port_desc_handler(self, state, body):
        ofp = state.datapath.ofproto
        state.ports.set_ports({p.name.decode(errors='replace'): p.port_no for p in body
                               if p.port_no <= ofp.OFPP_MAX})
        state.ports_known = True
        state.responder.invalidate()
        self._refresh_iface_ids(state)

    @set_ev_cls(ofp_event.EventOFPFlowStatsReply, MAIN_DISPATCHER)
    @guarded
    @multipart('flows')
    def flow_stats_handler(self, state, body):
        ofp = state.datapath.ofproto
        flows = (ofmsg.flow_from_stats(ofp, stat) for stat in body)
        state.flows = {flow_key(flow): flow for flow in flows}
        self._maybe_synced(state)

    @set_ev_cls(ofp_event.EventOFPMeterConfigStatsReply, MAIN_DISPATCHER)
    @guarded
    @multipart('meters')
    def meter_config_handler(self, state, body):
        ofp = state.datapath.ofproto
        # A meter not ours reads back as None: replaced (same id) or deleted.
        state.meters = {config.meter_id: ofmsg.meter_from_stats(ofp, config)
                        for config in body}
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
                self._resync_soon(state)

    def _resync_soon(self, state):
        """Our record of the switch's flows may be wrong after an error: read
        them again and send the difference, as on a reconnect -- at most every
        RESYNC_HOLDDOWN seconds, should it refuse a flow every time."""
        wait = state.last_resync + RESYNC_HOLDDOWN - time.monotonic()
        if wait <= 0:
            self._resync(state)
        elif state.resync_timer is None:
            state.resync_timer = threading.Timer(wait, self._deferred_resync, (state,))
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

    def _maybe_synced(self, state):
        if state.synced or not state.known:
            return
        state.synced = True
        sent = self._reconcile(state)
        LOG.info('datapath %s synced: %d flows held, %d messages sent', state.dpid,
                 len(state.flows), sent)
        self._report_port_status_later(state)

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
            metrics.count('port_status')
            if msg.reason == ofp.OFPPR_DELETE:
                state.ports.remove(name)
            elif msg.desc.port_no <= ofp.OFPP_MAX:
                state.ports.add(name, msg.desc.port_no)
                # Ports found by name (a model port's tap, a gateway port)
                # need no OVSDB read; other names may carry an iface-id.
                if (msg.reason == ofp.OFPPR_ADD and name not in state.ports.iface_ids and
                        not name.startswith(naming.GATEWAY_PREFIX) and
                        self.replica.port_by_ifname(name) is None):
                    self._refresh_iface_ids(state)
            # After the change (responder.py): a packet-in answered meanwhile
            # must not keep the old port in an answer stamped as new.
            state.responder.invalidate()
            if state.synced:
                self._reconcile(state)
                self._report_port_status_later(state)

    # -- the host's OVSDB and port statuses (worker thread) ---------------------

    def _refresh_iface_ids(self, state):
        """Read which interfaces carry which ports by iface-id, off this thread;
        then reconcile (or finish syncing) and report the ports' status."""
        host = self._host_of(state)
        target = host and host.get('ovsdb')
        if not target:
            # Ports are found by tap name alone; what an earlier read found
            # stays, as when the database cannot be read.
            with self.lock:
                state.iface_ids_known = True
                self._maybe_synced(state)
            return
        self.worker.submit(('iface_ids', state.dpid),
                           functools.partial(self._read_iface_ids, state, target))

    def _read_iface_ids(self, state, target):
        found = ovsdb.iface_ids(target)
        with self.lock:
            if self._state(state.datapath) is not state:
                return
            was_synced = state.synced
            if found is not None and found != state.ports.iface_ids:
                state.ports.set_iface_ids(found)
                state.responder.invalidate()
                if was_synced:
                    self._reconcile(state)
            state.iface_ids_known = True
            self._maybe_synced(state)  # reports the ports' status once synced
        if was_synced:
            self._report_port_status(state)

    def _report_port_status_later(self, state):
        self.worker.submit(('status', state.dpid),
                           functools.partial(self._report_port_status, state))

    def _report_port_status(self, state):
        """Ports whose interface is on the switch are ACTIVE; ports bound to
        its host whose interface is not are DOWN."""
        with self.lock:
            if self._state(state.datapath) is not state or not state.synced:
                return
            ports = state.ports.copy()
        with self.replica.lock:
            host = self._host_of(state)
            present = {lp.port['id'] for lp in ports.local_ports(self.replica)}
            bound = {port['id'] for port in self.replica.ports_on(host['name'])} \
                if host else set()
            statuses = {port_id: 'ACTIVE' for port_id in present}
            statuses.update({port_id: 'DOWN' for port_id in bound - present})
            # Only what differs from the model as replicated: the store reads
            # each port it is sent (one request each on etcd).
            statuses = {port_id: status for port_id, status in statuses.items()
                        if (self.replica.port(port_id) or {}).get('status') != status}
        if statuses:
            # It writes (and fsyncs) only the ports whose status changed.
            self.plugin.set_port_statuses(statuses)

    # -- reconciliation --------------------------------------------------------

    def _desired(self, state):
        """(flows, meters) the model wants on the switch."""
        if self._host_of(state) is None:
            return set(base_flows()), {}
        switch = pipeline.Switch(self.replica, state.ports, self.config, state.metered)
        with self.replica.lock:
            return pipeline.switch_flows(switch), pipeline.meters(switch)

    def _reconcile(self, state):
        """Send the switch the difference to the model; returns messages sent."""
        datapath = state.datapath
        ofp = datapath.ofproto
        flows, meters = self._desired(state)
        adds, deletes = flow_changes(flows, state.flows.values())
        meter_adds, meter_mods, meter_deletes = meter_changes(meters, state.meters)
        # Meters before the flows that use them; deletes after the flows
        # that replace them, so traffic never falls between two flows.
        messages = ([ofmsg.meter_mod(datapath, m, ofp.OFPMC_ADD) for m in meter_adds] +
                    [ofmsg.meter_mod(datapath, m, ofp.OFPMC_MODIFY) for m in meter_mods] +
                    [ofmsg.flow_mod(datapath, f, ofp.OFPFC_ADD) for f in adds] +
                    [ofmsg.flow_mod(datapath, f, ofp.OFPFC_DELETE_STRICT) for f in deletes] +
                    [ofmsg.meter_mod(datapath, Meter(i, 0, 0), ofp.OFPMC_DELETE)
                     for i in meter_deletes])
        if LOG.isEnabledFor(logging.DEBUG):
            for change in (['add %s (had %s)' % (f, state.flows.get(flow_key(f))) for f in adds] +
                           ['delete %s' % (f,) for f in deletes] +
                           ['meter add %s' % (m,) for m in meter_adds] +
                           ['meter modify %s (had %s)' % (m, state.meters[m.meter_id])
                            for m in meter_mods] +
                           ['meter delete %s' % i for i in meter_deletes]):
                LOG.debug('datapath %s: %s', state.dpid, change)
        for message in messages:
            datapath.send_msg(message)
        metrics.count('flow_mods', len(adds) + len(deletes))
        metrics.count('meter_mods', len(meter_adds) + len(meter_mods) + len(meter_deletes))
        state.flows = {flow_key(f): f for f in flows}
        state.meters = dict(meters)
        host = self._host_of(state)
        if host is not None:
            self.runtime.reports.post(host['name'], switch_connected=True,
                                      datapath_id=state.dpid, bridge=host.get('bridge'),
                                      flows=len(flows), meters=len(meters))
        return len(messages)

    # -- packet-in ---------------------------------------------------------------
    # Two entries, one answer: packet_in_raw takes the message's bytes on the
    # OpenFlow receive thread (edge/datapath.py, the default), and
    # packet_in_handler OS-Ken's event (--nopacket-in-fast-path).  Both ask
    # the switch's Responder, which keeps every port's compiled DHCP and ARP
    # answers until the model or the switch's ports change.

    def packet_in_raw(self, datapath, message):
        """The packet-out bytes answering an OpenFlow 1.3 packet-in message
        (bytes), or None."""
        count = self.count
        count['packet_in']()
        state = self.switches.get(datapath.id)
        if state is None or state.datapath is not datapath:
            return None
        try:
            in_port, frame = ofwire.parse_packet_in(message)
            out_port, frame_out, event = state.responder.answer(in_port, frame)
        except Exception:
            # Nothing a switch or a VM sends may stop the receive loop.
            count['packet_in_malformed']()
            LOG.debug('packet-in not understood', exc_info=True)
            return None
        count[event]()
        if frame_out is None:
            return None
        datapath.xid = xid = (getattr(datapath, 'xid', 0) + 1) & 0xffffffff
        return ofwire.packet_out(xid, in_port if out_port is None else out_port, frame_out)

    def _shed(self, reason, amount):
        metrics.count('packet_in_shed_' + reason, amount)

    @set_ev_cls(ofp_event.EventOFPPacketIn, MAIN_DISPATCHER)
    @guarded
    def packet_in_handler(self, ev):
        self.count['packet_in']()
        self._packet_in(ev.msg)

    def _packet_in(self, msg):
        datapath = msg.datapath
        state = self._state(datapath)
        if state is None:
            return
        in_port = msg.match['in_port']
        out_port, frame_out, event = state.responder.answer(in_port, bytes(msg.data))
        self.count[event]()
        if frame_out:
            self._packet_out(datapath, in_port if out_port is None else out_port, frame_out)

    @staticmethod
    def _packet_out(datapath, out_port, frame):
        ofp, parser = datapath.ofproto, datapath.ofproto_parser
        datapath.send_msg(parser.OFPPacketOut(
            datapath, buffer_id=ofp.OFP_NO_BUFFER, in_port=ofp.OFPP_CONTROLLER,
            actions=[parser.OFPActionOutput(out_port)], data=frame))
