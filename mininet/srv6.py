"""srv6_ofapp on mininet: compute hosts with their own OVS, an IPv6 underlay,
two projects with overlapping CIDRs, a service behind an SRv6 SID, and a
network node with a router per project between them and an internet host.

Standard library and mininet only: Debian's ``mn`` (its own python3, no
``requests``) loads this file too::

    mn --custom mininet/srv6.py --topo srv6,2,2,api=http://127.0.0.1:9696 \\
       --switch ovs,datapath=user --controller remote,ip=127.0.0.1,port=6653 --test srv6demo

Run it only inside mininet/sandbox.sh: mininet's cleanup deletes every OVS
bridge and kills processes by name.

Layout (n hosts, m VMs each):
  * ``hvI`` (Hypervisor): a mininet node playing compute host I's kernel. It
    runs its own ovsdb-server and ovs-vswitchd (br-int, datapath netdev) in
    its namespace, attached as ``/var/run/netns/hvI``; its SID prefix is
    fd00:0:0:I::/64 and its underlay address fd01:I::2.
  * ``spine`` (Router): one /64 per host (fd01:I::/64), one to ``svc`` and
    one to ``gw1``.
  * ``svc`` (Router): 10.200.0.5 behind the End.DX4 SID fd00:0:0:ffff::a9fe:5.
  * ``gw1`` (NetworkNode): the network node, host index 0xfe (SID prefix
    fd00:0:0:fe::/64, underlay fd01:fe::2), no OVS; registered with role
    ``network`` and its external interface ``gw1-ext``. Its routers are
    namespaces of their own (a veth to gw1 toward the underlay, a port on
    br-ex, the Linux bridge that takes in gw1-ext), SNAT and floating IPs in
    nftables.
  * ``inet``: the internet host, 203.0.113.1/24 on gw1-ext's segment: the
    gateway of the external network ``public``; it routes 10.0.0.0/16 to
    alpha's router and each beta VM's address to beta's (which must not let
    it in).
  * VMs ``aIJ`` / ``bIJ``: mininet hosts of project alpha / beta, alternating
    on each host, address 10.0.I.(10+J) in 10.0.0.0/16 (the same CIDR in both
    projects; addresses kept unique so the matrix can name them). Alpha has an
    srv6_encap_network to the service; beta has not. Each project has a
    router on gw1 (gateway on public, its subnet as interface); the first
    alpha VM has a floating IP, and both projects' default security groups
    admit ICMP from anywhere (so that a router is what keeps inet out).

Who programs the hosts: by default one controller outside (mininet's
``--controller``, the all-in-one srv6-ofapp): each Hypervisor relays
OpenFlow to it and registers its host with ``netns=hvI``, so that process
programs its kernel from outside. With ``agent=Agent(...)`` (demo.py
--distributed) each Hypervisor runs its own ``srv6-ofapp --role agent``
inside its namespace, as on a real host: OVS connects to it on
tcp:127.0.0.1:6653 there, the host is registered without ``netns`` (the
agent programs the namespace it runs in), and the agent reaches etcd in
the root namespace over a management veth (``mgmt``, MGMT_IP). gw1 alike:
the controller outside builds its routers (``gw1-rtr...``), or, with
``gateway=Agent(...)``, its own ``srv6-ofapp --role gateway --cluster
demo=<store>`` does (``demo-rtr...``, on gw1's own /run/netns).
"""

import ipaddress
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

from mininet.node import Host, Switch
from mininet.topo import Topo
from mininet.util import quietRun

V = '/v2.0'
DEFAULT_API = 'http://127.0.0.1:9696'
CIDR = '10.0.0.0/16'
SERVICE_IP = '10.200.0.5'
SERVICE_SID = 'fd00:0:0:ffff::a9fe:5'
SERVICE_NET = 'ffff'
RTPROT = '83'
PROJECTS = ('alpha', 'beta')
NO_DAD = 'sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0'
FORWARD = 'sysctl -qw net.ipv6.conf.all.forwarding=1 net.ipv4.ip_forward=1'
UDHCPC_SCRIPT = '/tmp/mn-srv6-udhcpc.sh'
LEASE_DIR = '/tmp/mn-srv6-leases'
# The distributed mode's management network: MGMT_IP in the root namespace,
# point to point with 10.254.I.2 on hypervisor I.
MGMT_IP = '10.254.0.1'
AGENT_OFP_PORT = 6653
AGENT_METRICS_PORT = 9697
# North-south: the network node gw1 (host index 0xfe: underlay fd01:fe::/64,
# SID prefix fd00:0:0:fe::/64) and its external segment, where the
# "internet" host inet is the external subnet's gateway.
NETWORK_NODE = 'gw1'
NETWORK_NODE_INDEX = 0xfe
EXTERNAL_CIDR = '203.0.113.0/24'
INTERNET_IP = '203.0.113.1'
# The distributed mode's gateway serves this one cluster: its router
# namespaces are <CLUSTER>-rtr<router id[:11]>.
CLUSTER = 'demo'

_started = time.monotonic()


def progress(message):
    print('[%5.1fs] %s' % (time.monotonic() - _started, message), flush=True)


# --- REST (urllib: no requests under Debian's python3) -----------------------------

def rest(api, method, path, body=None, project=None, timeout=10):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(api.rstrip('/') + path, data=data, method=method)
    request.add_header('Content-Type', 'application/json')
    if project:
        request.add_header('X-Project-Id', project)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            text = response.read()
    except urllib.error.HTTPError as exc:
        raise RuntimeError('%s %s: %s %s' % (method, path, exc.code, exc.read()[:500]))
    return json.loads(text) if text else None


class Apis:
    """The API servers to talk to, taken in turn: one URL (the all-in-one
    controller) or several (demo.py --distributed); ``used`` counts the
    requests each one served."""

    def __init__(self, urls):
        self.urls = [urls] if isinstance(urls, str) else list(urls)
        self.used = dict.fromkeys(self.urls, 0)
        self._turn = 0

    def next(self):
        url = self.urls[self._turn % len(self.urls)]
        self._turn += 1
        self.used[url] += 1
        return url


def create(api, kind, project=None, **fields):
    """POST a ``kind``; ``api`` is a URL or an Apis (then the next server)."""
    if isinstance(api, Apis):
        api = api.next()
    return rest(api, 'POST', '%s/%ss' % (V, kind), {kind: fields}, project)[kind]


def wait_api(api, timeout=20):
    deadline = time.monotonic() + timeout
    while True:
        try:
            rest(api, 'GET', V + '/networks', timeout=1)
            return
        except (OSError, RuntimeError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def vrf_name(project_id, network_id):
    """As topology.naming.vrf_name: ``vrf`` + project_id[:6] + network_id[:6]."""
    return 'vrf' + project_id[:6] + network_id[:6]


def vrf_sid(segment_node_id, vrf_ip):
    """As topology.vrf.sid: the host's SID prefix with vrf_ip in its low 32 bits."""
    prefix = int(ipaddress.IPv6Address(segment_node_id)) & ~0xffffffff
    return str(ipaddress.IPv6Address(prefix | int(ipaddress.IPv4Address(vrf_ip))))


# --- nodes -----------------------------------------------------------------------

class Router(Host):
    """A Linux router: IPv6 DAD off (set before its links exist), forwarding on
    (``forward=False``: an end host, as the internet host); ``setup`` is a
    list of shell commands run once its links are there."""

    def __init__(self, name, setup=(), forward=True, **params):
        Host.__init__(self, name, setup=setup, forward=forward, **params)
        self.cmd(NO_DAD)
        if forward:
            self.cmd(FORWARD)

    def config(self, setup=(), forward=True, **params):
        result = Host.config(self, **params)
        for command in setup:
            out = self.cmd(command)
            if out.strip():
                print('%s: %s: %s' % (self.name, command, out.strip()), file=sys.stderr)
        return result


class Agent:
    """How a node runs its own srv6-ofapp process (the distributed mode): a
    Hypervisor its agent, a NetworkNode its gateway.

    argv: the command up to the per-host flags, e.g. ``[python, '-m',
    'srv6_ofapp', '--role', 'agent', '--store', 'etcd://MGMT_IP:P,...']``;
    cwd: the directory it runs from (the checkout); logdir: where
    ``<kind>-<host>.log`` goes."""

    def __init__(self, argv, cwd, logdir, kind='agent'):
        self.argv, self.cwd, self.logdir, self.kind = list(argv), cwd, logdir, kind

    def log_path(self, host):
        return os.path.join(self.logdir, '%s-%s.log' % (self.kind, host))


def _pidfile(path):
    try:
        with open(path) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _running(pid):
    """Whether ``pid`` is alive (neither gone nor a zombie)."""
    try:
        with open('/proc/%d/stat' % pid) as f:
            return f.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except (OSError, IndexError):
        return False


def _wait_gone(pids, timeout=5):
    """Until every one of ``pids`` has exited; SIGKILL (by PID) after ``timeout``."""
    deadline = time.monotonic() + timeout
    while any(_running(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.02)
    for pid in pids:
        if _running(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


class HostKernel:
    """What a mininet node playing a host's kernel does, compute host
    (Hypervisor) or network node (NetworkNode): IPv6 DAD off and forwarding
    on, its namespace attached as /var/run/netns/<name>, and in the
    distributed mode (``self.agent`` an Agent) a private /run/netns, a
    management veth and its own srv6-ofapp process.

    The mixin's users set ``agent``, ``index`` and ``namespace_prefix``
    (how the names of the namespaces made for this host begin), call
    ``_start_kernel()`` once the mininet node exists and
    ``_stop_kernel()`` when it goes."""

    agent = None
    agent_proc = None

    # Host I's addresses: its link to the spine, its underlay address there
    # (fd01:I::/64) and its SID prefix (fd00:0:0:I::/64).
    @property
    def uplink(self):
        return '%s-up' % self.name

    @property
    def underlay_ip(self):
        return 'fd01:%x::2' % self.index

    @property
    def segment_node_id(self):
        return 'fd00:0:0:%x::' % self.index

    def _start_kernel(self):
        self.cmd(NO_DAD)
        self.cmd(FORWARD)
        out = quietRun('ip netns attach %s %d' % (self.name, self.pid))
        if out.strip():
            raise RuntimeError('ip netns attach %s: %s' % (self.name, out.strip()))
        if self.agent is not None:
            # As early as the namespace exists: the process's start-up (a
            # second or more of imports) overlaps mininet's build; it
            # serves this host once the host is registered.
            self._add_mgmt_link()
            self._start_agent()

    @property
    def mgmt_ip(self):
        """This host's end of the management veth (distributed mode)."""
        return '10.254.%d.2' % self.index

    @property
    def mgmt_link(self):
        """The root namespace's end of the management veth."""
        return 'mg-' + self.name

    def _run(self, command):
        out = self.cmd(command + ' 2>&1; echo "rc=$?"')
        body, _, rc = out.rstrip().rpartition('rc=')
        if rc.strip() != '0':
            raise RuntimeError('%s: %s failed:\n%s' % (self.name, command, body))
        return body

    def _add_mgmt_link(self):
        """The management veth: ``mgmt`` here, ``mg-<name>`` in the root
        namespace, point to point (no bridge: hosts do not reach each
        other on it)."""
        link = self.mgmt_link
        for command in (['ip', 'link', 'add', link, 'type', 'veth', 'peer', 'name', 'mgmt',
                         'netns', str(self.pid)],
                        ['ip', 'addr', 'add', MGMT_IP, 'peer', self.mgmt_ip, 'dev', link],
                        ['ip', 'link', 'set', link, 'up']):
            result = subprocess.run(command, capture_output=True, text=True)
            if result.returncode != 0:
                raise RuntimeError('%s: %s: %s' % (self.name, ' '.join(command),
                                                   result.stderr.strip()))
        self._run('ip addr add %s peer %s dev mgmt' % (self.mgmt_ip, MGMT_IP))
        self._run('ip link set mgmt up')

    def agent_flags(self):
        """The per-host flags of our own process."""
        return ['--host', self.name]

    def _start_agent(self):
        """``self.agent.argv`` + agent_flags() in this namespace (and mount
        namespace: its ``ip netns add`` lands in our /run/netns).
        mnexec -a resets the working directory, hence the cd."""
        with open(self.agent.log_path(self.name), 'ab') as log:
            self.agent_proc = self.popen(['sh', '-c', 'cd "$0" && exec "$@"', self.agent.cwd]
                                         + self.agent.argv + self.agent_flags(),
                                         stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT)

    def check_agent(self):
        """Raise, with the tail of its log, when our process has exited."""
        if self.agent_proc is not None and self.agent_proc.poll() is not None:
            with open(self.agent.log_path(self.name), errors='replace') as log:
                raise RuntimeError('the %s of %s exited with %s:\n%s' % (
                    self.agent.kind, self.name, self.agent_proc.returncode,
                    log.read()[-3000:]))

    def stop_agent(self, wait=True):
        """SIGTERM our process (by its PID; ``wait=False`` only signals, so
        that several stop at once), then wait, SIGKILL after 10 s."""
        proc = self.agent_proc
        if proc is None:
            return
        if proc.poll() is None and not getattr(proc, 'sigterm_sent', False):
            proc.send_signal(signal.SIGTERM)
            proc.sigterm_sent = True
        if wait:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            self.agent_proc = None

    def ip(self, netns, *args):
        """``ip -n <netns> ARGS`` where this host's namespaces are: on the
        sandbox's /run/netns (made by a controller outside) or on our own
        (made by our process, seen from inside the node)."""
        argv = ['ip', '-n', netns] + [str(a) for a in args]
        if self.agent is None:
            return quietRun(argv)
        proc = self.popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        return proc.communicate()[0].decode(errors='replace')

    def namespaces(self):
        """The namespaces made for this host (by whoever programs it)."""
        if self.agent is not None:
            out = self.cmd('ls -A /run/netns')
            names = out.split()
        else:
            names = os.listdir('/var/run/netns') if os.path.isdir('/var/run/netns') else []
        return sorted(n for n in names if n.startswith(self.namespace_prefix))

    def _stop_kernel(self):
        """Our process, the namespaces made for this host, the management
        veth and our own namespace's name; the rest goes with the node."""
        if self.agent is not None:
            self.stop_agent()
            # In our own /run/netns, so from inside (every name there),
            # before the node (and its mount namespace) goes.
            self.cmd('ip -all netns delete')
            quietRun('ip link del ' + self.mgmt_link)  # both ends
        else:
            for name in self.namespaces():
                quietRun('ip netns delete ' + name)
        quietRun('ip netns delete ' + self.name)


class Hypervisor(HostKernel, Switch):
    """A compute host: a mininet node whose namespace is the host's kernel
    (attached as /var/run/netns/<name>), with its own ovsdb-server and
    ovs-vswitchd (br-int, datapath netdev) running inside it.

    index: host number I (SID prefix fd00:0:0:I::, underlay fd01:I::2/64 on
    ``<name>-up``, default route via fd01:I::1); vifs: {interface name:
    Neutron port id} for the VM-facing interfaces (external_ids:iface-id);
    api: a URL or an Apis to register the host through.

    agent: None, and a controller outside programs this host (its OpenFlow
    relayed by socat, the host registered with ``netns``); or an Agent, and
    the host runs its own (the distributed mode). Then the node also has:
      * a private /run/netns (a tmpfs in the mount namespace mininet gives
        every node), as a real host has its own: the agent's VRF namespaces
        (``ip netns add vrf...``, named without a host prefix) would
        otherwise collide between hosts on the sandbox's one /run/netns --
        the file shared, the nsfs mount only in the node's mount namespace.
        They are seen through the node (``ip -n`` run inside it) and
        deleted inside it at stop;
      * a management veth ``mgmt`` (10.254.I.2) point to point with
        ``mg-<name>`` (MGMT_IP) in the root namespace, where etcd is."""

    def __init__(self, name, index=1, api=DEFAULT_API, vifs=None, dpid=None, agent=None,
                 **params):
        params['inNamespace'] = True
        self.agent = agent
        if agent is not None:
            params['privateDirs'] = list(params.get('privateDirs', [])) + ['/run/netns']
        self.index = int(index)
        dpid = dpid or '00000000000d%04x' % self.index
        Switch.__init__(self, name, dpid=dpid, **params)
        self.api = api
        self.vifs = dict(vifs or {})
        self.dir = '/tmp/mn-%s' % name
        self.socat = None
        self.host_id = None
        # The controller outside names our VRF namespaces <name>-vrf...,
        # our own agent vrf... in our own /run/netns.
        self.namespace_prefix = self.name + '-' if agent is None else ''
        self._start_kernel()

    @property
    def db_sock(self):
        return self.dir + '/db.sock'

    @property
    def mgmt(self):
        return 'unix:%s/br-int.mgmt' % self.dir

    def vsctl(self, *args):
        return self._run(' '.join(['ovs-vsctl', '--timeout=20', '--db=unix:' + self.db_sock]
                                  + list(args)))

    def start(self, controllers):
        d = self.dir
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        # 1. the underlay
        self._run('ip link set lo up')
        self._run('ip -6 addr add %s/64 dev %s nodad' % (self.underlay_ip, self.uplink))
        self._run('ip link set %s up' % self.uplink)
        self._run('ip -6 route add default via fd01:%x::1' % self.index)
        # 2-3. our own OVS, in this namespace
        env = 'OVS_RUNDIR=%s OVS_LOGDIR=%s OVS_DBDIR=%s' % (d, d, d)
        self._run('ovsdb-tool create %s/conf.db /usr/share/openvswitch/vswitch.ovsschema' % d)
        self._run('%s ovsdb-server %s/conf.db --remote=punix:%s --pidfile=%s/ovsdb-server.pid '
                  '--unixctl=%s/ovsdb-server.ctl --log-file=%s/ovsdb-server.log --detach '
                  '--no-chdir' % (env, d, self.db_sock, d, d, d))
        self.vsctl('--no-wait', 'init')
        self._run('%s ovs-vswitchd unix:%s --disable-system --pidfile=%s/ovs-vswitchd.pid '
                  '--unixctl=%s/ovs-vswitchd.ctl --log-file=%s/ovs-vswitchd.log --detach '
                  '--no-chdir' % (env, self.db_sock, d, d, d))
        # 4. br-int and every VM port (with its iface-id) in one transaction
        args = ['add-br', 'br-int', '--', 'set', 'bridge', 'br-int', 'datapath_type=netdev',
                'protocols=OpenFlow13', 'fail_mode=secure',
                'other-config:datapath-id=' + self.dpid]
        for intf in self.intfList():
            if intf.name in ('lo', self.uplink):
                continue
            args += ['--', 'add-port', 'br-int', intf.name, '--', 'set', 'Interface',
                     intf.name, 'external_ids:iface-id=' + self.vifs.get(intf.name, intf.name)]
        self.vsctl(*args)
        # 5. the host, over REST, now that its netns and OVSDB exist; with
        # an agent of our own, without netns: it programs where it runs.
        host = dict(name=self.name, datapath_id=self.dpid,
                    segment_node_id=self.segment_node_id, underlay_ip=self.underlay_ip,
                    bridge='br-int', ovsdb='unix:' + self.db_sock)
        if self.agent is None:
            host['netns'] = self.name
        self.host_id = create(self.api, 'host', **host)['id']
        # 6. only then the controller: our own agent on this namespace's
        # loopback once it listens (batchStartup), or a unix socket in our
        # rundir, relayed by socat (in mininet's namespace) to the remote
        # controller.
        if self.agent is None and controllers:
            c = controllers[0]
            sock = d + '/ofp-c0.sock'
            self.socat = subprocess.Popen(
                ['socat', 'UNIX-LISTEN:%s,fork' % sock, 'TCP:%s:%d' % (c.IP(), c.port)],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=open(d + '/socat.log', 'wb'))
            deadline = time.monotonic() + 5
            while not os.path.exists(sock) and time.monotonic() < deadline:
                time.sleep(0.01)
            self.vsctl('set-controller', 'br-int', 'unix:' + sock, '--', 'set', 'controller',
                       'br-int', 'max_backoff=1000')

    @classmethod
    def batchStartup(cls, switches):
        """After every start(): connect each br-int to its own agent as soon
        as the agent listens (they start in parallel), so that OVS's first
        attempt succeeds -- a refused one costs 1-4 s of OVS backoff."""
        waiting = [s for s in switches if s.agent is not None]
        deadline = time.monotonic() + 60
        while waiting:
            for hv in list(waiting):
                if hv.agent_listening():
                    hv.vsctl('set-controller', 'br-int',
                             'tcp:127.0.0.1:%d' % AGENT_OFP_PORT, '--', 'set', 'controller',
                             'br-int', 'max_backoff=1000')
                    waiting.remove(hv)
            if waiting:
                if time.monotonic() > deadline:
                    raise RuntimeError('agents of %s not listening after 60 s'
                                       % ', '.join(hv.name for hv in waiting))
                time.sleep(0.05)
        return switches

    def agent_listening(self):
        """Whether our agent listens on its OpenFlow port: a LISTEN socket
        on 127.0.0.1:AGENT_OFP_PORT in /proc/<agent>/net/tcp (which shows
        the sockets of the agent's network namespace, i.e. ours)."""
        self.check_agent()
        wanted = '0100007F:%04X' % AGENT_OFP_PORT
        try:
            with open('/proc/%d/net/tcp' % self.agent_proc.pid) as tcp:
                return any(line.split()[1] == wanted and line.split()[3] == '0A'
                           for line in list(tcp)[1:])
        except OSError:
            return False

    def agent_flags(self):
        return ['--host', self.name,
                '--ofp-listen-host', '127.0.0.1', '--ofp-tcp-listen-port', str(AGENT_OFP_PORT),
                '--wsapi-host', '127.0.0.1', '--wsapi-port', str(AGENT_METRICS_PORT)]

    def vrf_routes(self, vrf):
        """Our routes (protocol 83) in the namespace playing ``vrf`` here:
        ``<name>-<vrf>`` on the sandbox's /run/netns when the controller
        outside made it, ``<vrf>`` on our own /run/netns when our agent did."""
        return self.ip(self.namespace_prefix + vrf, 'route', 'show', 'proto', RTPROT)

    def flows(self):
        out = quietRun('ovs-ofctl -O OpenFlow13 dump-flows %s' % self.mgmt)
        return [line for line in out.splitlines() if 'actions=' in line]

    def connected(self):
        return len(self.flows()) >= 4

    def stop(self, deleteIntfs=True):
        d = self.dir
        if self.agent is not None:
            self.stop_agent()
        # ovs-appctl exit answers before the daemon is gone (ovs-vswitchd
        # still tears down its netdev ports): wait for both, or the sandbox
        # can still hold this host's namespace through them.
        pids = []
        for daemon in ('ovs-vswitchd', 'ovsdb-server'):
            if os.path.exists('%s/%s.ctl' % (d, daemon)):
                pids.append(_pidfile('%s/%s.pid' % (d, daemon)))
                quietRun('ovs-appctl -t %s/%s.ctl exit' % (d, daemon))
        _wait_gone([pid for pid in pids if pid])
        if self.socat is not None:
            self.socat.terminate()
            try:
                self.socat.wait(5)
            except subprocess.TimeoutExpired:
                self.socat.kill()
            self.socat = None
        # The VRF namespaces of this host, then ours.
        self._stop_kernel()
        Switch.stop(self, deleteIntfs)
        shutil.rmtree(d, ignore_errors=True)


class NetworkNode(HostKernel, Host):
    """A network node: a mininet node whose namespace is the node's kernel
    (attached as /var/run/netns/<name>), on the underlay like a Hypervisor
    (SID prefix fd00:0:0:I::, fd01:I::2/64 on ``<name>-up``) and with an
    external interface ``<name>-ext``; no OVS. Each router scheduled here
    is a namespace of its own, with a veth to ours toward the underlay and
    a port on br-ex, the Linux bridge that takes in ``<name>-ext``; SNAT
    and floating IPs are nftables in the router's namespace.

    Who builds the routers (srv6_ofapp/dataplane/router_driver.py):
      * agent None: the controller outside; the host is registered with
        ``netns``, its routers are ``<name>-rtr<id[:11]>`` on the sandbox's
        /run/netns;
      * agent an Agent (the distributed mode): our own ``srv6-ofapp --role
        gateway --host <name> --cluster <cluster>=<store>``, reaching etcd
        over a management veth as a Hypervisor's agent does; the host is
        registered without ``netns``, its routers are
        ``<cluster>-rtr<id[:11]>`` on our own /run/netns.

    The host is registered (role ``network``) once its links exist."""

    def __init__(self, name, index=NETWORK_NODE_INDEX, api=DEFAULT_API, agent=None,
                 cluster=CLUSTER, **params):
        params['inNamespace'] = True
        self.agent = agent
        if agent is not None:
            params['privateDirs'] = list(params.get('privateDirs', [])) + ['/run/netns']
        self.index = int(index)
        self.api = api
        self.dpid = '00000000000d%04x' % self.index
        self.host_id = None
        self.namespace_prefix = (cluster if agent is not None else name) + '-'
        Host.__init__(self, name, **params)
        self._start_kernel()

    @property
    def external_interface(self):
        return '%s-ext' % self.name

    def agent_flags(self):
        return ['--host', self.name,
                '--wsapi-host', '127.0.0.1', '--wsapi-port', str(AGENT_METRICS_PORT)]

    def config(self, **params):
        result = Host.config(self, **params)
        self._run('ip link set lo up')
        self._run('ip -6 addr add %s/64 dev %s nodad' % (self.underlay_ip, self.uplink))
        self._run('ip link set %s up' % self.uplink)
        self._run('ip -6 route add default via fd01:%x::1' % self.index)
        self._run('ip link set %s up' % self.external_interface)
        host = dict(name=self.name, datapath_id=self.dpid, role='network',
                    external_interface=self.external_interface,
                    segment_node_id=self.segment_node_id, underlay_ip=self.underlay_ip)
        if self.agent is None:
            host['netns'] = self.name
        self.host_id = create(self.api, 'host', **host)['id']
        return result

    def router_namespace(self, router_id):
        return self.namespace_prefix + 'rtr' + router_id[:11]

    def terminate(self):
        # Mininet stops a host by terminate() alone.
        if self.shell is not None:
            self._stop_kernel()
        Host.terminate(self)


# --- the topology --------------------------------------------------------------------

class SRv6Topo(Topo):
    """n compute hosts x m VMs and the network node gw1, registered over REST
    at ``api`` while building (a URL, or several: then each request goes to
    the next one in turn); ``agent``: an Agent to run in every hypervisor,
    ``gateway``: one to run in gw1 (the distributed mode).

    North-south: the external network ``public`` (EXTERNAL_CIDR, gateway
    INTERNET_IP: the host ``inet`` on gw1's external interface), a router
    per project on gw1 with its gateway there and the project's subnet as
    interface, and a floating IP for the first alpha VM; each project's
    default security group admits ICMP from anywhere (as in Neutron, it
    admits only its members otherwise), so that only the routers keep inet
    out. inet routes CIDR to alpha's router and each beta VM's address to
    beta's (what it should never get through without a floating IP).

    topo.vms: [dict(name, project, network, host, ip, mac, port, fip (or
    None))]; topo.networks: {project: network}; topo.routers: {project:
    dict(id, name, external_ip)}; topo.apis: the Apis used."""

    def build(self, n=2, m=2, api=DEFAULT_API, agent=None, gateway=None):
        n, m = int(n), int(m)
        self.apis = api = api if isinstance(api, Apis) else Apis(api)
        self.api, self.n, self.m = api.urls[0], n, m
        for url in api.urls:
            wait_api(url)
        self.networks, self.subnets, self.vms = {}, {}, []
        for project in PROJECTS:
            network = create(api, 'network', project, name=project + '-net')
            self.subnets[project] = create(api, 'subnet', project, network_id=network['id'],
                                           cidr=CIDR, name=project + '-subnet')
            self.networks[project] = network
        rest(api.next(), 'POST', V + '/srv6_encap_networks', {'srv6_encap_network': {
            'network_id': self.networks['alpha']['id'], 'tenant_id': 'alpha',
            'encap_rules': [{'destination': SERVICE_IP + '/32', 'nexthop': SERVICE_SID}]}},
            'alpha')

        spine_setup = []
        for i in range(1, n + 1):
            vifs = {}
            for j in range(1, m + 1):
                project = PROJECTS[(j - 1) % 2]
                name = '%s%d%d' % (project[0], i, j) if m < 10 and n < 10 else \
                    '%s%d-%d' % (project[0], i, j)
                ip = '10.0.%d.%d' % (i, 10 + j)
                network = self.networks[project]
                port = create(api, 'port', project, network_id=network['id'], name=name,
                              fixed_ips=[{'ip_address': ip}],
                              **{'binding:host_id': 'hv%d' % i})
                tap = 'tap' + port['id'][:11]
                vifs[tap] = port['id']
                self.vms.append(dict(name=name, project=project, network=network,
                                     host='hv%d' % i, ip=ip, mac=port['mac_address'],
                                     port=port['id'], tap=tap))
            self.addSwitch('hv%d' % i, cls=Hypervisor, index=i, api=api, vifs=vifs,
                           agent=agent)
            spine_setup += ['ip -6 addr add fd01:%x::1/64 dev sp-hv%d nodad' % (i, i),
                            'ip link set sp-hv%d up' % i,
                            'ip -6 route add fd00:0:0:%x::/64 via fd01:%x::2' % (i, i)]
        spine_setup += ['ip -6 addr add fd01:%s::1/64 dev sp-svc nodad' % SERVICE_NET,
                        'ip link set sp-svc up',
                        'ip -6 route add fd00:0:0:%s::/64 via fd01:%s::2'
                        % (SERVICE_NET, SERVICE_NET)]
        svc_setup = ['ip link set lo up',
                     'ip addr add %s/32 dev lo' % SERVICE_IP,
                     'ip -6 addr add fd01:%s::2/64 dev svc-up nodad' % SERVICE_NET,
                     'ip link set svc-up up',
                     'ip -6 route add default via fd01:%s::1' % SERVICE_NET,
                     'ip -6 route add %s/128 encap seg6local action End.DX4 nh4 %s dev svc-up'
                     % (SERVICE_SID, SERVICE_IP),
                     'ip sr tunsrc set ' + SERVICE_SID]
        self._north_south(api)
        gw = NETWORK_NODE
        spine_setup += ['ip -6 addr add fd01:%x::1/64 dev sp-%s nodad' % (NETWORK_NODE_INDEX, gw),
                        'ip link set sp-%s up' % gw,
                        'ip -6 route add fd00:0:0:%x::/64 via fd01:%x::2'
                        % (NETWORK_NODE_INDEX, NETWORK_NODE_INDEX)]
        inet_setup = ['ip addr add %s/%d dev inet-eth0' % (INTERNET_IP, int(
                          EXTERNAL_CIDR.split('/')[1])),
                      'ip link set inet-eth0 up',
                      'ip route add %s via %s' % (CIDR, self.routers['alpha']['external_ip'])]
        # The same CIDR behind both routers: beta's VMs (their addresses
        # differ from alpha's) each by a /32 to beta's router.
        inet_setup += ['ip route add %s/32 via %s' % (vm['ip'], self.routers[vm['project']]
                                                      ['external_ip'])
                       for vm in self.vms if vm['project'] != 'alpha']
        self.addHost('spine', cls=Router, ip=None, setup=spine_setup)
        self.addHost('svc', cls=Router, ip=None, setup=svc_setup)
        self.addHost(gw, cls=NetworkNode, ip=None, index=NETWORK_NODE_INDEX, api=api,
                     agent=gateway)
        self.addHost('inet', cls=Router, ip=None, forward=False, setup=inet_setup)
        self.addLink('svc', 'spine', intfName1='svc-up', intfName2='sp-svc')
        self.addLink(gw, 'spine', intfName1=gw + '-up', intfName2='sp-' + gw)
        self.addLink('inet', gw, intfName1='inet-eth0', intfName2=gw + '-ext')
        for i in range(1, n + 1):
            self.addLink('hv%d' % i, 'spine', intfName1='hv%d-up' % i,
                         intfName2='sp-hv%d' % i)
        for vm in self.vms:
            self.addHost(vm['name'], ip=None, mac=vm['mac'])
            self.addLink(vm['name'], vm['host'], intfName1=vm['name'] + '-eth0',
                         intfName2=vm['tap'])

    def _north_south(self, api):
        """The external network, a router per project, an ICMP rule in each
        project's default security group and a floating IP for alpha's first
        VM, over REST (the VMs' ports exist)."""
        public = create(api, 'network', name='public', **{'router:external': True})
        create(api, 'subnet', network_id=public['id'], cidr=EXTERNAL_CIDR,
               gateway_ip=INTERNET_IP, enable_dhcp=False, name='public-subnet',
               allocation_pools=[{'start': '203.0.113.10', 'end': '203.0.113.99'}])
        self.public, self.routers = public, {}
        for project in PROJECTS:
            router = create(api, 'router', project, name='r-' + project,
                            external_gateway_info={'network_id': public['id']})
            rest(api.next(), 'PUT', '%s/routers/%s/add_router_interface' % (V, router['id']),
                 {'subnet_id': self.subnets[project]['id']}, project)
            external = router['external_gateway_info']['external_fixed_ips'][0]
            self.routers[project] = dict(id=router['id'], name=router['name'],
                                         external_ip=external['ip_address'])
        for project in PROJECTS:
            [group] = rest(api.next(), 'GET', '%s/security-groups?name=default&tenant_id=%s'
                           % (V, project), project=project)['security_groups']
            rest(api.next(), 'POST', V + '/security-group-rules', {'security_group_rule': {
                'security_group_id': group['id'], 'direction': 'ingress', 'protocol': 'icmp',
                'remote_ip_prefix': '0.0.0.0/0'}}, project)
        for vm in self.vms:
            vm['fip'] = None
        vm = next(vm for vm in self.vms if vm['project'] == 'alpha')
        vm['fip'] = create(api, 'floatingip', 'alpha', floating_network_id=public['id'],
                           port_id=vm['port'])['floating_ip_address']


# --- the checks ------------------------------------------------------------------------

UDHCPC_HOOK = '''#!/bin/sh
# udhcpc hook of the srv6 mininet demo: apply the lease, record it.
case "$1" in
  deconfig) ip -4 addr flush dev "$interface"; ip link set "$interface" up ;;
  bound|renew)
    ip -4 addr flush dev "$interface"
    ip addr add "$ip/${mask:-24}" dev "$interface"
    for r in $router; do ip route replace default via "$r" dev "$interface"; break; done
    echo "$ip ${router%% *}" > %s/"$interface" ;;
esac
exit 0
''' % LEASE_DIR


def _wait(check, timeout, what, interval=0.05):
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError('timed out after %ss waiting for %s' % (timeout, what))
        time.sleep(interval)


def wait_for_flows(net, timeout=20):
    hypervisors = [s for s in net.switches if isinstance(s, Hypervisor)]
    _wait(lambda: all(h.connected() for h in hypervisors), timeout, 'flows on br-int')


def add_service_return_routes(net, topo, timeout=20):
    """svc answers each alpha VM through alpha's VRF SID on that VM's host."""
    svc = net.get('svc')
    for vm in topo.vms:
        if vm['project'] != 'alpha':
            continue
        profile = {}

        def ready():
            port = rest(topo.apis.next(), 'GET', '%s/ports/%s' % (V, vm['port']))['port']
            profile.update(port.get('binding:profile') or {})
            return profile.get('vrf_ip') and profile.get('segment_node_id')

        _wait(ready, timeout, 'binding:profile of %s' % vm['name'], 0.1)
        vm['sid'] = vrf_sid(profile['segment_node_id'], profile['vrf_ip'])
        out = svc.cmd('ip route replace %s/32 encap seg6 mode encap segs %s dev svc-up'
                      % (vm['ip'], vm['sid']))
        if out.strip():
            raise RuntimeError('svc return route to %s: %s' % (vm['name'], out))


def wait_for_routes(net, topo, timeout=20):
    """Every VRF namespace holds a /32 for each VM of its network, the
    default route to its project's router (and alpha's the service route);
    each router on the network node a /32 for each VM of its project and
    the default route out, and alpha's its floating IP on its external port."""
    wanted = {}
    for vm in topo.vms:
        network = vm['network']
        key = (vm['host'], vrf_name(network['tenant_id'], network['id']))
        dsts = wanted.setdefault(key, {'default'})
        dsts.update(v['ip'] for v in topo.vms if v['network'] is network)
        if vm['project'] == 'alpha':
            dsts.add(SERVICE_IP)
    gw = net.get(NETWORK_NODE)
    routers = {project: gw.router_namespace(router['id'])
               for project, router in topo.routers.items()}
    for project, netns in routers.items():
        wanted[NETWORK_NODE, netns] = {'default'} | {
            vm['ip'] for vm in topo.vms if vm['project'] == project}
    fips = {(routers[vm['project']], vm['fip']) for vm in topo.vms if vm.get('fip')}
    missing = {}

    def check():
        missing.clear()
        for (host, name), dsts in wanted.items():
            node = net.get(host)
            if host == NETWORK_NODE:
                out = node.ip(name, 'route', 'show', 'proto', RTPROT)
            else:
                out = node.vrf_routes(name)
            have = {line.split()[0].split('/')[0] for line in out.splitlines() if line.strip()}
            if dsts - have:
                missing['%s %s' % (host, name)] = sorted(dsts - have)
        for netns, fip in fips:
            if ' %s/32 ' % fip not in gw.ip(netns, '-4', 'addr', 'show', 'dev', 'qg'):
                missing['%s %s qg' % (NETWORK_NODE, netns)] = [fip]
        return not missing

    try:
        _wait(check, timeout, 'VRF and router routes', 0.1)
    except RuntimeError as exc:
        raise RuntimeError('%s; missing: %s' % (exc, missing))


def dhcp_all(net, topo, timeout=10):
    """udhcpc (with our own hook, never the default script) on every VM at once."""
    os.makedirs(LEASE_DIR, exist_ok=True)
    with open(UDHCPC_SCRIPT, 'w') as f:
        f.write(UDHCPC_HOOK)
    os.chmod(UDHCPC_SCRIPT, 0o755)
    procs = []
    for vm in topo.vms:
        intf = vm['name'] + '-eth0'
        try:
            os.unlink(os.path.join(LEASE_DIR, intf))
        except FileNotFoundError:
            pass
        procs.append((vm, net.get(vm['name']).popen(
            ['udhcpc', '-f', '-q', '-n', '-i', intf, '-s', UDHCPC_SCRIPT,
             '-t', str(timeout), '-T', '1'],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)))
    for vm, proc in procs:
        out = proc.communicate(timeout=timeout + 10)[0]
        try:
            with open(os.path.join(LEASE_DIR, vm['name'] + '-eth0')) as f:
                vm['leased'], vm['gateway'] = (f.read().split() + ['-', '-'])[:2]
        except FileNotFoundError:
            vm['leased'], vm['gateway'] = '-', '-'
            print('%s: no lease (udhcpc exit %s): %s' % (vm['name'], proc.returncode,
                                                        out.decode(errors='replace')[-500:]),
                  file=sys.stderr)


def expected_matrix(topo):
    """[(src, target name, target ip, path)]: path is local, SRv6, SNAT, FIP
    or blocked. Each VM pings the others, svc and ``ext`` (the internet
    host: out through its project's router, as the router's address, SNAT,
    or its floating IP, FIP); ``inet`` (src dict(name='inet')) pings each
    VM's floating IP, or its fixed IP through its project's router
    (blocked: a router lets in only replies and floating-IP traffic)."""
    rows = []
    for src in topo.vms:
        for dst in topo.vms:
            if dst is src:
                continue
            if dst['project'] != src['project']:
                path = 'blocked'
            elif dst['host'] == src['host']:
                path = 'local'
            else:
                path = 'SRv6'
            rows.append((src, dst['name'], dst['ip'], path))
        rows.append((src, 'svc', SERVICE_IP, 'SRv6' if src['project'] == 'alpha' else 'blocked'))
        rows.append((src, 'ext', INTERNET_IP, 'FIP' if src.get('fip') else 'SNAT'))
    inet = dict(name='inet')
    for dst in topo.vms:
        rows.append((inet, dst['name'], dst.get('fip') or dst['ip'],
                     'FIP' if dst.get('fip') else 'blocked'))
    return rows


def outside_source(topo, vm):
    """The source address inet should see from ``vm``: its floating IP, or
    its project's router's external address (SNAT)."""
    return vm.get('fip') or topo.routers[vm['project']]['external_ip']


ECHO = re.compile(r' IP ([0-9.]+) > ([0-9.]+): ICMP echo request, .* length (\d+)')


class Capture:
    """tcpdump on one interface of one node: the ICMP echo requests that
    match ``expression``. Started with its constructor; ``wait()`` returns
    once it captures, ``stop()`` returns [(source, destination, payload
    size)] of what it saw.

    On inet (dst INTERNET_IP) it tells from which address each VM's pings
    to ``ext`` arrived: each VM pings with a payload size of its own
    (payload_size). On a VM (src INTERNET_IP) it tells whether inet's pings
    really got to the VM, and at which address: a router holds its floating
    IPs as local addresses, so it would answer them itself if its DNAT did
    not happen."""

    def __init__(self, node, intf, expression):
        self.name = '%s %s' % (node.name, intf)
        self.proc = node.popen(['tcpdump', '-l', '-n', '-i', intf, expression],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def wait(self, timeout=5):
        """Until it says on stderr that it is listening."""
        deadline = time.monotonic() + timeout
        said = b''
        while b'listening on' not in said and time.monotonic() < deadline:
            ready, _, _ = select.select([self.proc.stderr], [], [], 0.1)
            if ready:
                chunk = os.read(self.proc.stderr.fileno(), 4096)
                if not chunk:
                    break
                said += chunk
        if b'listening on' not in said:
            self.stop()
            raise RuntimeError('tcpdump on %s did not start: %s'
                               % (self.name, said.decode(errors='replace').strip()))

    @staticmethod
    def payload_size(index):
        return 100 + index

    def stop(self):
        self.proc.terminate()
        try:
            out = self.proc.communicate(timeout=5)[0]
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out = self.proc.communicate()[0]
        return [(m.group(1), m.group(2), int(m.group(3)) - 8)
                for m in ECHO.finditer(out.decode(errors='replace'))]


def ping_matrix(net, topo):
    """All pings at once, inet capturing the VMs' pings to it and every VM
    inet's pings to it; [(src, name, ip, path, got)], got: a reply came
    back and, toward ``ext``, inet saw the pings from outside_source()
    only; from inet, the VM saw them at its fixed IP (FIP), or no reply
    came and the VM saw nothing (blocked). Sets vm['seen'] (the sources
    inet saw) and vm['inbound'] (the addresses inet's pings reached the VM
    at)."""
    rows = expected_matrix(topo)
    index = {vm['name']: k for k, vm in enumerate(topo.vms)}
    captures = {'inet': Capture(net.get('inet'), 'inet-eth0',
                                'icmp[icmptype] == icmp-echo and dst host %s' % INTERNET_IP)}
    for vm in topo.vms:
        captures[vm['name']] = Capture(net.get(vm['name']), vm['name'] + '-eth0',
                                       'icmp[icmptype] == icmp-echo and src host %s'
                                       % INTERNET_IP)
    try:
        for capture in captures.values():
            capture.wait()
    except RuntimeError:
        for capture in captures.values():
            capture.stop()
        raise
    procs = []
    for src, name, ip, _ in rows:
        size = ['-s', str(Capture.payload_size(index[src['name']]))] if name == 'ext' else []
        procs.append(net.get(src['name']).popen(
            ['ping', '-n', '-q', '-c', '3', '-i', '0.2', '-W', '1'] + size + [ip],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    replies = [proc.wait() == 0 for proc in procs]
    seen = {name: capture.stop() for name, capture in captures.items()}
    for vm in topo.vms:
        size = Capture.payload_size(index[vm['name']])
        vm['seen'] = {source for source, _, got in seen['inet'] if got == size}
        vm['inbound'] = {destination for _, destination, _ in seen[vm['name']]}
    results = []
    for (src, name, ip, path), got in zip(rows, replies):
        if name == 'ext':
            got = got and src['seen'] == {outside_source(topo, src)}
        elif src['name'] == 'inet':
            dst = next(vm for vm in topo.vms if vm['name'] == name)
            if path == 'FIP':
                got = got and dst['inbound'] == {dst['ip']}
            else:
                got = got or bool(dst['inbound'])
        results.append((src, name, ip, path, got))
    return results


def format_table(topo):
    header = ('VM', 'project', 'network', 'host', 'MAC', 'leased', 'gateway', 'floating IP',
              'ext sees it as', 'inet reaches it at')
    lines = [header]
    for vm in topo.vms:
        lines.append((vm['name'], vm['project'], vm['network']['name'], vm['host'], vm['mac'],
                      vm.get('leased', '-'), vm.get('gateway', '-'), vm.get('fip') or '-',
                      ', '.join(sorted(vm.get('seen') or ())) or '-',
                      ', '.join(sorted(vm.get('inbound') or ())) or '-'))
    return _columns(lines)


def format_routers(net, topo):
    gw = net.get(NETWORK_NODE)
    return '\n'.join(
        '  %s (project %s): external %s, interface %s, namespace %s on %s'
        % (router['name'], project, router['external_ip'], CIDR,
           gw.router_namespace(router['id']), NETWORK_NODE)
        for project, router in sorted(topo.routers.items()))


def _columns(lines):
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(lines[0]))]
    out = []
    for k, line in enumerate(lines):
        out.append('  '.join(str(cell).ljust(w) for cell, w in zip(line, widths)).rstrip())
        if k == 0:
            out.append('  '.join('-' * w for w in widths))
    return '\n'.join(out)


def format_matrix(topo, results):
    """Rows: who pings (the VMs, then inet); columns: whom. A cell is the
    path (local, SRv6, SNAT, FIP) when a reply came back (and, toward ext,
    inet saw the expected source), ``blocked`` when none did and none was
    expected, and ``FAIL:<expected>`` when the result differs from the
    expectation."""
    names = [vm['name'] for vm in topo.vms] + ['svc', 'ext']
    cells = {}
    for src, name, _, path, got in results:
        expected_ok = path != 'blocked'
        if got == expected_ok:
            cell = path
        else:
            cell = 'FAIL:%s' % path
        cells[src['name'], name] = cell
    lines = [['from \\ to'] + names]
    for row in [vm['name'] for vm in topo.vms] + ['inet']:
        lines.append([row] + [cells.get((row, name), '') for name in names])
    return _columns(lines)


LEGEND = '\n'.join((
    'Reachability (row pings column; local = same host, SRv6 = across the underlay, '
    'blocked = no reply, as expected).',
    'North-south, through the projects\' routers on %s:' % NETWORK_NODE,
    '  column ext: the VM pings the internet host inet (%s); SNAT = replies came and inet saw'
    % INTERNET_IP,
    '    the pings from the project\'s router\'s address, FIP = from the VM\'s floating IP;',
    '  row inet: inet pings the VM at its floating IP if it has one, else at its fixed IP, routed',
    '    to the VM\'s project\'s router; FIP = replies came and the VM got the pings at its fixed',
    '    IP (the router NATed them, it did not answer them itself), blocked = no reply and nothing',
    '    reached the VM (every VM\'s security group admits ICMP from anywhere: the router stopped',
    '    them).'))


def srv6demo(net, say=progress, checks=()):
    """Wait for the controller's work, take DHCP, ping everything; print the VM
    table, the routers and the reachability matrix. ``checks``: more
    callables of ``net`` returning (ok, line to print before the result).
    Returns True when all went as expected."""
    topo = net.topo
    say('waiting for the controller to program every br-int')
    wait_for_flows(net)
    say('service return routes on svc (alpha VRF SIDs from binding:profile)')
    add_service_return_routes(net, topo)
    say('waiting for VRF routes on every host and both routers on %s' % NETWORK_NODE)
    wait_for_routes(net, topo)
    say('DHCP on %d VMs (udhcpc)' % len(topo.vms))
    dhcp_all(net, topo)
    say('pinging every VM, svc and inet from every VM, and every VM from inet '
        '(%d pings; tcpdump on inet)' % len(expected_matrix(topo)))
    results = ping_matrix(net, topo)
    leases_ok = all(vm.get('leased') == vm['ip'] for vm in topo.vms)
    failures = [r for r in results if r[4] != (r[3] != 'blocked')]
    print()
    print('VMs (%d hosts x %d VMs; both projects use %s):' % (topo.n, topo.m, CIDR))
    print(format_table(topo))
    print()
    print('Routers (gateway on public %s, whose gateway is inet %s):'
          % (EXTERNAL_CIDR, INTERNET_IP))
    print(format_routers(net, topo))
    print()
    print(LEGEND)
    print(format_matrix(topo, results))
    print()
    if not leases_ok:
        print('DHCP: %d VM(s) did not lease their fixed IP' %
              sum(vm.get('leased') != vm['ip'] for vm in topo.vms))
    for src, name, ip, path, got in failures:
        expected = 'reply' if path != 'blocked' else 'no reply'
        if name == 'ext':
            expected += ', seen from %s' % outside_source(topo, src)
            got = 'seen from %s' % (', '.join(sorted(src['seen'])) or 'nothing')
        elif src['name'] == 'inet':
            dst = next(vm for vm in topo.vms if vm['name'] == name)
            expected += ', the VM seeing %s' % ('them at %s' % dst['ip'] if path == 'FIP'
                                                else 'none')
            got = '%s, the VM seeing %s' % (
                'reply' if got else 'no reply',
                'them at %s' % ', '.join(sorted(dst['inbound'])) if dst['inbound'] else 'none')
        else:
            got = 'reply' if got else 'no reply'
        print('MISMATCH: %s -> %s (%s): expected %s, got %s' % (
            src['name'], name, ip, expected, got))
    ok = leases_ok and not failures
    for check in checks:
        check_ok, line = check(net)
        print(line)
        ok = ok and check_ok
    print('RESULT: %s (%d pings, %d as expected)' % (
        'PASS' if ok else 'FAIL', len(results), len(results) - len(failures)))
    return ok


topos = {'srv6': SRv6Topo}
tests = {'srv6demo': srv6demo}
