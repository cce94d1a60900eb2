"""A small network lab for integration tests: a private Open vSwitch, "VMs"
as network namespaces on it, real DHCP clients and servers, packet capture.

Everything here is created by this process and removed by it: names carry the
prefix ``srv6t-<pid>-``, every object registers itself and is cleaned up by
its own ``stop()``/``destroy()``, by the pytest fixtures at teardown, and by
``atexit`` (or SIGTERM) as a last resort. Nothing is ever looked up or killed
by name; processes are stopped by the PID of the ``Popen`` that started them.

Isolation of OVS. Each :class:`OvsInstance` has its own ovsdb-server and
ovs-vswitchd, its files in a temporary directory, and runs ovs-vswitchd in a
network namespace of its own. The userspace (netdev) datapath creates a
persistent tap device named ``ovs-netdev`` (and one per bridge); two
ovs-vswitchd in one namespace cannot both own ``ovs-netdev``, so a private
instance in the root namespace would break, or be broken by, the user's own
OVS. Inside its namespace the bridge is still configured exactly as in
production (``datapath_type=netdev``, ``tcp:127.0.0.1:PORT`` controller): a
relay listens on 127.0.0.1:PORT inside the namespace and forwards each
connection to 127.0.0.1:PORT of the root namespace, where the controller runs.

Typical use (fixtures ``lab``/``ovs`` below; import them into a test module)::

    def test_two_vms(lab):
        br = lab.bridge(controller_port=server.ofp_port)
        lab.ovs.wait_for_flows(br)
        vm = lab.vm(br)
        lease = vm.udhcpc()
"""

import atexit
import dataclasses
import ipaddress
import itertools
import json
import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid

import pytest

from srv6_ofapp import netns as srv6_netns

OVS_SCHEMA = '/usr/share/openvswitch/vswitch.ovsschema'
PREFIX = 'srv6t-%d-' % os.getpid()
PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
OVS_TOOLS = ('ovsdb-tool', 'ovsdb-server', 'ovs-vswitchd', 'ovs-vsctl', 'ovs-ofctl',
             'ovs-appctl')
BASE_TOOLS = ('ip', 'ethtool', 'ping')

_counter = itertools.count(1)


def unique(kind=''):
    """A name unique in this run: ``srv6t-<pid>-<kind><n>``."""
    return '%s%s%d' % (PREFIX, kind, next(_counter))


# --- the registry: whatever is alive is cleaned up at exit ---------------------

_live = {}
_live_lock = threading.Lock()
_sigterm_installed = False


def _register(obj):
    global _sigterm_installed
    with _live_lock:
        _live[id(obj)] = obj
    if not _sigterm_installed and threading.current_thread() is threading.main_thread():
        _sigterm_installed = True
        if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _on_sigterm)


def _unregister(obj):
    with _live_lock:
        _live.pop(id(obj), None)


def cleanup_all():
    """Clean up every live lab object of this process, newest first."""
    with _live_lock:
        objs = list(_live.values())
    for obj in reversed(objs):
        try:
            obj.cleanup()
        except Exception as exc:  # keep going: the others must go too
            print('netlab: cleanup of %r failed: %s' % (obj, exc))


_OWNER_PID = os.getpid()


def _on_sigterm(signum, frame):
    # A forked child (pyroute2 forks some) inherits this handler; only the
    # process that made the lab objects may remove them.
    if os.getpid() == _OWNER_PID:
        cleanup_all()
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)


atexit.register(cleanup_all)


# --- commands and processes -----------------------------------------------------

class CommandError(subprocess.CalledProcessError):
    def __str__(self):
        return '%s exited with %s\nstdout: %s\nstderr: %s' % (
            ' '.join(map(str, self.cmd)), self.returncode,
            (self.stdout or '').strip()[-2000:], (self.stderr or '').strip()[-2000:])


def sh(args, check=True, timeout=30, env=None, input=None):
    """Run a command; return CompletedProcess (text). Raise CommandError on failure."""
    proc = subprocess.run([str(a) for a in args], capture_output=True, text=True,
                          timeout=timeout, env=env, input=input, stdin=None if input
                          else subprocess.DEVNULL)
    if check and proc.returncode != 0:
        raise CommandError(proc.returncode, proc.args, proc.stdout, proc.stderr)
    return proc


def _spawn(args, log_path, env=None):
    """Start a process we own (no daemonizing), output to log_path."""
    with open(log_path, 'ab') as log:
        return subprocess.Popen([str(a) for a in args], stdin=subprocess.DEVNULL,
                                stdout=log, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)


def _stop_process(proc, sig=signal.SIGTERM, timeout=5):
    """Stop one process we started, by its PID, and reap it."""
    if proc is None:
        return None
    if proc.poll() is None:
        try:
            proc.send_signal(sig)
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)
    return proc.returncode


def _tail(path, size=3000):
    try:
        with open(path, errors='replace') as f:
            return f.read()[-size:]
    except OSError:
        return ''


def _wait(condition, timeout, what, interval=0.01, on_timeout=''):
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            detail = '\n' + on_timeout() if on_timeout else ''
            raise TimeoutError('%s: not within %ss%s' % (what, timeout, detail))
        time.sleep(interval)


# --- network namespaces -----------------------------------------------------------

def netns_add(name):
    sh(['ip', 'netns', 'add', name])
    sh(['ip', '-n', name, 'link', 'set', 'lo', 'up'])


def netns_exists(name):
    return os.path.exists('/run/netns/' + name)


def _namespaces_named(prefix):
    netns_dir = '/var/run/netns'
    return sorted(n for n in os.listdir(netns_dir) if n.startswith(prefix)) \
        if os.path.isdir(netns_dir) else []


def netns_delete(name):
    """Kill what still runs in our namespace (it can only be ours), then delete it."""
    if not netns_exists(name):
        return
    pids = sh(['ip', 'netns', 'pids', name], check=False).stdout.split()
    for pid in pids:
        try:
            os.kill(int(pid), signal.SIGKILL)
        except (OSError, ValueError):
            pass
    sh(['ip', 'netns', 'delete', name], check=False)


def netns_cmd(netns, args):
    return (['ip', 'netns', 'exec', netns] if netns else []) + [str(a) for a in args]


def in_netns(netns, fn):
    """Call fn() in a thread that has entered netns (e.g. to create a socket there)."""
    return srv6_netns.call_in(netns, fn)


class _Relay:
    """127.0.0.1:port inside netns -> 127.0.0.1:port of this (root) namespace."""

    def __init__(self, netns, port):
        self.port = port
        self.listener = in_netns(netns, lambda: socket.create_server(('127.0.0.1', port)))
        self.listener.settimeout(0.2)
        self._stopped = threading.Event()
        self._conns = set()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept_loop, daemon=True,
                                        name='netlab-relay-%d' % port)
        self._thread.start()

    def _accept_loop(self):
        while not self._stopped.is_set():
            try:
                inner, _ = self.listener.accept()
            except socket.timeout:
                continue
            except OSError:
                break
            try:
                outer = socket.create_connection(('127.0.0.1', self.port), timeout=2)
            except OSError:  # controller not listening: the switch retries
                inner.close()
                continue
            inner.settimeout(None)
            outer.settimeout(None)
            pair = (inner, outer)
            with self._lock:
                self._conns.add(pair)
            for src, dst in ((inner, outer), (outer, inner)):
                threading.Thread(target=self._pump, args=(src, dst, pair), daemon=True,
                                 name='netlab-relay-pump').start()

    def _pump(self, src, dst, pair):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        self._close(pair)

    def _close(self, pair):
        with self._lock:
            self._conns.discard(pair)
        for sock in pair:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def close(self):
        self._stopped.set()
        self._thread.join(2)
        self.listener.close()
        with self._lock:
            pairs = list(self._conns)
        for pair in pairs:
            self._close(pair)


# --- Open vSwitch ------------------------------------------------------------------

def _parse_value(value):
    try:
        return int(value, 0)
    except ValueError:
        return value


_FLOW_META = {'cookie', 'duration', 'table', 'n_packets', 'n_bytes', 'idle_timeout',
              'hard_timeout', 'idle_age', 'hard_age', 'importance', 'priority'}
_FLOW_FLAGS = {'send_flow_rem', 'check_overlap', 'reset_counts', 'no_packet_counts',
               'no_byte_counts'}


def parse_flow(line):
    """One ``ovs-ofctl dump-flows`` line -> dict: cookie, table, priority,
    n_packets, n_bytes, match (dict; bare keywords such as ``arp`` map to None),
    match_str, actions (string), raw."""
    line = line.strip()
    head, _, actions = line.partition(' actions=')
    flow = {'cookie': 0, 'table': 0, 'priority': 32768, 'match': {}, 'flags': [],
            'actions': actions, 'raw': line}
    match_parts = []
    for token in head.replace(', ', ' ').split():
        for item in token.split(','):
            if not item:
                continue
            key, eq, value = item.partition('=')
            if key in _FLOW_META and eq:
                flow[key] = value if key == 'duration' else _parse_value(value)
            elif key in _FLOW_FLAGS and not eq:
                flow['flags'].append(key)
            else:
                flow['match'][key] = value if eq else None
                match_parts.append(item)
    flow['match_str'] = ','.join(match_parts)
    return flow


class OvsInstance:
    """A private ovsdb-server + ovs-vswitchd; vswitchd in its own netns."""

    def __init__(self, base_dir=None):
        self.base_dir = base_dir
        self.dir = None
        self.netns = None
        self.bridges = []
        self.ovsdb = None
        self.vswitchd = None
        self._relays = {}
        self.env = None

    # paths
    @property
    def db_sock(self):
        return os.path.join(self.dir, 'db.sock')

    def mgmt(self, bridge):
        """ovs-ofctl target of a bridge (its management socket)."""
        return 'unix:%s/%s.mgmt' % (self.dir, bridge)

    def __repr__(self):
        return '<OvsInstance %s netns=%s bridges=%s>' % (self.dir, self.netns, self.bridges)

    def start(self, timeout=10):
        started = time.monotonic()
        self.dir = tempfile.mkdtemp(prefix=PREFIX + 'ovs-', dir=self.base_dir)
        _register(self)
        try:
            self._start(timeout)
        except BaseException:
            self.stop()
            raise
        self.start_seconds = time.monotonic() - started
        return self

    def _start(self, timeout):
        d = self.dir
        self.env = dict(os.environ, OVS_RUNDIR=d, OVS_DBDIR=d, OVS_LOGDIR=d,
                        OVS_SYSCONFDIR=d)
        sh(['ovsdb-tool', 'create', d + '/conf.db', OVS_SCHEMA], env=self.env)
        self.ovsdb = _spawn(['ovsdb-server', d + '/conf.db', '--remote=punix:' + self.db_sock,
                             '--pidfile=%s/ovsdb-server.pid' % d,
                             '--unixctl=%s/ovsdb-server.ctl' % d,
                             '--log-file=%s/ovsdb-server.log' % d],
                            d + '/ovsdb-server.out', self.env)
        _wait(lambda: self._alive(self.ovsdb, 'ovsdb-server') and os.path.exists(self.db_sock),
              timeout, 'ovsdb-server socket', on_timeout=lambda: self.logs())
        # The socket file appears when ovsdb-server binds it, a moment before
        # it listens: a connection in between is refused.
        _wait(lambda: sh(['ovs-vsctl', '--db=unix:' + self.db_sock, '--timeout=5', '--no-wait',
                          'init'], check=False, env=self.env).returncode == 0,
              timeout, 'ovsdb-server accepting connections', interval=0.05,
              on_timeout=lambda: self.logs())
        self.netns = unique('ovs')
        netns_add(self.netns)
        self.vswitchd = _spawn(netns_cmd(self.netns, [
            'ovs-vswitchd', 'unix:' + self.db_sock, '--disable-system',
            '--pidfile=%s/ovs-vswitchd.pid' % d, '--unixctl=%s/ovs-vswitchd.ctl' % d,
            '--log-file=%s/ovs-vswitchd.log' % d]), d + '/ovs-vswitchd.out', self.env)
        ctl = d + '/ovs-vswitchd.ctl'
        _wait(lambda: self._alive(self.vswitchd, 'ovs-vswitchd') and os.path.exists(ctl),
              timeout, 'ovs-vswitchd control socket', on_timeout=lambda: self.logs())

    def _alive(self, proc, name):
        if proc.poll() is not None:
            raise RuntimeError('%s exited with %s:\n%s' % (name, proc.returncode, self.logs()))
        return True

    def logs(self):
        return '\n'.join('== %s ==\n%s' % (name, _tail(os.path.join(self.dir, name)))
                         for name in ('ovsdb-server.log', 'ovsdb-server.out',
                                      'ovs-vswitchd.log', 'ovs-vswitchd.out'))

    # tools
    def vsctl(self, *args, check=True, timeout=20):
        """ovs-vsctl against this instance's database; returns stdout stripped."""
        return sh(['ovs-vsctl', '--db=unix:' + self.db_sock, '--timeout=%d' % timeout]
                  + list(args), check=check, timeout=timeout + 5, env=self.env).stdout.strip()

    def ofctl(self, command, bridge, *args, check=True, timeout=20):
        """``ovs-ofctl -O OpenFlow13 COMMAND <bridge mgmt socket> ARGS``; returns stdout."""
        return sh(['ovs-ofctl', '-O', 'OpenFlow13', '--timeout=%d' % timeout, command,
                   self.mgmt(bridge)] + list(args), check=check, timeout=timeout + 5,
                  env=self.env).stdout

    def appctl(self, *args, check=True, timeout=20):
        """ovs-appctl to this ovs-vswitchd (e.g. 'ofproto/trace', BR, FLOW)."""
        return sh(['ovs-appctl', '-t', self.dir + '/ovs-vswitchd.ctl', '--timeout=%d' % timeout]
                  + list(args), check=check, timeout=timeout + 5, env=self.env).stdout

    # bridges
    def add_bridge(self, name=None, dpid=None, controller_port=None):
        """A netdev bridge, OpenFlow 1.3, fail_mode=secure; returns its name."""
        name = name or 'br' + secrets.token_hex(4)
        if len(name) > 15:
            raise ValueError('bridge name %r is longer than 15 characters' % name)
        dpid = '%016x' % (dpid if isinstance(dpid, int) else
                          int(dpid, 16) if dpid else secrets.randbits(48))
        self.vsctl('add-br', name, '--', 'set', 'bridge', name, 'datapath_type=netdev',
                   'protocols=OpenFlow13', 'fail_mode=secure',
                   'other-config:datapath-id=' + dpid)
        self.bridges.append(name)
        if controller_port:
            self.set_controller(name, controller_port)
        return name

    def set_controller(self, bridge, port, max_backoff=1000):
        """Point the bridge at tcp:127.0.0.1:PORT (the controller in the root netns)."""
        if port not in self._relays:
            self._relays[port] = _Relay(self.netns, port)
        self.vsctl('set-controller', bridge, 'tcp:127.0.0.1:%d' % port, '--',
                   'set', 'controller', bridge, 'max_backoff=%d' % max_backoff,
                   'connection-mode=out-of-band')

    def del_controller(self, bridge):
        self.vsctl('del-controller', bridge)

    def datapath_id(self, bridge):
        return self.vsctl('get', 'bridge', bridge, 'datapath_id').strip('"')

    def del_bridge(self, bridge):
        self.vsctl('--if-exists', 'del-br', bridge)
        if bridge in self.bridges:
            self.bridges.remove(bridge)

    def ofport(self, ifname):
        return int(self.vsctl('get', 'Interface', ifname, 'ofport'))

    def dump_flows(self, bridge, *args):
        """The bridge's flows as dicts (see parse_flow), in ovs-ofctl's order."""
        out = self.ofctl('dump-flows', bridge, *args)
        return [parse_flow(line) for line in out.splitlines()
                if line.strip() and not line.startswith('OFPST_FLOW')]

    def add_flow(self, bridge, flow):
        self.ofctl('add-flow', bridge, flow)

    def wait_for_flows(self, bridge, predicate=None, timeout=15, interval=0.05):
        """Poll dump_flows until predicate(flows) is true (default: any flow);
        return the flows. This is how to know the controller programmed the
        switch (OVSDB's is_connected lags about 4 s)."""
        predicate = predicate or (lambda flows: len(flows) > 0)
        last = []

        def check():
            last[:] = self.dump_flows(bridge)
            return predicate(last)

        _wait(check, timeout, 'flows on %s' % bridge, interval,
              on_timeout=lambda: 'last dump:\n' + '\n'.join(f['raw'] for f in last))
        return last

    # teardown
    def stop(self):
        """Delete our bridges, stop both daemons by PID, remove netns and files."""
        if self.vswitchd is not None and self.vswitchd.poll() is None:
            for bridge in list(self.bridges):
                try:
                    self.del_bridge(bridge)
                except (CommandError, subprocess.TimeoutExpired):
                    pass
        for relay in self._relays.values():
            relay.close()
        self._relays.clear()
        _stop_process(self.vswitchd)
        _stop_process(self.ovsdb)
        if self.netns:
            # The simulated host's own namespaces too: the VRFs (and routers)
            # a controller made for it are named after it.
            for name in _namespaces_named(self.netns + '-'):
                netns_delete(name)
            netns_delete(self.netns)
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
        _unregister(self)

    cleanup = stop

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()


# --- DHCP leases as the clients saw them -----------------------------------------

@dataclasses.dataclass
class Lease:
    """What a DHCP client received (its hook script's environment), normalized."""
    client: str
    event: str
    ip: str = None
    prefixlen: int = None
    routers: list = dataclasses.field(default_factory=list)
    dns: list = dataclasses.field(default_factory=list)
    domain: str = None
    search: list = dataclasses.field(default_factory=list)
    hostname: str = None
    mtu: int = None
    staticroutes: list = dataclasses.field(default_factory=list)  # [(cidr, gateway)]
    lease_time: int = None
    server_id: str = None
    env: dict = dataclasses.field(default_factory=dict)

    @property
    def router(self):
        return self.routers[0] if self.routers else None

    @property
    def cidr(self):
        return '%s/%s' % (self.ip, self.prefixlen) if self.ip else None


def _int(value):
    return int(value) if value not in (None, '') else None


def _prefixlen(mask):
    if mask in (None, ''):
        return None
    if '.' in mask:
        return ipaddress.IPv4Network('0.0.0.0/' + mask).prefixlen
    return int(mask)


def rfc3442_routes(octets):
    """dhclient's option 121 ("24 192 168 5 10 0 0 1 ...") -> [(cidr, gateway)]."""
    values = [int(v) for v in octets.replace(',', ' ').split()]
    routes = []
    while values:
        width = values.pop(0)
        size = (width + 7) // 8
        dest = (values[:size] + [0, 0, 0, 0])[:4]
        gateway = values[size:size + 4]
        values = values[size + 4:]
        routes.append(('%d.%d.%d.%d/%d' % (*dest, width), '%d.%d.%d.%d' % tuple(gateway)))
    return routes


def lease_from_udhcpc(env):
    words = env.get('staticroutes', '').split()
    return Lease(client='udhcpc', event=env.get('NETLAB_EVENT'), ip=env.get('ip'),
                 prefixlen=_prefixlen(env.get('mask') or env.get('subnet')),
                 routers=env.get('router', '').split(), dns=env.get('dns', '').split(),
                 domain=env.get('domain'), search=env.get('search', '').split(),
                 hostname=env.get('hostname'), mtu=_int(env.get('mtu')),
                 staticroutes=list(zip(words[0::2], words[1::2])),
                 lease_time=_int(env.get('lease')), server_id=env.get('serverid'), env=env)


def lease_from_dhclient(env):
    return Lease(client='dhclient', event=env.get('reason'), ip=env.get('new_ip_address'),
                 prefixlen=_prefixlen(env.get('new_subnet_mask')),
                 routers=env.get('new_routers', '').split(),
                 dns=env.get('new_domain_name_servers', '').split(),
                 domain=env.get('new_domain_name'),
                 search=env.get('new_domain_search', '').split(),
                 hostname=env.get('new_host_name'), mtu=_int(env.get('new_interface_mtu')),
                 staticroutes=rfc3442_routes(env.get('new_rfc3442_classless_static_routes', '')),
                 lease_time=_int(env.get('new_dhcp_lease_time')),
                 server_id=env.get('new_dhcp_server_identifier'), env=env)


class DhcpError(RuntimeError):
    pass


# Both hooks apply the lease to $interface inside the namespace only (never
# /etc/resolv.conf), RFC 3442 style: classless routes replace the router
# option. Then each records its whole environment, NUL-separated, in one file
# per event under $NETLAB_RECORD (written last, so a record means "applied").
_HOOK_COMMON = r'''
NETLAB_RECORD=@RECORD@  # dhclient gives its hook a fresh environment
record() {
    n=$(ls "$NETLAB_RECORD" | wc -l)
    env -0 > "$NETLAB_RECORD/.tmp.$$"
    mv "$NETLAB_RECORD/.tmp.$$" "$NETLAB_RECORD/$(printf %04d "$n")-$1"
}
add_route() {  # DEST GATEWAY
    if [ "$2" = 0.0.0.0 ]; then
        ip route replace "$1" dev "$interface"
    else
        ip route replace "$1" via "$2" dev "$interface" 2>/dev/null ||
            ip route replace "$1" via "$2" dev "$interface" onlink
    fi
}
'''

UDHCPC_HOOK = '#!/bin/sh\n# netlab udhcpc hook\n' + _HOOK_COMMON + r'''
export NETLAB_EVENT="$1"
case "$1" in
deconfig)
    ip link set dev "$interface" up
    ip -4 addr flush dev "$interface"
    ;;
bound|renew)
    [ -n "$mtu" ] && ip link set dev "$interface" mtu "$mtu"
    ip -4 addr flush dev "$interface"
    ip addr add "$ip/${mask:-$subnet}" ${broadcast:+broadcast $broadcast} dev "$interface"
    if [ -n "$staticroutes" ]; then
        set -- $staticroutes
        while [ $# -ge 2 ]; do add_route "$1" "$2"; shift 2; done
    else
        for r in $router; do add_route default "$r"; break; done
    fi
    ;;
esac
record "$NETLAB_EVENT"
'''

DHCLIENT_HOOK = '#!/bin/sh\n# netlab dhclient hook\n' + _HOOK_COMMON + r'''
case "$reason" in
PREINIT)
    ip link set dev "$interface" up
    ;;
BOUND|RENEW|REBIND|REBOOT)
    [ -n "$new_interface_mtu" ] && ip link set dev "$interface" mtu "$new_interface_mtu"
    ip -4 addr flush dev "$interface"
    ip addr add "$new_ip_address/$new_subnet_mask" \
        ${new_broadcast_address:+broadcast $new_broadcast_address} dev "$interface"
    if [ -n "$new_rfc3442_classless_static_routes" ]; then
        set -- $new_rfc3442_classless_static_routes
        while [ $# -gt 0 ]; do
            width=$1; shift; size=$(( (width + 7) / 8 )); net=; i=0
            while [ $i -lt 4 ]; do
                if [ $i -lt $size ]; then o=$1; shift; else o=0; fi
                net="$net${net:+.}$o"; i=$((i + 1))
            done
            add_route "$net/$width" "$1.$2.$3.$4"; shift 4
        done
    else
        for r in $new_routers; do add_route default "$r"; break; done
    fi
    ;;
EXPIRE|FAIL|RELEASE|STOP)
    ip -4 addr flush dev "$interface"
    ;;
esac
record "$reason"
'''

DHCLIENT_CONF = '''\
option rfc3442-classless-static-routes code 121 = array of unsigned integer 8;
request subnet-mask, broadcast-address, time-offset, routers, domain-name,
        domain-name-servers, domain-search, host-name, interface-mtu,
        rfc3442-classless-static-routes;
timeout %d;
retry 1;
initial-interval 1;
backoff-cutoff 2;
'''

_NOISE = {'PATH', 'PWD', 'SHLVL', '_', 'OLDPWD'}


def read_records(directory):
    """The hook records in a directory, oldest first: [(event, env dict)]."""
    records = []
    for name in sorted(os.listdir(directory)):
        if name.startswith('.'):
            continue
        with open(os.path.join(directory, name), 'rb') as f:
            raw = f.read().decode(errors='replace')
        env = {}
        for item in raw.split('\0'):
            key, eq, value = item.partition('=')
            if eq and key not in _NOISE:
                env[key] = value
        records.append((name.split('-', 1)[1], env))
    return records


def _write_hook(path, text, records):
    with open(path, 'w') as f:
        f.write(text.replace('@RECORD@', shlex.quote(records)))
    os.chmod(path, 0o755)


def random_mac():
    """A Neutron-style MAC (fa:16:3e:xx:xx:xx)."""
    return 'fa:16:3e:' + ':'.join('%02x' % b for b in secrets.token_bytes(3))


# --- VMs --------------------------------------------------------------------------

class VM:
    """A "VM": a network namespace whose eth0 is a veth to the OVS bridge.

    The bridge side is named ``tap`` + port_id[:11] as Nova/Neutron name it,
    lives in the OVS instance's namespace and carries the Neutron external_ids
    (iface-id, attached-mac, iface-status)."""

    def __init__(self, ovs, bridge, port_id=None, mac=None, mtu=None, name=None,
                 iface_id=None):
        self.ovs = ovs
        self.bridge = bridge
        self.port_id = port_id or str(uuid.uuid4())
        self.iface_id = iface_id or self.port_id
        self.mac = (mac or random_mac()).lower()
        self.mtu = mtu
        self.netns = name or unique('vm')
        self.tap = 'tap' + self.port_id[:11]
        self.ifname = 'eth0'
        self.dir = None
        self.dhclient_proc = None
        self._procs = []  # Popen or Capture objects, stopped by destroy()
        self.created = False

    def __repr__(self):
        return '<VM %s %s %s on %s>' % (self.netns, self.tap, self.mac, self.bridge)

    def create(self):
        self.dir = tempfile.mkdtemp(prefix=PREFIX + 'vm-')
        _register(self)
        try:
            netns_add(self.netns)
            self.created = True
            sh(['ip', '-n', self.ovs.netns, 'link', 'add', self.tap, 'type', 'veth',
                'peer', 'name', self.ifname, 'netns', self.netns])
            eth = ['ip', '-n', self.netns, 'link', 'set', self.ifname, 'address', self.mac]
            if self.mtu:
                eth += ['mtu', self.mtu]
                sh(['ip', '-n', self.ovs.netns, 'link', 'set', self.tap, 'mtu', self.mtu])
            sh(eth + ['up'])
            sh(['ip', '-n', self.ovs.netns, 'link', 'set', self.tap, 'up'])
            # TCP/UDP checksums are left to offload, which the netdev datapath
            # never does: without this, TCP and UDP (DHCP replies) are dropped.
            self.run(['ethtool', '-K', self.ifname, 'tx', 'off'])
            self.ovs.vsctl('add-port', self.bridge, self.tap, '--',
                           'set', 'Interface', self.tap,
                           'external-ids:iface-id=' + self.iface_id,
                           'external-ids:attached-mac=' + self.mac,
                           'external-ids:iface-status=active')
        except BaseException:
            self.destroy()
            raise
        return self

    @property
    def ofport(self):
        return self.ovs.ofport(self.tap)

    # commands
    def cmd(self, args):
        return netns_cmd(self.netns, args)

    def run(self, cmd, check=True, timeout=30, input=None, env=None):
        """Run in the namespace; cmd is a list or a shell string. CompletedProcess."""
        args = ['sh', '-c', cmd] if isinstance(cmd, str) else list(cmd)
        return sh(self.cmd(args), check=check, timeout=timeout, input=input, env=env)

    def spawn(self, args, log_name, env=None):
        """Start a long-running process in the namespace; stopped by destroy()."""
        proc = _spawn(self.cmd(args), os.path.join(self.dir, log_name), env)
        self._procs.append(proc)
        return proc

    def sysctl(self, key, value):
        self.run(['sysctl', '-qw', '%s=%s' % (key, value)])

    def set_address(self, cidr, gateway=None):
        self.run(['ip', 'addr', 'add', cidr, 'dev', self.ifname])
        if gateway:
            self.run(['ip', 'route', 'replace', 'default', 'via', gateway])

    def addresses(self, family=None, link_local=False):
        """eth0's addresses as 'ip/prefixlen' strings (family 4, 6 or None)."""
        info = json.loads(self.run(['ip', '-j', 'addr', 'show', 'dev', self.ifname]).stdout)
        result = []
        for link in info:
            for addr in link.get('addr_info', []):
                if family and addr['family'] != ('inet' if family == 4 else 'inet6'):
                    continue
                if addr.get('scope') == 'link' and not link_local:
                    continue
                result.append('%s/%s' % (addr['local'], addr['prefixlen']))
        return result

    def routes(self, family=4, table='main'):
        """``ip -j -4 route show table main`` as a list of dicts (dst, gateway, dev...)."""
        return json.loads(self.run(['ip', '-j', '-%d' % family, 'route', 'show', 'table',
                                    table]).stdout or '[]')

    def link(self):
        return json.loads(self.run(['ip', '-j', 'link', 'show', 'dev', self.ifname]).stdout)[0]

    def ping(self, ip, count=1, timeout=5):
        """True when ``count`` echo replies came back within ``timeout`` seconds.

        ping stops at its first "Destination Host Unreachable" (a neighbour
        entry left INCOMPLETE/FAILED by an earlier failed ping), so retry
        until the deadline."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            args = ['ping', '-n', '-q', '-c', count, '-i', '0.2',
                    '-w', max(1, int(left + 0.999)), ip]
            if self.run(args, check=False, timeout=left + 5).returncode == 0:
                return True
            if time.monotonic() + 0.1 >= deadline:
                return False
            time.sleep(0.1)

    def arping(self, ip, count=1, timeout=3):
        """ARP-ping ip from eth0; the MACs that replied (empty: none)."""
        out = self.run(['arping', '-r', '-i', self.ifname, '-c', count, '-C', count,
                        '-w', max(1, int(timeout)), ip], check=False, timeout=timeout + 5).stdout
        return [line.strip().lower() for line in out.splitlines() if line.strip()]

    # DHCP clients
    def _records_dir(self, client):
        path = os.path.join(self.dir, client + '-records')
        os.makedirs(path, exist_ok=True)
        return path

    def dhcp_records(self, client='udhcpc'):
        """Every hook event of a client so far: [(event, env)], oldest first."""
        path = os.path.join(self.dir, client + '-records')
        return read_records(path) if os.path.isdir(path) else []

    def udhcpc(self, timeout=10, options=('mtu', 'staticroutes', 'search'), extra_args=(),
               check=True):
        """Run busybox udhcpc once (foreground, exits after the lease). Returns the
        Lease it applied, or raises DhcpError (None with check=False)."""
        script = os.path.join(self.dir, 'udhcpc-hook.sh')
        records = self._records_dir('udhcpc')
        _write_hook(script, UDHCPC_HOOK, records)
        before = len(read_records(records))
        args = ['udhcpc', '-f', '-q', '-n', '-i', self.ifname, '-s', script,
                '-t', max(1, int(timeout)), '-T', 1]
        for option in options:
            args += ['-O', option]
        started = time.monotonic()
        proc = self.run(args + list(extra_args), check=False, timeout=timeout + 10,
                        env={'PATH': PATH})
        self.last_dhcp_seconds = time.monotonic() - started
        with open(os.path.join(self.dir, 'udhcpc.log'), 'a') as log:
            log.write(proc.stdout + proc.stderr)
        bound = [env for event, env in read_records(records)[before:]
                 if event in ('bound', 'renew')]
        if proc.returncode != 0 or not bound:
            if check:
                raise DhcpError('udhcpc got no lease (exit %s):\n%s%s' % (
                    proc.returncode, proc.stdout, proc.stderr))
            return None
        return lease_from_udhcpc(bound[-1])

    def dhclient(self, timeout=10, check=True):
        """Start ISC dhclient (it stays running, renewing; stopped by
        stop_dhclient()/destroy()). Returns the first Lease it applied."""
        if self.dhclient_proc is not None:
            raise RuntimeError('dhclient already runs in %s' % self.netns)
        d = self.dir
        script = os.path.join(d, 'dhclient-hook.sh')
        _write_hook(script, DHCLIENT_HOOK, self._records_dir('dhclient'))
        with open(os.path.join(d, 'dhclient.conf'), 'w') as f:
            f.write(DHCLIENT_CONF % max(1, int(timeout)))
        records = self._records_dir('dhclient')
        before = len(read_records(records))
        started = time.monotonic()
        self.dhclient_proc = self.spawn(
            ['dhclient', '-4', '-d', '-v', '-1', '-cf', d + '/dhclient.conf',
             '-sf', script, '-lf', d + '/dhclient.leases', '-pf', d + '/dhclient.pid',
             self.ifname], 'dhclient.log', env={'PATH': PATH})

        def bound():
            new = read_records(records)[before:]
            done = [env for event, env in new if event in ('BOUND', 'REBOOT', 'RENEW', 'REBIND')]
            if done:
                return done
            if self.dhclient_proc.poll() is not None:
                return 'exited'
            return None

        try:
            result = _wait(bound, timeout + 5, 'dhclient lease', 0.01)
        except TimeoutError:
            result = None
        self.last_dhcp_seconds = time.monotonic() - started
        if not isinstance(result, list):
            log = _tail(os.path.join(d, 'dhclient.log'))
            self.stop_dhclient()
            if check:
                raise DhcpError('dhclient got no lease:\n' + log)
            return None
        return lease_from_dhclient(result[-1])

    def stop_dhclient(self):
        proc, self.dhclient_proc = self.dhclient_proc, None
        _stop_process(proc)

    # capture
    def capture(self, filter='', host_side=False, **kw):
        """A started Capture on eth0 (or on the bridge side tap, host_side=True)."""
        if host_side:
            cap = Capture(self.tap, filter, netns=self.ovs.netns, directory=self.dir, **kw)
        else:
            cap = Capture(self.ifname, filter, netns=self.netns, directory=self.dir, **kw)
        self._procs.append(cap)
        return cap.start()

    # teardown
    def destroy(self):
        """Stop our processes, unplug from OVS, delete veth, netns and files."""
        self.stop_dhclient()
        for proc in reversed(self._procs):
            if isinstance(proc, Capture):
                proc.stop()
            else:
                _stop_process(proc)
        self._procs.clear()
        if self.ovs.vswitchd is not None and self.ovs.vswitchd.poll() is None:
            try:
                self.ovs.vsctl('--if-exists', 'del-port', self.bridge, self.tap, timeout=5)
            except (CommandError, subprocess.TimeoutExpired):
                pass
        if self.created and self.ovs.netns and netns_exists(self.ovs.netns):
            sh(['ip', '-n', self.ovs.netns, 'link', 'del', self.tap], check=False)
        if self.created:
            netns_delete(self.netns)
            self.created = False
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None
        _unregister(self)

    cleanup = destroy

    def __enter__(self):
        return self.create()

    def __exit__(self, *exc_info):
        self.destroy()


# --- capture ----------------------------------------------------------------------

class Capture:
    """tcpdump -n -e -l on one interface (optionally inside a netns), text lines."""

    def __init__(self, ifname, filter='', netns=None, directory=None, extra_args=()):
        self.ifname = ifname
        self.filter = filter
        self.netns = netns
        self.base_dir = directory
        self.extra_args = list(extra_args)
        self.proc = None
        self.dir = None
        self.lines = None

    def __repr__(self):
        return '<Capture %s@%s %r>' % (self.ifname, self.netns, self.filter)

    def start(self, timeout=5):
        self.dir = tempfile.mkdtemp(prefix=PREFIX + 'cap-', dir=self.base_dir)
        _register(self)
        self.out_path = os.path.join(self.dir, 'packets.txt')
        self.err_path = os.path.join(self.dir, 'tcpdump.err')
        args = netns_cmd(self.netns, ['tcpdump', '-n', '-e', '-l', '--immediate-mode',
                                      '-i', self.ifname] + self.extra_args
                         + (self.filter.split() if isinstance(self.filter, str)
                            else list(self.filter)))
        with open(self.out_path, 'wb') as out, open(self.err_path, 'wb') as err:
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=err, start_new_session=True)

        def listening():
            if self.proc.poll() is not None:
                raise RuntimeError('tcpdump exited with %s: %s' % (
                    self.proc.returncode, _tail(self.err_path)))
            return 'listening on' in _tail(self.err_path)

        try:
            _wait(listening, timeout, 'tcpdump on %s' % self.ifname)
        except BaseException:
            self.stop()
            raise
        return self

    def read(self):
        """The lines captured so far (without stopping)."""
        with open(self.out_path, errors='replace') as f:
            return [line.rstrip('\n') for line in f if line.strip()]

    def stop(self):
        """Stop tcpdump (by PID) and return the captured lines."""
        if self.proc is not None:
            _stop_process(self.proc, signal.SIGINT)
            self.proc = None
            self.lines = self.read()
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None
        _unregister(self)
        return self.lines or []

    cleanup = stop

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()


# --- a reference DHCP server ------------------------------------------------------

class Dnsmasq:
    """dnsmasq as a DHCP server only (--port=0) on a VM's eth0.

    dhcp_range: e.g. '10.0.0.0,static,255.255.255.0' or '10.0.0.10,10.0.0.99,12h';
    hosts: [(mac, ip)] reservations; options: dnsmasq --dhcp-option values,
    e.g. 'option:router,10.0.0.1'."""

    def __init__(self, vm, dhcp_range, hosts=(), options=(), extra_args=(), log_dhcp=True):
        self.vm = vm
        self.args = ['--dhcp-range=' + dhcp_range]
        self.args.append('--log-dhcp' if log_dhcp else '--quiet-dhcp')
        self.args += ['--dhcp-host=%s,%s' % host for host in hosts]
        self.args += ['--dhcp-option=' + option for option in options]
        self.args += list(extra_args)
        self.proc = None

    def start(self, timeout=5):
        d = self.vm.dir
        self.leasefile = os.path.join(d, 'dnsmasq.leases')
        self.log_path = os.path.join(d, 'dnsmasq.log')
        self.proc = self.vm.spawn(
            ['dnsmasq', '--no-daemon', '--conf-file=/dev/null', '--port=0', '--user=root',
             '--interface=' + self.vm.ifname, '--bind-interfaces', '--dhcp-authoritative',
             '--dhcp-leasefile=' + self.leasefile,
             '--pid-file=' + os.path.join(d, 'dnsmasq.pid')] + self.args, 'dnsmasq.log')

        def listening():
            if self.proc.poll() is not None:
                raise RuntimeError('dnsmasq exited with %s:\n%s' % (
                    self.proc.returncode, _tail(self.log_path)))
            return ':67 ' in self.vm.run(['ss', '-Hlun'], check=False).stdout

        _wait(listening, timeout, 'dnsmasq on :67')
        return self

    def log(self):
        return _tail(self.log_path)

    def stop(self):
        _stop_process(self.proc)


# --- pytest integration -------------------------------------------------------------

def unavailable_reason(tools=()):
    """Why the lab cannot run here (None when it can)."""
    if os.geteuid() != 0:
        return 'the network lab needs root (network namespaces, veth, OVS)'
    missing = [t for t in OVS_TOOLS + BASE_TOOLS + tuple(tools) if not shutil.which(t)]
    if missing:
        return 'missing %s (Debian openvswitch-switch, iproute2, ethtool, ...)' % ', '.join(missing)
    if not os.path.exists(OVS_SCHEMA):
        return 'no %s' % OVS_SCHEMA
    return None


def require(*tools):
    """pytest.skip the current test unless the lab and these tools are there."""
    reason = unavailable_reason(tools)
    if reason:
        pytest.skip(reason)


class Lab:
    """Per-test bag of lab objects (one OvsInstance, started on first use);
    close() removes all of them, newest first."""

    def __init__(self):
        self._ovs = None
        self._objects = []

    @property
    def ovs(self):
        if self._ovs is None:
            self._ovs = OvsInstance().start()
            self._objects.append(self._ovs)
        return self._ovs

    def bridge(self, name=None, dpid=None, controller_port=None):
        return self.ovs.add_bridge(name, dpid, controller_port)

    def vm(self, bridge, **kwargs):
        vm = VM(self.ovs, bridge, **kwargs)
        self._objects.append(vm)
        return vm.create()

    def dnsmasq(self, vm, dhcp_range, **kwargs):
        return Dnsmasq(vm, dhcp_range, **kwargs).start()

    def capture(self, ifname, filter='', netns=None, **kwargs):
        cap = Capture(ifname, filter, netns=netns, **kwargs)
        self._objects.append(cap)
        return cap.start()

    def close(self):
        while self._objects:
            obj = self._objects.pop()
            try:
                obj.cleanup()
            except Exception as exc:
                print('netlab: cleanup of %r failed: %s' % (obj, exc))


@pytest.fixture
def lab():
    """A Lab; skips the test when the lab cannot run here."""
    require()
    bag = Lab()
    try:
        yield bag
    finally:
        bag.close()


@pytest.fixture
def ovs():
    """A started private OvsInstance; skips when the lab cannot run here."""
    require()
    instance = OvsInstance().start()
    try:
        yield instance
    finally:
        instance.stop()
