"""VRF drivers: turn a host's desired state (hostplane.HostState) into
kernel state, sending only the difference from what is there.

Two drivers behind one interface (``load``, ``apply``):

``netns``  a network namespace per (host, network) plays the VRF, for
           kernels without CONFIG_NET_VRF (as on the development machines).
           Per VRF ``V`` on host namespace ``H`` (H: the host's ``netns``
           attribute, or the current namespace):

             H: vr-<vrf[3:]>  ==veth==  uplink :V   fe80::1 / fe80::2
             H: gw-<net[:11]> ==veth==  gw     :V   gateway IPs, gateway MAC;
                                                    the H end joins the bridge
             H: SID/128 via fe80::2 dev vr-...        (the SID goes into V)
             V: SID/128 seg6local End.DX4 nh4 vrf_ip  (decap into V)
             V: vrf_ip/32 dev gw                      (End.DX4 routes by nh4;
                a gateway-less route there makes the kernel resolve the inner
                destination on gw: the VM's own address)
             V: default via fe80::1 dev uplink (IPv6), sr tunsrc = SID
             V: /32 dev gw to local VMs; seg6 encap routes dev uplink

``vrf``    a Linux l3mdev VRF device per network with its own table (see
           VrfDeviceDriver; needs CONFIG_NET_VRF).

Every route carries our protocol number (route_codec.RTPROT_SRV6);
on start the driver reads back only its own routes and its own VRFs, and
from then on keeps what it applied, so a restart with nothing changed
sends nothing.  The underlay (reaching other hosts' SID prefixes) is the
fabric's job.
"""

import json
import logging
import os
import subprocess

import netaddr

from srv6_ofapp import ovsdb
from srv6_ofapp.dataplane import route_codec as routes
from srv6_ofapp.dataplane.route_table import RouteTable
from topology import naming

LOG = logging.getLogger(__name__)

UPLINK = 'uplink'
GATEWAY = 'gw'
HOST_LL = 'fe80::1'
VRF_LL = 'fe80::2'
NETNS_DIR = '/var/run/netns'


def _run(args, check=True):
    result = subprocess.run(args, capture_output=True, text=True, timeout=30)
    if check and result.returncode != 0:
        raise RuntimeError('%s failed: %s' % (' '.join(args), result.stderr.strip()))
    return result


def vrf_link_name(vrf_name):
    """The host end of the veth to a VRF: vr- + project[:6] + network[:6]."""
    return 'vr-' + vrf_name[3:]


class NetnsDriver:
    """A namespace per (host, network) plays the VRF."""

    kind = 'netns'

    def __init__(self, host, gateway_mac):
        self.host = host
        self.host_netns = host.get('netns')
        self.prefix = (self.host_netns + '-') if self.host_netns else ''
        self.gateway_mac = gateway_mac
        self.ovsdb = ovsdb.Ovsdb.of_host(host)
        self.vrfs = {}     # name -> hostplane.Vrf as applied
        self.networks = {}  # name -> network id, for VRFs found on start
        self.applied = {}  # namespace (None: the host's) -> {dst: routes.Route}
        self._tables = {}

    # -- names -------------------------------------------------------------

    def vrf_netns(self, vrf_name):
        return self.prefix + vrf_name

    def _ip(self, netns, *args):
        return _run(['ip'] + (['-n', netns] if netns else []) + list(args))

    def _table(self, netns):
        if netns not in self._tables:
            self._tables[netns] = RouteTable(netns)
        return self._tables[netns]

    def close(self):
        for table in self._tables.values():
            table.close()
        self._tables.clear()

    # -- reading what is there ------------------------------------------------

    def load(self):
        """Read our VRFs and our routes back from the kernel (on start)."""
        existing = sorted(name[len(self.prefix):] for name in _namespaces()
                          if name.startswith(self.prefix + 'vrf'))
        self.vrfs = {name: None for name in existing}  # unknown detail: recheck
        self.networks = {name: self._alias(self.vrf_netns(name), GATEWAY)
                         for name in existing}
        self.applied = {self.host_netns: self._dump(self.host_netns)}
        for name in existing:
            self.applied[self.vrf_netns(name)] = self._dump(self.vrf_netns(name))

    def _dump(self, netns):
        return {(route.table, route.dst): route for route in self._table(netns).dump_ours()}

    # -- applying the difference ----------------------------------------------

    def apply(self, state):
        """Make the kernel hold ``state`` (a hostplane.HostState); returns the
        number of changes made."""
        changes = 0
        for name in sorted(set(self.vrfs) - set(state.vrfs)):
            self._delete_vrf(name)
            changes += 1
        for name, vrf in sorted(state.vrfs.items()):
            if self.vrfs.get(name) != vrf:
                self._ensure_vrf(vrf, self.vrfs.get(name))
                changes += 1
        desired = self._desired_routes(state)
        for netns, wanted in desired.items():
            changes += self._apply_routes(netns, wanted)
        return changes

    def _desired_routes(self, state):
        host_routes = {}
        per_vrf = {self.vrf_netns(name): {} for name in state.vrfs}
        for vrf in state.vrfs.values():
            ns = per_vrf[self.vrf_netns(vrf.name)]
            sid = vrf.sid + '/128'
            host_routes[sid] = routes.Route(sid, vrf_link_name(vrf.name), 'dev', via=VRF_LL)
            ns['::/0'] = routes.Route('::/0', UPLINK, 'dev', via=HOST_LL)
            ns[vrf.vrf_ip + '/32'] = routes.Route(vrf.vrf_ip + '/32', GATEWAY, 'dev')
        for route in state.routes:
            ns = per_vrf[self.vrf_netns(route.vrf)]
            vrf = state.vrfs[route.vrf]
            if route.action == 'gateway':
                ns[route.dst] = routes.Route(route.dst, GATEWAY, 'dev')
            elif route.action == 'encap':
                ns[route.dst] = routes.Route(route.dst, UPLINK, 'encap', route.segments)
            else:  # decap into this VRF (see the module doc for nh4)
                ns[route.dst] = routes.Route(route.dst, UPLINK, 'decap', nh4=vrf.vrf_ip)
        desired = {self.host_netns: host_routes}
        desired.update(per_vrf)
        return desired

    def _apply_routes(self, netns, wanted):
        # The form dump_ours() reads back, so that equal means unchanged.
        wanted = {(r.table, r.dst): r for r in map(routes.normalize, wanted.values())}
        have = self.applied.get(netns, {})
        adds = [r for key, r in wanted.items() if have.get(key) != r]
        deletes = [r for key, r in have.items() if key not in wanted]
        if adds or deletes:
            self._table(netns).apply(adds, deletes)
            LOG.info('%s: %d routes added or replaced, %d deleted',
                     netns or 'host', len(adds), len(deletes))
        self.applied[netns] = dict(wanted)
        return len(adds) + len(deletes)

    # -- VRFs ------------------------------------------------------------------

    def _ensure_vrf(self, vrf, before):
        ns = self.vrf_netns(vrf.name)
        link = vrf_link_name(vrf.name)
        gateway_port = naming.gateway_port_name(vrf.network_id)
        if ns not in _namespaces():
            LOG.info('creating VRF %s (namespace %s)', vrf.name, ns)
            _run(['ip', 'netns', 'add', ns])
            try:
                self._create_links(vrf, ns, link, gateway_port)
            except Exception:
                # Half a VRF would be taken for a whole one on the next try.
                _run(['ip', 'netns', 'del', ns], check=False)
                raise
            self.applied.setdefault(ns, {})
        self._ip(ns, 'sr', 'tunsrc', 'set', vrf.sid)
        current = set(before.gateway_addresses) if before else self._gateway_addresses(ns)
        for address in sorted(set(vrf.gateway_addresses) - current):
            self._ip(ns, 'addr', 'replace', address, 'dev', GATEWAY)
        for address in sorted(current - set(vrf.gateway_addresses)):
            self._ip(ns, 'addr', 'del', address, 'dev', GATEWAY)
        self._plug(gateway_port)
        self.vrfs[vrf.name] = vrf

    def _plug(self, gateway_port):
        """Put the gateway port on the host's bridge (moving it if the host's
        bridge changed)."""
        self.ovsdb.put_port(self.host['bridge'], gateway_port)

    def _unplug(self, gateway_port):
        # The VRF goes whatever OVSDB says; a stale port is only untidy.
        try:
            self.ovsdb.delete_port(gateway_port)
        except ovsdb.OvsdbError as error:
            LOG.warning('host %s: %s', self.host['name'], error)

    def _create_links(self, vrf, ns, link, gateway_port):
        self._ip(ns, 'link', 'set', 'lo', 'up')
        self._ip(self.host_netns, 'link', 'add', link, 'type', 'veth', 'peer', 'name',
                 UPLINK, 'netns', ns)
        self._ip(self.host_netns, 'link', 'add', gateway_port, 'type', 'veth', 'peer',
                 'name', GATEWAY, 'netns', ns)
        self._ip(self.host_netns, 'addr', 'add', HOST_LL + '/64', 'dev', link, 'nodad')
        self._ip(ns, 'addr', 'add', VRF_LL + '/64', 'dev', UPLINK, 'nodad')
        # The alias remembers the network across restarts (the VRF name
        # keeps only 6 characters of its id).
        self._ip(ns, 'link', 'set', GATEWAY, 'address', self.gateway_mac,
                 'alias', vrf.network_id)
        for netns, dev in ((self.host_netns, link), (self.host_netns, gateway_port),
                           (ns, UPLINK), (ns, GATEWAY)):
            self._ip(netns, 'link', 'set', dev, 'up')
        _sysctl(ns, 'net.ipv4.ip_forward', 1)
        _sysctl(ns, 'net.ipv6.conf.all.forwarding', 1)
        _sysctl(self.host_netns, 'net.ipv6.conf.all.forwarding', 1)

    def _gateway_addresses(self, ns):
        out = self._ip(ns, '-4', '-o', 'addr', 'show', 'dev', GATEWAY).stdout
        return {line.split()[3] for line in out.splitlines()}

    def _alias(self, netns, dev):
        out = _run(['ip'] + (['-n', netns] if netns else []) +
                   ['-j', 'link', 'show', dev], check=False).stdout
        links = json.loads(out or '[]')
        return links[0].get('ifalias') if links else None

    def _network_of(self, name):
        known = self.vrfs.get(name)
        return known.network_id if known is not None else self.networks.get(name)

    def _delete_vrf(self, name):
        ns = self.vrf_netns(name)
        LOG.info('deleting VRF %s (namespace %s)', name, ns)
        network_id = self._network_of(name)
        if network_id:
            self._unplug(naming.gateway_port_name(network_id))
        table = self._tables.pop(ns, None)
        if table is not None:
            table.close()
        # Deleting the namespace takes both veth pairs with it.
        _run(['ip', 'netns', 'del', ns], check=False)
        self.applied.pop(ns, None)
        self.vrfs.pop(name, None)
        # The host-side SID route went with the veth; forget it too.
        host = self.applied.get(self.host_netns, {})
        for key, route in list(host.items()):
            if route.oif == vrf_link_name(name):
                del host[key]


def _namespaces():
    try:
        return set(os.listdir(NETNS_DIR))
    except FileNotFoundError:
        return set()


def _sysctl(netns, key, value):
    prefix = ['ip', 'netns', 'exec', netns] if netns else []
    _run(prefix + ['sysctl', '-qw', '%s=%s' % (key, value)])


def vrf_device_supported():
    """Whether this kernel has CONFIG_NET_VRF (l3mdev VRF devices)."""
    probe = 'srv6vrfprobe'
    result = subprocess.run(['ip', 'link', 'add', probe, 'type', 'vrf', 'table', '4242'],
                            capture_output=True, text=True)
    if result.returncode == 0:
        subprocess.run(['ip', 'link', 'del', probe], capture_output=True)
        return True
    return False


def vrf_table(vrf):
    """The routing table of a VRF device: its vrf_ip as a number (unique on
    the host, like the vrf_ip itself, and far from the reserved 253-255)."""
    return int(netaddr.IPAddress(vrf.vrf_ip))


def gateway_slave_name(network_id):
    """The VRF end of the gateway veth for the vrf driver: gv- + net[:11]."""
    return 'gv-' + network_id[:11]


class VrfDeviceDriver(NetnsDriver):
    """A Linux l3mdev VRF device per network, with its own routing table, in
    the host's namespace (production kernels with CONFIG_NET_VRF):

        vrfX (type vrf, table T = vrf_ip as a number)
        gw-<net[:11]> ==veth== gv-<net[:11]>, enslaved to vrfX, with the
                               gateway IPs and MAC; the gw- end joins br-int
        main: SID/128 seg6local End.DX4 nh4 vrf_ip dev vrfX
        T:    vrf_ip/32 dev gv-...   (as the netns driver: End.DX4 resolves the
                                       inner destination on the gateway port)
        T:    /32 dev gv-... to local VMs; seg6 encap routes dev vrfX

    Its route layout follows networking-sr's; these development machines have
    no CONFIG_NET_VRF, so only the requests it makes are tested here.
    """

    kind = 'vrf'

    def vrf_netns(self, vrf_name):
        return self.host_netns  # everything lives in the host's namespace

    def load(self):
        out = self._ip(self.host_netns, '-j', 'link', 'show', 'type', 'vrf').stdout
        links = [link for link in json.loads(out or '[]') if link['ifname'].startswith('vrf')]
        self.vrfs = {link['ifname']: None for link in links}
        self.networks = {link['ifname']: link.get('ifalias') for link in links}
        self.applied = {self.host_netns: self._dump(self.host_netns)}

    def _desired_routes(self, state):
        wanted = {}

        def add(route):
            wanted[route.table, route.dst] = route
        for vrf in state.vrfs.values():
            table, slave = vrf_table(vrf), gateway_slave_name(vrf.network_id)
            add(routes.Route(vrf.vrf_ip + '/32', slave, 'dev', table=table))
        for route in state.routes:
            vrf = state.vrfs[route.vrf]
            table, slave = vrf_table(vrf), gateway_slave_name(vrf.network_id)
            if route.action == 'gateway':
                add(routes.Route(route.dst, slave, 'dev', table=table))
            elif route.action == 'encap':
                add(routes.Route(route.dst, vrf.name, 'encap', route.segments, table=table))
            else:
                add(routes.Route(route.dst, vrf.name, 'decap', nh4=vrf.vrf_ip))
        return {self.host_netns: wanted}

    def _ensure_vrf(self, vrf, before):
        table = vrf_table(vrf)
        gateway_port = naming.gateway_port_name(vrf.network_id)
        slave = gateway_slave_name(vrf.network_id)
        if before is None:
            # Each piece only if missing: a crash may have left half of them.
            links = self._links()
            if vrf.name not in links:
                LOG.info('creating VRF device %s (table %d)', vrf.name, table)
                self._ip(self.host_netns, 'link', 'add', vrf.name, 'type', 'vrf', 'table',
                         table)
                self._ip(self.host_netns, 'link', 'set', vrf.name, 'alias', vrf.network_id)
            if gateway_port not in links:
                self._ip(self.host_netns, 'link', 'add', gateway_port, 'type', 'veth', 'peer',
                         'name', slave)
            self._ip(self.host_netns, 'link', 'set', slave, 'master', vrf.name,
                     'address', self.gateway_mac)
            for dev in (vrf.name, gateway_port, slave):
                self._ip(self.host_netns, 'link', 'set', dev, 'up')
            _sysctl(self.host_netns, 'net.ipv4.ip_forward', 1)
            _sysctl(self.host_netns, 'net.ipv6.conf.all.forwarding', 1)
        current = set(before.gateway_addresses) if before else self._addresses(slave)
        for address in sorted(set(vrf.gateway_addresses) - current):
            self._ip(self.host_netns, 'addr', 'replace', address, 'dev', slave)
        for address in sorted(current - set(vrf.gateway_addresses)):
            self._ip(self.host_netns, 'addr', 'del', address, 'dev', slave)
        self._plug(gateway_port)
        self.vrfs[vrf.name] = vrf

    def _links(self):
        out = self._ip(self.host_netns, '-j', 'link', 'show').stdout
        return {link['ifname'] for link in json.loads(out or '[]')}

    def _addresses(self, dev):
        out = self._ip(self.host_netns, '-4', '-o', 'addr', 'show', 'dev', dev).stdout
        return {line.split()[3] for line in out.splitlines()}

    def _delete_vrf(self, name):
        known = self.vrfs.get(name)
        LOG.info('deleting VRF device %s', name)
        network_id = self._network_of(name)
        if network_id:
            gateway_port = naming.gateway_port_name(network_id)
            self._unplug(gateway_port)
            _run(['ip'] + (['-n', self.host_netns] if self.host_netns else []) +
                 ['link', 'del', gateway_port], check=False)
        # The kernel drops the VRF's table routes with the device.
        _run(['ip'] + (['-n', self.host_netns] if self.host_netns else []) +
             ['link', 'del', name], check=False)
        self.vrfs.pop(name, None)
        applied = self.applied.get(self.host_netns, {})
        for key, route in list(applied.items()):
            if known is not None and route.table == vrf_table(known) or route.oif == name:
                del applied[key]


def make_driver(kind, host, gateway_mac):
    """The VRF driver ``kind`` ('netns', 'vrf' or 'auto') for ``host``.

    A host with a ``netns`` attribute is simulated in that namespace and
    always gets the netns driver; 'auto' picks 'vrf' where the kernel has
    VRF devices.
    """
    if kind == 'auto':
        kind = 'vrf' if not host.get('netns') and vrf_device_supported() else 'netns'
    if kind == 'vrf':
        return VrfDeviceDriver(host, gateway_mac)
    return NetnsDriver(host, gateway_mac)
