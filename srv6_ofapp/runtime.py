"""The OS-Ken context every application of the process shares: the store,
the plugin over it, and the one replica of the model.

The OpenFlow edge, the host agent and the REST server the launcher starts
all use this one instance, as Ryu apps share the ``dpset`` context.  The
replica (and its watch thread) starts when an application first asks for
it, so a process that only serves the API keeps none.
"""

import logging
import threading

from srv6_ofapp import store as store_lib
from srv6_ofapp.config import CONF
from srv6_ofapp.model import plugin as plugin_lib
from srv6_ofapp.model import upgrades
from srv6_ofapp.replica import Replica

LOG = logging.getLogger(__name__)


class Runtime:

    def __init__(self, conf=CONF):
        self.store = store_lib.open_store(conf.store)
        LOG.info('store %s at revision %d', self.store.url, self.store.revision)
        self.plugin = plugin_lib.Plugin(self.store, base_mac=conf.base_mac,
                                        global_physnet_mtu=conf.global_physnet_mtu)
        try:
            # Documents written by an older release get what this one keeps.
            upgrades.upgrade(self.store)
        except BaseException:
            self.store.close()
            raise
        self._replica = None
        self._lock = threading.Lock()

    @property
    def replica(self):
        with self._lock:
            if self._replica is None:
                self._replica = Replica(self.store)
                self._replica.start()
            return self._replica

    def close(self):
        with self._lock:
            if self._replica is not None:
                self._replica.close()
        self.store.close()
