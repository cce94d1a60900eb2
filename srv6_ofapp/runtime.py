"""The OS-Ken context every application of the process shares: the store,
the plugin over it, the one replica of the model, what the process serves
(its Role), and the board where its apps post each host's state.

The OpenFlow edge, the host dataplane, the state reporter and the REST
server the launcher starts all use this one instance, as Ryu apps share the
``dpset`` context.  The replica (and its watch thread) starts when an
application first asks for it, so a process that only serves the API keeps
none.
"""

import logging
import threading

from srv6_ofapp import store as store_lib
from srv6_ofapp.config import CONF
from srv6_ofapp.model import plugin as plugin_lib
from srv6_ofapp.model import upgrades
from srv6_ofapp.replica import Replica
from srv6_ofapp.scope import Everything, HostScope

LOG = logging.getLogger(__name__)


class HostReports:
    """Each served host's state as the apps see it ({host: {field: value}}):
    the edge posts its switch, the dataplane its kernel; the reporter sends
    it as the agent's configurations."""

    def __init__(self):
        self._lock = threading.Lock()
        self._hosts = {}

    def post(self, host_name, **fields):
        with self._lock:
            self._hosts.setdefault(host_name, {}).update(fields)

    def of(self, host_name):
        with self._lock:
            return dict(self._hosts.get(host_name, {}))


# The roles that serve one host (--host), replicating only what concerns it.
HOST_ROLES = ('agent', 'gateway')


class Role:
    """What a process serves, by its role (--role): an agent its own host
    (--host); a gateway its own host's routers, in each cluster it serves;
    the all-in-one process every host's switch, and the kernels of the hosts
    named by --dataplane-hosts or simulated in a namespace."""

    def __init__(self, name='all', host=None, dataplane_hosts=()):
        self.name = name
        self.host = host
        self.dataplane_hosts = set(dataplane_hosts)

    def serves_switch(self, host):
        """Whether this process is the OpenFlow controller of ``host``'s bridge."""
        if self.name == 'gateway':
            return False
        return self.name != 'agent' or host['name'] == self.host

    def serves_kernel(self, host):
        """Whether this process programs ``host``'s kernel (VRFs, SRv6 routes)."""
        if self.name in HOST_ROLES:
            return host['name'] == self.host
        return bool(host.get('netns')) or host['name'] in self.dataplane_hosts

    def served_hosts(self, replica):
        """The names of the hosts this process reports an agent for."""
        if self.name in HOST_ROLES:
            return [self.host]
        with replica.lock:
            return sorted(host['name'] for host in replica.hosts())

    def scope(self):
        """What of the model the process replicates."""
        return HostScope(self.host) if self.name in HOST_ROLES else Everything()


class Runtime:
    """``store_url`` and ``role`` override the configuration's (a gateway
    makes one Runtime per cluster it serves)."""

    def __init__(self, conf=CONF, store_url=None, role=None):
        self.role = role or Role(conf.role, conf.host, conf.dataplane_hosts)
        self.store = store_lib.open_store(store_url or conf.store)
        LOG.info('store %s at revision %d', self.store.url, self.store.revision)
        self.plugin = plugin_lib.Plugin(self.store, base_mac=conf.base_mac,
                                        global_physnet_mtu=conf.global_physnet_mtu)
        if self.role.name not in HOST_ROLES:
            try:
                # Documents written by an older release get what this one keeps.
                upgrades.upgrade(self.store)
            except BaseException:
                self.store.close()
                raise
        self.reports = HostReports()
        self._replica = None
        self._lock = threading.Lock()

    @property
    def replica(self):
        with self._lock:
            if self._replica is None:
                self._replica = Replica(self.store, self.role.scope())
                self._replica.start()
            return self._replica

    def close(self):
        with self._lock:
            if self._replica is not None:
                self._replica.close()
        self.store.close()
