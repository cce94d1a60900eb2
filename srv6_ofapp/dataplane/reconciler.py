"""Keeps the kernels of the hosts a process serves in step with its
replica of the model: each host's VRFs and SRv6 routes and, on a network
node, its routers.

It subscribes to the replica, and after every change that matters
recomputes the desired state of its hosts (host_state.host_state and
router_state.routers_state, pure) and lets each host's drivers apply only
the difference.  Its own thread does that work (kernel writes are slow),
so the replica's watch thread only sets a flag.

Which hosts it programs is the process's role (runtime.Role.serves_kernel).
The OS-Ken app (app.py) runs one for the process's store; the gateway role
(gateway.py) one per cluster it serves.
"""

import logging
import threading
import time

from srv6_ofapp import metrics
from srv6_ofapp.dataplane import host_state
from srv6_ofapp.dataplane import router_state
from srv6_ofapp.dataplane import vrf_drivers
from srv6_ofapp.dataplane.router_driver import RouterDriver
from srv6_ofapp.replica import Replica
from topology.roles import is_network_node

LOG = logging.getLogger(__name__)

# Retry a host whose last apply failed this often, even without changes.
RETRY_INTERVAL = 5.0
# How long close() waits for the host being applied (seconds).
CLOSE_TIMEOUT = 30.0

class HostKernel:
    """One host's drivers: its VRFs (unless the process keeps none, as a
    gateway) and, on a network node, its routers."""

    def __init__(self, host, settings):
        self.host = host
        self.settings = settings
        self.vrfs = None
        self.routers = None
        self.applied_routers = None   # the routers' state last applied
        if settings.vrfs:
            self.vrfs = vrf_drivers.make_driver(settings.vrf_driver, host,
                                                settings.gateway_mac)
        if is_network_node(host):
            self.routers = RouterDriver(host, settings.cluster)

    def load(self):
        for driver in self._drivers():
            driver.load()

    def apply(self, replica):
        """Bring the host in step with ``replica``; returns (changes, report)."""
        changes, report = 0, {}
        if self.vrfs is not None:
            state = host_state.host_state(replica, self.host, self.settings.default_route_sid)
            changes += self.vrfs.apply(state)
            report['vrfs'] = len(state.vrfs)
        if self.routers is not None:
            state = router_state.routers_state(replica, self.host)
            changes += self.routers.apply(state)
            report['routers'] = len(state.routers)
            self.applied_routers = state
        report['routes'] = sum(driver.route_count() for driver in self._drivers())
        return changes, report

    def clear(self):
        """Take back everything of ours from the host."""
        if self.vrfs is not None:
            self.vrfs.apply(host_state.nothing())
        if self.routers is not None:
            self.routers.apply(router_state.nothing())

    def close(self):
        for driver in self._drivers():
            driver.close()

    def _drivers(self):
        return [driver for driver in (self.vrfs, self.routers) if driver is not None]


class Settings:
    """How the kernels are programmed: the VRF driver (--vrf-driver), the
    distributed gateway MAC, the default route of networks without a
    router, the cluster's name (router namespaces), and whether the process
    keeps VRFs at all."""

    def __init__(self, vrf_driver='auto', gateway_mac=None, default_route_sid=None,
                 cluster='', vrfs=True):
        self.vrf_driver = vrf_driver
        self.gateway_mac = gateway_mac
        self.default_route_sid = default_route_sid
        self.cluster = cluster
        self.vrfs = vrfs


class Reconciler:

    def __init__(self, runtime, settings):
        self.runtime = runtime
        self.replica = runtime.replica
        self.settings = settings
        self.kernels = {}   # host id -> HostKernel
        self._in_step = set()   # hosts brought in step at least once
        self._started = time.monotonic()
        self._dirty = threading.Event()
        self._stopping = threading.Event()
        self._worker = None

    def start(self):
        self.replica.subscribe(self._model_changed)
        self._worker = threading.Thread(target=self._run, name='host-agent', daemon=True)
        self._dirty.set()
        self._worker.start()

    def close(self):
        """End the thread (after the host it is applying, if any), then
        close the kernels' sockets it was using -- not while it still uses
        them."""
        self._stopping.set()
        self._dirty.set()
        if self._worker is not None:
            self._worker.join(timeout=CLOSE_TIMEOUT)
            if self._worker.is_alive():
                LOG.warning('the dataplane thread did not end within %ss', CLOSE_TIMEOUT)
                return
        for kernel in self.kernels.values():
            kernel.close()

    def _model_changed(self, change):
        if not Replica.status_only(change):
            self._dirty.set()

    def _run(self):
        while not self._stopping.is_set():
            self._dirty.wait()
            if self._stopping.is_set():
                return
            self._dirty.clear()
            if self.reconcile():
                # Try again after a pause, even if nothing changes.
                self._stopping.wait(RETRY_INTERVAL)
                self._dirty.set()

    def reconcile(self):
        """Bring every served host in step; returns the hosts that failed."""
        failed = []
        with self.replica.lock:
            hosts = [dict(h) for h in self.replica.hosts() if self.runtime.role.serves_kernel(h)]
        for gone in set(self.kernels) - {h['id'] for h in hosts}:
            # A host deleted or no longer ours: take back what we put there.
            kernel = self.kernels.pop(gone)
            try:
                kernel.clear()
            except Exception:
                LOG.exception('cleaning up host %s failed', kernel.host['name'])
            kernel.close()
        for host in hosts:
            try:
                kernel = self._kernel(host)
                changes, report = kernel.apply(self.replica)
                metrics.count('dataplane_changes', changes)
                self.runtime.reports.post(host['name'], **report)
                if host['id'] not in self._in_step:
                    # What an operator (and bench/routers.py) waits for after a start.
                    self._in_step.add(host['id'])
                    LOG.info('host %s in step %.2f s after start: %d changes (%s)',
                             host['name'], time.monotonic() - self._started, changes,
                             ', '.join('%s %d' % item for item in sorted(report.items())))
            except Exception:
                LOG.exception('host %s: applying the dataplane failed; will retry',
                              host['name'])
                metrics.count('dataplane_errors')
                stale = self.kernels.pop(host['id'], None)  # re-read the kernel next time
                if stale is not None:
                    stale.close()
                failed.append(host['name'])
                continue
            if not self._report_floating_ips(host, kernel):
                failed.append(host['name'])  # the kernel is right: only the report again
        return failed

    def _report_floating_ips(self, host, kernel):
        """The floating IPs the host's routers now carry are ACTIVE (as
        Neutron's L3 agent reports them); returns whether the report got
        through (the store may be out of reach: then the next round)."""
        if kernel.applied_routers is None:
            return True
        working = router_state.floating_ips_to_activate(self.replica, kernel.applied_routers)
        if not working:
            return True
        try:
            self.runtime.plugin.activate_floating_ips(host['name'], working)
        except Exception as error:
            LOG.warning('host %s: reporting %d floating IPs ACTIVE failed (%s); will retry',
                        host['name'], len(working), error)
            return False
        return True

    def _kernel(self, host):
        kernel = self.kernels.get(host['id'])
        if kernel is not None and kernel.host != host:
            kernel.close()
            kernel = None
        if kernel is None:
            kernel = HostKernel(host, self.settings)
            kernel.load()
            self.kernels[host['id']] = kernel
        return kernel
