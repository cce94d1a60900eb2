"""The gateway role: one network node carrying the north-south traffic of
several clusters at once (``--role gateway --host NAME --cluster
NAME=STORE_URL ...``).

Each cluster is served as an agent would serve it, from its own store: a
replica of what concerns this host there (its routers, the networks they
touch, their floating IPs), a reconciler that keeps the routers in the
kernel (router namespaces prefixed with the cluster's name, so identical
project ids, network names and CIDRs never meet), and the host's L3 agent
reported in that cluster's agents API.  Nothing is shared between clusters
but the kernel's external bridge.

Clusters start independently and keep retrying while their store is out of
reach: one cluster down never holds the others.  No OpenFlow: a network
node's routers live in the kernel only.
"""

import collections
import logging
import re
import threading

from srv6_ofapp.dataplane.reconciler import Reconciler, Settings
from srv6_ofapp.report_state import Reporter
from srv6_ofapp.runtime import Role, Runtime

LOG = logging.getLogger(__name__)

# A cluster's name is part of its routers' namespace names.
CLUSTER_NAME = re.compile(r'^[a-z0-9][a-z0-9_]{0,19}$')
# Seconds between attempts to reach a cluster's store.
RETRY_INTERVAL = 5.0

Cluster = collections.namedtuple('Cluster', 'name store_url')


def parse_clusters(specs):
    """The Clusters of ``--cluster NAME=STORE_URL`` options; ValueError
    saying what is wrong with them."""
    clusters = []
    for spec in specs:
        name, sep, url = spec.partition('=')
        if not sep or not url:
            raise ValueError('--cluster %r: expected NAME=STORE_URL' % spec)
        if not CLUSTER_NAME.match(name):
            raise ValueError('--cluster %r: a cluster name is 1-20 lowercase letters, digits '
                             'or underscores, starting with a letter or digit' % spec)
        if name in {c.name for c in clusters}:
            raise ValueError('--cluster %s is given twice' % name)
        clusters.append(Cluster(name, url))
    if not clusters:
        raise ValueError('--role gateway needs at least one --cluster NAME=STORE_URL')
    return clusters


class ClusterGateway:
    """This network node in one cluster."""

    def __init__(self, cluster, host, conf):
        self.cluster = cluster
        self.host = host
        self.conf = conf
        self.runtime = None
        self.reconciler = None
        self.reporter = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._thread = None

    def start(self):
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name='gateway-' + self.cluster.name)
        self._thread.start()

    @property
    def serving(self):
        return self.reconciler is not None

    def _run(self):
        while not self._stopping.is_set():
            try:
                self._start_serving()
                LOG.info('cluster %s: serving host %s (store %s)', self.cluster.name,
                         self.host, self.runtime.store.url)
                return
            except Exception as error:
                LOG.error('cluster %s: cannot serve yet (%s); retrying in %.0f s',
                          self.cluster.name, error, RETRY_INTERVAL)
                self._teardown()
            self._stopping.wait(RETRY_INTERVAL)

    def _start_serving(self):
        with self._lock:
            if self._stopping.is_set():
                return
            self.runtime = Runtime(self.conf, store_url=self.cluster.store_url,
                                   role=Role('gateway', self.host))
            reconciler = Reconciler(self.runtime, Settings(cluster=self.cluster.name,
                                                           vrfs=False))
            reporter = Reporter(self.runtime, self.conf.report_interval,
                                self.conf.agent_down_time, {'cluster': self.cluster.name})
            reconciler.start()
            self.reconciler = reconciler
            reporter.start()
            self.reporter = reporter

    def _teardown(self):
        with self._lock:
            for part in (self.reporter, self.reconciler, self.runtime):
                if part is not None:
                    try:
                        part.close()
                    except Exception:
                        LOG.exception('cluster %s: closing %s failed', self.cluster.name,
                                      type(part).__name__)
            self.runtime = self.reconciler = self.reporter = None

    def close(self):
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self._teardown()


class Gateway:
    """Every cluster this network node serves."""

    def __init__(self, clusters, host, conf):
        self.clusters = [ClusterGateway(cluster, host, conf) for cluster in clusters]

    def start(self):
        if any(c.cluster.store_url.startswith('etcd:') for c in self.clusters):
            # Here, in the main thread, before the clusters' threads open
            # their stores: etcd3gw imports eventlet (through futurist), and
            # a thread that imports eventlet first is never seen to end by
            # threading (is_alive() stays true, join() waits its timeout).
            from srv6_ofapp.store import etcd  # noqa: F401
        for cluster in self.clusters:
            cluster.start()

    def close(self):
        for cluster in self.clusters:
            cluster.close()
