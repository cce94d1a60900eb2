"""Every flow of one switch, in a world that exercises the security groups'
cases at once, against a list frozen in tests/unit/data/: a change to how
the flows are computed (e.g. for speed) must not change one of them.

The world: three networks on hv1 (two with the same CIDR, in two
projects) and ports on hv2 that are only remote-group members; stateful
and stateless groups; plain rules of every shape (any protocol, TCP/UDP/SCTP
ports and ranges, ICMP type and code, a numbered protocol, remote prefixes
/0 /8 /32, an IPv6 rule the edge ignores); remote-group rules in both
directions whose port ranges overlap and must be split, a group that is its
own remote group, and a remote group nobody is in; ports with port security
off, no group, a missing group, allowed address pairs, two addresses, and
one administratively down.

When a flow should change on purpose, write the list again (and read its
diff):

    .venv/bin/python -m tests.unit.test_sg_flows_frozen
"""

import os
import uuid

from srv6_ofapp.edge import pipeline
from srv6_ofapp.replica import Replica
from topology import naming
from topology.switch_ports import SwitchPorts

EXPECTED = os.path.join(os.path.dirname(__file__), 'data', 'sg_flows_frozen.txt')
CONFIG = pipeline.EdgeConfig('fa:16:3f:00:00:01')


def uid(name):
    """A stable id, so that the flows (cookies, tags, conjunction ids) are."""
    return str(uuid.uuid5(uuid.NAMESPACE_DNS, name + '.sg-frozen'))


DEFAULT, WEB, APP, DB, NOBODY = uid('default'), uid('web'), uid('app'), uid('db'), uid('nobody')
OPEN, CLOSED = uid('open'), uid('closed')          # stateless
MISSING = uid('missing')                            # named by a port, not in the model


def world():
    """(replica, ofports) of the world the module's docstring describes."""
    created = iter('2026-01-01T00:00:%02dZ' % n for n in range(60))
    networks = [{'id': uid('net%d' % n), 'tenant_id': 'p%d' % (1 + n // 2), 'name': ''}
                for n in range(3)]
    subnets = [{'id': uid('sub%d' % n), 'network_id': net['id'],
                'cidr': '10.0.%d.0/24' % (0 if n == 2 else n), 'ip_version': 4,
                'gateway_ip': '10.0.%d.1' % (0 if n == 2 else n), 'enable_dhcp': True}
               for n, net in enumerate(networks)]

    def group(group_id, stateful=True):
        return {'id': group_id, 'tenant_id': 'p1', 'stateful': stateful,
                'created_at': next(created)}

    groups = [group(g) for g in (DEFAULT, WEB, APP, DB, NOBODY)] + [
        group(OPEN, stateful=False), group(CLOSED, stateful=False)]
    rules = []

    def rule(group_id, direction, **extra):
        rules.append(dict({'id': uid('rule%d' % len(rules)), 'security_group_id': group_id,
                           'direction': direction, 'ethertype': 'IPv4', 'protocol': None,
                           'port_range_min': None, 'port_range_max': None,
                           'remote_ip_prefix': None, 'remote_group_id': None,
                           'created_at': next(created)}, **extra))

    # Neutron's default group: members talk to each other, anything goes out.
    rule(DEFAULT, 'ingress', remote_group_id=DEFAULT)
    rule(DEFAULT, 'egress')
    rule(DEFAULT, 'ingress', ethertype='IPv6', remote_group_id=DEFAULT)
    rule(WEB, 'ingress', protocol='tcp', port_range_min=80, port_range_max=80,
         remote_ip_prefix='0.0.0.0/0')
    rule(WEB, 'ingress', protocol='tcp', port_range_min=1000, port_range_max=1999)
    rule(WEB, 'ingress', protocol='udp', port_range_min=53, port_range_max=53,
         remote_ip_prefix='10.0.0.0/8')
    rule(WEB, 'ingress', protocol='icmp', port_range_min=8, port_range_max=0)
    rule(WEB, 'ingress', protocol='icmp', port_range_min=3)
    rule(WEB, 'ingress', protocol='sctp', port_range_min=9, port_range_max=10,
         remote_ip_prefix='10.0.1.7/32')
    rule(WEB, 'egress', protocol='47')
    rule(APP, 'ingress', protocol='tcp', port_range_min=8080, port_range_max=8080,
         remote_group_id=WEB)
    rule(APP, 'ingress', protocol='tcp', port_range_min=8000, port_range_max=8100,
         remote_group_id=WEB)
    rule(APP, 'ingress', protocol='tcp', port_range_min=8050, port_range_max=9000,
         remote_group_id=DEFAULT)
    rule(APP, 'ingress', protocol='tcp', port_range_min=22, port_range_max=22,
         remote_group_id=DEFAULT)
    rule(APP, 'ingress', protocol='icmp', remote_group_id=WEB)
    rule(APP, 'egress', protocol='udp', remote_group_id=DB)
    rule(APP, 'egress', remote_group_id=NOBODY)
    rule(DB, 'ingress', protocol='tcp', port_range_min=5432, port_range_max=5432,
         remote_group_id=APP)
    rule(DB, 'ingress', remote_group_id=DB)
    rule(DB, 'egress', protocol='tcp', port_range_min=1, port_range_max=65535,
         remote_group_id=APP)
    rule(OPEN, 'ingress', protocol='icmp', port_range_min=8)
    rule(OPEN, 'egress')
    rule(OPEN, 'ingress', protocol='tcp', port_range_min=80, port_range_max=81,
         remote_group_id=CLOSED)
    rule(CLOSED, 'ingress', remote_group_id=OPEN)
    rule(CLOSED, 'egress', protocol='udp', port_range_min=5000, port_range_max=5999,
         remote_ip_prefix='192.168.0.0/16')

    ports = []

    def port(name, net, ip, host='hv1', **extra):
        n = len(ports)
        ports.append(dict({'id': uid(name), 'network_id': networks[net]['id'],
                           'tenant_id': networks[net]['tenant_id'],
                           'mac_address': 'fa:16:3e:00:01:%02x' % n,
                           'fixed_ips': [{'subnet_id': subnets[net]['id'],
                                          'ip_address': ip}],
                           'admin_state_up': True, 'port_security_enabled': True,
                           'security_groups': [DEFAULT], 'allowed_address_pairs': [],
                           'binding:host_id': host, 'name': name, 'extra_dhcp_opts': [],
                           'status': 'DOWN', 'device_owner': 'compute:nova'}, **extra))

    port('web1', 0, '10.0.0.11', security_groups=[DEFAULT, WEB])
    port('web2', 0, '10.0.0.12', security_groups=[DEFAULT, WEB],
         allowed_address_pairs=[{'ip_address': '10.0.0.96/28',
                                 'mac_address': 'fa:16:3e:00:02:01'},
                                {'ip_address': '10.0.0.200',
                                 'mac_address': 'fa:16:3e:00:02:02'}])
    port('app1', 0, '10.0.0.21', security_groups=[DEFAULT, APP])
    port('app2', 1, '10.0.1.21', security_groups=[APP, DB])
    port('db1', 1, '10.0.1.31', security_groups=[DB],
         fixed_ips=[{'subnet_id': subnets[1]['id'], 'ip_address': '10.0.1.31'},
                    {'subnet_id': subnets[1]['id'], 'ip_address': '10.0.1.32'}])
    port('plain', 0, '10.0.0.41')
    port('nogroup', 0, '10.0.0.42', security_groups=[])
    port('missing', 1, '10.0.1.43', security_groups=[MISSING])
    port('unsecured', 0, '10.0.0.44', security_groups=[], port_security_enabled=False)
    port('down', 0, '10.0.0.45', security_groups=[DEFAULT, APP], admin_state_up=False)
    port('open1', 2, '10.0.0.11', security_groups=[OPEN])
    port('open2', 2, '10.0.0.12', security_groups=[OPEN, CLOSED])
    port('closed1', 2, '10.0.0.13', security_groups=[CLOSED])
    # Elsewhere: members whose addresses the remote groups hold.
    port('web-far', 0, '10.0.0.111', host='hv2', security_groups=[WEB])
    port('app-far', 1, '10.0.1.121', host='hv2', security_groups=[APP])
    port('db-far', 1, '10.0.1.131', host='hv2', security_groups=[DB, DEFAULT],
         allowed_address_pairs=[{'ip_address': '10.0.1.128/25',
                                 'mac_address': 'fa:16:3e:00:02:03'}])
    port('closed-far', 2, '10.0.0.113', host='hv2', security_groups=[CLOSED])
    replica = Replica.from_docs({
        'networks': networks, 'subnets': subnets, 'ports': ports,
        'hosts': [{'id': uid('hv1'), 'name': 'hv1', 'datapath_id': '0000000000000001'}],
        'security_groups': groups, 'security_group_rules': rules})
    local = [p for p in ports if p['binding:host_id'] == 'hv1']
    ofports = {naming.tap_name(p['id']): n for n, p in enumerate(local, 1)}
    return replica, dict(ofports, **{'br-int': 0xfffe})


def flow_lines():
    replica, ofports = world()
    switch = pipeline.Switch(replica, SwitchPorts(ofports), CONFIG, True)
    return sorted(repr(flow) for flow in pipeline.switch_flows(switch))


def test_the_switch_computes_the_frozen_flows():
    with open(EXPECTED) as f:
        expected = f.read().splitlines()
    found = flow_lines()
    assert len(found) == len(expected)
    assert [line for line in found if line not in set(expected)] == []
    assert found == expected


if __name__ == '__main__':
    with open(EXPECTED, 'w') as out:
        out.writelines(line + '\n' for line in flow_lines())
    print('wrote %s' % EXPECTED)
