"""One background thread for the edge's blocking work: reading a host's
OVSDB (a subprocess, up to seconds) and writing port statuses (an fsync).

OpenFlow handlers and the replica's feed thread hand such work here instead
of doing it themselves, so one slow OVSDB or disk never stalls the
packet-ins of every switch.  Work is keyed: a job submitted while an equal
key still waits replaces it (reading a switch's OVSDB twice in a row is
reading it once).
"""

import collections
import logging
import threading

from srv6_ofapp import metrics

LOG = logging.getLogger(__name__)


class Worker:

    def __init__(self, name):
        self._pending = collections.OrderedDict()
        self._cond = threading.Condition()
        self._busy = False
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, key, job):
        """Run ``job()`` on the worker thread, after the jobs already waiting."""
        with self._cond:
            self._pending[key] = job
            self._cond.notify_all()

    def wait_idle(self, timeout=None):
        """Wait until nothing waits or runs; False on timeout (for tests)."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._pending and not self._busy,
                                       timeout)

    def stop(self):
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        self._thread.join(timeout=5)

    def _run(self):
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._pending or self._stopped)
                if self._stopped:
                    return
                key, job = self._pending.popitem(last=False)
                self._busy = True
            try:
                job()
            except Exception:
                metrics.count('worker_error')
                LOG.exception('background job %r failed', key)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()
