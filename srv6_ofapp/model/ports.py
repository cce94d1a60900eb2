"""Ports: a VM's NIC on a network, with its MAC, its fixed IPs and its
binding to a host.

What a port's fixed_ips request means (Neutron's forms: an address, a
subnet, both, or nothing for any free address) is decided here; holding
the addresses is the bookkeeping's (addresses), the VRF a bound port needs
is binding's; what the port API may not do to a router's or floating IP's
port is l3_ports'.  Routers and floating IPs make and remove their ports
with :func:`create_owned` and :func:`remove`.
"""

import copy

import netaddr

from srv6_ofapp import exceptions as exc
from srv6_ofapp.model import addresses
from srv6_ofapp.model import binding
from srv6_ofapp.model import filters as filter_lib
from srv6_ofapp.model import l3_ports
from srv6_ofapp.model import networks
from srv6_ofapp.model import resource
from srv6_ofapp.model import security_groups
from srv6_ofapp.model.context import Context

# Neutron's rule:network_device: a device_owner of the network's own services.
NETWORK_DEVICE_PREFIX = 'network:'
# Neutron's l3_db makes its ports with an admin context.
_ADMIN = Context(None, is_admin=True)
# What a router's or floating IP's port has besides its network, owner and
# addresses: no port security (no groups), not bound, no options.
_OWNED = {'name': '', 'description': '', 'admin_state_up': True,
          'binding:host_id': '', 'binding:profile': {}, 'binding:vnic_type': 'normal',
          'port_security_enabled': False, 'allowed_address_pairs': [],
          'extra_dhcp_opts': [], 'security_groups': []}


def create_owned(txn, settings, network_id, device_owner, device_id, tenant_id,
                 fixed_ips=None):
    """A port for a router or a floating IP (``tenant_id`` '' for one no
    project sees): ``fixed_ips`` as a port's request asks, None for any
    free address.  Returns it, stored."""
    attrs = dict(_OWNED, network_id=network_id, device_owner=device_owner,
                 device_id=device_id, tenant_id=tenant_id, tags=[])
    if fixed_ips is not None:
        attrs['fixed_ips'] = fixed_ips
    return Ports(settings).create(txn, _ADMIN, attrs)


def update_owned(txn, settings, port, changes):
    """Apply ``changes`` to a router's or floating IP's port, as its owner
    (the port API's limits do not apply); returns it, stored."""
    new = Ports(settings).apply(txn, _ADMIN, copy.deepcopy(port), changes)
    resource.put_next_revision(txn, 'ports', port, new)
    return new


def remove(txn, port):
    """Delete ``port`` and release what it holds, as its owner."""
    release(txn, port)
    txn.delete('ports', port['id'])


def release(txn, port):
    """Give back a port's addresses, MAC and VRF."""
    addresses.release_ips(txn, port['fixed_ips'])
    addresses.release_mac(txn, port['network_id'], port['mac_address'])
    binding.unbind(txn, port)


class Ports(resource.Resource):

    collection = 'ports'
    # device_id: Nova finds an instance's ports by it.
    store_filters = ('network_id', 'tenant_id', 'binding:host_id', 'device_id')

    def not_found(self, id_):
        return exc.PortNotFound(port_id=id_)

    def view(self, views, doc):
        return views.port(doc)

    def candidates(self, txn, where, filters):
        """fixed_ips=ip_address=X finds its ports through the address
        bookkeeping instead of reading every port."""
        wanted = filter_lib.fixed_ip_values(filters, 'ip_address')
        if not wanted:
            return super().candidates(txn, where, filters)
        found = (txn.get(self.collection, id_) for id_ in addresses.ports_holding(txn, wanted[0]))
        return [port for port in found
                if port and all(port.get(k) == v for k, v in where.items())]

    def create(self, txn, ctx, attrs):
        project = self.project_of(ctx, attrs)
        network = networks.parent_network(txn, ctx, attrs['network_id'], self.collection,
                                          owner_only=False)
        _check_network_owner_rules(ctx, network, 'create', _owner_rules_on_create(attrs))
        attrs.setdefault('port_security_enabled', network['port_security_enabled'])
        _check_address_pairs(attrs)
        doc = self.new_doc(attrs, project)
        doc['status'] = 'DOWN'
        doc['mac_address'] = addresses.claim_mac(
            txn, network['id'], attrs.get('mac_address'), doc['id'],
            self.settings.base_mac, self.settings.rng)
        requested = attrs.get('fixed_ips')
        doc['fixed_ips'] = (_allocate_any_ip(txn, network['id'], doc['id'])
                            if requested is None else
                            _allocate_ips(txn, network['id'], doc, requested))
        doc['extra_dhcp_opts'] = _merge_dhcp_opts([], attrs['extra_dhcp_opts'])
        doc['security_groups'] = security_groups.port_groups(txn, ctx, doc,
                                                             attrs.get('security_groups'))
        binding.bind(txn, doc)
        txn.put(self.collection, doc['id'], doc)
        return doc

    def update(self, txn, ctx, doc, changes):
        l3_ports.check_update(txn, doc, changes)
        new = self.apply(txn, ctx, doc, changes)
        l3_ports.check_fixed_ips(txn, doc, new['fixed_ips'])
        return new

    def apply(self, txn, ctx, doc, changes):
        """``doc`` with ``changes``, their addresses, groups and binding."""
        new = dict(doc, **changes)
        _check_address_pairs(new)
        kept, released, wanted = _match_fixed_ips(doc['fixed_ips'],
                                                  changes.get('fixed_ips', doc['fixed_ips']))
        _check_network_owner_rules(ctx, txn.get('networks', doc['network_id']), 'update',
                                   _owner_rules_on_update(doc, new, wanted))
        if 'fixed_ips' in changes:
            addresses.release_ips(txn, released)
            new['fixed_ips'] = kept + _allocate_ips(txn, doc['network_id'], new, wanted,
                                                    already=kept)
        if new['device_owner'] != doc['device_owner']:
            for fixed_ip in new['fixed_ips']:
                _check_gateway(txn.get('subnets', fixed_ip['subnet_id']),
                               fixed_ip['ip_address'], new)
        if 'extra_dhcp_opts' in changes:
            new['extra_dhcp_opts'] = _merge_dhcp_opts(doc['extra_dhcp_opts'],
                                                      changes['extra_dhcp_opts'])
        if 'security_groups' in changes or 'port_security_enabled' in changes:
            new['security_groups'] = security_groups.port_groups(
                txn, ctx, new, changes.get('security_groups', new['security_groups']))
        if new['mac_address'] != doc['mac_address']:
            self._move_mac(txn, doc, new['mac_address'])
        if binding.bound_host(new) != binding.bound_host(doc):
            binding.unbind(txn, doc)
        binding.bind(txn, new)
        return new

    def _move_mac(self, txn, port, mac):
        """Neutron's ML2: a port's MAC changes only while it is unplugged."""
        vif_type = binding.vif_type(port, binding.allocation_of(txn, port))
        if vif_type not in ('unbound', 'binding_failed'):
            raise exc.PortBound(port_id=port['id'], vif_type=vif_type,
                                old_mac=port['mac_address'], new_mac=mac)
        addresses.release_mac(txn, port['network_id'], port['mac_address'])
        addresses.claim_mac(txn, port['network_id'], mac, port['id'],
                            self.settings.base_mac, self.settings.rng)

    def check_delete(self, txn, ctx, doc):
        l3_ports.check_delete(txn, ctx, doc)

    def delete(self, txn, doc):
        l3_ports.release_floating_ips(txn, doc['id'])
        release(txn, doc)


def _check_network_owner_rules(ctx, network, action, asked):
    """Neutron's default policy (neutron/conf/policies/port.py) for a port
    on a network the caller's project does not own -- a shared one: choosing
    its MAC or fixed IP addresses, switching port security, adding allowed
    address pairs or posing as the network's own device need the network's
    owner or an admin (rule:admin_or_network_owner); they would let one
    project spoof addresses on another's network.  ``asked``: which of
    those the request does."""
    if ctx.is_admin or network['tenant_id'] == ctx.project_id:
        return
    for rule in asked:
        raise exc.PolicyNotAuthorized(action='%s_port:%s' % (action, rule))


def _owner_rules_on_create(attrs):
    return [rule for rule, asked in (
        ('mac_address', 'mac_address' in attrs),
        ('fixed_ips:ip_address', any('ip_address' in f for f in attrs.get('fixed_ips') or ())),
        ('port_security_enabled', 'port_security_enabled' in attrs),
        ('allowed_address_pairs', bool(attrs.get('allowed_address_pairs'))),
        ('device_owner', _network_device(attrs.get('device_owner', ''))),
    ) if asked]


def _owner_rules_on_update(old, new, wanted_ips):
    """Only what changes counts: a client may send back what the port has."""
    return [rule for rule, asked in (
        ('mac_address', new['mac_address'] != old['mac_address']),
        ('fixed_ips:ip_address', any('ip_address' in f for f in wanted_ips)),
        ('port_security_enabled',
         new.get('port_security_enabled') != old.get('port_security_enabled')),
        ('allowed_address_pairs', bool(new.get('allowed_address_pairs')) and
         new.get('allowed_address_pairs') != old.get('allowed_address_pairs')),
        ('device_owner', _network_device(new['device_owner']) and
         new['device_owner'] != old['device_owner']),
    ) if asked]


def _network_device(device_owner):
    return device_owner.startswith(NETWORK_DEVICE_PREFIX)


def _check_address_pairs(port):
    if port.get('allowed_address_pairs') and not port['port_security_enabled']:
        raise exc.AddressPairAndPortSecurityRequired()


def _match_fixed_ips(current, requested):
    """(allocations kept, allocations to release, requests to allocate).

    A request keeps a current allocation when it names its address, or
    only its subnet (Neutron keeps the port's address on that subnet).
    """
    remaining, kept, wanted = list(current), [], []
    for request in requested:
        match = None
        if request.get('ip_address') or request.get('subnet_id'):
            match = next((a for a in remaining
                          if request.get('ip_address', a['ip_address']) == a['ip_address']
                          and request.get('subnet_id', a['subnet_id']) == a['subnet_id']),
                         None)
        if match is None:
            wanted.append(request)
        else:
            remaining.remove(match)
            kept.append(match)
    return kept, remaining, wanted


def _subnets_oldest_first(txn, network_id):
    return sorted(txn.list('subnets', where={'network_id': network_id}),
                  key=lambda s: s['created_at'])


def _allocate_any_ip(txn, network_id, port_id):
    """One address from the first subnet (oldest first) that has room."""
    subnets = _subnets_oldest_first(txn, network_id)
    for subnet in subnets:
        ip = addresses.next_free_ip(txn, subnet)
        if ip:
            return [addresses.claim_ip(txn, subnet, ip, port_id)]
    if subnets:
        raise exc.IpAddressGenerationFailure(net_id=network_id)
    return []


def _allocate_ips(txn, network_id, port, requested, already=()):
    subnets = _subnets_oldest_first(txn, network_id)
    claimed = list(already)
    result = []
    for fixed_ip in requested:
        subnet = _subnet_for(subnets, network_id, fixed_ip)
        ip = fixed_ip.get('ip_address')
        if ip is None:
            ip = addresses.next_free_ip(txn, subnet)
            if ip is None:
                raise exc.IpAddressGenerationFailure(net_id=network_id)
        else:
            _check_gateway(subnet, ip, port)
        if any(c['ip_address'] == ip and c['subnet_id'] == subnet['id'] for c in claimed):
            raise exc.InvalidInput(error_message='duplicate IP address %s in fixed_ips' % ip)
        allocation = addresses.claim_ip(txn, subnet, ip, port['id'])
        claimed.append(allocation)
        result.append(allocation)
    return result


def _check_gateway(subnet, ip, port):
    """The gateway address is the distributed gateway's on every host; a
    router's interface, where Neutron puts it, is the one port that may
    hold it."""
    owner = port['device_owner']
    if ip == subnet['gateway_ip'] and owner not in l3_ports.ROUTER_INTERFACE_OWNERS:
        raise exc.IpAddressAlreadyAllocated(ip=ip, subnet_id=subnet['id'])


def _subnet_for(subnets, network_id, fixed_ip):
    """The subnet (of ``subnets``, oldest first) a fixed_ips entry asks for."""
    if 'subnet_id' in fixed_ip:
        subnet = next((s for s in subnets if s['id'] == fixed_ip['subnet_id']), None)
        if subnet is None:
            raise exc.InvalidInput(
                error_message='Failed to create port on network %s, because fixed_ips '
                              'included invalid subnet %s' % (network_id,
                                                              fixed_ip['subnet_id']))
        if ('ip_address' in fixed_ip and
                netaddr.IPAddress(fixed_ip['ip_address']) not in
                netaddr.IPNetwork(subnet['cidr'])):
            raise exc.InvalidIpForSubnet(ip_address=fixed_ip['ip_address'])
        return subnet
    if 'ip_address' not in fixed_ip:
        raise exc.InvalidInput(error_message='a fixed_ips entry needs subnet_id or '
                               'ip_address')
    ip = netaddr.IPAddress(fixed_ip['ip_address'])
    for subnet in subnets:
        if ip in netaddr.IPNetwork(subnet['cidr']):
            return subnet
    raise exc.InvalidIpForNetwork(ip_address=fixed_ip['ip_address'])


def _merge_dhcp_opts(current, requested):
    """Neutron's semantics: options are keyed by name; a null value removes one."""
    merged = {o['opt_name']: o for o in current}
    for opt in requested:
        if opt.get('opt_value') is None:
            merged.pop(opt['opt_name'], None)
        else:
            merged[opt['opt_name']] = dict(opt, ip_version=opt.get('ip_version', 4))
    return sorted(merged.values(), key=lambda o: o['opt_name'])
