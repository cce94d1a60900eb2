"""The documents of a small cloud with a router, as the L3 API writes them:
a compute host hv1 with a VM of project alpha's network, a network node
gw1 with the external network 203.0.113.0/24 (gateway .1, the upstream
router), and alpha's router on gw1 with an interface on the network and a
gateway on the external network.  For tests that drive the dataplane from
a Replica without a running API."""

import uuid

from srv6_ofapp.replica import Replica
from topology import naming


def uid():
    return str(uuid.uuid4())


def world(fips=(), enable_snat=True, extra_ports=(), netns=None, external_interface='ext0',
          router_id=None, project='alpha', cidr='10.0.0.0/24', compute_ns=None):
    """{'docs': {kind: [doc]}, and the main documents by name}; ``fips``:
    (floating IP, fixed IP) pairs, each VM's fixed IP a port bound to hv1."""
    hv1 = {'id': uid(), 'name': 'hv1', 'segment_node_id': 'fd00:0:0:1::', 'datapath_id': '1',
           'vrf_cidr': '169.254.0.0/16', 'netns': compute_ns}
    gw1 = {'id': uid(), 'name': 'gw1', 'segment_node_id': 'fd00:0:0:8::', 'datapath_id': '8',
           'vrf_cidr': '169.254.0.0/16', 'role': 'network',
           'external_interface': external_interface, 'netns': netns}
    net = {'id': uid(), 'tenant_id': project, 'name': project}
    base = cidr.rsplit('.', 1)[0]
    subnet = {'id': uid(), 'network_id': net['id'], 'cidr': cidr,
              'gateway_ip': base + '.1', 'created_at': 't'}
    ext = {'id': uid(), 'tenant_id': 'admin', 'router:external': True, 'name': 'public'}
    ext_subnet = {'id': uid(), 'network_id': ext['id'], 'cidr': '203.0.113.0/24',
                  'gateway_ip': '203.0.113.1', 'created_at': 't'}
    router_id = router_id or uid()
    gw_port = {'id': uid(), 'network_id': ext['id'], 'binding:host_id': '',
               'mac_address': 'fa:16:3e:00:aa:01', 'device_owner': 'network:router_gateway',
               'fixed_ips': [{'subnet_id': ext_subnet['id'], 'ip_address': '203.0.113.10'}]}
    interface_port = {'id': uid(), 'network_id': net['id'], 'binding:host_id': '',
                      'device_owner': 'network:router_interface',
                      'fixed_ips': [{'subnet_id': subnet['id'], 'ip_address': base + '.1'}]}
    vrf = naming.vrf_name(project, net['id'])

    def vm(ip):
        return {'id': uid(), 'network_id': net['id'], 'binding:host_id': 'hv1',
                'mac_address': 'fa:16:3e:00:00:%02x' % int(ip.rsplit('.', 1)[1]),
                'fixed_ips': [{'subnet_id': subnet['id'], 'ip_address': ip}]}
    vms = [vm(base + '.5')] + [vm(ip) for ip in extra_ports]
    router = {'id': router_id, 'name': 'r1', 'tenant_id': project, 'admin_state_up': True,
              'host': 'gw1', 'gw_port_id': gw_port['id'],
              'interfaces': [{'port_id': interface_port['id'], 'subnet_id': subnet['id'],
                              'network_id': net['id']}],
              'external_gateway_info': {
                  'network_id': ext['id'], 'enable_snat': enable_snat,
                  'external_fixed_ips': [{'subnet_id': ext_subnet['id'],
                                          'ip_address': '203.0.113.10'}]}}
    ports_by_ip = {p['fixed_ips'][0]['ip_address']: p for p in vms}
    floatingips = [{'id': uid(), 'floating_ip_address': fip, 'fixed_ip_address': fixed,
                    'floating_network_id': ext['id'], 'router_id': router_id,
                    'port_id': ports_by_ip[fixed]['id'], 'tenant_id': project}
                   for fip, fixed in fips]
    docs = {
        'hosts': [hv1, gw1],
        'networks': [net, ext],
        'subnets': [subnet, ext_subnet],
        'ports': vms + [gw_port, interface_port],
        'vrfallocations': [{'host': 'hv1', 'network_id': net['id'], 'vrf_ip': '169.254.0.1',
                            'vrf': vrf}],
        'routers': [router],
        'routerallocations': [{'host': 'gw1', 'router_id': router_id,
                               'vrf_ip': '169.254.0.9'}],
        'floatingips': floatingips,
    }
    return {'docs': docs, 'hv1': hv1, 'gw1': gw1, 'network': net, 'subnet': subnet,
            'external': ext, 'router': router, 'vms': vms, 'vrf': vrf}


def replica(world):
    return Replica.from_docs(world['docs'])


def write(store, world):
    """Put the world's documents into ``store`` (as the plugin would have)."""
    from srv6_ofapp.replica import Replica

    def txn_fn(txn):
        for kind, docs in world['docs'].items():
            for doc in docs:
                txn.put(kind, Replica._key(kind, doc), doc)
    store.transact(txn_fn)
