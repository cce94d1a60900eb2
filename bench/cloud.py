"""Clouds for the distributed benchmarks: simulated hosts, the two
deployment shapes that drive them, and event-driven observers of what the
controllers program.

Built from the test infrastructure, not copies of it:

- a host is a tests.netlab.OvsInstance (its own ovsdb-server and
  ovs-vswitchd, in a namespace of its own that plays the host's kernel)
  with one netdev bridge, registered over REST with its ``netns``,
  ``ovsdb`` and ``bridge`` attributes, as tests/twohosts.py does;
- the all-in-one shape is one tests.server.Server on a sqlite file; the
  distributed shape is API servers and one agent per host
  (``--role agent --host hvN``) on a tests.etcdlab.Cluster, as
  tests/functional/test_distributed.py runs them;
- a VM interface is a ``tap`` + port_id[:11] OVS internal port on the
  host's bridge (what Nova's plug does, minus the VM).

Observers, instead of polling:

- RouteObserver: one NETLINK_ROUTE socket per VRF namespace, subscribed to
  RTMGRP_IPV4_ROUTE; every RTM_NEWROUTE of our protocol (83) is stamped
  with time.monotonic() when the reader thread receives it;
- FlowObserver: one ``ovs-ofctl monitor BRIDGE watch:!initial`` per host
  (OpenFlow 1.3 flow monitor, ONF extension); every ADDED flow is stamped
  when its line is read.

Everything is stopped by PID and removed in close(), newest first; the
netlab and etcdlab registries (atexit, SIGTERM) are the last resort.
"""

import json
import os
import select
import signal
import socket
import struct
import subprocess
import threading
import time

import requests

from srv6_ofapp import netns as srv6_netns
from tests import etcdlab
from tests import netlab
from tests.server import Server, free_port
from topology import naming

V = '/v2.0'
RTPROT = 83
TIMEOUT = 60


# -- REST ------------------------------------------------------------------

class Api:
    """A requests session against one API server; errors raise."""

    def __init__(self, url):
        self.url = url
        self.session = requests.Session()

    def post(self, collection, member, attrs, headers=None):
        response = self.session.post(self.url + V + '/' + collection, json={member: attrs},
                                     headers=headers, timeout=TIMEOUT)
        if response.status_code != 201:
            raise RuntimeError('POST %s -> %s: %s' % (collection, response.status_code,
                                                      response.text[:500]))
        return response.json()[member]

    def bulk(self, collection, items):
        response = self.session.post(self.url + V + '/' + collection,
                                     json={collection: items}, timeout=TIMEOUT)
        if response.status_code != 201:
            raise RuntimeError('bulk POST %s -> %s: %s' % (collection, response.status_code,
                                                           response.text[:500]))
        return response.json()[collection]

    def network(self, name, cidr, project='bench'):
        network = self.post('networks', 'network', {'name': name},
                            headers={'X-Project-Id': project})
        self.post('subnets', 'subnet', {'network_id': network['id'], 'cidr': cidr,
                                        'ip_version': 4})
        return network

    def close(self):
        self.session.close()


# -- deployment shapes --------------------------------------------------------

def _listening_pid(port):
    """The PIDs listening on 127.0.0.1:``port`` (TCP), from ``ss``."""
    out = subprocess.run(['ss', '-Hltnp', 'sport = :%d' % port], capture_output=True,
                         text=True).stdout
    return {int(part.split('=', 1)[1]) for part in
            out.replace(',', ' ').replace(')', ' ').split() if part.startswith('pid=')}


def _start_all(servers):
    """Start servers in parallel (each takes 1-2 s of imports), on ports
    unique among them. tests.server.Server takes any answer on its REST
    port for its own, so a port another process also drew would pass for
    started while ours exits on "Address already in use": each server must
    be the one listening, else it starts again on other ports."""
    errors = []
    taken = set()
    lock = threading.Lock()

    def fresh_ports(server):
        with lock:
            for attr in ('port', 'ofp_port'):
                port = free_port()
                while port in taken:
                    port = free_port()
                taken.add(port)
                setattr(server, attr, port)

    def start(server):
        try:
            for _ in range(3):
                fresh_ports(server)
                try:
                    server.start(timeout=60)
                except RuntimeError:
                    if 'Address already in use' not in server.log():
                        raise
                    continue
                deadline = time.monotonic() + 60
                while server.proc.poll() is None and time.monotonic() < deadline:
                    if server.proc.pid in _listening_pid(server.port):
                        return
                    time.sleep(0.1)
                server.stop()
            raise RuntimeError('could not start %s:\n%s' % (server.extra_args,
                                                             server.log()[-2000:]))
        except Exception as error:  # reported below, after every start ended
            errors.append(error)
    threads = [threading.Thread(target=start, args=(s,)) for s in servers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


def _stop_all(servers):
    threads = [threading.Thread(target=s.stop) for s in servers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


class AllInOne:
    """One srv6-ofapp process (--role all) on a sqlite file: every bridge
    connects to it, and it programs every simulated host's kernel."""

    label = 'all-in-one, sqlite'

    def __init__(self, workdir, name='aio', extra_args=()):
        self.server = Server(os.path.join(workdir, name + '.db'), list(extra_args))
        self.servers = [self.server]
        self.api_urls = []

    def start(self, host_names=()):
        self.server.start(timeout=60)
        self.api_urls = [self.server.url]

    def controller_port(self, host_name):
        return self.server.ofp_port

    def serving(self, host_names):
        return [self.server for _ in host_names]

    def processes(self):
        return {'all-in-one': self.server.proc.pid}

    def close(self):
        _stop_all(self.servers)


class Distributed:
    """API servers and one agent per host on one etcd prefix."""

    label = 'distributed, etcd'

    def __init__(self, workdir, etcd, name='dist', api_servers=1, agent_args=()):
        self.workdir = workdir
        self.url = etcd.url(etcdlab.unique_prefix(name))
        self.name = name
        self.api_servers = [Server(self.url, ['--role', 'api'],
                                   log_path=os.path.join(workdir, '%s-api%d.log' % (name, n)))
                            for n in range(1, api_servers + 1)]
        self.agent_args = list(agent_args)
        self.agents = {}
        self.servers = list(self.api_servers)
        self.api_urls = []

    def agent(self, host_name):
        """The (not yet started) agent of ``host_name``."""
        if host_name not in self.agents:
            self.agents[host_name] = Server(
                self.url, ['--role', 'agent', '--host', host_name] + self.agent_args,
                log_path=os.path.join(self.workdir, '%s-agent-%s.log' % (self.name, host_name)))
            self.servers.append(self.agents[host_name])
        return self.agents[host_name]

    def start(self, host_names=()):
        _start_all(self.api_servers + [self.agent(h) for h in host_names])
        self.api_urls = [s.url for s in self.api_servers]

    def controller_port(self, host_name):
        return self.agents[host_name].ofp_port

    def serving(self, host_names):
        return [self.agents[h] for h in host_names]

    def processes(self):
        found = {'api%d' % n: s.proc.pid for n, s in enumerate(self.api_servers, 1)}
        found.update({'agent ' + h: s.proc.pid for h, s in self.agents.items()})
        return found

    def close(self):
        _stop_all(list(self.agents.values()))
        _stop_all(self.api_servers)


# -- simulated hosts -------------------------------------------------------------

class Host:
    """A private OVS in its own namespace with one bridge: the host's kernel
    and br-int."""

    def __init__(self, name, number, world):
        self.name = name
        self.number = number
        self.ovs = netlab.OvsInstance().start()
        self.dpid = '%016x' % (0xbe0000 + world * 0x1000 + number)
        self.bridge = None
        self.taps = []

    @property
    def netns(self):
        return self.ovs.netns

    def connect(self, controller_port):
        self.bridge = self.ovs.add_bridge(dpid=self.dpid, controller_port=controller_port)

    def document(self):
        return {'name': self.name, 'datapath_id': self.dpid,
                'segment_node_id': 'fd00:0:%x:%x::' % (self.number >> 16, self.number & 0xffff),
                'underlay_ip': 'fd00::%x' % self.number, 'netns': self.netns,
                'ovsdb': 'unix:' + self.ovs.db_sock, 'bridge': self.bridge}

    def plug(self, port_id):
        """The VM interface of a port: tap + port_id[:11] on the bridge."""
        tap = naming.tap_name(port_id)
        self.ovs.vsctl('add-port', self.bridge, tap, '--', 'set', 'Interface', tap,
                       'type=internal')
        self.taps.append(tap)
        return tap

    def vrf_ns(self, network):
        return '%s-%s' % (self.netns, naming.vrf_name(network['tenant_id'], network['id']))

    def our_routes(self, network):
        out = netlab.sh(['ip', '-n', self.vrf_ns(network), '-j', 'route', 'show', 'proto',
                         str(RTPROT)], check=False).stdout
        return json.loads(out or '[]')

    def close(self):
        self.ovs.stop()
        # VRF namespaces the controller made for this host (netns driver).
        for name in sorted(netlab_namespaces()):
            if name.startswith(self.netns + '-vrf'):
                netlab.sh(['ip', 'netns', 'del', name], check=False)


def netlab_namespaces():
    try:
        return set(os.listdir('/var/run/netns'))
    except FileNotFoundError:
        return set()


class World:
    """``controllers`` driving ``count`` simulated hosts hv1..hvN."""

    def __init__(self, controllers, count, number=0):
        self.controllers = controllers
        self.count = count
        self.number = number
        self.hosts = []
        self.api = None
        self.flows = None
        self.routes = None

    @property
    def label(self):
        return self.controllers.label

    def start(self, wait_flows=True):
        names = ['hv%d' % n for n in range(1, self.count + 1)]
        self.controllers.start(names)
        self.api = Api(self.controllers.api_urls[0])
        for n, name in enumerate(names, 1):
            host = Host(name, n, self.number)
            self.hosts.append(host)
            host.connect(self.controllers.controller_port(name))
            self.api.post('hosts', 'host', host.document())
        if wait_flows:
            # 20 agents starting at once on 2 busy cores may take a minute.
            deadline = time.monotonic() + 240
            for host, server in zip(self.hosts, self.controllers.serving(names)):
                try:
                    host.ovs.wait_for_flows(host.bridge, lambda flows: len(flows) >= 4,
                                            timeout=max(5, deadline - time.monotonic()))
                except TimeoutError:
                    print('%s: no flows on %s; its controller logged:\n%s'
                          % (self.label, host.name, server.log()[-2000:]))
                    raise
        return self

    def observe(self, vrf_namespaces):
        self.flows = FlowObserver(self.hosts)
        self.routes = RouteObserver(vrf_namespaces)

    def close(self):
        for observer in (self.flows, self.routes):
            if observer is not None:
                observer.close()
        if self.api is not None:
            self.api.close()
        self.controllers.close()
        for host in reversed(self.hosts):
            host.close()


# -- observers ---------------------------------------------------------------------

class Events:
    """First time each key was seen; waiters wake on every new key."""

    def __init__(self):
        self.first = {}
        self.cond = threading.Condition()

    def record(self, key, stamp):
        with self.cond:
            if key not in self.first:
                self.first[key] = stamp
                self.cond.notify_all()

    def wait_all(self, keys, deadline):
        """{key: time} once every key was seen; missing keys are absent
        when ``deadline`` (time.monotonic()) passes."""
        with self.cond:
            while True:
                missing = [k for k in keys if k not in self.first]
                left = deadline - time.monotonic()
                if not missing or left <= 0:
                    return {k: self.first[k] for k in keys if k in self.first}
                self.cond.wait(left)


NLMSG_HDR = struct.Struct('=IHHII')
RTMSG = struct.Struct('=BBBBBBBBI')
RTA = struct.Struct('=HH')
RTM_NEWROUTE = 24
RTA_DST = 1
RTMGRP_IPV4_ROUTE = 0x40
SO_RCVBUFFORCE = 33


class RouteObserver:
    """New IPv4 routes of protocol 83 in namespaces: events[(netns, 'a.b.c.d/32')]."""

    def __init__(self, namespaces):
        self.events = Events()
        self.overruns = 0
        self._socks = {}
        for ns in namespaces:
            sock = srv6_netns.call_in(ns, self._socket)
            self._socks[sock.fileno()] = (sock, ns)
        self._stop_r, self._stop_w = os.pipe()
        self._thread = threading.Thread(target=self._run, name='route-observer', daemon=True)
        self._thread.start()

    @staticmethod
    def _socket():
        sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
        try:
            sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 8 << 20)
        except OSError:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        sock.bind((0, RTMGRP_IPV4_ROUTE))
        return sock

    def _run(self):
        poller = select.poll()
        for fd in self._socks:
            poller.register(fd, select.POLLIN)
        poller.register(self._stop_r, select.POLLIN)
        while True:
            for fd, _ in poller.poll():
                if fd == self._stop_r:
                    return
                sock, ns = self._socks[fd]
                try:
                    data = sock.recv(1 << 20)
                except OSError:  # ENOBUFS: the kernel dropped messages
                    self.overruns += 1
                    continue
                stamp = time.monotonic()
                for dst in parse_new_routes(data):
                    self.events.record((ns, dst), stamp)

    def close(self):
        os.write(self._stop_w, b'x')
        self._thread.join(5)
        for sock, _ in self._socks.values():
            sock.close()
        os.close(self._stop_r)
        os.close(self._stop_w)


def parse_new_routes(data):
    """The IPv4 destinations ('a.b.c.d/len') of RTM_NEWROUTE messages of
    protocol 83 in one netlink read."""
    found = []
    offset = 0
    while offset + NLMSG_HDR.size <= len(data):
        length, kind = NLMSG_HDR.unpack_from(data, offset)[:2]
        if length < NLMSG_HDR.size:
            break
        body = offset + NLMSG_HDR.size
        if kind == RTM_NEWROUTE and body + RTMSG.size <= offset + length:
            family, dst_len, _, _, _, protocol = RTMSG.unpack_from(data, body)[:6]
            if family == socket.AF_INET and protocol == RTPROT:
                attr = body + RTMSG.size
                while attr + RTA.size <= offset + length:
                    rta_len, rta_type = RTA.unpack_from(data, attr)
                    if rta_len < RTA.size:
                        break
                    if rta_type == RTA_DST:
                        address = socket.inet_ntoa(data[attr + 4:attr + 8])
                        found.append('%s/%d' % (address, dst_len))
                    attr += (rta_len + 3) & ~3
        offset += (length + 3) & ~3
    return found


class FlowObserver:
    """Flows added on each host's bridge: events[(host name, 'field=value')]
    for every match field of every ADDED flow."""

    def __init__(self, hosts):
        self.events = Events()
        self._procs = []
        self._threads = []
        for host in hosts:
            proc = subprocess.Popen(
                ['ovs-ofctl', '-O', 'OpenFlow13', 'monitor', host.ovs.mgmt(host.bridge),
                 'watch:!initial,!actions'],
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                env=host.ovs.env, start_new_session=True, bufsize=0)
            self._procs.append(proc)
            thread = threading.Thread(target=self._read, args=(proc, host.name),
                                      name='flow-observer-' + host.name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def _read(self, proc, host_name):
        for line in proc.stdout:
            stamp = time.monotonic()
            text = line.decode(errors='replace')
            if 'event=ADDED' not in text:
                continue
            for token in text.replace(',', ' ').split():
                if '=' in token and not token.startswith(('event=', 'table=', 'cookie=')):
                    self.events.record((host_name, token), stamp)

    def close(self):
        for proc in self._procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        for thread in self._threads:
            thread.join(2)


# -- processes ------------------------------------------------------------------

def cpu_seconds(pid):
    """utime + stime of a process (all its threads), in seconds."""
    with open('/proc/%d/stat' % pid) as stat:
        fields = stat.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


def rss_mib(pid):
    """(VmRSS, VmHWM) of a process in MiB."""
    values = {}
    with open('/proc/%d/status' % pid) as status:
        for line in status:
            key, _, rest = line.partition(':')
            if key in ('VmRSS', 'VmHWM'):
                values[key] = int(rest.split()[0]) / 1024.0
    return values['VmRSS'], values['VmHWM']


def settle(pid, quiet=0.02, window=1.0, timeout=120):
    """Wait until ``pid`` uses less than ``quiet`` of a core over ``window``
    seconds; the seconds waited."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        before = cpu_seconds(pid)
        time.sleep(window)
        if (cpu_seconds(pid) - before) / window < quiet:
            break
    return time.monotonic() - started


# -- how prompt the observers are -------------------------------------------------

def calibrate(samples=50):
    """Delays of the observers, in seconds, measured on objects of their
    own (a scratch namespace, a scratch OVS bridge without controller):

    - routes: from just before RouteTable.apply() sends one RTM_NEWROUTE
      (a /32 of protocol 83) to the RouteObserver's stamp;
    - flows: from the return of ``ovs-ofctl add-flow`` (the flow is in
      the table) to the FlowObserver's stamp; negative when the event
      was read before the ovs-ofctl process had exited.

    Returns {'routes': [s], 'flows': [s]}."""
    from srv6_ofapp.dataplane.route_codec import Route
    from srv6_ofapp.dataplane.route_table import RouteTable
    found = {'routes': [], 'flows': []}
    ns = netlab.unique('cal')
    netlab.netns_add(ns)
    observer = table = None
    try:
        netlab.sh(['ip', '-n', ns, 'link', 'add', 'cala', 'type', 'veth', 'peer', 'name',
                   'calb'])
        netlab.sh(['ip', '-n', ns, 'link', 'set', 'cala', 'up'])
        observer = RouteObserver([ns])
        table = RouteTable(ns)
        for n in range(samples):
            dst = '192.0.2.%d/32' % (n + 1)
            start = time.monotonic()
            table.apply([Route(dst, 'cala')], [])
            seen = observer.events.wait_all([(ns, dst)], time.monotonic() + 5)
            if seen:
                found['routes'].append(seen[(ns, dst)] - start)
    finally:
        if table is not None:
            table.close()
        if observer is not None:
            observer.close()
        netlab.netns_delete(ns)

    class Scratch:
        name = 'scratch'
    host = Scratch()
    host.ovs = netlab.OvsInstance().start()
    flows = None
    try:
        host.bridge = host.ovs.add_bridge()
        flows = FlowObserver([host])
        time.sleep(0.3)  # the monitor's request is in
        for n in range(samples // 2):
            mac = 'fa:16:3e:ca:1b:%02x' % n
            host.ovs.add_flow(host.bridge, 'table=3,priority=100,dl_dst=%s,actions=drop' % mac)
            done = time.monotonic()
            seen = flows.events.wait_all([('scratch', 'dl_dst=' + mac)], done + 5)
            if seen:
                found['flows'].append(seen[('scratch', 'dl_dst=' + mac)] - done)
    finally:
        if flows is not None:
            flows.close()
        host.ovs.stop()
    return found


def etcd_ranges(cluster):
    """Range requests the cluster's members have answered (OK), summed: the
    etcd gateway turns every kv/range (and each range inside a kv/txn read
    batch counts as one txn, not here) into one Range RPC."""
    total = 0
    for member in cluster.members:
        text = requests.get(member.client_url + '/metrics', timeout=5).text
        for line in text.splitlines():
            if line.startswith('grpc_server_handled_total{') and 'grpc_code="OK"' in line \
                    and 'grpc_method="Range"' in line:
                total += int(float(line.rsplit(' ', 1)[1]))
    return total
