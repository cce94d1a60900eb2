"""The address a gateway-less DHCP subnet reserves for the network's
services (its service_ip), on a real sqlite file, through the plugin."""

import ipaddress
import types

import pytest

from srv6_ofapp import exceptions as exc
from srv6_ofapp import ipam
from srv6_ofapp import runtime
from srv6_ofapp import store as store_lib
from srv6_ofapp.model import upgrades
from srv6_ofapp.model.plugin import Context, Plugin

ADMIN = Context('admin', is_admin=True)

NETWORK_ATTRS = {'name': 'n', 'description': '', 'admin_state_up': True, 'shared': False,
                 'port_security_enabled': True}
SUBNET_ATTRS = {'name': 's', 'description': '', 'ip_version': 4, 'dns_nameservers': [],
                'host_routes': [], 'enable_dhcp': True}
PORT_ATTRS = {'name': 'p', 'description': '', 'admin_state_up': True, 'device_id': '',
              'device_owner': '', 'binding:host_id': '', 'binding:profile': {},
              'binding:vnic_type': 'normal', 'allowed_address_pairs': [],
              'extra_dhcp_opts': [], 'security_groups': []}


@pytest.fixture
def url(tmp_path):
    return 'sqlite:///%s' % (tmp_path / 'state.db')


@pytest.fixture
def plugin(url):
    store = store_lib.open_store(url)
    yield Plugin(store)
    store.close()


@pytest.fixture
def network(plugin):
    return plugin.create(ADMIN, 'networks', [dict(NETWORK_ATTRS)])[0]


def make_subnet(plugin, network, cidr='10.8.0.0/24', **attrs):
    return plugin.create(ADMIN, 'subnets', [dict(SUBNET_ATTRS, network_id=network['id'],
                                                 cidr=cidr, **attrs)])[0]


def make_port(plugin, network, **attrs):
    return plugin.create(ADMIN, 'ports', [dict(PORT_ATTRS, network_id=network['id'],
                                               **attrs)])[0]


def addresses_of(port):
    return [f['ip_address'] for f in port['fixed_ips']]


def allocations(plugin):
    """{ip: port_id} of the address bookkeeping."""
    return {a['ip_address']: a['port_id'] for a in plugin.store.list('ipallocations')}


def stored(plugin, subnet):
    return plugin.store.get('subnets', subnet['id'])


def test_a_gateway_less_subnet_reserves_its_lowest_host_address(plugin, network):
    subnet = make_subnet(plugin, network, gateway_ip=None)
    assert stored(plugin, subnet)['service_ip'] == '10.8.0.1'
    assert ipam.service_address(stored(plugin, subnet)) == '10.8.0.1'
    assert allocations(plugin) == {'10.8.0.1': None}
    # A subnet with a gateway, or without DHCP, needs none.
    other = plugin.create(ADMIN, 'networks', [dict(NETWORK_ATTRS)])[0]
    with_gateway = make_subnet(plugin, other, cidr='10.9.0.0/24')
    without_dhcp = make_subnet(plugin, other, cidr='10.10.0.0/24', gateway_ip=None,
                               enable_dhcp=False)
    assert 'service_ip' not in stored(plugin, with_gateway)
    assert 'service_ip' not in stored(plugin, without_dhcp)
    assert allocations(plugin) == {'10.8.0.1': None}


def test_a_port_never_gets_the_service_ip(plugin, network):
    subnet = make_subnet(plugin, network, cidr='10.8.0.0/29', gateway_ip=None)
    assert subnet['allocation_pools'] == [{'start': '10.8.0.1', 'end': '10.8.0.6'}]
    # Not by IPAM: the five other host addresses, then nothing.
    ports = [make_port(plugin, network) for _ in range(5)]
    assert sorted(ip for p in ports for ip in addresses_of(p)) == [
        '10.8.0.%d' % i for i in range(2, 7)]
    with pytest.raises(exc.IpAddressGenerationFailure):
        make_port(plugin, network)
    # Not by asking, on create or on update: the gateway's 409.
    plugin.delete(ADMIN, 'ports', ports[0]['id'])
    for fixed_ips in ([{'ip_address': '10.8.0.1'}],
                      [{'subnet_id': subnet['id'], 'ip_address': '10.8.0.1'}]):
        with pytest.raises(exc.IpAddressAlreadyAllocated):
            make_port(plugin, network, fixed_ips=fixed_ips)
        with pytest.raises(exc.IpAddressAlreadyAllocated):
            plugin.update(ADMIN, 'ports', ports[1]['id'], {'fixed_ips': fixed_ips})
    assert addresses_of(make_port(plugin, network)) == ['10.8.0.2']


def test_removing_the_gateway_makes_it_the_service_ip(plugin, network):
    subnet = make_subnet(plugin, network)
    port = make_port(plugin, network)
    assert addresses_of(port) == ['10.8.0.2']
    updated = plugin.update(ADMIN, 'subnets', subnet['id'], {'gateway_ip': None})
    # Clients renew their leases with the old gateway: it stays their server.
    assert stored(plugin, subnet)['service_ip'] == '10.8.0.1'
    assert allocations(plugin) == {'10.8.0.1': None, '10.8.0.2': port['id']}
    assert updated['revision_number'] == subnet['revision_number'] + 1


def test_setting_a_gateway_releases_the_service_ip(plugin, network):
    subnet = make_subnet(plugin, network, gateway_ip=None,
                         allocation_pools=[{'start': '10.8.0.10', 'end': '10.8.0.20'}])
    assert stored(plugin, subnet)['service_ip'] == '10.8.0.1'
    # The service_ip itself may become the gateway.
    plugin.update(ADMIN, 'subnets', subnet['id'], {'gateway_ip': '10.8.0.1'})
    assert 'service_ip' not in stored(plugin, subnet)
    assert allocations(plugin) == {}
    with pytest.raises(exc.IpAddressAlreadyAllocated):
        make_port(plugin, network, fixed_ips=[{'ip_address': '10.8.0.1'}])
    # Back without a gateway, then another gateway: the address is a port's again.
    plugin.update(ADMIN, 'subnets', subnet['id'], {'gateway_ip': None})
    assert stored(plugin, subnet)['service_ip'] == '10.8.0.1'
    plugin.update(ADMIN, 'subnets', subnet['id'], {'gateway_ip': '10.8.0.254'})
    assert 'service_ip' not in stored(plugin, subnet)
    port = make_port(plugin, network, fixed_ips=[{'ip_address': '10.8.0.1'}])
    assert addresses_of(port) == ['10.8.0.1']


def test_disabling_dhcp_releases_the_service_ip(plugin, network):
    subnet = make_subnet(plugin, network, gateway_ip=None)
    plugin.update(ADMIN, 'subnets', subnet['id'], {'enable_dhcp': False})
    assert 'service_ip' not in stored(plugin, subnet)
    assert allocations(plugin) == {}
    port = make_port(plugin, network)
    assert addresses_of(port) == ['10.8.0.1']
    # Enabled again: the lowest address no port holds.
    plugin.update(ADMIN, 'subnets', subnet['id'], {'enable_dhcp': True})
    assert stored(plugin, subnet)['service_ip'] == '10.8.0.2'
    assert addresses_of(make_port(plugin, network)) == ['10.8.0.3']


def test_no_free_address_for_the_services_is_a_409_that_changes_nothing(plugin, network):
    subnet = make_subnet(plugin, network, cidr='10.8.0.0/30', gateway_ip=None,
                         enable_dhcp=False)
    make_port(plugin, network)
    make_port(plugin, network)
    revision, before = plugin.store.revision, stored(plugin, subnet)
    with pytest.raises(exc.ServiceAddressGenerationFailure) as raised:
        plugin.update(ADMIN, 'subnets', subnet['id'], {'enable_dhcp': True, 'name': 'x'})
    assert raised.value.status == 409
    assert '10.8.0.0/30' in raised.value.msg and 'gateway_ip' in raised.value.msg
    assert plugin.store.revision == revision
    assert stored(plugin, subnet) == before and before['enable_dhcp'] is False


def test_the_reservation_alone_does_not_keep_a_subnet_in_use(plugin, network):
    subnet = make_subnet(plugin, network, gateway_ip=None)
    port = make_port(plugin, network)
    with pytest.raises(exc.SubnetInUse):
        plugin.delete(ADMIN, 'subnets', subnet['id'])
    plugin.delete(ADMIN, 'ports', port['id'])
    plugin.delete(ADMIN, 'subnets', subnet['id'])
    assert allocations(plugin) == {}
    # A network deleted with its subnets frees their reservations too.
    make_subnet(plugin, network, gateway_ip=None)
    plugin.delete(ADMIN, 'networks', network['id'])
    assert allocations(plugin) == {} and plugin.store.list('ipamcursors') == []


def test_the_fixed_ips_filter_finds_no_port_at_the_service_ip(plugin, network):
    make_subnet(plugin, network, gateway_ip=None)
    port = make_port(plugin, network)
    assert plugin.list(ADMIN, 'ports', {'fixed_ips': ['ip_address=10.8.0.1']}) == []
    assert [p['id'] for p in plugin.list(ADMIN, 'ports', {
        'fixed_ips': ['ip_address=10.8.0.2']})] == [port['id']]


# -- an existing store, written before service_ip -------------------------

def write_old_store(url, cidr='10.8.0.0/24', port_ips=('10.8.0.1',)):
    """A gateway-less DHCP subnet whose ports hold ``port_ips``, as the
    release before service_ip wrote them."""
    store = store_lib.open_store(url)
    times = {'created_at': '2026-01-01T00:00:00Z', 'updated_at': '2026-01-01T00:00:00Z',
             'revision_number': 0, 'tenant_id': 'admin'}
    first, last = ipam.host_range(cidr)
    pools = [{'start': str(ipaddress.IPv4Address(first)),
              'end': str(ipaddress.IPv4Address(last))}]

    def fill(txn):
        txn.put('networks', 'net-1', dict(NETWORK_ATTRS, id='net-1', mtu=1436,
                                          status='ACTIVE', **times))
        txn.put('subnets', 'sub-1', dict(
            SUBNET_ATTRS, id='sub-1', network_id='net-1', cidr=cidr, gateway_ip=None,
            allocation_pools=pools, ipv6_ra_mode=None, ipv6_address_mode=None,
            subnetpool_id=None, **times))
        for n, ip in enumerate(port_ips, 1):
            port_id, mac = 'port-%d' % n, 'fa:16:3e:00:00:%02x' % n
            txn.put('ports', port_id, dict(
                PORT_ATTRS, id=port_id, network_id='net-1', status='DOWN',
                mac_address=mac, port_security_enabled=True,
                fixed_ips=[{'subnet_id': 'sub-1', 'ip_address': ip}], **times))
            txn.put('ipallocations', 'sub-1/' + ip, {'port_id': port_id,
                                                     'subnet_id': 'sub-1', 'ip_address': ip})
            txn.put('macaddresses', 'net-1/' + mac, {'port_id': port_id})
    store.transact(fill)
    store.close()


def test_an_old_store_is_upgraded_on_start(url):
    write_old_store(url)
    conf = types.SimpleNamespace(store=url, base_mac='fa:16:3e:00:00:00',
                                 global_physnet_mtu=1500, role='all', host='hv1',
                                 dataplane_hosts=[])
    started = runtime.Runtime(conf)
    try:
        store = started.store
        subnet = store.get('subnets', 'sub-1')
        # The port keeps its address; the reservation takes the next one.
        assert subnet['service_ip'] == '10.8.0.2'
        assert store.get('ports', 'port-1')['fixed_ips'][0]['ip_address'] == '10.8.0.1'
        assert {a['ip_address']: a['port_id'] for a in store.list('ipallocations')} == {
            '10.8.0.1': 'port-1', '10.8.0.2': None}
        assert store.get(upgrades.VERSION_KIND, upgrades.VERSION_KEY) == {
            'version': upgrades.VERSION}
        port = started.plugin.create(ADMIN, 'ports', [dict(PORT_ATTRS, network_id='net-1')])[0]
        assert addresses_of(port) == ['10.8.0.3']
        revision = store.revision
    finally:
        started.close()
    # Once done, a start writes nothing.
    again = runtime.Runtime(conf)
    try:
        assert again.store.revision == revision
        assert upgrades.upgrade(again.store) == upgrades.VERSION
        assert again.store.revision == revision
    finally:
        again.close()


def test_a_store_from_a_newer_release_is_refused(url):
    store = store_lib.open_store(url)
    store.transact(lambda txn: txn.put(upgrades.VERSION_KIND, upgrades.VERSION_KEY,
                                       {'version': upgrades.VERSION + 1}))
    try:
        with pytest.raises(exc.StoreUnavailable):
            upgrades.upgrade(store)
    finally:
        store.close()


def test_upgrading_a_new_store_records_its_version_only(url):
    store = store_lib.open_store(url)
    try:
        assert upgrades.upgrade(store) == 0
        assert store.revision == 1
        assert upgrades.upgrade(store) == upgrades.VERSION
        assert store.revision == 1
    finally:
        store.close()


def test_an_upgrade_that_finds_a_subnet_full_leaves_it_usable(url):
    write_old_store(url, cidr='10.8.0.0/30', port_ips=('10.8.0.1', '10.8.0.2'))
    store = store_lib.open_store(url)
    try:
        assert upgrades.upgrade(store) == 0
        assert 'service_ip' not in store.get('subnets', 'sub-1')
        plugin = Plugin(store)
        # Unrelated changes still work; freeing an address lets it have one.
        assert plugin.update(ADMIN, 'subnets', 'sub-1', {'name': 'full'})['name'] == 'full'
        plugin.delete(ADMIN, 'ports', 'port-2')
        plugin.update(ADMIN, 'subnets', 'sub-1', {'enable_dhcp': True})
        assert store.get('subnets', 'sub-1')['service_ip'] == '10.8.0.2'
    finally:
        store.close()
