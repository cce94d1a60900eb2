"""The srv6_ofapp demo: srv6-ofapp plus a mininet network, end to end.

Run inside the sandbox (mininet/sandbox.sh), with the virtualenv's python::

    mininet/sandbox.sh .venv/bin/python mininet/demo.py [--hosts N --vms M] [--cli]

It starts srv6-ofapp on a sqlite store in the sandbox's private /tmp, builds
the SRv6Topo of mininet/srv6.py (registering everything over REST), lets the
VMs take DHCP, prints the VM table and the reachability matrix, and exits 1
when any lease or ping differs from what is expected.
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--hosts', type=int, default=2, help='compute hosts (default 2)')
    parser.add_argument('--vms', type=int, default=3,
                        help='VMs per host, alternating projects alpha and beta (default 3: the matrix then has local, SRv6 and blocked cells)')
    parser.add_argument('--cli', action='store_true',
                        help='open the mininet CLI after the checks, before teardown')
    parser.add_argument('--verbose', action='store_true', help="mininet's own log (info)")
    args = parser.parse_args()
    if os.environ.get('SANDBOX_INNER') != '1':
        parser.error('run me through mininet/sandbox.sh: mininet cleans up destructively')
    if os.geteuid() != 0:
        parser.error('needs root')
    setLogLevel('info' if args.verbose else 'warning')

    progress('starting srv6-ofapp (store sqlite:///%s/state.db, REST :%d, OpenFlow :%d)'
             % (WORK, API_PORT, OFP_PORT))
    controller, api = start_controller()
    net = None
    ok = False
    try:
        progress('registering projects alpha and beta (both %s), their ports and alpha\'s '
                 'srv6_encap_network to %s over REST' % (srv6.CIDR, srv6.SERVICE_IP))
        topo = srv6.SRv6Topo(n=args.hosts, m=args.vms, api=api)
        progress('building mininet: %d hosts x %d VMs, spine, svc' % (args.hosts, args.vms))
        net = Mininet(topo=topo, controller=functools.partial(
            RemoteController, ip='127.0.0.1', port=OFP_PORT), autoSetMacs=False,
            waitConnected=False)
        progress('starting hypervisors (own ovsdb-server + ovs-vswitchd each, host '
                 'registered over REST, then controller)')
        net.start()
        ok = srv6.srv6demo(net)
        if args.cli:
            setLogLevel('output')   # the CLI prints its commands' output at this level
            CLI(net)
    except Exception as exc:
        progress('ERROR: %s' % exc)
        print('--- srv6-ofapp log (tail) ---\n' + controller_log(), file=sys.stderr)
        ok = False
    finally:
        progress('tearing down')
        stop_controller(controller)
        if net is not None:
            net.stop()
    progress('done: %s' % ('all as expected' if ok else 'FAILED'))
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
