"""The mininet demo, end to end: the same sandboxed command as ``make demo``.

mininet/sandbox.sh runs it in its own mount, PID and network namespaces with
a private /run, /tmp and OVS, so mininet's destructive cleanup cannot reach
the machine. The demo exits 1 when any lease or ping is not as expected,
north-south included: the network node gw1's routers (SNAT, a floating IP)
between the VMs and the internet host inet, which captures what reaches it
as every VM captures what reaches it from inet. ``--distributed`` runs the same
network on etcd, two API servers, an agent inside every hypervisor and a
gateway inside gw1.
"""

import os
import re
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
                                 'ovsdb-server', 'ovs-vsctl', 'ovs-ofctl', 'nft', 'tcpdump')
               if not shutil.which(tool)]
    if missing:
        return 'missing %s (Debian mininet, socat, udhcpc, openvswitch-switch, nftables, ' \
            'tcpdump)' % ', '.join(missing)
    return None


pytestmark = pytest.mark.skipif(unavailable_reason() is not None,
                                reason=str(unavailable_reason()))


# Run after the demo, still inside its sandbox: what is left of it. The
# sandbox itself keeps its shells, its OVS (ovs-ctl's monitors, ovsdb-server,
# ovs-vswitchd) and its one network namespace. lsns counts the namespaces a
# process is in; those held by a name in /run/netns (the hosts', VRFs',
# routers': gw1-rtr... of the all-in-one controller) are listed apart.
# gw1's br-ex lives in gw1's namespace, and gw1's own /run/netns (the
# distributed gateway's demo-rtr...) in gw1's mount namespace: both go
# with gw1's namespaces.
SANDBOX_OWN = 'sh|sandbox.sh|ps|grep|sort|tr|monitor|ovsdb-server|ovs-vswitchd'
LEFTOVERS = (
    'echo "processes left: $(ps -e -o comm= | grep -v -x -E \'%s\' | sort | tr \'\\n\' \' \')."; '
    'echo "net namespaces: $(lsns -n -t net -o NS | wc -l)"; '
    'echo "net namespaces held by: $(lsns -n -t net -o PID,COMMAND | tr -s \' \' | tr \'\\n\' \';\')"; '
    'echo "named namespaces: $(ls -A /run/netns | tr \'\\n\' \' \')."; '
    'echo "links: $(ip -o link show | cut -d: -f2 | tr -d \' \' | grep -v -x lo | tr \'\\n\' \' \')."; '
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


def matrix_of(out):
    """{(row, column): cell} of the demo's reachability matrix (its columns
    are left-aligned: each cell starts where its column's name does)."""
    corner = 'from \\ to'
    lines = out[out.index(corner):].split('\n\n', 1)[0].splitlines()
    header = corner.replace(' ', '_') + lines[0][len(corner):]
    columns = [(m.start(), m.group()) for m in re.finditer(r'\S+', header)]
    ends = [start for start, _ in columns[1:]] + [None]
    cells = {}
    for line in lines[2:]:
        row = line[:columns[1][0]].strip()
        for (start, name), end in list(zip(columns, ends))[1:]:
            cells[row, name] = line[start:end].strip()
    return cells


def vm_table_of(out):
    """{VM: {column: cell}} of the demo's VM table (its column names have
    spaces: the dashes under them give each column's extent)."""
    lines = out[out.index('\nVM '):].strip('\n').split('\n\n', 1)[0].splitlines()
    extents = [m.span() for m in re.finditer(r'-+', lines[1])]
    names = [lines[0][a:b].strip() for a, b in extents]
    return {line.split()[0]: {name: line[a:b].strip() for name, (a, b) in zip(names, extents)}
            for line in lines[2:]}


def assert_north_south(out, vms, fip='a11'):
    """Every VM out to ext through SNAT (its floating IP for ``fip``); inet
    reaches ``fip`` at its floating IP, the VM getting the pings at its
    fixed IP, and no other VM (blocked: no reply and nothing at the VM)."""
    cells = matrix_of(out)
    for vm in vms:
        assert cells[vm, 'ext'] == ('FIP' if vm == fip else 'SNAT'), out
        assert cells['inet', vm] == ('FIP' if vm == fip else 'blocked'), out
    assert not [cell for cell in cells.values() if cell.startswith('FAIL')], out
    table = vm_table_of(out)
    assert sorted(table) == sorted(vms), out
    floating = table[fip]['floating IP']
    assert floating.startswith('203.0.113.'), out
    assert table[fip]['ext sees it as'] == floating, out
    assert table[fip]['inet reaches it at'] == table[fip]['leased'], out
    # SNAT: the others seen as their project's router (the Routers lines).
    routers = dict(re.findall(r'^  r-\S+ \(project (\w+)\): external ([0-9.]+),', out, re.M))
    assert sorted(routers) == ['alpha', 'beta'] and routers['alpha'] != routers['beta'], out
    for vm in vms:
        if vm != fip:
            assert table[vm]['floating IP'] == '-' and table[vm]['inet reaches it at'] == '-', out
            assert table[vm]['ext sees it as'] == routers[table[vm]['project']], out


def test_two_host_demo_passes_and_leaves_nothing():
    rc, out = run_demo(leftovers=True)
    assert rc == 0, out
    assert 'Reachability' in out and 'from \\ to' in out, out
    assert 'RESULT: PASS' in out, out
    cells = matrix_of(out)
    assert cells['a11', 'a13'] == 'local' and cells['a11', 'a21'] == 'SRv6', out
    assert cells['a11', 'b12'] == 'blocked' and cells['b12', 'svc'] == 'blocked', out
    assert_north_south(out, ('a11', 'b12', 'a13', 'a21', 'b22', 'a23'))
    # The all-in-one controller built the routers from outside gw1.
    assert out.count('namespace gw1-rtr') == 2, out
    # Every VRF and router namespace, gw1 (and its br-ex) and every
    # hypervisor gone, every link deleted.
    assert 'processes left: .' in out, out
    assert 'net namespaces: 1\n' in out, out
    assert 'named namespaces: .' in out, out
    assert 'links: .' in out, out


def test_larger_demo_passes():
    rc, out = run_demo('--hosts', '3', '--vms', '3')
    assert rc == 0, out
    assert 'RESULT: PASS' in out, out
    assert 'local' in out.split('Reachability', 1)[1]
    assert_north_south(out, ('a11', 'b12', 'a13', 'a21', 'b22', 'a23', 'a31', 'b32', 'a33'))


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
    assert_north_south(out, ('a11', 'b12', 'a13', 'a21', 'b22', 'a23'))
    # gw1's gateway built the routers, in gw1, named by its cluster.
    assert out.count('namespace demo-rtr') == 2, out
    agents = [line for line in out.splitlines() if line.startswith('Agents (GET /v2.0/agents')]
    assert agents and 'gw1 alive (L3 agent), hv1 alive, hv2 alive;' in agents[0], out
    assert 'http://127.0.0.1:9696 (' in agents[0] and 'http://127.0.0.1:9697 (' in agents[0]
    # Every agent, the gateway, every API server and etcd member stopped,
    # every hypervisor's, VRF's and router's namespace gone (gw1's br-ex
    # with gw1), every link deleted, the etcd data removed.
    assert 'processes left: .' in out, out
    assert 'net namespaces: 1\n' in out, out
    assert 'named namespaces: .' in out, out
    assert 'links: .' in out, out
    assert 'etcd data: 0\n' in out, out


@needs_etcd
def test_larger_distributed_demo_passes():
    rc, out = run_demo('--distributed', '--hosts', '3', '--vms', '3')
    assert rc == 0, out
    assert 'RESULT: PASS' in out, out
    assert 'gw1 alive (L3 agent), hv1 alive, hv2 alive, hv3 alive;' in out, out
    assert_north_south(out, ('a11', 'b12', 'a13', 'a21', 'b22', 'a23', 'a31', 'b32', 'a33'))
