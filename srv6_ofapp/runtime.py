"""The OS-Ken context that owns the store and the plugin.

Every application of the process (the OpenFlow app, the REST server the
launcher starts, later the host agent) shares this one instance, as Ryu
apps share the ``wsgi`` or ``dpset`` contexts.
"""

import logging

from srv6_ofapp.model import plugin as plugin_lib
from srv6_ofapp import store as store_lib
from srv6_ofapp.config import CONF

LOG = logging.getLogger(__name__)


class Runtime:

    def __init__(self, conf=CONF):
        self.store = store_lib.open_store(conf.store)
        LOG.info('store %s at revision %d', self.store.url, self.store.revision)
        self.plugin = plugin_lib.Plugin(self.store, base_mac=conf.base_mac,
                                        global_physnet_mtu=conf.global_physnet_mtu)

    def close(self):
        self.store.close()
