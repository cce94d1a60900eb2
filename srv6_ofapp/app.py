"""The OS-Ken application: ``srv6_ofapp.app``, loadable by name like any Ryu app.

A thin adapter (faucet's valve_ryuapp.py is the model): OpenFlow events
in, the model's answers out.  It matches each connecting datapath to its
host; the edge pipeline itself (port security, ARP, DHCP, L2) is built on
this by the OpenFlow edge work.
"""

from os_ken.base import app_manager
from os_ken.controller import ofp_event
from os_ken.controller.handler import CONFIG_DISPATCHER, set_ev_cls
from os_ken.ofproto import ofproto_v1_3

from srv6_ofapp import model


def dpid_str(dpid):
    """A datapath id as the hosts resource spells it: 16 hex digits."""
    return '%016x' % dpid


class SRv6OFApp(app_manager.OSKenApp):
    OFP_VERSIONS = [ofproto_v1_3.OFP_VERSION]
    _CONTEXTS = {'model': model.Model}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.model = kwargs['model']

    def host_of(self, dpid):
        hosts = self.model.store.list('hosts', where={'datapath_id': dpid_str(dpid)})
        return hosts[0] if hosts else None

    @set_ev_cls(ofp_event.EventOFPSwitchFeatures, CONFIG_DISPATCHER)
    def switch_features_handler(self, ev):
        dpid = ev.msg.datapath.id
        host = self.host_of(dpid)
        if host is None:
            # fail_mode=secure with no flows: the datapath drops everything.
            self.logger.warning('unknown datapath %s connected; no host has this '
                                'datapath_id, leaving it at drop-all', dpid_str(dpid))
        else:
            self.logger.info('datapath %s connected: host %s', dpid_str(dpid), host['name'])
