"""The host dataplane app: keeps each served host's kernel (VRFs, SRv6
routes) in step with the model.

It subscribes to the process's one Replica of the model (the OpenFlow
edge reads the same one), and after every change that matters recomputes
the desired state of the hosts it owns (host_state.host_state, pure) and
lets each host's VRF driver apply only the difference.  Its own thread does
that work (kernel writes are slow), so the replica's watch thread only
sets a flag.

Which hosts it programs is the process's role (runtime.Role.serves_kernel): an
agent its own host; the all-in-one process those named by
``--dataplane-hosts`` plus every host whose ``netns`` attribute is set
(hosts simulated in namespaces of this machine, as the tests and mininet
demos use).
"""

import logging
import threading

from os_ken.base import app_manager

from srv6_ofapp import metrics
from srv6_ofapp import runtime
from srv6_ofapp.config import CONF
from srv6_ofapp.dataplane import host_state
from srv6_ofapp.dataplane import vrf_drivers
from srv6_ofapp.replica import Replica

LOG = logging.getLogger(__name__)

# Retry a host whose last apply failed this often, even without changes.
RETRY_INTERVAL = 5.0
# How long close() waits for the host being applied (seconds).
CLOSE_TIMEOUT = 10.0


class DataplaneApp(app_manager.OSKenApp):
    _CONTEXTS = {'runtime': runtime.Runtime}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.runtime = kwargs['runtime']
        self.replica = self.runtime.replica
        self.drivers = {}   # host id -> driver
        self._dirty = threading.Event()
        self._stopping = threading.Event()
        self._worker = None

    def start(self):
        super().start()
        self.replica.subscribe(self._model_changed)
        self._worker = threading.Thread(target=self._run, name='host-agent', daemon=True)
        self._dirty.set()
        self._worker.start()

    def close(self):
        """End the thread (after the host it is applying, if any), then
        close the drivers it was using."""
        self._stopping.set()
        self._dirty.set()
        if self._worker is not None:
            self._worker.join(timeout=CLOSE_TIMEOUT)
            if self._worker.is_alive():
                LOG.warning('the dataplane thread did not end within %ss', CLOSE_TIMEOUT)
                return
        for driver in self.drivers.values():
            driver.close()

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
        """Bring every owned host in step; returns the hosts that failed."""
        failed = []
        with self.replica.lock:
            hosts = [dict(h) for h in self.replica.hosts() if self.runtime.role.serves_kernel(h)]
        for gone in set(self.drivers) - {h['id'] for h in hosts}:
            # A host deleted or no longer ours: take back what we put there.
            driver = self.drivers.pop(gone)
            try:
                driver.apply(host_state.nothing())
            except Exception:
                LOG.exception('cleaning up host %s failed', driver.host['name'])
            driver.close()
        for host in hosts:
            try:
                driver = self._driver(host)
                state = host_state.host_state(self.replica, host, CONF.default_route_sid)
                changes = driver.apply(state)
                metrics.count('dataplane_changes', changes)
                self.runtime.reports.post(host['name'], vrfs=len(state.vrfs),
                                          routes=driver.route_count())
            except Exception:
                LOG.exception('host %s: applying the dataplane failed; will retry',
                              host['name'])
                metrics.count('dataplane_errors')
                stale = self.drivers.pop(host['id'], None)  # re-read the kernel next time
                if stale is not None:
                    stale.close()
                failed.append(host['name'])
        return failed

    def _driver(self, host):
        driver = self.drivers.get(host['id'])
        if driver is not None and driver.host != host:
            driver.close()
            driver = None
        if driver is None:
            driver = vrf_drivers.make_driver(CONF.vrf_driver, host, CONF.gateway_mac)
            driver.load()
            self.drivers[host['id']] = driver
        return driver
