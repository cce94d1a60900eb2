"""The srv6-ofapp command: flags, config files, errors, signals."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
import requests

from tests.server import ROOT, Server, free_port


def run(args, timeout=30):
    return subprocess.run([sys.executable, '-m', 'srv6_ofapp'] + args, cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize('args, code, text', [
    (['--no-such-flag'], 2, 'unrecognized arguments: --no-such-flag'),
    (['--wsapi-port', 'many'], 2, 'Invalid Integer value: many'),
    (['--auth-strategy', 'open'], 2, 'value: open'),
    (['--role', 'router'], 2, 'value: router'),
    (['--config-file', '/nonexistent/srv6.conf'], 2, 'Failed to find some config files'),
    (['--store', 'sqlite:////proc/no/such/dir/state.db'], 1, 'is unavailable'),
    (['--store', 'mysql://db/srv6'], 1, "unsupported scheme 'mysql'"),
    (['no_such_app_module'], 1, 'cannot load application'),
    (['--role', 'gateway'], 2, 'needs at least one --cluster'),
    (['--role', 'gateway', '--cluster', 'east'], 2, 'expected NAME=STORE_URL'),
    (['--role', 'gateway', '--cluster', 'East-1=sqlite:///x'], 2, 'a cluster name is'),
    (['--role', 'gateway', '--cluster', 'e=sqlite:///x', '--cluster', 'e=sqlite:///y'], 2,
     'given twice'),
    (['--default-route-sid', 'ff02::1'], 2, 'default-route-sid'),
    (['--default-route-sid', '::'], 2, 'not a global unicast'),
])
def test_mistakes_are_one_line_and_a_nonzero_exit(args, code, text):
    result = run(args)
    assert result.returncode == code, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith('srv6-ofapp: error: ') and text in lines[0]
    assert 'Traceback' not in result.stderr + result.stdout


def test_help_lists_ryu_manager_flags():
    result = run(['--help'])
    assert result.returncode == 0
    for flag in ('--config-file', '--ofp-listen-host', '--ofp-tcp-listen-port',
                 '--wsapi-host', '--wsapi-port', '--verbose', '--log-file', '--store'):
        assert flag in result.stdout


def test_config_file_equivalents(tmp_path):
    port, ofp_port = free_port(), free_port()
    store = tmp_path / 'from-config.db'
    log = tmp_path / 'srv6.log'
    conf = tmp_path / 'srv6.conf'
    conf.write_text('[DEFAULT]\nwsapi_host = 127.0.0.1\nwsapi_port = %d\n'
                    'ofp_listen_host = 127.0.0.1\nofp_tcp_listen_port = %d\n'
                    'store = sqlite:///%s\nlog_file = %s\nverbose = true\n'
                    'global_physnet_mtu = 9000\n' % (port, ofp_port, store, log))
    proc = subprocess.Popen([sys.executable, '-m', 'srv6_ofapp', '--config-file', str(conf)],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = 'http://127.0.0.1:%d' % port
        for _ in range(200):
            try:
                requests.get(url + '/', timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.05)
        response = requests.post(url + '/v2.0/networks', json={'network': {'name': 'c'}})
        assert response.json()['network']['mtu'] == 9000 - 64
        assert store.exists()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
    assert 'REST API on http://127.0.0.1:%d/' % port in log.read_text()


@pytest.mark.parametrize('signum', [signal.SIGTERM, signal.SIGINT])
def test_signals_stop_cleanly(tmp_path, signum):
    server = Server(str(tmp_path / 'state.db')).start()
    try:
        requests.post(server.url + '/v2.0/networks', json={'network': {'name': 'n'}})
        server.proc.send_signal(signum)
        assert server.proc.wait(15) == 0
    finally:
        server.kill()


def test_a_gateway_with_an_etcd_cluster_stops_cleanly(tmp_path):
    # Its clusters are opened in threads of their own, and etcd's client
    # imports eventlet: a thread that imports it first never ends as far
    # as threading knows, and the stop waited for it (then SIGKILL).
    server = Server(str(tmp_path / 'state.db'), [
        '--role', 'gateway', '--host', 'gw1',
        '--cluster', 'south=etcd://127.0.0.1:9/south?deadline=1']).start()
    try:
        deadline = time.monotonic() + 20
        while 'cluster south: cannot serve yet' not in server.log():
            assert time.monotonic() < deadline, server.log()
            time.sleep(0.1)
        started = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        assert server.proc.wait(15) == 0
        assert time.monotonic() - started < 5, server.log()
    finally:
        server.kill()


def test_default_store_is_under_the_user_data_directory(tmp_path):
    env = dict(os.environ, XDG_DATA_HOME=str(tmp_path / 'data'), HOME=str(tmp_path))
    port = free_port()
    proc = subprocess.Popen([sys.executable, '-m', 'srv6_ofapp', '--wsapi-port', str(port),
                             '--ofp-tcp-listen-port', str(free_port()),
                             '--ofp-listen-host', '127.0.0.1'],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            try:
                requests.get('http://127.0.0.1:%d/' % port, timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.05)
        assert (tmp_path / 'data' / 'srv6_ofapp' / 'state.db').exists()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(15)


def test_console_script_and_app_loadable_by_name():
    script = shutil.which('srv6-ofapp', path=os.path.dirname(sys.executable))
    assert script, 'srv6-ofapp console script not installed beside %s' % sys.executable
    assert subprocess.run([script, '--help'], capture_output=True).returncode == 0
    from os_ken.base.app_manager import AppManager
    from srv6_ofapp.edge.app import SRv6OFApp
    assert AppManager().load_app('srv6_ofapp.edge.app') is SRv6OFApp


@pytest.mark.parametrize('name, expected', [
    ('api.conf', {'role': 'api', 'wsapi_port': 9696, 'auth_strategy': 'token',
                  'store': 'etcd://10.0.0.5:2379,10.0.0.6:2379,10.0.0.7:2379/srv6/cluster1'}),
    ('agent.conf', {'role': 'agent', 'host': 'compute1', 'ofp_listen_host': '127.0.0.1',
                    'ofp_tcp_listen_port': 6653, 'wsapi_port': 9697, 'report_interval': 30}),
    ('gateway.conf', {'role': 'gateway', 'host': 'netnode1', 'wsapi_port': 9698, 'cluster': [
        'east=etcd://10.0.0.5:2379,10.0.0.6:2379,10.0.0.7:2379/srv6/east',
        'west=etcd://10.1.0.5:2379,10.1.0.6:2379,10.1.0.7:2379/srv6/west']}),
])
def test_the_deployment_examples_are_valid_configuration(name, expected):
    """docs/deploy's files parse as srv6-ofapp reads them, to these values."""
    path = os.path.join(ROOT, 'docs', 'deploy', name)
    code = ('import json, sys; from srv6_ofapp import launcher; '
            'from srv6_ofapp.config import CONF; launcher.parse_args(sys.argv[1:]); '
            'print(json.dumps({k: CONF[k] for k in %r}))' % sorted(expected))
    result = subprocess.run([sys.executable, '-c', code, '--config-file', path], cwd=ROOT,
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == expected
