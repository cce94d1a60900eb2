"""The state reporter: ``srv6_ofapp.report_state``, the OS-Ken app that makes
this process's agents visible in Neutron's agents API.

Every ``report_interval`` seconds it reports, for each host the process
serves (runtime.Role.served_hosts), the agent as alive with its configurations
(what the edge and the dataplane posted on the runtime's board), on a store
lease of ``agent_down_time`` seconds that it refreshes.  If the process
dies, nobody refreshes the lease; the store deletes the heartbeats and the
agents show ``alive: false``.  A clean stop revokes the leases at once.
"""

import logging
import threading

from os_ken.base import app_manager

from srv6_ofapp import metrics
from srv6_ofapp import runtime
from srv6_ofapp.config import CONF
from srv6_ofapp.model.resource import utcnow

LOG = logging.getLogger(__name__)


class Reporter:
    """Reports the agents of the hosts ``runtime`` serves, every ``interval``
    seconds, alive for ``down_time`` seconds; ``extra`` goes into every
    agent's configurations (a gateway's cluster name)."""

    def __init__(self, runtime, interval, down_time, extra=None):
        self.runtime = runtime
        self.started_at = utcnow()
        self.interval = interval
        self.down_time = down_time
        self.extra = dict(extra or {})
        self.leases = {}  # host name -> lease id
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._thread = None

    def start(self):
        # A host registered (or changed) is reported at once, not at the
        # next interval: its agent shows up as soon as it exists.
        self.runtime.replica.subscribe(self._model_changed)
        self._thread = threading.Thread(target=self._run, name='state-reporter',
                                        daemon=True)
        self._thread.start()

    def _model_changed(self, change):
        if change.kind == 'hosts':
            self._wake.set()

    def close(self):
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        for host, lease in sorted(self.leases.items()):
            try:
                self.runtime.store.revoke_lease(lease)
            except Exception as error:
                LOG.warning('agent of %s: could not revoke its lease: %s', host, error)
        self.leases.clear()

    def _run(self):
        while not self._stopping.is_set():
            try:
                self.report()
            except Exception:
                metrics.count('report_error')
                LOG.exception('reporting agent state failed; will retry')
            self._wake.wait(self.interval)
            self._wake.clear()

    def report(self):
        """Report every served host's agent once."""
        hosts = self.runtime.role.served_hosts(self.runtime.replica)
        for gone in sorted(set(self.leases) - set(hosts)):
            # A host the process no longer serves: its agent is dead now.
            self.runtime.store.revoke_lease(self.leases.pop(gone))
        for host in hosts:
            self._report(host)

    def _report(self, host):
        store = self.runtime.store
        lease = self.leases.get(host)
        if lease is None or not store.refresh_lease(lease):
            if lease is not None:
                LOG.warning('agent of %s: its lease expired (the store was out of reach '
                            'longer than agent_down_time); taking a new one', host)
            lease = self.leases[host] = store.grant_lease(self.down_time)
        self.runtime.plugin.report_agent(host, self.configurations(host), self.started_at,
                                         lease)
        metrics.count('agent_report')

    def configurations(self, host):
        configurations = {'role': self.runtime.role.name,
                          'report_interval': self.interval,
                          'switch_connected': False}
        configurations.update(self.extra)
        configurations.update(self.runtime.reports.of(host))
        return configurations


class StateReporter(app_manager.OSKenApp):
    """The OS-Ken adapter of Reporter, for the process's one store."""
    _CONTEXTS = {'runtime': runtime.Runtime}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.reporter = Reporter(kwargs['runtime'], CONF.report_interval,
                                 CONF.agent_down_time)

    def start(self):
        super().start()
        self.reporter.start()

    def close(self):
        self.reporter.close()
