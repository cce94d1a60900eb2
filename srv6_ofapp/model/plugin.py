"""The model's rules: what a create, update or delete of a network, subnet,
port, host or srv6_encap_network means (Neutron's "core plugin").

Every operation runs in one store transaction: it checks everything first
and raises a Neutron exception before writing, and the transaction throws
away whatever was written when anything raises, so a refused request changes
nothing.  Attribute types and defaults were already checked by the REST
layer's attribute map; this module owns the rules that need the store:
ownership, IPAM, MAC uniqueness, VRF allocation, referential integrity.

Store kinds: the collections themselves, plus bookkeeping documents whose
keys make uniqueness a point read:
  ipallocations   <subnet_id>/<ip>          -> the port holding the address
  macaddresses    <network_id>/<mac>        -> the port holding the MAC
  vrfallocations  <host name>/<network_id>  -> the vrf_ip of that VRF
  ipamcursors     <subnet_id>               -> where the next free address may be
"""

import copy
import random
import time
import uuid

import netaddr

from srv6_ofapp import exceptions as exc
from srv6_ofapp import ipam
from topology import naming
from topology import vrf as vrf_lib

IPALLOCATIONS = 'ipallocations'
MACADDRESSES = 'macaddresses'
VRFALLOCATIONS = 'vrfallocations'
# <subnet_id> -> {'next': IP}: every pool address below IP is allocated, so
# finding a free address takes a few point reads instead of a subnet scan.
IPAMCURSORS = 'ipamcursors'

# Outer IPv6 header (40) + SRH with one segment (8 + 16): what seg6 encap adds.
SRV6_ENCAP_OVERHEAD = 64

NOT_FOUND = {
    'networks': lambda id_: exc.NetworkNotFound(net_id=id_),
    'subnets': lambda id_: exc.SubnetNotFound(subnet_id=id_),
    'ports': lambda id_: exc.PortNotFound(port_id=id_),
    'hosts': lambda id_: exc.HostNotFound(host_id=id_),
    'srv6_encap_networks': lambda id_: exc.Srv6EncapNetworkNotFound(srv6_encap_network_id=id_),
}


class Context:
    """Who is asking: the project and roles keystonemiddleware would set."""

    def __init__(self, project_id, is_admin=False, roles=()):
        self.project_id = project_id
        self.is_admin = is_admin
        self.roles = list(roles)

    def __repr__(self):
        return 'Context(project_id=%r, is_admin=%r)' % (self.project_id, self.is_admin)


def utcnow():
    return time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())


def alloc_key(subnet_id, ip):
    return '%s/%s' % (subnet_id, ip)


class _Views:
    """Lazily loaded lookups that turn stored documents into API views,
    shared by every document of one request."""

    def __init__(self, txn):
        self._txn = txn
        self._hosts = None
        self._vrfs = None
        self._subnets = None

    @property
    def hosts(self):
        if self._hosts is None:
            self._hosts = {h['name']: h for h in self._txn.list('hosts')}
        return self._hosts

    def vrf_allocation(self, host_name, network_id):
        if self._vrfs is None:
            self._vrfs = {vrf_lib.allocation_key(a['host'], a['network_id']): a
                          for a in self._txn.list(VRFALLOCATIONS)}
        return self._vrfs.get(vrf_lib.allocation_key(host_name, network_id))

    def subnet_ids(self, network_id):
        if self._subnets is None:
            self._subnets = {}
            for subnet in self._txn.list('subnets'):
                self._subnets.setdefault(subnet['network_id'], []).append(subnet)
        subnets = sorted(self._subnets.get(network_id, []), key=lambda s: s['created_at'])
        return [s['id'] for s in subnets]

    def network(self, doc):
        return dict(doc, project_id=doc['tenant_id'], subnets=self.subnet_ids(doc['id']))

    def port(self, doc):
        view = dict(doc, project_id=doc['tenant_id'])
        profile = dict(doc['binding:profile'])
        host_name = doc['binding:host_id']
        host = self.hosts.get(host_name) if host_name else None
        allocation = host and self.vrf_allocation(host_name, doc['network_id'])
        if allocation:
            profile.update(vrf_lib.binding_profile(host, allocation))
            view['binding:vif_type'] = 'ovs'
            view['binding:vif_details'] = {'port_filter': True, 'bridge_name': host['bridge']}
        else:
            view['binding:vif_type'] = 'binding_failed' if host_name else 'unbound'
            view['binding:vif_details'] = {}
        view['binding:profile'] = profile
        return view

    def generic(self, doc):
        if 'tenant_id' in doc:
            return dict(doc, project_id=doc['tenant_id'])
        return dict(doc)

    def view(self, collection, doc):
        if collection == 'networks':
            return self.network(doc)
        if collection == 'ports':
            return self.port(doc)
        return self.generic(doc)


class Plugin:

    def __init__(self, store, base_mac='fa:16:3e:00:00:00', global_physnet_mtu=1500,
                 rng=None):
        self.store = store
        self.base_mac = base_mac
        self.default_mtu = global_physnet_mtu - SRV6_ENCAP_OVERHEAD
        self.rng = rng or random.SystemRandom()

    # -- generic entry points ------------------------------------------

    def create(self, ctx, collection, items):
        """Create every item or none; returns their views."""
        self._check_collection_policy(ctx, collection)
        creator = getattr(self, '_create_' + collection)

        def txn_fn(txn):
            docs = [creator(txn, ctx, dict(item)) for item in items]
            views = _Views(txn)
            return [views.view(collection, doc) for doc in docs]
        return self.store.transact(txn_fn)

    def list(self, ctx, collection, where=None, ip_address=None):
        """Views of the visible documents whose stored fields equal ``where``;
        for ports, ``ip_address`` keeps those holding that address (found
        through the address bookkeeping, not by reading every port)."""
        self._check_collection_policy(ctx, collection)
        where = dict(where or {})
        if not ctx.is_admin and collection in ('ports', 'srv6_encap_networks'):
            where['tenant_id'] = ctx.project_id

        def txn_fn(txn):
            views = _Views(txn)
            if collection == 'ports' and ip_address is not None:
                owners = sorted({a['port_id'] for a in
                                 txn.list(IPALLOCATIONS, where={'ip_address': ip_address})})
                docs = [doc for doc in map(lambda i: txn.get('ports', i), owners)
                        if doc and all(doc.get(k) == v for k, v in where.items())]
            else:
                docs = txn.list(collection, where=where)
            return [views.view(collection, doc) for doc in docs
                    if self._visible(txn, ctx, collection, doc)]
        return self.store.read(txn_fn)

    def get(self, ctx, collection, id_):
        self._check_collection_policy(ctx, collection)

        def txn_fn(txn):
            doc = self._get_visible(txn, ctx, collection, id_)
            return _Views(txn).view(collection, doc)
        return self.store.read(txn_fn)

    def update(self, ctx, collection, id_, changes):
        self._check_collection_policy(ctx, collection)
        updater = getattr(self, '_update_' + collection)

        def txn_fn(txn):
            doc = self._get_visible(txn, ctx, collection, id_)
            self._check_owner(ctx, collection, doc)
            new = updater(txn, ctx, copy.deepcopy(doc), changes)
            if new != doc:
                new['revision_number'] = doc['revision_number'] + 1
                new['updated_at'] = utcnow()
                txn.put(collection, id_, new)
            return _Views(txn).view(collection, new)
        return self.store.transact(txn_fn)

    def delete(self, ctx, collection, id_):
        self._check_collection_policy(ctx, collection)
        deleter = getattr(self, '_delete_' + collection)

        def txn_fn(txn):
            doc = self._get_visible(txn, ctx, collection, id_)
            self._check_owner(ctx, collection, doc)
            deleter(txn, doc)
            txn.delete(collection, id_)
        self.store.transact(txn_fn)

    def set_port_status(self, port_id, status):
        """The edge reports whether it sees a port (ACTIVE) or not (DOWN)."""
        return bool(self.set_port_statuses({port_id: status}))

    def set_port_statuses(self, statuses):
        """{port id: status} in one transaction (a switch reports all its
        ports at once); returns the ids whose status changed."""
        def txn_fn(txn):
            changed = []
            for port_id, status in sorted(statuses.items()):
                doc = txn.get('ports', port_id)
                if doc is None or doc['status'] == status:
                    continue
                doc['status'] = status
                doc['updated_at'] = utcnow()
                doc['revision_number'] += 1
                txn.put('ports', port_id, doc)
                changed.append(port_id)
            return changed
        return self.store.transact(txn_fn)

    # -- visibility and ownership ---------------------------------------

    @staticmethod
    def _check_collection_policy(ctx, collection):
        if collection == 'hosts' and not ctx.is_admin:
            raise exc.PolicyNotAuthorized(action='hosts')

    def _visible(self, txn, ctx, collection, doc):
        if ctx.is_admin or doc.get('tenant_id') == ctx.project_id:
            return True
        if collection == 'networks':
            return doc['shared']
        if collection == 'subnets':
            network = txn.get('networks', doc['network_id'])
            return bool(network and network['shared'])
        return False

    def _get_visible(self, txn, ctx, collection, id_):
        doc = txn.get(collection, id_)
        if doc is None or not self._visible(txn, ctx, collection, doc):
            raise NOT_FOUND[collection](id_)
        return doc

    @staticmethod
    def _check_owner(ctx, collection, doc):
        """Visible is not enough to change: a shared network is not yours."""
        if not ctx.is_admin and doc.get('tenant_id') != ctx.project_id:
            raise exc.PolicyNotAuthorized(action='update_' + collection)

    def _project_of(self, ctx, attrs, collection):
        project = attrs.pop('tenant_id', None) or ctx.project_id
        if project is None:
            raise exc.BadRequest(resource=collection, msg='tenant_id is required')
        if not ctx.is_admin and project != ctx.project_id:
            raise exc.PolicyNotAuthorized(action='create_%s:tenant_id' % collection)
        return project

    def _network_for_child(self, txn, ctx, network_id, collection, owner_only):
        """The network a subnet/port/encap network is created on: visible to
        the caller, and owned by it unless ports on shared networks are meant."""
        network = txn.get('networks', network_id)
        if network is None or not self._visible(txn, ctx, 'networks', network):
            raise exc.NetworkNotFound(net_id=network_id)
        if owner_only and not ctx.is_admin and network['tenant_id'] != ctx.project_id:
            raise exc.PolicyNotAuthorized(action='create_%s:network_id' % collection)
        return network

    @staticmethod
    def _new_doc(attrs, project=None):
        now = utcnow()
        doc = dict(attrs, id=str(uuid.uuid4()), created_at=now, updated_at=now,
                   revision_number=0)
        if project is not None:
            doc['tenant_id'] = project
        return doc

    # -- networks ---------------------------------------------------------

    def _create_networks(self, txn, ctx, attrs):
        project = self._project_of(ctx, attrs, 'networks')
        attrs.setdefault('mtu', self.default_mtu)
        self._check_mtu(attrs['mtu'])
        doc = self._new_doc(attrs, project)
        doc['status'] = 'ACTIVE'
        txn.put('networks', doc['id'], doc)
        return doc

    def _check_mtu(self, mtu):
        # Bigger inner packets would not fit the underlay once encapsulated.
        if mtu > self.default_mtu:
            raise exc.InvalidInput(error_message='Requested MTU is too big, maximum is %d '
                                   '(global_physnet_mtu minus the SRv6 encapsulation)'
                                   % self.default_mtu)

    def _update_networks(self, txn, ctx, doc, changes):
        if 'mtu' in changes:
            self._check_mtu(changes['mtu'])
        if changes.get('shared') is False and doc['shared']:
            foreign = [p for p in txn.list('ports', where={'network_id': doc['id']})
                       if p['tenant_id'] != doc['tenant_id']]
            if foreign:
                raise exc.Conflict('Unable to reconfigure sharing settings for network %s. '
                                   'Multiple tenants are using it.' % doc['id'])
        doc.update(changes)
        return doc

    def _delete_networks(self, txn, doc):
        if txn.list('ports', where={'network_id': doc['id']}):
            raise exc.NetworkInUse(net_id=doc['id'])
        # Subnets and encap rules belong to the network and go with it, as
        # Neutron removes a network's subnets.
        for subnet in txn.list('subnets', where={'network_id': doc['id']}):
            txn.delete('subnets', subnet['id'])
            txn.delete(IPAMCURSORS, subnet['id'])
        for encap in txn.list('srv6_encap_networks', where={'network_id': doc['id']}):
            txn.delete('srv6_encap_networks', encap['id'])

    # -- subnets ----------------------------------------------------------

    def _create_subnets(self, txn, ctx, attrs):
        network = self._network_for_child(txn, ctx, attrs['network_id'], 'subnets',
                                          owner_only=True)
        # A subnet an admin adds to a tenant's network is the tenant's.
        attrs.setdefault('tenant_id', network['tenant_id'])
        project = self._project_of(ctx, attrs, 'subnets')
        if attrs['ip_version'] != 4:
            raise exc.InvalidInput(error_message='only IPv4 subnets are supported '
                                   '(ip_version 4); the IPv6 side is the SRv6 underlay')
        requested = netaddr.IPSet([attrs['cidr']])
        for other in txn.list('subnets', where={'network_id': network['id']}):
            if requested & netaddr.IPSet([other['cidr']]):
                raise exc.InvalidInput(
                    error_message='Requested subnet with cidr: %s for network: %s overlaps '
                                  'with another subnet' % (attrs['cidr'], network['id']))
        if 'gateway_ip' not in attrs:
            attrs['gateway_ip'] = ipam.default_gateway(attrs['cidr'])
        self._check_gateway(attrs['cidr'], attrs['gateway_ip'])
        if 'allocation_pools' not in attrs:
            attrs['allocation_pools'] = ipam.default_pools(attrs['cidr'], attrs['gateway_ip'])
        self._check_pools(attrs)
        attrs.update(ipv6_ra_mode=None, ipv6_address_mode=None, subnetpool_id=None)
        doc = self._new_doc(attrs, project)
        txn.put('subnets', doc['id'], doc)
        return doc

    @staticmethod
    def _check_gateway(cidr, gateway_ip):
        if gateway_ip is None:
            return
        first, last = ipam.host_range(cidr)
        if not first <= int(netaddr.IPAddress(gateway_ip)) <= last:
            raise exc.InvalidInput(error_message='Gateway IP %s is not a host address of '
                                   'subnet %s' % (gateway_ip, cidr))

    @staticmethod
    def _check_pools(subnet):
        error = ipam.pool_errors(subnet['cidr'], subnet['allocation_pools'],
                                 subnet['gateway_ip'])
        if error:
            raise exc.InvalidInput(error_message=error)

    def _update_subnets(self, txn, ctx, doc, changes):
        new = dict(doc, **changes)
        if 'gateway_ip' in changes:
            self._check_gateway(new['cidr'], new['gateway_ip'])
            if new['gateway_ip'] and txn.get(IPALLOCATIONS,
                                             alloc_key(doc['id'], new['gateway_ip'])):
                raise exc.IpAddressAlreadyAllocated(ip=new['gateway_ip'], subnet_id=doc['id'])
        if 'gateway_ip' in changes or 'allocation_pools' in changes:
            self._check_pools(new)
        if 'allocation_pools' in changes:
            txn.delete(IPAMCURSORS, doc['id'])  # new pools: search from their start
        return new

    def _delete_subnets(self, txn, doc):
        if txn.list(IPALLOCATIONS, prefix=doc['id'] + '/'):
            raise exc.SubnetInUse(subnet_id=doc['id'])
        txn.delete(IPAMCURSORS, doc['id'])

    # -- ports ------------------------------------------------------------

    def _create_ports(self, txn, ctx, attrs):
        project = self._project_of(ctx, attrs, 'ports')
        network = self._network_for_child(txn, ctx, attrs['network_id'], 'ports',
                                          owner_only=False)
        attrs.setdefault('port_security_enabled', network['port_security_enabled'])
        self._check_address_pairs(attrs)
        doc = self._new_doc(attrs, project)
        doc['status'] = 'DOWN'
        doc['mac_address'] = self._claim_mac(txn, network['id'], attrs.get('mac_address'),
                                             doc['id'])
        requested = attrs.get('fixed_ips')
        doc['fixed_ips'] = (self._allocate_any_ip(txn, network['id'], doc['id'])
                            if requested is None else
                            self._allocate_ips(txn, network['id'], doc['id'], requested))
        doc['extra_dhcp_opts'] = self._merge_dhcp_opts([], attrs['extra_dhcp_opts'])
        self._bind(txn, doc)
        txn.put('ports', doc['id'], doc)
        return doc

    def _update_ports(self, txn, ctx, doc, changes):
        new = dict(doc, **changes)
        self._check_address_pairs(new)
        if 'fixed_ips' in changes:
            kept, released, wanted = self._match_fixed_ips(doc['fixed_ips'],
                                                           changes['fixed_ips'])
            self._release_ips(txn, released)
            new['fixed_ips'] = kept + self._allocate_ips(txn, doc['network_id'], doc['id'],
                                                         wanted, already=kept)
        if 'extra_dhcp_opts' in changes:
            new['extra_dhcp_opts'] = self._merge_dhcp_opts(doc['extra_dhcp_opts'],
                                                           changes['extra_dhcp_opts'])
        if new['binding:host_id'] != doc['binding:host_id']:
            self._unbind(txn, doc)
        self._bind(txn, new)
        return new

    def _delete_ports(self, txn, doc):
        self._release_ips(txn, doc['fixed_ips'])
        txn.delete(MACADDRESSES, '%s/%s' % (doc['network_id'], doc['mac_address']))
        self._unbind(txn, doc)

    @staticmethod
    def _check_address_pairs(port):
        if port.get('allowed_address_pairs') and not port['port_security_enabled']:
            raise exc.AddressPairAndPortSecurityRequired()

    def _claim_mac(self, txn, network_id, mac, port_id):
        if mac is not None:
            key = '%s/%s' % (network_id, mac)
            if txn.get(MACADDRESSES, key):
                raise exc.MacAddressInUse(net_id=network_id, mac=mac)
        else:
            for _ in range(16):
                mac = ipam.generate_mac(self.base_mac, self.rng)
                key = '%s/%s' % (network_id, mac)
                if not txn.get(MACADDRESSES, key):
                    break
            else:
                raise exc.MacAddressGenerationFailure(net_id=network_id)
        txn.put(MACADDRESSES, key, {'port_id': port_id})
        return mac

    @staticmethod
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

    def _allocate_any_ip(self, txn, network_id, port_id):
        """One address from the first subnet (oldest first) that has room."""
        subnets = sorted(txn.list('subnets', where={'network_id': network_id}),
                         key=lambda s: s['created_at'])
        for subnet in subnets:
            ip = self._free_ip(txn, subnet)
            if ip:
                return [self._claim_ip(txn, subnet, ip, port_id)]
        if subnets:
            raise exc.IpAddressGenerationFailure(net_id=network_id)
        return []

    def _allocate_ips(self, txn, network_id, port_id, requested, already=()):
        subnets = {s['id']: s for s in txn.list('subnets', where={'network_id': network_id})}
        claimed = list(already)
        result = []
        for fixed_ip in requested:
            subnet = self._subnet_for(subnets, network_id, fixed_ip)
            ip = fixed_ip.get('ip_address')
            if ip is None:
                ip = self._free_ip(txn, subnet)
                if ip is None:
                    raise exc.IpAddressGenerationFailure(net_id=network_id)
            elif ip == subnet['gateway_ip']:
                raise exc.IpAddressAlreadyAllocated(ip=ip, subnet_id=subnet['id'])
            if any(c['ip_address'] == ip and c['subnet_id'] == subnet['id'] for c in claimed):
                raise exc.InvalidInput(error_message='duplicate IP address %s in fixed_ips'
                                       % ip)
            allocation = self._claim_ip(txn, subnet, ip, port_id)
            claimed.append(allocation)
            result.append(allocation)
        return result

    @staticmethod
    def _subnet_for(subnets, network_id, fixed_ip):
        if 'subnet_id' in fixed_ip:
            subnet = subnets.get(fixed_ip['subnet_id'])
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
        for subnet in sorted(subnets.values(), key=lambda s: s['created_at']):
            if ip in netaddr.IPNetwork(subnet['cidr']):
                return subnet
        raise exc.InvalidIpForNetwork(ip_address=fixed_ip['ip_address'])

    @staticmethod
    def _free_ip(txn, subnet):
        """The lowest free pool address, which the caller claims in this txn."""
        cursor = txn.get(IPAMCURSORS, subnet['id'])
        ip = ipam.first_free_ip(
            subnet['allocation_pools'],
            lambda ip: txn.get(IPALLOCATIONS, alloc_key(subnet['id'], ip)) is not None,
            start=cursor and cursor['next'])
        if ip:
            following = min(int(netaddr.IPAddress(ip)) + 1, 2 ** 32 - 1)
            txn.put(IPAMCURSORS, subnet['id'],
                    {'next': str(netaddr.IPAddress(following, version=4))})
        return ip

    @staticmethod
    def _claim_ip(txn, subnet, ip, port_id):
        first, last = ipam.host_range(subnet['cidr'])
        if not first <= int(netaddr.IPAddress(ip)) <= last:
            raise exc.InvalidIpForSubnet(ip_address=ip)
        key = alloc_key(subnet['id'], ip)
        if txn.get(IPALLOCATIONS, key):
            raise exc.IpAddressAlreadyAllocated(ip=ip, subnet_id=subnet['id'])
        txn.put(IPALLOCATIONS, key, {'port_id': port_id, 'subnet_id': subnet['id'],
                                     'ip_address': ip})
        return {'subnet_id': subnet['id'], 'ip_address': ip}

    def _release_ips(self, txn, allocations):
        for allocated in allocations:
            txn.delete(IPALLOCATIONS, alloc_key(allocated['subnet_id'],
                                                allocated['ip_address']))
            self._lower_cursor(txn, allocated['subnet_id'], allocated['ip_address'])

    @staticmethod
    def _lower_cursor(txn, subnet_id, freed_ip):
        cursor = txn.get(IPAMCURSORS, subnet_id)
        if cursor and netaddr.IPAddress(cursor['next']) > netaddr.IPAddress(freed_ip):
            txn.put(IPAMCURSORS, subnet_id, {'next': freed_ip})

    @staticmethod
    def _merge_dhcp_opts(current, requested):
        """Neutron's semantics: options are keyed by name; a null value removes one."""
        merged = {o['opt_name']: o for o in current}
        for opt in requested:
            if opt.get('opt_value') is None:
                merged.pop(opt['opt_name'], None)
            else:
                merged[opt['opt_name']] = dict(opt, ip_version=opt.get('ip_version', 4))
        return sorted(merged.values(), key=lambda o: o['opt_name'])

    # -- binding: the (host, network) VRF --------------------------------

    def _bind(self, txn, port, strict=True):
        """Make sure the port's (host, network) VRF has a vrf_ip, and that a
        client-supplied binding:profile agrees with it (``strict``) or, when
        the host has only just become known, give way to it."""
        host_name = port['binding:host_id']
        host = host_name and self._host_by_name(txn, host_name)
        if not host:
            return
        allocation = self._ensure_vrf(txn, host, port['network_id'], port['tenant_id'])
        computed = vrf_lib.binding_profile(host, allocation)
        for key, value in computed.items():
            given = port['binding:profile'].get(key)
            if strict and given is not None and given != value:
                raise exc.InvalidInput(
                    error_message='binding:profile %s %s disagrees with host %s, whose VRF '
                                  'for this network has %s' % (key, given, host_name, value))
            # Computed keys are derived at read time, never stored twice.
            port['binding:profile'].pop(key, None)

    def _unbind(self, txn, port):
        """Release the (host, network) vrf_ip when the last port leaves."""
        host_name = port['binding:host_id']
        if not host_name:
            return
        others = [p for p in txn.list('ports', where={'network_id': port['network_id'],
                                                      'binding:host_id': host_name})
                  if p['id'] != port['id']]
        if not others:
            txn.delete(VRFALLOCATIONS, vrf_lib.allocation_key(host_name, port['network_id']))

    @staticmethod
    def _host_by_name(txn, name):
        hosts = [h for h in txn.list('hosts') if h['name'] == name]
        return hosts[0] if hosts else None

    @staticmethod
    def _ensure_vrf(txn, host, network_id, project_id):
        key = vrf_lib.allocation_key(host['name'], network_id)
        allocation = txn.get(VRFALLOCATIONS, key)
        if allocation:
            return allocation
        on_host = txn.list(VRFALLOCATIONS, prefix=vrf_lib.host_prefix(host['name']))
        vrf_ip = vrf_lib.first_free_vrf_ip(host['vrf_cidr'], [a['vrf_ip'] for a in on_host])
        if vrf_ip is None:
            raise exc.VrfIpGenerationFailure(vrf_cidr=host['vrf_cidr'], host=host['name'])
        network = txn.get('networks', network_id)
        name = naming.vrf_name(network['tenant_id'], network_id)
        for other in on_host:
            # The name keeps 24 bits of the network id: two networks of one
            # project may share it, and one host cannot hold both.
            if other['vrf'] == name:
                raise exc.VrfNameInUse(vrf=name, host=host['name'],
                                       other=other['network_id'], net_id=network_id)
        allocation = {'host': host['name'], 'network_id': network_id, 'vrf_ip': vrf_ip,
                      'vrf': name}
        txn.put(VRFALLOCATIONS, key, allocation)
        return allocation

    # -- hosts ------------------------------------------------------------

    def _create_hosts(self, txn, ctx, attrs):
        self._check_host(txn, attrs, None)
        doc = self._new_doc(attrs)
        txn.put('hosts', doc['id'], doc)
        # Ports bound to this name before the host was known bind now.
        for port in txn.list('ports', where={'binding:host_id': doc['name']}):
            self._bind(txn, port, strict=False)
            txn.put('ports', port['id'], port)
        return doc

    def _update_hosts(self, txn, ctx, doc, changes):
        new = dict(doc, **changes)
        self._check_host(txn, new, doc['id'])
        if (new['vrf_cidr'] != doc['vrf_cidr'] and
                txn.list(VRFALLOCATIONS, prefix=vrf_lib.host_prefix(doc['name']))):
            raise exc.HostInUse(host_id=doc['id'],
                                reason='vrf_cidr cannot change while ports are bound to it')
        return new

    def _delete_hosts(self, txn, doc):
        if txn.list('ports', where={'binding:host_id': doc['name']}):
            raise exc.HostInUse(host_id=doc['id'], reason='ports are bound to it')

    @staticmethod
    def _check_host(txn, host, own_id):
        if netaddr.IPAddress(host['segment_node_id']).value & 0xffffffff:
            raise exc.InvalidInput(
                error_message='segment_node_id %s must leave its low 32 bits zero: they '
                              'carry the vrf_ip of each SID' % host['segment_node_id'])
        for other in txn.list('hosts'):
            if other['id'] == own_id:
                continue
            for attr in ('name', 'datapath_id', 'segment_node_id'):
                if other[attr] == host[attr]:
                    raise exc.HostNameInUse(attr=attr, value=host[attr])

    # -- srv6_encap_networks -----------------------------------------------

    def _create_srv6_encap_networks(self, txn, ctx, attrs):
        network = self._network_for_child(txn, ctx, attrs['network_id'],
                                          'srv6_encap_networks', owner_only=True)
        attrs.setdefault('tenant_id', network['tenant_id'])
        project = self._project_of(ctx, attrs, 'srv6_encap_networks')
        self._check_encap_rules(attrs['encap_rules'])
        doc = self._new_doc(attrs, project)
        txn.put('srv6_encap_networks', doc['id'], doc)
        return doc

    def _update_srv6_encap_networks(self, txn, ctx, doc, changes):
        if 'encap_rules' in changes:
            self._check_encap_rules(changes['encap_rules'])
        doc.update(changes)
        return doc

    def _delete_srv6_encap_networks(self, txn, doc):
        pass

    @staticmethod
    def _check_encap_rules(rules):
        destinations = [r['destination'] for r in rules]
        duplicates = sorted({d for d in destinations if destinations.count(d) > 1})
        if duplicates:
            raise exc.InvalidInput(error_message='encap_rules repeat destination %s'
                                   % ', '.join(duplicates))
