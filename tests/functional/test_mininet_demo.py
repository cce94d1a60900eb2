"""The mininet demo, end to end: the same sandboxed command as ``make demo``.

mininet/sandbox.sh runs it in its own mount, PID and network namespaces with
a private /run, /tmp and OVS, so mininet's destructive cleanup cannot reach
the machine. The demo exits 1 when any lease or ping is not as expected.
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


def run_demo(*args, timeout=180):
    # sandbox.sh execs unshare, so proc.pid is unshare's PID. unshare ignores
    # SIGINT and SIGTERM while it waits; SIGKILL makes --kill-child take the
    # whole sandbox (its PID 1, hence every process and namespace) down.
    proc = subprocess.Popen([SANDBOX, sys.executable, DEMO] + list(args), cwd=ROOT,
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
