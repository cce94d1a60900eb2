"""srv6_ofapp on mininet: compute hosts with their own OVS, an IPv6 underlay,
two projects with overlapping CIDRs and a service behind an SRv6 SID.

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
  * ``spine`` (Router): one /64 per host (fd01:I::/64) and one to ``svc``.
  * ``svc`` (Router): 10.200.0.5 behind the End.DX4 SID fd00:0:0:ffff::a9fe:5.
  * VMs ``aIJ`` / ``bIJ``: mininet hosts of project alpha / beta, alternating
    on each host, address 10.0.I.(10+J) in 10.0.0.0/16 (the same CIDR in both
    projects; addresses kept unique so the matrix can name them). Alpha has an
    srv6_encap_network to the service; beta has not.

Who programs the hosts: by default one controller outside (mininet's
``--controller``, the all-in-one srv6-ofapp): each Hypervisor relays
OpenFlow to it and registers its host with ``netns=hvI``, so that process
programs its kernel from outside. With ``agent=Agent(...)`` (demo.py
--distributed) each Hypervisor runs its own ``srv6-ofapp --role agent``
inside its namespace, as on a real host: OVS connects to it on
tcp:127.0.0.1:6653 there, the host is registered without ``netns`` (the
agent programs the namespace it runs in), and the agent reaches etcd in
the root namespace over a management veth (``mgmt``, MGMT_IP).
"""

import ipaddress
import json
import os
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
    """A Linux router: IPv6 DAD off (set before its links exist), forwarding on;
    ``setup`` is a list of shell commands run once its links are there."""

    def __init__(self, name, setup=(), **params):
        Host.__init__(self, name, setup=setup, **params)
        self.cmd(NO_DAD)
        self.cmd(FORWARD)

    def config(self, setup=(), **params):
        result = Host.config(self, **params)
        for command in setup:
            out = self.cmd(command)
            if out.strip():
                print('%s: %s: %s' % (self.name, command, out.strip()), file=sys.stderr)
        return result


class Agent:
    """How each Hypervisor runs its own agent (the distributed mode).

    argv: the command up to the per-host flags, e.g. ``[python, '-m',
    'srv6_ofapp', '--role', 'agent', '--store', 'etcd://MGMT_IP:P,...']``;
    cwd: the directory it runs from (the checkout); logdir: where
    ``agent-<host>.log`` goes."""

    def __init__(self, argv, cwd, logdir):
        self.argv, self.cwd, self.logdir = list(argv), cwd, logdir

    def log_path(self, host):
        return os.path.join(self.logdir, 'agent-%s.log' % host)


class Hypervisor(Switch):
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
        self.agent_proc = None
        self.host_id = None
        self.cmd(NO_DAD)
        self.cmd(FORWARD)
        out = quietRun('ip netns attach %s %d' % (name, self.pid))
        if out.strip():
            raise RuntimeError('ip netns attach %s: %s' % (name, out.strip()))
        if agent is not None:
            # As early as the namespace exists: the agent's start-up (a
            # second or more of imports) overlaps mininet's build and our
            # OVS start; it serves this host once the host is registered.
            self._add_mgmt_link()
            self._start_agent()

    @property
    def uplink(self):
        return '%s-up' % self.name

    @property
    def underlay_ip(self):
        return 'fd01:%x::2' % self.index

    @property
    def segment_node_id(self):
        return 'fd00:0:0:%x::' % self.index

    @property
    def db_sock(self):
        return self.dir + '/db.sock'

    @property
    def mgmt(self):
        return 'unix:%s/br-int.mgmt' % self.dir

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
        if self.agent_proc.poll() is not None:
            with open(self.agent.log_path(self.name), errors='replace') as log:
                raise RuntimeError('the agent of %s exited with %s:\n%s' % (
                    self.name, self.agent_proc.returncode, log.read()[-3000:]))
        wanted = '0100007F:%04X' % AGENT_OFP_PORT
        try:
            with open('/proc/%d/net/tcp' % self.agent_proc.pid) as tcp:
                return any(line.split()[1] == wanted and line.split()[3] == '0A'
                           for line in list(tcp)[1:])
        except OSError:
            return False

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

    def _start_agent(self):
        """``srv6-ofapp --role agent --host <name>`` in this namespace (and
        mount namespace: its ``ip netns add`` lands in our /run/netns).
        mnexec -a resets the working directory, hence the cd."""
        argv = self.agent.argv + [
            '--host', self.name,
            '--ofp-listen-host', '127.0.0.1', '--ofp-tcp-listen-port', str(AGENT_OFP_PORT),
            '--wsapi-host', '127.0.0.1', '--wsapi-port', str(AGENT_METRICS_PORT)]
        with open(self.agent.log_path(self.name), 'ab') as log:
            self.agent_proc = self.popen(['sh', '-c', 'cd "$0" && exec "$@"', self.agent.cwd]
                                         + argv, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT)

    def stop_agent(self, wait=True):
        """SIGTERM our agent (by its PID; ``wait=False`` only signals, so
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

    def vrf_routes(self, vrf):
        """Our routes (protocol 83) in the namespace playing ``vrf`` here:
        ``<name>-<vrf>`` on the sandbox's /run/netns when the controller
        outside made it, ``<vrf>`` on our own /run/netns when our agent did."""
        if self.agent is None:
            return quietRun('ip -n %s-%s route show proto %s' % (self.name, vrf, RTPROT))
        proc = self.popen(['ip', '-n', vrf, 'route', 'show', 'proto', RTPROT],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        return proc.communicate()[0].decode(errors='replace')

    def flows(self):
        out = quietRun('ovs-ofctl -O OpenFlow13 dump-flows %s' % self.mgmt)
        return [line for line in out.splitlines() if 'actions=' in line]

    def connected(self):
        return len(self.flows()) >= 4

    def stop(self, deleteIntfs=True):
        d = self.dir
        if self.agent is not None:
            self.stop_agent()
            # The agent's VRF namespaces: in our own /run/netns, so from
            # inside (they are every name there), before the node goes.
            self.cmd('ip -all netns delete')
        for daemon in ('ovs-vswitchd', 'ovsdb-server'):
            if os.path.exists('%s/%s.ctl' % (d, daemon)):
                quietRun('ovs-appctl -t %s/%s.ctl exit' % (d, daemon))
        if self.socat is not None:
            self.socat.terminate()
            try:
                self.socat.wait(5)
            except subprocess.TimeoutExpired:
                self.socat.kill()
            self.socat = None
        if self.agent is not None:
            quietRun('ip link del ' + self.mgmt_link)  # both ends
        # The controller's VRF namespaces of this host, then ours.
        if os.path.isdir('/var/run/netns'):
            for name in os.listdir('/var/run/netns'):
                if name.startswith(self.name + '-'):
                    quietRun('ip netns delete ' + name)
        quietRun('ip netns delete ' + self.name)
        Switch.stop(self, deleteIntfs)
        shutil.rmtree(d, ignore_errors=True)


# --- the topology --------------------------------------------------------------------

class SRv6Topo(Topo):
    """n compute hosts x m VMs, registered over REST at ``api`` while building
    (a URL, or several: then each request goes to the next one in turn);
    ``agent``: an Agent to run in every hypervisor (the distributed mode).

    topo.vms: [dict(name, project, network, host, ip, mac, port)];
    topo.networks: {project: network}; topo.apis: the Apis used."""

    def build(self, n=2, m=2, api=DEFAULT_API, agent=None):
        n, m = int(n), int(m)
        self.apis = api = api if isinstance(api, Apis) else Apis(api)
        self.api, self.n, self.m = api.urls[0], n, m
        for url in api.urls:
            wait_api(url)
        self.networks, self.vms = {}, []
        for project in PROJECTS:
            network = create(api, 'network', project, name=project + '-net')
            create(api, 'subnet', project, network_id=network['id'], cidr=CIDR,
                   name=project + '-subnet')
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
        self.addHost('spine', cls=Router, ip=None, setup=spine_setup)
        self.addHost('svc', cls=Router, ip=None, setup=svc_setup)
        self.addLink('svc', 'spine', intfName1='svc-up', intfName2='sp-svc')
        for i in range(1, n + 1):
            self.addLink('hv%d' % i, 'spine', intfName1='hv%d-up' % i,
                         intfName2='sp-hv%d' % i)
        for vm in self.vms:
            self.addHost(vm['name'], ip=None, mac=vm['mac'])
            self.addLink(vm['name'], vm['host'], intfName1=vm['name'] + '-eth0',
                         intfName2=vm['tap'])


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
    """Every VRF namespace holds a /32 for each VM of its network (and alpha's
    the service route)."""
    wanted = {}
    for vm in topo.vms:
        network = vm['network']
        key = (vm['host'], vrf_name(network['tenant_id'], network['id']))
        dsts = wanted.setdefault(key, set())
        dsts.update(v['ip'] for v in topo.vms if v['network'] is network)
        if vm['project'] == 'alpha':
            dsts.add(SERVICE_IP)
    missing = {}

    def check():
        missing.clear()
        for (host, vrf), dsts in wanted.items():
            out = net.get(host).vrf_routes(vrf)
            have = {line.split()[0].split('/')[0] for line in out.splitlines() if line.strip()}
            if dsts - have:
                missing['%s-%s' % (host, vrf)] = sorted(dsts - have)
        return not missing

    try:
        _wait(check, timeout, 'VRF routes', 0.1)
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
    """[(src, target name, target ip, path)]: path is local, SRv6 or blocked."""
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
    return rows


def ping_matrix(net, topo):
    """All pings at once; [(src, name, ip, path, got_reply)]."""
    rows = expected_matrix(topo)
    procs = [net.get(src['name']).popen(['ping', '-n', '-q', '-c', '3', '-i', '0.2', '-W', '1',
                                         ip], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
             for src, _, ip, _ in rows]
    return [row + (proc.wait() == 0,) for row, proc in zip(rows, procs)]


def format_table(topo):
    header = ('VM', 'project', 'network', 'host', 'MAC', 'leased', 'gateway')
    lines = [header] + [(vm['name'], vm['project'], vm['network']['name'], vm['host'], vm['mac'],
                         vm.get('leased', '-'), vm.get('gateway', '-')) for vm in topo.vms]
    return _columns(lines)


def _columns(lines):
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(lines[0]))]
    out = []
    for k, line in enumerate(lines):
        out.append('  '.join(str(cell).ljust(w) for cell, w in zip(line, widths)).rstrip())
        if k == 0:
            out.append('  '.join('-' * w for w in widths))
    return '\n'.join(out)


def format_matrix(topo, results):
    """Rows: who pings; columns: whom. A cell is the path (local, SRv6) when a
    reply came back, ``blocked`` when none did and none was expected, and
    ``FAIL:<expected>`` when the result differs from the expectation."""
    names = [vm['name'] for vm in topo.vms] + ['svc']
    cells = {}
    for src, name, _, path, got in results:
        expected_ok = path != 'blocked'
        if got == expected_ok:
            cell = path
        else:
            cell = 'FAIL:%s' % path
        cells[src['name'], name] = cell
    lines = [['from \\ to'] + names]
    for vm in topo.vms:
        lines.append([vm['name']] + [cells.get((vm['name'], name), '') for name in names])
    return _columns(lines)


def srv6demo(net, say=progress, checks=()):
    """Wait for the controller's work, take DHCP, ping everything; print the VM
    table and the reachability matrix. ``checks``: more callables of ``net``
    returning (ok, line to print before the result). Returns True when all
    went as expected."""
    topo = net.topo
    say('waiting for the controller to program every br-int')
    wait_for_flows(net)
    say('service return routes on svc (alpha VRF SIDs from binding:profile)')
    add_service_return_routes(net, topo)
    say('waiting for VRF routes on every host')
    wait_for_routes(net, topo)
    say('DHCP on %d VMs (udhcpc)' % len(topo.vms))
    dhcp_all(net, topo)
    say('pinging every VM and the service from every VM (%d pings)'
        % len(expected_matrix(topo)))
    results = ping_matrix(net, topo)
    leases_ok = all(vm.get('leased') == vm['ip'] for vm in topo.vms)
    failures = [r for r in results if r[4] != (r[3] != 'blocked')]
    print()
    print('VMs (%d hosts x %d VMs; both projects use %s):' % (topo.n, topo.m, CIDR))
    print(format_table(topo))
    print()
    print('Reachability (row pings column; local = same host, SRv6 = across the underlay, '
          'blocked = no reply, as expected):')
    print(format_matrix(topo, results))
    print()
    if not leases_ok:
        print('DHCP: %d VM(s) did not lease their fixed IP' %
              sum(vm.get('leased') != vm['ip'] for vm in topo.vms))
    for src, name, ip, path, got in failures:
        print('MISMATCH: %s -> %s (%s): expected %s, got %s' % (
            src['name'], name, ip, 'reply' if path != 'blocked' else 'no reply',
            'reply' if got else 'no reply'))
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
