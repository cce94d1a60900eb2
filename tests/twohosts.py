"""Two simulated hosts with SRv6 between them, on the real kernel.

Each host is a private Open vSwitch whose namespace plays the host's kernel
(its ``netns`` attribute), with an IPv6 underlay between the two and a
third node offering a service reachable over SRv6; two projects use the
same CIDR. Everything is registered over REST. Who drives the bridges and
kernels is the ``controllers`` object: one all-in-one process here, API
servers and per-host agents in tests/functional/test_distributed.py.
"""

import json
import os

from tests import netlab
from tests.conftest import Client
from tests.server import Server
from topology import naming
from topology import vrf as vrf_lib

V = '/v2.0'
SERVICE_IP = '10.200.0.5'
SERVICE_SID = 'fd00:0:0:9::a9fe:5'
RTPROT = '83'


def sh(*args, check=True):
    return netlab.sh(list(args), check=check)


class AllInOne:
    """One srv6-ofapp process (sqlite) drives both bridges and both kernels."""

    def __init__(self, tmp_path):
        self.server = Server(str(tmp_path / 'state.db'), ['--verbose'])

    def start(self):
        self.server.start()
        self.api = Client(self.server.url)

    def controller_port(self, host):
        return self.server.ofp_port

    def close(self):
        self.server.stop()


class TwoHosts:
    """Two simulated hosts with an underlay and a service node, driven by
    ``controllers`` (AllInOne, or tests/functional/test_distributed.py's
    API servers and agents)."""

    def __init__(self, controllers):
        self.lab = netlab.Lab()
        self.controllers = controllers
        self.namespaces = []
        try:
            self._build()
        except BaseException:
            self.close()
            raise

    def _build(self):
        self.controllers.start()
        self.api = self.controllers.api
        self.ovs = {}
        for n in (1, 2):
            ovs = netlab.OvsInstance().start()
            self.lab._objects.append(ovs)
            self.ovs[n] = ovs
        ns1, ns2 = self.ovs[1].netns, self.ovs[2].netns
        # The underlay: hv1 -- hv2, and hv1 -- the service node.
        self.service_ns = netlab.unique('svc')
        netlab.netns_add(self.service_ns)
        self.namespaces.append(self.service_ns)
        sh('ip', 'link', 'add', 'u1', 'netns', ns1, 'type', 'veth', 'peer', 'name', 'u2',
           'netns', ns2)
        sh('ip', 'link', 'add', 's1', 'netns', ns1, 'type', 'veth', 'peer', 'name', 's3',
           'netns', self.service_ns)
        for ns, dev, address in ((ns1, 'u1', 'fd00::1/64'), (ns2, 'u2', 'fd00::2/64'),
                                 (ns1, 's1', 'fd01::1/64'),
                                 (self.service_ns, 's3', 'fd01::3/64')):
            sh('ip', '-n', ns, 'addr', 'add', address, 'dev', dev, 'nodad')
            sh('ip', '-n', ns, 'link', 'set', dev, 'up')
        sh('ip', '-n', self.service_ns, 'link', 'set', 'lo', 'up')
        for ns in (ns1, ns2, self.service_ns):
            sh('ip', 'netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv6.conf.all.forwarding=1',
               'net.ipv4.ip_forward=1')
        # Reaching each SID prefix is the fabric's job: static routes here.
        sh('ip', '-n', ns1, '-6', 'route', 'add', 'fd00:0:0:2::/64', 'via', 'fd00::2')
        sh('ip', '-n', ns1, '-6', 'route', 'add', 'fd00:0:0:9::/64', 'via', 'fd01::3')
        sh('ip', '-n', ns2, '-6', 'route', 'add', 'fd00:0:0:1::/64', 'via', 'fd00::1')
        sh('ip', '-n', self.service_ns, '-6', 'route', 'add', 'fd00:0:0:1::/64',
           'via', 'fd01::1')
        # The service: an address behind an End.DX4 SID.
        sh('ip', '-n', self.service_ns, 'addr', 'add', SERVICE_IP + '/32', 'dev', 'lo')
        sh('ip', '-n', self.service_ns, '-6', 'route', 'add', SERVICE_SID + '/128', 'encap',
           'seg6local', 'action', 'End.DX4', 'nh4', SERVICE_IP, 'dev', 's3')
        sh('ip', '-n', self.service_ns, 'sr', 'tunsrc', 'set', SERVICE_SID)

        self.bridges = {}
        for n, ovs in self.ovs.items():
            dpid = '00000000000000d%d' % n
            self.bridges[n] = ovs.add_bridge(dpid=dpid,
                                             controller_port=self.controllers.controller_port(n))
            self.api.create('host', name='hv%d' % n, datapath_id=dpid,
                            segment_node_id='fd00:0:0:%d::' % n, underlay_ip='fd00::%d' % n,
                            netns=ovs.netns, ovsdb='unix:' + ovs.db_sock,
                            bridge=self.bridges[n])
        for n, ovs in self.ovs.items():
            ovs.wait_for_flows(self.bridges[n], lambda flows: len(flows) >= 4)

    def network(self, project):
        network = self.api.post(V + '/networks', {'network': {'name': project}},
                                headers={'X-Project-Id': project}).json()['network']
        self.api.create('subnet', network_id=network['id'], cidr='10.0.0.0/24')
        return network

    def vm(self, network, host, ip):
        port = self.api.create('port', network_id=network['id'],
                               fixed_ips=[{'ip_address': ip}],
                               **{'binding:host_id': 'hv%d' % host})
        vm = netlab.VM(self.ovs[host], self.bridges[host], port_id=port['id'],
                       mac=port['mac_address'])
        self.lab._objects.append(vm)
        vm.create()
        vm.port, vm.ip, vm.host = port, ip, host
        return vm

    def vrf_ns(self, host, network):
        return '%s-%s' % (self.ovs[host].netns,
                          naming.vrf_name(network['tenant_id'], network['id']))

    def our_routes(self, ns):
        out = sh('ip', '-n', ns, '-j', 'route', 'show', 'proto', RTPROT).stdout
        out6 = sh('ip', '-n', ns, '-6', '-j', 'route', 'show', 'proto', RTPROT).stdout
        return json.loads(out or '[]') + json.loads(out6 or '[]')

    def wait_for_route(self, ns, dst, present=True, timeout=20):
        def check():
            if not os.path.exists('/var/run/netns/' + ns):
                return not present
            # ip -j prints host routes without their /32 (/128).
            host = dst.rsplit('/', 1)[0]
            return any(r['dst'] in (dst, host) for r in self.our_routes(ns)) == present
        netlab._wait(check, timeout, '%s %s in %s' % (dst, 'present' if present else 'gone',
                                                      ns))

    def close(self):
        self.lab.close()
        self.controllers.close()
        # VRF namespaces the agent made for the simulated hosts.
        for ovs in getattr(self, 'ovs', {}).values():
            for name in os.listdir('/var/run/netns'):
                if ovs.netns and name.startswith(ovs.netns + '-vrf'):
                    sh('ip', 'netns', 'del', name, check=False)
        for ns in self.namespaces:
            netlab.netns_delete(ns)


def make_tenants(hosts):
    """Projects alpha and beta, both 10.0.0.0/24, a VM of each on each host;
    alpha's encap network reaches the service."""
    alpha, beta = hosts.network('alpha'), hosts.network('beta')
    vms = {
        'a1': hosts.vm(alpha, 1, '10.0.0.11'), 'a2': hosts.vm(alpha, 2, '10.0.0.12'),
        'b1': hosts.vm(beta, 1, '10.0.0.11'), 'b2': hosts.vm(beta, 2, '10.0.0.12'),
    }
    hosts.api.post(V + '/srv6_encap_networks', {'srv6_encap_network': {
        'network_id': alpha['id'], 'tenant_id': 'alpha',
        'encap_rules': [{'destination': SERVICE_IP + '/32', 'nexthop': SERVICE_SID}]}})
    for vm in vms.values():
        assert vm.udhcpc().ip == vm.ip
    # The service answers alpha's VM on hv1 through alpha's VRF there.
    profile = hosts.api.get(V + '/ports/' + vms['a1'].port['id']).json()['port'][
        'binding:profile']
    a1_sid = vrf_lib.sid(profile['segment_node_id'], profile['vrf_ip'])
    sh('ip', '-n', hosts.service_ns, 'route', 'add', '10.0.0.11/32', 'encap', 'seg6', 'mode',
       'encap', 'segs', a1_sid, 'dev', 's3')
    for vm in vms.values():
        hosts.wait_for_route(hosts.vrf_ns(vm.host, alpha if vm in (vms['a1'], vms['a2'])
                                          else beta), vm.ip + '/32')
    return {'alpha': alpha, 'beta': beta, 'vms': vms}


