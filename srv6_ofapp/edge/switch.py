"""What the edge app knows of one connected switch."""

import collections

from topology.switch_ports import SwitchPorts


def dpid_str(dpid):
    """A datapath id as the hosts resource spells it: 16 hex digits."""
    return '%016x' % dpid


class SwitchState:
    """One switch's connection, ports, and our record of its flows and meters.

    It is synced once its ports, their iface-ids (read from the host's
    OVSDB off the OpenFlow threads), its flows and its meters are known;
    from then on ``flows`` and ``meters`` are what we last sent, and every
    reconciliation sends the difference from them.
    """

    def __init__(self, datapath, dpid):
        self.datapath = datapath
        self.dpid = dpid_str(dpid)
        self.ports = SwitchPorts()
        self.ports_known = False       # the port-description reply is in
        self.iface_ids_known = False   # the first OVSDB read is done (or none needed)
        self.flows = None              # {flows.flow_key: Flow} the switch holds
        self.meters = None             # {meter id: Meter, or None if not ours}
        self.metered = True            # the switch supports meters
        self.synced = False
        self.last_resync = 0.0
        self.resync_timer = None
        self.meter_xid = None          # of the meter-config request in flight
        self.responder = None          # its packet-in Responder (the app sets it)
        self._parts = collections.defaultdict(list)

    @property
    def known(self):
        """Everything a first reconciliation needs has been read."""
        return (self.ports_known and self.iface_ids_known and self.flows is not None and
                self.meters is not None)

    def collect(self, kind, msg):
        """Gather a multipart reply; the whole body once the last part is in."""
        self._parts[kind].extend(msg.body)
        if msg.flags & self.datapath.ofproto.OFPMPF_REPLY_MORE:
            return None
        return self._parts.pop(kind)
