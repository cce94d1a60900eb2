"""The distributed deployment of the mininet demo (``demo.py --distributed``):
a 3-member etcd cluster and two API servers (``srv6-ofapp --role api``) in
the sandbox's root namespace; each Hypervisor of mininet/srv6.py runs its
own agent (``srv6-ofapp --role agent``, srv6.Agent).

The agents live in the hypervisors' namespaces, where the root namespace's
loopback is out of reach: each hypervisor has a management veth to the
root namespace (srv6.Hypervisor, ``mgmt`` <-> ``mg-hvN``), and the etcd
members listen on the management address MGMT_IP (on the root namespace's
``lo``) as well as on 127.0.0.1. The API servers use 127.0.0.1, the agents
MGMT_IP: the same members, the same ports.

Every process is a Popen of the demo and is stopped by its PID (SIGTERM,
then SIGKILL); the etcd data lives under the sandbox's private /tmp and is
removed at stop. Standard library only.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

from srv6 import MGMT_IP, wait_api

STORE_PREFIX = '/srv6/demo'
API_PORTS = (9696, 9697)
ETCD_MEMBERS = 3


def free_ports(count):
    """``count`` distinct free TCP ports of 127.0.0.1. The sandbox's network
    namespace is private: nothing else takes them meanwhile, and the same
    ports are free on MGMT_IP."""
    ports = set()
    while len(ports) < count:
        with socket.socket() as sock:
            sock.bind(('127.0.0.1', 0))
            ports.add(sock.getsockname()[1])
    return sorted(ports)


def stop_process(proc, timeout=10, wait=True):
    """SIGTERM ``proc`` (by its PID, once), SIGKILL when it does not go in
    ``timeout`` s; ``wait=False`` only signals (to stop several at once)."""
    if proc is None:
        return
    if proc.poll() is None and not getattr(proc, 'sigterm_sent', False):
        proc.send_signal(signal.SIGTERM)
        proc.sigterm_sent = True
    if not wait:
        return
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def tail(path, limit=2000):
    try:
        with open(path, errors='replace') as f:
            return f.read()[-limit:]
    except OSError:
        return ''


def _sh(*args):
    result = subprocess.run(list(args), capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError('%s: %s' % (' '.join(args), result.stderr.strip()))


class Etcd:
    """``ETCD_MEMBERS`` etcd members on free ports, data under ``workdir``."""

    def __init__(self, workdir, size=ETCD_MEMBERS):
        self.workdir = workdir
        ports = free_ports(2 * size)
        self.members = [dict(name='m%d' % i, client=ports[2 * i], peer=ports[2 * i + 1],
                             proc=None) for i in range(size)]

    def endpoints(self, address):
        return ','.join('%s:%d' % (address, m['client']) for m in self.members)

    def url(self, address):
        """The --store URL of the demo's prefix on every member, by ``address``
        (127.0.0.1 in the root namespace, MGMT_IP from a hypervisor)."""
        return 'etcd://%s%s' % (self.endpoints(address), STORE_PREFIX)

    def log(self, member):
        return os.path.join(self.workdir, member['name'] + '.log')

    def start(self, timeout=30):
        # The management address the hypervisors reach us on (their
        # veths' peer); on lo, so it exists before any hypervisor does.
        _sh('ip', 'addr', 'add', MGMT_IP + '/32', 'dev', 'lo')
        os.makedirs(self.workdir, exist_ok=True)
        cluster = ','.join('%s=http://127.0.0.1:%d' % (m['name'], m['peer'])
                           for m in self.members)
        etcd = shutil.which('etcd')
        if etcd is None:
            raise RuntimeError('no etcd binary (Debian etcd-server)')
        for m in self.members:
            clients = 'http://127.0.0.1:%d,http://%s:%d' % (m['client'], MGMT_IP, m['client'])
            peer = 'http://127.0.0.1:%d' % m['peer']
            with open(self.log(m), 'ab') as log:
                m['proc'] = subprocess.Popen(
                    [etcd, '--name', m['name'],
                     '--data-dir', os.path.join(self.workdir, m['name']),
                     '--listen-client-urls', clients, '--advertise-client-urls', clients,
                     '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer,
                     '--initial-cluster', cluster, '--initial-cluster-token', 'srv6-demo',
                     '--logger', 'zap', '--log-level', 'warn'],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        self.wait_healthy(timeout)
        return self

    def _status(self, member):
        request = urllib.request.Request(
            'http://127.0.0.1:%d/v3/maintenance/status' % member['client'], data=b'{}',
            method='POST')
        try:
            with urllib.request.urlopen(request, timeout=1) as response:
                return json.loads(response.read())
        except (OSError, ValueError):
            return None

    def wait_healthy(self, timeout):
        """Until every member answers and all know the same leader."""
        deadline = time.monotonic() + timeout
        while True:
            for m in self.members:
                if m['proc'].poll() is not None:
                    raise RuntimeError('etcd member %s exited:\n%s' % (m['name'],
                                                                      tail(self.log(m))))
            statuses = [self._status(m) for m in self.members]
            leaders = {s and s.get('leader') for s in statuses}
            if None not in statuses and len(leaders) == 1 and leaders != {'0'}:
                return
            if time.monotonic() > deadline:
                raise RuntimeError('etcd cluster not healthy after %ss' % timeout)
            time.sleep(0.05)

    def stop(self):
        # One after the other: 0.2 s. SIGTERM to all three at once took 7 s
        # (a stopping leader tries to hand over to members that are going).
        for m in self.members:
            stop_process(m['proc'])
        shutil.rmtree(self.workdir, ignore_errors=True)
        subprocess.run(['ip', 'addr', 'del', MGMT_IP + '/32', 'dev', 'lo'],
                       capture_output=True)


class ApiServer:
    """``srv6-ofapp --role api`` on 127.0.0.1:``port``."""

    def __init__(self, python, cwd, store, port, log_path):
        self.argv = [python, '-m', 'srv6_ofapp', '--role', 'api', '--store', store,
                     '--wsapi-host', '127.0.0.1', '--wsapi-port', str(port)]
        self.cwd, self.log_path = cwd, log_path
        self.url = 'http://127.0.0.1:%d' % port
        self.proc = None

    def start(self):
        with open(self.log_path, 'ab') as log:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, cwd=self.cwd)
        return self

    def wait(self):
        try:
            wait_api(self.url)
        except Exception:
            raise RuntimeError('API server %s did not answer; its log:\n%s'
                               % (self.url, tail(self.log_path)))

    def stop(self, wait=True):
        stop_process(self.proc, wait=wait)
