"""List filters: Neutron's semantics (model/filters.py) and what the plugin
asks the store for, on a real sqlite file."""

import pytest

from srv6_ofapp import exceptions as exc
from srv6_ofapp import store as store_lib
from srv6_ofapp.model import filters
from srv6_ofapp.model.plugin import Context, Plugin

ADMIN = Context('admin', is_admin=True)
ALICE = Context('alice')


@pytest.mark.parametrize('value,wanted,expected', [
    (True, 'true', True), (True, 'True', True), (True, '1', True), (True, 'false', False),
    (False, 'False', True), (False, '0', True), (False, 'true', False),
    (None, '', True), (None, 'None', True), (None, 'null', True), (None, 'x', False),
    ('fa:16:3e:aa:bb:cc', 'FA:16:3E:AA:BB:CC', True),
    ('fa:16:3e:aa:bb:cc', 'fa:16:3e:aa:bb:cd', False),
    ('vm-42', 'vm-42', True), ('vm-42', 'VM-42', False), (1400, '1400', True),
])
def test_one_value(value, wanted, expected):
    assert filters.matches({'f': value}, {'f': [wanted]}) is expected


def test_any_wanted_value_of_a_field_and_every_field():
    view = {'name': 'a', 'shared': False}
    assert filters.matches(view, {'name': ['b', 'a']})
    assert not filters.matches(view, {'name': ['a'], 'shared': ['true']})
    assert filters.matches(view, {})


def test_fixed_ips_wants_every_form_given():
    view = {'fixed_ips': [{'subnet_id': 's1', 'ip_address': '10.0.0.2'},
                          {'subnet_id': 's2', 'ip_address': '10.1.0.2'}]}
    assert filters.matches(view, {'fixed_ips': ['ip_address=10.1.0.2']})
    assert filters.matches(view, {'fixed_ips': ['subnet_id=s1', 'ip_address=10.1.0.2']})
    assert not filters.matches(view, {'fixed_ips': ['subnet_id=s1', 'ip_address=10.0.0.3']})
    assert not filters.matches({'fixed_ips': []}, {'fixed_ips': ['subnet_id=s1']})


@pytest.mark.parametrize('name,wanted,red,red_blue,none', [
    ('tags', ['red'], True, True, False),
    ('tags', ['red,blue'], False, True, False),
    ('tags', ['red', 'blue'], False, True, False),
    ('tags-any', ['red,green'], True, True, False),
    ('not-tags', ['red,blue'], True, False, True),
    ('not-tags-any', ['blue', 'green'], True, False, True),
])
def test_tag_filters(name, wanted, red, red_blue, none):
    """neutron.objects.tag: all, any, not all, none of the tags; a comma
    separates tags as repeating the parameter does."""
    for tags, expected in ((['red'], red), (['blue', 'red'], red_blue), ([], none)):
        assert filters.matches({'tags': tags}, {name: wanted}) is expected, tags


@pytest.mark.parametrize('bad', ['10.0.0.2', 'mac_address=fa:16:3e:00:00:01', 'ip_address'])
def test_a_malformed_fixed_ips_filter_is_refused_up_front(bad):
    with pytest.raises(exc.HTTPBadRequest):
        filters.check({'fixed_ips': [bad]})


def test_exact_takes_single_values_of_the_given_fields():
    wanted = {'network_id': ['n1'], 'tenant_id': ['a', 'b'], 'name': ['x']}
    assert filters.exact(wanted, ('network_id', 'tenant_id')) == {'network_id': 'n1'}


# -- through the plugin ----------------------------------------------------

class RecordingStore:
    """The store, recording every list a read transaction asks for."""

    def __init__(self, store):
        self.store = store
        self.lists = []

    def read(self, fn):
        return self.store.read(lambda txn: fn(_RecordingTxn(txn, self.lists)))

    def transact(self, fn):
        return self.store.transact(fn)


class _RecordingTxn:

    def __init__(self, txn, lists):
        self._txn = txn
        self._lists = lists

    def get(self, kind, key):
        return self._txn.get(kind, key)

    def list(self, kind, where=None, prefix=None):
        self._lists.append((kind, where or {}))
        return self._txn.list(kind, where=where, prefix=prefix)


PORT_ATTRS = {'name': 'p', 'description': '', 'admin_state_up': True, 'device_id': '',
              'device_owner': '', 'binding:host_id': '', 'binding:profile': {},
              'binding:vnic_type': 'normal', 'allowed_address_pairs': [],
              'extra_dhcp_opts': [], 'security_groups': []}


@pytest.fixture
def world(tmp_path):
    store = store_lib.open_store('sqlite:///%s' % (tmp_path / 'state.db'))
    recording = RecordingStore(store)
    plugin = Plugin(recording)
    networks = [plugin.create(ctx, 'networks', [{
        'name': name, 'description': '', 'admin_state_up': True, 'shared': False,
        'port_security_enabled': True}])[0]
        for ctx, name in ((ADMIN, 'n1'), (ALICE, 'n2'))]
    for network in networks:
        plugin.create(ADMIN, 'subnets', [{
            'name': '', 'description': '', 'network_id': network['id'], 'ip_version': 4,
            'cidr': '10.0.0.0/24', 'dns_nameservers': [], 'host_routes': [],
            'enable_dhcp': True}])
    ports = [plugin.create(ctx, 'ports', [dict(PORT_ATTRS, network_id=network['id'],
                                                device_id=device)])[0]
             for ctx, network, device in ((ADMIN, networks[0], 'vm-1'),
                                          (ALICE, networks[1], 'vm-2'),
                                          (ALICE, networks[1], 'vm-3'))]
    recording.lists.clear()
    yield plugin, recording.lists, networks, ports
    store.close()


def ids(items):
    return sorted(i['id'] for i in items)


def test_single_values_of_declared_fields_go_to_the_store(world):
    plugin, lists, networks, ports = world
    found = plugin.list(ADMIN, 'ports', {'network_id': [networks[1]['id']],
                                         'device_id': ['vm-2'], 'name': ['p']})
    assert ids(found) == [ports[1]['id']]
    assert ('ports', {'network_id': networks[1]['id'], 'device_id': 'vm-2'}) in lists
    lists.clear()
    # Several values: the store is not asked to match; the model does.
    found = plugin.list(ADMIN, 'ports', {'device_id': ['vm-1', 'vm-3']})
    assert ids(found) == ids([ports[0], ports[2]])
    assert ('ports', {}) in lists


def test_a_caller_lists_only_its_own_and_the_store_is_told(world):
    plugin, lists, networks, ports = world
    assert ids(plugin.list(ALICE, 'ports')) == ids(ports[1:])
    assert ('ports', {'tenant_id': 'alice'}) in lists
    # Asking for another project's ports finds none.
    assert plugin.list(ALICE, 'ports', {'tenant_id': ['admin']}) == []
    # Networks may be visible through sharing: the store is not narrowed.
    lists.clear()
    assert ids(plugin.list(ALICE, 'networks')) == [networks[1]['id']]
    assert ('networks', {}) in lists


def test_fixed_ips_ip_address_reads_the_bookkeeping_not_every_port(world):
    plugin, lists, networks, ports = world
    found = plugin.list(ADMIN, 'ports', {'fixed_ips': ['ip_address=10.0.0.3']})
    assert ids(found) == [ports[2]['id']]
    assert [kind for kind, _ in lists] == ['ipallocations']
    # Other filters still apply, whether the store could match them or not.
    assert plugin.list(ADMIN, 'ports', {'fixed_ips': ['ip_address=10.0.0.2'],
                                        'network_id': [networks[0]['id']]}) == [
        plugin.get(ADMIN, 'ports', ports[0]['id'])]
    assert plugin.list(ADMIN, 'ports', {'fixed_ips': ['ip_address=10.0.0.2',
                                                      'subnet_id=nope']}) == []
    assert ids(plugin.list(ALICE, 'ports', {'fixed_ips': ['ip_address=10.0.0.2']})) == [
        ports[1]['id']]


def test_a_bad_filter_value_is_refused_even_with_nothing_to_match(world):
    plugin = world[0]
    with pytest.raises(exc.HTTPBadRequest):
        plugin.list(ADMIN, 'hosts', {'fixed_ips': ['10.0.0.2']})
