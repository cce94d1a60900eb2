"""The srv6_ofapp demo: srv6-ofapp plus a mininet network, end to end.

Run inside the sandbox (mininet/sandbox.sh), with the virtualenv's python::

    mininet/sandbox.sh .venv/bin/python mininet/demo.py [--hosts N --vms M] [--cli]
                                                        [--distributed]

It starts srv6-ofapp on a sqlite store in the sandbox's private /tmp, builds
the SRv6Topo of mininet/srv6.py (registering everything over REST: two
projects, their routers on the network node gw1 with a gateway on the
external network of the internet host inet, a floating IP), lets the VMs
take DHCP, prints the VM table, the routers and the reachability matrix
(east-west, the service, north-south both ways), and exits 1 when any lease
or ping differs from what is expected.

With --distributed the same network is driven by the distributed
deployment instead (mininet/distributed.py): a 3-member etcd cluster and two
API servers (--role api) in the sandbox's root namespace, everything
registered through the two in turn, an agent (--role agent) inside every
hypervisor and a gateway (--role gateway) inside gw1; it also checks that
GET /v2.0/agents shows every one of them alive.
"""

import argparse
import functools
import os
import signal
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

from mininet.cli import CLI  # noqa: E402
from mininet.log import setLogLevel  # noqa: E402
from mininet.net import Mininet  # noqa: E402
from mininet.node import RemoteController  # noqa: E402

import distributed  # noqa: E402
import srv6  # noqa: E402
from srv6 import progress  # noqa: E402

WORK = '/tmp/srv6-demo'
API_PORT = 9696
OFP_PORT = 6653


def start_controller():
    os.makedirs(WORK, exist_ok=True)
    log = open(os.path.join(WORK, 'srv6-ofapp.log'), 'ab')
    proc = subprocess.Popen(
        [sys.executable, '-m', 'srv6_ofapp', '--store', 'sqlite:///%s/state.db' % WORK,
         '--wsapi-host', '127.0.0.1', '--wsapi-port', str(API_PORT),
         '--ofp-listen-host', '127.0.0.1', '--ofp-tcp-listen-port', str(OFP_PORT)],
        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    api = 'http://127.0.0.1:%d' % API_PORT
    try:
        srv6.wait_api(api)
    except Exception:
        proc.kill()
        raise RuntimeError('srv6-ofapp did not answer; its log:\n' + controller_log())
    return proc, api


def controller_log(limit=3000):
    try:
        with open(os.path.join(WORK, 'srv6-ofapp.log'), errors='replace') as f:
            return f.read()[-limit:]
    except OSError:
        return ''


def stop_controller(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class AllInOne:
    """One srv6-ofapp on sqlite: the REST API, and the OpenFlow controller
    (relayed into every hypervisor) and kernel programmer of every host."""

    controller = None
    agent = None        # the hypervisors relay OpenFlow to us instead
    gateway = None      # and we build gw1's routers from outside
    building = ''
    checks = ()

    def start(self):
        progress('starting srv6-ofapp (store sqlite:///%s/state.db, REST :%d, OpenFlow :%d)'
                 % (WORK, API_PORT, OFP_PORT))
        self.controller, api = start_controller()
        self.apis = srv6.Apis(api)
        self.mininet_controller = functools.partial(RemoteController, ip='127.0.0.1',
                                                    port=OFP_PORT)
        self.starting_hypervisors = ('starting hypervisors (own ovsdb-server + ovs-vswitchd '
                                     'each, host registered over REST, then controller)')

    def logs(self):
        return '--- srv6-ofapp log (tail) ---\n' + controller_log()

    def teardown(self, net):
        if self.controller is not None:
            stop_controller(self.controller)
        if net is not None:
            net.stop()


class Distributed:
    """etcd (3 members) and two API servers here, an agent in every
    hypervisor (mininet/distributed.py, srv6.Agent)."""

    def __init__(self):
        self.etcd, self.api_servers = None, []

    def start(self):
        os.makedirs(WORK, exist_ok=True)
        self.etcd = distributed.Etcd(os.path.join(WORK, 'etcd'))
        progress('starting etcd: %d members, client ports %s on 127.0.0.1 and %s (the '
                 'hypervisors\' management address), data in %s'
                 % (len(self.etcd.members), ', '.join(str(m['client'])
                                                      for m in self.etcd.members),
                    srv6.MGMT_IP, self.etcd.workdir))
        self.etcd.start()
        store = self.etcd.url('127.0.0.1')
        self.api_servers = [
            distributed.ApiServer(sys.executable, ROOT, store, port,
                                  os.path.join(WORK, 'api%d.log' % n)).start()
            for n, port in enumerate(distributed.API_PORTS, 1)]
        progress('starting 2 API servers (--role api, store %s, REST %s)'
                 % (store, ' and '.join(':%d' % p for p in distributed.API_PORTS)))
        for server in self.api_servers:
            server.wait()
        self.apis = srv6.Apis([server.url for server in self.api_servers])
        agent_store = self.etcd.url(srv6.MGMT_IP)
        self.agent = srv6.Agent([sys.executable, '-m', 'srv6_ofapp', '--role', 'agent',
                                 '--store', agent_store], ROOT, WORK)
        cluster = '%s=%s' % (srv6.CLUSTER, agent_store)
        self.gateway = srv6.Agent([sys.executable, '-m', 'srv6_ofapp', '--role', 'gateway',
                                   '--cluster', cluster], ROOT, WORK, kind='gateway')
        self.mininet_controller = None
        self.building = ('; each hypervisor, once its namespace exists, gets a management '
                         'veth to %s and starts its agent (--role agent --store %s), '
                         '%s its gateway (--role gateway --cluster %s)'
                         % (srv6.MGMT_IP, agent_store, srv6.NETWORK_NODE, cluster))
        self.starting_hypervisors = (
            'starting hypervisors (own ovsdb-server + ovs-vswitchd each, host registered '
            'over REST without netns, then br-int connected to its agent on '
            'tcp:127.0.0.1:%d in its namespace once the agent listens)'
            % srv6.AGENT_OFP_PORT)

    @property
    def checks(self):
        return (self.check_agents,)

    def check_agents(self, net):
        """Every hypervisor's agent and gw1's L3 agent alive in GET
        /v2.0/agents; which API servers served the demo."""
        api = self.apis.next()
        agents = srv6.rest(api, 'GET', srv6.V + '/agents')['agents']
        alive = {a['host']: a['alive'] for a in agents}
        types = {a['host']: a['agent_type'] for a in agents}
        hosts = sorted(node.name for node in kernels(net))

        def state(host):
            text = 'alive' if alive.get(host) else 'NOT ALIVE' if host in alive else 'MISSING'
            if types.get(host) == 'L3 agent':
                text += ' (L3 agent)'
            return '%s %s' % (host, text)
        listed = ', '.join(state(h) for h in sorted(set(hosts) | set(alive)))
        used = ', '.join('%s (%d requests)' % (url, count)
                         for url, count in self.apis.used.items())
        return (all(alive.get(h) for h in hosts),
                'Agents (GET /v2.0/agents from %s): %s; API servers used: %s'
                % (api, listed, used))

    def logs(self):
        parts = []
        for server in self.api_servers:
            parts.append('--- %s (tail) ---\n%s' % (server.log_path,
                                                    distributed.tail(server.log_path)))
        for name in sorted(os.listdir(WORK)) if os.path.isdir(WORK) else ():
            if name.startswith(('agent-', 'gateway-')):
                path = os.path.join(WORK, name)
                parts.append('--- %s (tail) ---\n%s' % (path, distributed.tail(path)))
        return '\n'.join(parts)

    def stop_processes(self, net):
        """The agents, the gateway and the API servers, all at once (SIGTERM
        by PID, then wait for each), while etcd is up: the agents revoke
        their leases."""
        nodes = kernels(net) if net is not None else []
        for node in nodes:
            node.stop_agent(wait=False)
        for server in self.api_servers:
            server.stop(wait=False)
        for node in nodes:
            node.stop_agent()
        for server in self.api_servers:
            server.stop()

    def teardown(self, net):
        """Agents and API servers first, while etcd is up; mininet; etcd."""
        self.stop_processes(net)
        if net is not None:
            net.stop()
        if self.etcd is not None:
            self.etcd.stop()


def kernels(net):
    """The mininet nodes playing hosts' kernels: hypervisors and gw1."""
    return [node for node in net.switches + net.hosts if isinstance(node, srv6.HostKernel)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--hosts', type=int, default=2, help='compute hosts (default 2)')
    parser.add_argument('--vms', type=int, default=3,
                        help='VMs per host, alternating projects alpha and beta (default 3: the matrix then has local, SRv6 and blocked cells)')
    parser.add_argument('--cli', action='store_true',
                        help='open the mininet CLI after the checks, before teardown')
    parser.add_argument('--distributed', action='store_true',
                        help='etcd, two API servers and an agent in every hypervisor '
                        'instead of one all-in-one srv6-ofapp')
    parser.add_argument('--verbose', action='store_true', help="mininet's own log (info)")
    args = parser.parse_args()
    if os.environ.get('SANDBOX_INNER') != '1':
        parser.error('run me through mininet/sandbox.sh: mininet cleans up destructively')
    if os.geteuid() != 0:
        parser.error('needs root')
    setLogLevel('info' if args.verbose else 'warning')

    deployment = Distributed() if args.distributed else AllInOne()
    net = None
    ok = False
    try:
        deployment.start()
        progress('registering projects alpha and beta (both %s), their ports, alpha\'s '
                 'srv6_encap_network to %s, the external network public (%s), a router per '
                 'project, ICMP from anywhere in both default security groups and a floating IP for '
                 'alpha over REST%s'
                 % (srv6.CIDR, srv6.SERVICE_IP, srv6.EXTERNAL_CIDR, ', through %s in turn'
                    % ' and '.join(deployment.apis.urls) if args.distributed else ''))
        topo = srv6.SRv6Topo(n=args.hosts, m=args.vms, api=deployment.apis,
                             agent=deployment.agent, gateway=deployment.gateway)
        progress('building mininet: %d hosts x %d VMs, spine, svc, network node %s (registered '
                 'once its links exist) and inet%s'
                 % (args.hosts, args.vms, srv6.NETWORK_NODE, deployment.building))
        # build=False, then build(): a half-built net is still ours to stop
        # (with --distributed its hypervisors have started their agents).
        net = Mininet(topo=topo, controller=deployment.mininet_controller,
                      autoSetMacs=False, waitConnected=False, build=False)
        net.build()
        progress(deployment.starting_hypervisors)
        net.start()
        ok = srv6.srv6demo(net, checks=deployment.checks)
        if args.cli:
            setLogLevel('output')   # the CLI prints its commands' output at this level
            CLI(net)
    except Exception as exc:
        progress('ERROR: %s' % exc)
        print(deployment.logs(), file=sys.stderr)
        ok = False
    finally:
        progress('tearing down')
        deployment.teardown(net)
    progress('done: %s' % ('all as expected' if ok else 'FAILED'))
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
