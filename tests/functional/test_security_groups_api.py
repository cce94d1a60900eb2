"""The security-group API over real HTTP, with two projects (token
authentication): Neutron's attributes, defaults, validation and errors."""

from tests import projects
from tests.projects import admin, alice, bob  # noqa: F401 (fixtures)

V = '/v2.0'
token_server = projects.token_server('secgroups')


def groups(client, **params):
    response = client.get(V + '/security-groups', params=params)
    assert response.status_code == 200, response.text
    return response.json()['security_groups']


def default_group(client):
    [group] = groups(client, name='default')
    return group


def create_group(client, name):
    response = client.post(V + '/security-groups', {'security_group': {'name': name}})
    assert response.status_code == 201, response.text
    return response.json()['security_group']


def add_rule(client, **rule):
    return client.post(V + '/security-group-rules', {'security_group_rule': rule})


def error(response):
    return response.status_code, response.json()['NeutronError']['type']


def test_a_projects_default_group_comes_on_first_use(alice):
    group = default_group(alice)
    assert group['tenant_id'] == group['project_id'] == 'project-a'
    assert group['description'] == 'Default security group'
    rules = {(r['direction'], r['ethertype'], r['remote_group_id'])
             for r in group['security_group_rules']}
    assert rules == {('ingress', 'IPv4', group['id']), ('ingress', 'IPv6', group['id']),
                     ('egress', 'IPv4', None), ('egress', 'IPv6', None)}
    assert default_group(alice)['id'] == group['id']  # one, however often asked


def test_ports_get_the_default_group_unless_told_otherwise(alice):
    network = alice.create('network', name='n')
    alice.create('subnet', network_id=network['id'], cidr='10.1.0.0/24')
    default = default_group(alice)
    web = create_group(alice, 'web')
    # A new group comes with Neutron's two egress rules.
    assert {(r['direction'], r['ethertype']) for r in web['security_group_rules']} == {
        ('egress', 'IPv4'), ('egress', 'IPv6')}
    assert alice.create('port', network_id=network['id'])['security_groups'] == [
        default['id']]
    assert alice.create('port', network_id=network['id'],
                        security_groups=[web['id']])['security_groups'] == [web['id']]
    bare = alice.create('port', network_id=network['id'], security_groups=[])
    assert bare['security_groups'] == []
    unsecured = alice.create('port', network_id=network['id'], port_security_enabled=False)
    assert unsecured['security_groups'] == []
    refused = alice.post(V + '/ports', {'port': {
        'network_id': network['id'], 'port_security_enabled': False,
        'security_groups': [web['id']]}})
    assert error(refused) == (400, 'PortSecurityAndIPRequiredForSecurityGroups')
    # Filtered by group; updated; a group in use cannot go.
    listed = alice.get(V + '/ports', params={'security_groups': web['id']}).json()['ports']
    assert [p['security_groups'] for p in listed] == [[web['id']]]
    assert error(alice.delete(V + '/security-groups/' + web['id'])) == (
        409, 'SecurityGroupInUse')
    moved = alice.put(V + '/ports/' + bare['id'], {'port': {'security_groups': [web['id']]}})
    assert moved.json()['port']['security_groups'] == [web['id']]
    cleared = alice.put(V + '/ports/' + bare['id'], {'port': {'security_groups': None}})
    assert cleared.json()['port']['security_groups'] == []


def test_rules_are_checked_as_neutron_checks_them(alice):
    group = create_group(alice, 'checked')['id']
    cases = [
        (dict(direction='ingress', protocol='tcp', port_range_min=90, port_range_max=80),
         (400, 'SecurityGroupInvalidPortRange')),
        (dict(direction='ingress', port_range_min=80, port_range_max=80),
         (400, 'SecurityGroupProtocolRequiredWithPorts')),
        (dict(direction='ingress', protocol='gre', port_range_min=80, port_range_max=80),
         (400, 'SecurityGroupInvalidProtocolForPort')),
        (dict(direction='ingress', protocol='icmp', port_range_min=300),
         (400, 'SecurityGroupInvalidIcmpValue')),
        (dict(direction='ingress', protocol='icmp', port_range_max=0),
         (400, 'SecurityGroupMissingIcmpType')),
        (dict(direction='ingress', protocol='carrier-pigeon'),
         (400, 'SecurityGroupRuleInvalidProtocol')),
        (dict(direction='ingress', remote_ip_prefix='10.0.0.0/8', remote_group_id=group),
         (400, 'SecurityGroupMultipleRemoteEntites')),
        (dict(direction='ingress', ethertype='IPv6', remote_ip_prefix='10.0.0.0/8'),
         (400, 'SecurityGroupRuleParameterConflict')),
        (dict(direction='sideways'), (400, 'HTTPBadRequest')),
        (dict(direction='ingress', remote_group_id='8c8a4b1e-0000-4000-8000-000000000000'),
         (404, 'SecurityGroupNotFound')),
    ]
    for rule, expected in cases:
        assert error(add_rule(alice, security_group_id=group, **rule)) == expected, rule
    created = add_rule(alice, security_group_id=group, direction='ingress', protocol='TCP',
                       port_range_min=22, port_range_max=22, ethertype='ipv4',
                       remote_ip_prefix='192.168.1.7')
    assert created.status_code == 201, created.text
    rule = created.json()['security_group_rule']
    assert (rule['protocol'], rule['ethertype'], rule['remote_ip_prefix']) == (
        'tcp', 'IPv4', '192.168.1.7/32')
    again = add_rule(alice, security_group_id=group, direction='ingress', protocol='6',
                     port_range_min=22, port_range_max=22, remote_ip_prefix='192.168.1.7/32')
    assert error(again) == (409, 'SecurityGroupRuleExists')
    assert alice.delete(V + '/security-group-rules/' + rule['id']).status_code == 204
    assert alice.get(V + '/security-group-rules/' + rule['id']).status_code == 404
    assert alice.put(V + '/security-group-rules/' + rule['id'], {
        'security_group_rule': {'description': 'x'}}).status_code == 405


def test_the_default_group_stays(alice):
    default = default_group(alice)
    assert error(alice.delete(V + '/security-groups/' + default['id'])) == (
        409, 'SecurityGroupCannotRemoveDefault')
    assert error(alice.put(V + '/security-groups/' + default['id'], {
        'security_group': {'name': 'mine'}})) == (409, 'SecurityGroupCannotUpdateDefault')
    assert error(alice.post(V + '/security-groups', {'security_group': {
        'name': 'default'}})) == (409, 'SecurityGroupDefaultAlreadyExists')


def test_projects_see_their_own_groups_only(alice, bob, admin):
    mine = create_group(alice, 'private')
    assert mine['id'] not in {g['id'] for g in groups(bob)}
    assert bob.get(V + '/security-groups/' + mine['id']).status_code == 404
    assert error(add_rule(bob, security_group_id=mine['id'], direction='ingress')) == (
        404, 'SecurityGroupNotFound')
    # Nor may a port of bob's join alice's group.
    network = bob.create('network', name='b')
    bob.create('subnet', network_id=network['id'], cidr='10.2.0.0/24')
    refused = bob.post(V + '/ports', {'port': {'network_id': network['id'],
                                                'security_groups': [mine['id']]}})
    assert error(refused) == (404, 'SecurityGroupNotFound')
    assert mine['id'] in {g['id'] for g in groups(admin)}


def test_deleting_a_group_takes_the_rules_naming_it(alice):
    target, referring = create_group(alice, 'target'), create_group(alice, 'referring')
    rule = add_rule(alice, security_group_id=referring['id'], direction='ingress',
                    remote_group_id=target['id']).json()['security_group_rule']
    assert alice.delete(V + '/security-groups/' + target['id']).status_code == 204
    assert alice.get(V + '/security-group-rules/' + rule['id']).status_code == 404


def test_stateful_is_a_groups_attribute_as_in_neutron(alice):
    extensions = alice.get(V + '/extensions').json()['extensions']
    assert 'stateful-security-group' in {e['alias'] for e in extensions}
    assert default_group(alice)['stateful'] is True
    assert create_group(alice, 'tracked')['stateful'] is True
    created = alice.post(V + '/security-groups', {'security_group': {
        'name': 'untracked', 'stateful': False}})
    assert created.status_code == 201, created.text
    untracked = created.json()['security_group']
    assert untracked['stateful'] is False
    assert alice.get(V + '/security-groups/' + untracked['id']).json()[
        'security_group']['stateful'] is False
    assert error(alice.post(V + '/security-groups', {'security_group': {
        'name': 'x', 'stateful': 'maybe'}})) == (400, 'HTTPBadRequest')
    # Filterable, as the API's booleans are.
    stateless = {g['id'] for g in groups(alice, stateful='false')}
    assert untracked['id'] in stateless
    assert not stateless & {g['id'] for g in groups(alice, stateful='true')}
    # A group no port uses may change both ways.
    for value in (True, False):
        changed = alice.put(V + '/security-groups/' + untracked['id'], {
            'security_group': {'stateful': value}})
        assert changed.status_code == 200, changed.text
        assert changed.json()['security_group']['stateful'] is value


def test_a_group_in_use_keeps_its_statefulness_and_ports_do_not_mix(alice):
    network = alice.create('network', name='s')
    alice.create('subnet', network_id=network['id'], cidr='10.3.0.0/24')
    stateful = create_group(alice, 'stateful-one')
    stateless = alice.post(V + '/security-groups', {'security_group': {
        'name': 'stateless-one', 'stateful': False}}).json()['security_group']
    port = alice.create('port', network_id=network['id'], security_groups=[stateless['id']])
    refused = alice.put(V + '/security-groups/' + stateless['id'], {
        'security_group': {'stateful': True}})
    assert refused.status_code == 409
    assert refused.json()['NeutronError']['type'] == 'SecurityGroupInUse'
    assert refused.json()['NeutronError']['message'] == (
        'Security Group %s in use.' % stateless['id'])
    # Its value unchanged, or other attributes, still may be set.
    same = alice.put(V + '/security-groups/' + stateless['id'], {
        'security_group': {'stateful': False, 'description': 'no conntrack'}})
    assert same.status_code == 200, same.text
    mixed = alice.post(V + '/ports', {'port': {
        'network_id': network['id'], 'security_groups': [stateful['id'], stateless['id']]}})
    assert error(mixed) == (409, 'SecurityGroupConflict')
    assert mixed.json()['NeutronError']['message'] == (
        'Error Cannot apply both stateful and stateless security groups on the same port '
        'at the same time while attempting the operation.')
    added = alice.put(V + '/ports/' + port['id'], {'port': {
        'security_groups': [stateless['id'], stateful['id']]}})
    assert error(added) == (409, 'SecurityGroupConflict')
    # Moved from one kind to the other whole, it is no longer in use.
    moved = alice.put(V + '/ports/' + port['id'], {'port': {
        'security_groups': [stateful['id']]}})
    assert moved.status_code == 200, moved.text
    freed = alice.put(V + '/security-groups/' + stateless['id'], {
        'security_group': {'stateful': True}})
    assert freed.status_code == 200, freed.text
