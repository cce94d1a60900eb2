"""Real etcd members for tests: one member, or a cluster of three, on free
ports of 127.0.0.1 with their data in a temporary directory.

Every member is a ``Popen`` of this process and is stopped by that PID
(SIGTERM, then SIGKILL), by its cluster's ``stop()``, by the fixtures at
teardown even when the test failed, and by ``atexit`` as a last resort.
Nothing is looked up or killed by name.

Fixtures (import them into a test module, or use them through
tests/conftest.py):

- ``etcd_single``: one member for the whole session; tests isolate
  themselves by a fresh store prefix (:func:`unique_prefix`).
- ``etcd_cluster``: three members for one test, for faults (kill the leader,
  lose the quorum, bring members back).
"""

import atexit
import itertools
import os
import shutil
import signal
import subprocess
import time
import uuid

import pytest
import requests

from tests.server import free_port

ETCD = shutil.which('etcd')
START_TIMEOUT = 20  # seconds for a member to serve and a cluster to elect a leader

_live_members = set()
_prefix_numbers = itertools.count(1)


def unique_prefix(label='t'):
    """A store prefix no other test (or earlier run on the same etcd) uses."""
    return '/srv6test/%s-%s-%d' % (label, uuid.uuid4().hex[:8], next(_prefix_numbers))


def require_etcd():
    if ETCD is None:
        pytest.skip('the etcd binary is not installed (Debian etcd-server; '
                    '`make test` installs it)')


class Member:
    """One etcd process; its name, ports and data directory stay the same
    across restarts, so a restarted member rejoins its cluster."""

    def __init__(self, name, workdir):
        self.name = name
        self.client_port = free_port()
        self.peer_port = free_port()
        self.data_dir = os.path.join(workdir, name)
        self.log_path = os.path.join(workdir, name + '.log')
        self.proc = None

    @property
    def endpoint(self):
        return '127.0.0.1:%d' % self.client_port

    @property
    def client_url(self):
        return 'http://' + self.endpoint

    @property
    def peer_url(self):
        return 'http://127.0.0.1:%d' % self.peer_port

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def start(self, initial_cluster, token):
        args = [ETCD, '--name', self.name, '--data-dir', self.data_dir,
                '--listen-client-urls', self.client_url,
                '--advertise-client-urls', self.client_url,
                '--listen-peer-urls', self.peer_url,
                '--initial-advertise-peer-urls', self.peer_url,
                '--initial-cluster', initial_cluster,
                '--initial-cluster-token', token,
                '--logger', 'zap', '--log-level', 'warn']
        with open(self.log_path, 'ab') as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL)
        _live_members.add(self)

    def stop(self, timeout=10):
        """SIGTERM (a clean stop), SIGKILL if it does not go."""
        self._end(signal.SIGTERM, timeout)

    def kill(self):
        """SIGKILL: the member dies as in a crash or power loss."""
        self._end(signal.SIGKILL, 10)

    def _end(self, signum, timeout):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signum)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        _live_members.discard(self)

    def status(self):
        """The member's maintenance status, or None when it does not answer."""
        try:
            response = requests.post(self.client_url + '/v3/maintenance/status',
                                     json={}, timeout=1)
            return response.json() if response.ok else None
        except (requests.RequestException, ValueError):
            return None

    def log_tail(self, lines=20):
        try:
            with open(self.log_path, errors='replace') as log:
                return ''.join(log.readlines()[-lines:])
        except OSError:
            return ''


class Cluster:
    """``size`` members of one etcd cluster."""

    def __init__(self, workdir, size=1):
        self.workdir = str(workdir)
        os.makedirs(self.workdir, exist_ok=True)
        self.token = 'srv6test-' + uuid.uuid4().hex[:8]
        self.members = [Member('m%d' % i, self.workdir) for i in range(size)]

    @property
    def initial_cluster(self):
        return ','.join('%s=%s' % (m.name, m.peer_url) for m in self.members)

    @property
    def endpoints(self):
        return ','.join(m.endpoint for m in self.members)

    def url(self, prefix):
        """The ``--store`` URL of a store under ``prefix`` on every member."""
        return 'etcd://%s%s' % (self.endpoints, prefix)

    def start(self):
        for member in self.members:
            member.start(self.initial_cluster, self.token)
        self.wait_healthy()
        return self

    def start_member(self, member, wait=True):
        """Restart a stopped member: it rejoins from its data directory."""
        member.start(self.initial_cluster, self.token)
        if wait:
            self.wait_healthy()

    def wait_healthy(self, timeout=START_TIMEOUT):
        """Until every running member answers and knows the same leader."""
        deadline = time.monotonic() + timeout
        while True:
            running = [m for m in self.members if m.running]
            statuses = [m.status() for m in running]
            leaders = {s and s.get('leader') for s in statuses}
            if running and None not in statuses and len(leaders) == 1 \
                    and leaders != {'0'}:
                return
            for member in self.members:
                if member.proc is not None and member.proc.poll() is not None \
                        and member in _live_members:
                    raise RuntimeError('etcd member %s exited:\n%s'
                                       % (member.name, member.log_tail()))
            if time.monotonic() > deadline:
                raise RuntimeError('etcd cluster not healthy after %ss: %s'
                                   % (timeout, statuses))
            time.sleep(0.05)

    def leader(self):
        """The member that leads now (None while there is no leader)."""
        for member in self.members:
            status = member.status() if member.running else None
            if status and status.get('leader') == status['header']['member_id']:
                return member
        return None

    def followers(self):
        leader = self.leader()
        return [m for m in self.members if m is not leader and m.running]

    def revision(self):
        for member in self.members:
            status = member.status() if member.running else None
            if status:
                return int(status['header']['revision'])
        raise RuntimeError('no etcd member answers')

    def compact(self, revision=None):
        """Drop the history below ``revision`` (default: now), as etcd's
        auto-compaction would."""
        revision = revision or self.revision()
        member = next(m for m in self.members if m.running)
        response = requests.post(member.client_url + '/v3/kv/compaction',
                                 json={'revision': revision, 'physical': True}, timeout=10)
        if not response.ok:
            raise RuntimeError('compaction failed: %s' % response.text)
        return revision

    def stop(self):
        for member in self.members:
            member.stop()


def start_cluster(workdir, size):
    require_etcd()
    cluster = Cluster(workdir, size)
    try:
        return cluster.start()
    except BaseException:
        cluster.stop()
        raise


@atexit.register
def _stop_leftovers():
    for member in list(_live_members):
        member.kill()


@pytest.fixture(scope='session')
def etcd_single(tmp_path_factory):
    cluster = start_cluster(tmp_path_factory.mktemp('etcd'), 1)
    yield cluster
    cluster.stop()


@pytest.fixture
def etcd_cluster(tmp_path):
    cluster = start_cluster(tmp_path / 'etcd', 3)
    yield cluster
    cluster.stop()
