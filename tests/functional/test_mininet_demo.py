"""The mininet demo, end to end: the same sandboxed command as ``make demo``.

mininet/sandbox.sh runs it in its own mount, PID and network namespaces with
a private /run, /tmp and OVS, so mininet's destructive cleanup cannot reach
the machine. The demo exits 1 when any lease or ping is not as expected.
``--distributed`` runs the same network on etcd, two API servers and an
agent inside every hypervisor.
"""

import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SANDBOX = os.path.join(ROOT, 'mininet', 'sandbox.sh')
DEMO = os.path.join(ROOT, 'mininet', 'demo.py')


def unavailable_reason():
    if os.geteuid() != 0:
        return 'the mininet demo needs root (namespaces, mounts, OVS)'
    try:
        import mininet.net  # noqa: F401  (the venv symlink of Debian's package)
    except ImportError:
        return ('mininet is not importable from this python (apt-get install mininet; '
                'make install links it into .venv)')
    missing = [tool for tool in ('mnexec', 'unshare', 'socat', 'udhcpc', 'ovs-vswitchd',
                                 'ovsdb-server', 'ovs-vsctl', 'ovs-ofctl')
               if not shutil.which(tool)]
    if missing:
        return 'missing %s (Debian mininet, socat, udhcpc, openvswitch-switch)' % (
            ', '.join(missing))
    return None


pytestmark = pytest.mark.skipif(unavailable_reason() is not None,
                                reason=str(unavailable_reason()))


# Run after the demo, still inside its sandbox: what is left of it. The
# sandbox itself keeps its shells, its OVS (ovs-ctl's monitors, ovsdb-server,
# ovs-vswitchd) and its one network namespace.
SANDBOX_OWN = 'sh|sandbox.sh|ps|grep|sort|tr|monitor|ovsdb-server|ovs-vswitchd'
LEFTOVERS = (
    'echo "processes left: $(ps -e -o comm= | grep -v -x -E \'%s\' | sort | tr \'\\n\' \' \')."; '
    'echo "net namespaces: $(lsns -n -t net -o NS | wc -l)"; '
    'echo "etcd data: $(ls -A /tmp/srv6-demo/etcd 2>/dev/null | wc -l)"' % SANDBOX_OWN)


def run_demo(*args, timeout=180, leftovers=False):
    """The demo's exit code and output; ``leftovers``: then what is left in
    its sandbox (LEFTOVERS)."""
    # sandbox.sh execs unshare, so proc.pid is unshare's PID. unshare ignores
    # SIGINT and SIGTERM while it waits; SIGKILL makes --kill-child take the
    # whole sandbox (its PID 1, hence every process and namespace) down.
    command = [sys.executable, DEMO] + list(args)
    if leftovers:
        command = ['sh', '-c', '"$@"; rc=$?; %s; exit $rc' % LEFTOVERS, 'demo'] + command
    proc = subprocess.Popen([SANDBOX] + command, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        pytest.fail('the demo did not finish in %ss:\n%s' % (timeout, out))
    return proc.returncode, out


def test_two_host_demo_passes():
    rc, out = run_demo()
    assert rc == 0, out
    assert 'Reachability' in out and 'from \\ to' in out, out
    assert 'RESULT: PASS' in out, out
    for vm in ('a11', 'b12', 'a21', 'b22'):
        assert vm in out
    assert 'SRv6' in out and 'blocked' in out
    assert 'FAIL' not in out.split('Reachability', 1)[1].split('RESULT')[0]


def test_larger_demo_passes():
    rc, out = run_demo('--hosts', '3', '--vms', '3')
    assert rc == 0, out
    assert 'RESULT: PASS' in out, out
    assert 'local' in out.split('Reachability', 1)[1]


def distributed_unavailable():
    return None if shutil.which('etcd') else 'no etcd binary (Debian etcd-server)'


needs_etcd = pytest.mark.skipif(distributed_unavailable() is not None,
                                reason=str(distributed_unavailable()))


@needs_etcd
def test_distributed_demo_passes_and_leaves_nothing():
    rc, out = run_demo('--distributed', leftovers=True)
    assert rc == 0, out
    assert 'RESULT: PASS' in out, out
    matrix = out.split('Reachability', 1)[1].split('RESULT')[0]
    assert 'local' in matrix and 'SRv6' in matrix and 'blocked' in matrix, out
    assert 'FAIL' not in matrix, out
    agents = [line for line in out.splitlines() if line.startswith('Agents (GET /v2.0/agents')]
    assert agents and 'hv1 alive, hv2 alive;' in agents[0], out
    assert 'http://127.0.0.1:9696 (' in agents[0] and 'http://127.0.0.1:9697 (' in agents[0]
    # Every agent, API server and etcd member stopped, every hypervisor's
    # and VRF's namespace gone, the etcd data removed.
    assert 'processes left: .' in out, out
    assert 'net namespaces: 1\n' in out, out
    assert 'etcd data: 0\n' in out, out


@needs_etcd
def test_larger_distributed_demo_passes():
    rc, out = run_demo('--distributed', '--hosts', '3', '--vms', '3')
    assert rc == 0, out
    assert 'RESULT: PASS' in out, out
    assert 'hv1 alive, hv2 alive, hv3 alive;' in out, out
