"""The host dataplane app: the OS-Ken adapter of reconciler.Reconciler,
which keeps each served host's kernel (VRFs, SRv6 routes, a network node's
routers) in step with the process's one replica of the model (the OpenFlow
edge reads the same one).

Which hosts it programs is the process's role (runtime.Role.serves_kernel): an
agent its own host; the all-in-one process those named by
``--dataplane-hosts`` plus every host whose ``netns`` attribute is set
(hosts simulated in namespaces of this machine, as the tests and mininet
demos use).
"""

from os_ken.base import app_manager

from srv6_ofapp import runtime
from srv6_ofapp.config import CONF
from srv6_ofapp.dataplane.reconciler import Reconciler, Settings


class DataplaneApp(app_manager.OSKenApp):
    _CONTEXTS = {'runtime': runtime.Runtime}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.reconciler = Reconciler(kwargs['runtime'], Settings(
            vrf_driver=CONF.vrf_driver, gateway_mac=CONF.gateway_mac,
            default_route_sid=CONF.default_route_sid))

    def start(self):
        super().start()
        self.reconciler.start()

    def close(self):
        self.reconciler.close()
