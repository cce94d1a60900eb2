"""Process roles: an API server and a host's agent as separate processes on
one store, the agents API (with the real openstack CLI), an agent killed
with -9 under traffic, and agents that meet their host late or under a new
datapath id.  Real processes, a real OVS bridge, VMs in namespaces; the
store is one sqlite file both processes share (the etcd backend runs the
same tests in tests/functional/test_distributed.py)."""

import json
import os
import re
import subprocess
import time

import pytest

from tests import netlab
from tests.conftest import Client
from tests.server import ROOT, Server

V = '/v2.0'
DPID = '00000000000000a1'

pytestmark = pytest.mark.skipif(netlab.unavailable_reason() is not None,
                                reason=str(netlab.unavailable_reason()))

# Quick heartbeats, so that death shows within seconds.
AGENT_TIMING = ['--report-interval', '1', '--agent-down-time', '3']


def host_body(name, dpid):
    number = int(dpid, 16)
    return dict(name=name, datapath_id=dpid, segment_node_id='fd00:0:0:%x::' % number,
                underlay_ip='fd00::%x' % number)


def agents(api):
    response = api.get(V + '/agents')
    assert response.status_code == 200, response.text
    return {agent['host']: agent for agent in response.json()['agents']}


class Cloud:
    """An API server and the agent of host hv1, on one store, and a private OVS."""

    def __init__(self, tmp_path):
        store = str(tmp_path / 'state.db')
        self.api_server = Server(store, ['--role', 'api'], log_path=store + '.api.log')
        self.agent = Server(store, ['--role', 'agent', '--host', 'hv1', '--verbose']
                            + AGENT_TIMING, log_path=store + '.agent.log')
        self.lab = netlab.Lab()
        try:
            self.api_server.start()
            self.api = Client(self.api_server.url)
            # Its kernel is the lab's OVS namespace (netns), where the agent
            # makes its VRFs: not the machine's own namespace.
            self.api.create('host', netns=self.lab.ovs.netns, **host_body('hv1', DPID))
            self.agent.start()
            self.bridge = self.lab.ovs.add_bridge(dpid=DPID,
                                                  controller_port=self.agent.ofp_port)
            self.lab.ovs.wait_for_flows(self.bridge, lambda flows: len(flows) >= 4)
            network = self.api.create('network', name='net')
            self.api.create('subnet', network_id=network['id'], cidr='10.0.0.0/24')
            self.network = network
        except BaseException:
            self.close()
            raise

    def vm(self, name, bridge=None, host='hv1'):
        port = self.api.create('port', network_id=self.network['id'], name=name,
                               **{'binding:host_id': host})
        vm = self.lab.vm(bridge or self.bridge, port_id=port['id'], mac=port['mac_address'])
        vm.port, vm.ip = port, port['fixed_ips'][0]['ip_address']
        return vm

    def wait_alive(self, host, alive=True, timeout=20):
        netlab._wait(lambda: agents(self.api).get(host, {}).get('alive') is alive,
                     timeout, 'agent of %s alive=%s' % (host, alive))
        return agents(self.api)[host]

    def close(self):
        self.lab.close()
        self.agent.stop()
        self.api_server.stop()


@pytest.fixture(scope='module')
def cloud(tmp_path_factory):
    cloud = Cloud(tmp_path_factory.mktemp('roles'))
    yield cloud
    cloud.close()


def test_the_agent_is_listed_alive_with_its_switch(cloud):
    agent = cloud.wait_alive('hv1')
    assert (agent['agent_type'], agent['binary']) == ('SRv6 OpenFlow agent', 'srv6-ofapp')
    netlab._wait(lambda: agents(cloud.api)['hv1']['configurations'].get('switch_connected'),
                 10, 'switch reported')
    configurations = agents(cloud.api)['hv1']['configurations']
    assert configurations['role'] == 'agent'
    assert configurations['datapath_id'] == DPID and configurations['flows'] >= 4
    assert cloud.api.post(V + '/agents', {'agent': {}}).status_code == 405


def test_the_openstack_cli_lists_the_agents(cloud):
    cloud.wait_alive('hv1')
    result = subprocess.run(
        [os.path.join(os.path.dirname(os.sys.executable), 'openstack'), '--os-auth-type',
         'none', '--os-endpoint', cloud.api_server.url + '/', 'network', 'agent', 'list',
         '-f', 'json'], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    [row] = [a for a in json.loads(result.stdout) if a['Host'] == 'hv1']
    assert row['Agent Type'] == 'SRv6 OpenFlow agent' and row['Alive'] is True
    assert row['State'] is True and row['Binary'] == 'srv6-ofapp'


def test_the_agent_serves_its_host_from_the_store(cloud):
    vm = cloud.vm('one')
    try:
        assert vm.udhcpc().ip == vm.ip  # answered by the agent, from the shared store
        netlab._wait(lambda: cloud.api.get(V + '/ports/' + vm.port['id']).json()['port']
                     ['status'] == 'ACTIVE', 10, 'port ACTIVE')
    finally:
        vm.destroy()


def test_a_switch_of_another_host_is_not_this_agents(cloud):
    cloud.api.create('host', **host_body('hv2', '00000000000000a2'))
    other = cloud.lab.ovs.add_bridge(dpid='00000000000000a2',
                                     controller_port=cloud.agent.ofp_port)
    flows = cloud.lab.ovs.wait_for_flows(other, lambda flows: len(flows) >= 4)
    assert all(f['actions'] == 'drop' and f['priority'] == 0 for f in flows)


def test_killed_agent_dies_without_disturbing_traffic_and_restarts_hitless(cloud):
    first, second = cloud.vm('a'), cloud.vm('b')
    try:
        for vm in (first, second):
            vm.udhcpc()
        assert first.ping(second.ip)
        ping = first.spawn(['ping', '-n', '-i', '0.02', '-c', '300', '-W', '1', second.ip],
                           'kill-ping.log')
        time.sleep(0.5)
        cloud.agent.kill()
        cloud.wait_alive('hv1', alive=False)
        deleted = cloud.api.delete(V + '/agents/' + agents(cloud.api)['hv1']['id'])
        assert deleted.status_code == 204  # a dead agent may be deleted
        offset = cloud.agent.log_size()
        cloud.agent.start()
        netlab._wait(lambda: 'datapath %s synced' % DPID in cloud.agent.log_since(offset),
                     20, 'switch synced')
        assert re.search(r'datapath %s synced: \d+ flows held, 0 messages sent' % DPID,
                         cloud.agent.log_since(offset))
        assert ping.wait(30) == 0
        summary = open(os.path.join(first.dir, 'kill-ping.log')).read()
        assert ' 0% packet loss' in summary, summary
        agent = cloud.wait_alive('hv1')
        conflict = cloud.api.delete(V + '/agents/' + agent['id'])
        assert conflict.status_code == 409
        assert conflict.json()['NeutronError']['type'] == 'AgentInUse'
    finally:
        first.destroy()
        second.destroy()


def test_an_agent_started_before_its_host_is_registered_converges(cloud, tmp_path):
    late = Server(cloud.agent.store_path, ['--role', 'agent', '--host', 'hv3'] + AGENT_TIMING,
                  log_path=str(tmp_path / 'hv3.log'))
    late.start()
    try:
        bridge = cloud.lab.ovs.add_bridge(dpid='00000000000000a3',
                                          controller_port=late.ofp_port)
        cloud.lab.ovs.wait_for_flows(bridge, lambda flows: len(flows) >= 4)
        assert cloud.wait_alive('hv3')['configurations']['switch_connected'] is False
        vm = cloud.vm('late', bridge=bridge, host='hv3')
        try:
            assert vm.udhcpc(timeout=2, check=False) is None  # not its host yet
            cloud.api.create('host', netns=cloud.lab.ovs.netns,
                             **host_body('hv3', '00000000000000a3'))
            assert vm.udhcpc().ip == vm.ip
            # Re-registered under a new datapath id: the new bridge is served,
            # the old one goes back to drop-all.
            new_bridge = cloud.lab.ovs.add_bridge(dpid='00000000000000b3',
                                                  controller_port=late.ofp_port)
            host = cloud.api.get(V + '/hosts', params={'name': 'hv3'}).json()['hosts'][0]
            cloud.api.put(V + '/hosts/' + host['id'],
                          {'host': {'datapath_id': '00000000000000b3'}})
            cloud.lab.ovs.wait_for_flows(bridge, lambda flows: all(
                f['priority'] == 0 and f['actions'] == 'drop' for f in flows))
            moved = cloud.vm('moved', bridge=new_bridge, host='hv3')
            try:
                assert moved.udhcpc().ip == moved.ip
            finally:
                moved.destroy()
        finally:
            vm.destroy()
    finally:
        late.stop()
    cloud.wait_alive('hv3', alive=False)  # a clean stop: dead at once


def test_the_api_role_runs_no_apps_and_refuses_some(tmp_path):
    result = subprocess.run([os.sys.executable, '-m', 'srv6_ofapp', '--role', 'api',
                             '--store', 'sqlite:///%s' % (tmp_path / 's.db'),
                             'os_ken.app.simple_switch_13'],
                            capture_output=True, text=True, timeout=30, cwd=ROOT)
    assert result.returncode == 2
    assert 'runs no applications' in result.stderr


def test_an_agent_serves_only_metrics(cloud):
    metrics = Client(cloud.agent.url).get('/metrics')
    assert metrics.status_code == 200 and 'srv6_ofapp_events_total' in metrics.text
    assert Client(cloud.agent.url).get(V + '/networks').status_code == 404
