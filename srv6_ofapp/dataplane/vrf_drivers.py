"""VRF drivers: turn a host's desired state (host_state.HostState) into
kernel state, sending only the difference from what is there.

Two drivers behind one interface (``load``, ``apply``, ``close``):

``netns``  a network namespace per (host, network) plays the VRF, for
           kernels without CONFIG_NET_VRF (as on the development machines).
           Per VRF ``V`` on host namespace ``H`` (H: the host's ``netns``
           attribute, or the current namespace):

             H: vr-<vrf[3:]>  ==veth==  uplink :V   fe80::1 / fe80::2
             H: gw-<net[:11]> ==veth==  gw     :V   gateway IPs, gateway MAC;
                                                    the H end joins the bridge
             H: SID/128 via fe80::2 dev vr-...        (the SID goes into V)
             V: default via fe80::1 dev uplink (IPv6), sr tunsrc = SID
             V: the VRF's routes, role GATEWAY on gw, UPLINK on uplink
                (the decap SID route included: End.DX4 runs where the
                SID arrives)

``vrf``    a Linux l3mdev VRF device per network with its own table (see
           VrfDeviceDriver; needs CONFIG_NET_VRF).

Every route carries our protocol number (route_codec.RTPROT_SRV6); on
start the driver reads back only its own routes and its own VRFs, and
from then on keeps what it applied, so a restart with nothing changed
sends nothing.  The underlay (reaching other hosts' SID prefixes) is the
fabric's job.
"""

import logging
import subprocess

import netaddr

from srv6_ofapp import ovsdb
from srv6_ofapp.dataplane import host_state
from srv6_ofapp.dataplane import linux
from srv6_ofapp.dataplane.kernel_routes import KernelRoutes
from srv6_ofapp.dataplane.route_codec import MAIN_TABLE, Route
from topology import naming

LOG = logging.getLogger(__name__)

# Devices inside a VRF namespace (netns driver): each namespace has its own,
# so these need no per-network names.
VRF_NS_UPLINK = 'uplink'
VRF_NS_GATEWAY = 'gw'
# The link-local addresses of the veth between the host and a VRF namespace.
HOST_LL = 'fe80::1'
VRF_LL = 'fe80::2'


def not_a_router_route(route):
    """Routes in the host's namespace that are not a router's (a network
    node's router driver keeps those)."""
    return not naming.is_router_link(route.oif)


class VrfDriver:
    """What both drivers share: the routes and VRFs applied so far, the
    route diff, one RouteTable per namespace, the gateway port's addresses
    and its place on the host's bridge.

    A subclass places routes (``_desired_routes``) and makes and removes
    VRFs (``load``, ``_ensure_vrf``, ``_delete_vrf``).
    """

    kind = None

    def __init__(self, host, gateway_mac):
        self.host = host
        self.host_netns = host.get('netns')
        self.gateway_mac = gateway_mac
        self.ovsdb = ovsdb.Ovsdb.of_host(host)
        self.vrfs = {}      # name -> host_state.Vrf as applied (None: found, unchecked)
        self.networks = {}  # name -> network id, for VRFs found on start
        self.routes = KernelRoutes()

    def close(self):
        self.routes.close()

    def route_count(self):
        """How many of our routes the host holds (as applied)."""
        return self.routes.count()

    def apply(self, state):
        """Make the kernel hold ``state`` (a host_state.HostState); returns the
        number of changes made."""
        changes = 0
        for name in sorted(set(self.vrfs) - set(state.vrfs)):
            self._delete_vrf(name)
            changes += 1
        for name, vrf in sorted(state.vrfs.items()):
            if self.vrfs.get(name) != vrf:
                self._ensure_vrf(vrf, self.vrfs.get(name))
                changes += 1
        for netns, wanted in self._desired_routes(state).items():
            changes += self.routes.apply(netns, wanted)
        return changes

    def _set_gateway_addresses(self, netns, dev, vrf, before):
        current = set(before.gateway_addresses) if before else linux.addresses(netns, dev)
        for address in sorted(set(vrf.gateway_addresses) - current):
            linux.ip(netns, 'addr', 'replace', address, 'dev', dev)
        for address in sorted(current - set(vrf.gateway_addresses)):
            linux.ip(netns, 'addr', 'del', address, 'dev', dev)

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

    def _network_of(self, name):
        known = self.vrfs.get(name)
        return known.network_id if known is not None else self.networks.get(name)


class NetnsDriver(VrfDriver):
    """A namespace per (host, network) plays the VRF."""

    kind = 'netns'

    def __init__(self, host, gateway_mac):
        super().__init__(host, gateway_mac)
        self.prefix = (self.host_netns + '-') if self.host_netns else ''

    def vrf_netns(self, vrf_name):
        return self.prefix + vrf_name

    # -- reading what is there ------------------------------------------------

    def load(self):
        """Read our VRFs and our routes back from the kernel (on start)."""
        existing = sorted(name[len(self.prefix):] for name in linux.namespaces()
                          if name.startswith(self.prefix + naming.VRF_PREFIX))
        self.vrfs = {name: None for name in existing}  # unknown detail: recheck
        self.networks = {name: self._alias(self.vrf_netns(name)) for name in existing}
        self.routes.load(self.host_netns, mine=not_a_router_route)
        for name in existing:
            self.routes.load(self.vrf_netns(name))

    @staticmethod
    def _alias(netns):
        links = linux.ip_json(netns, 'link', 'show', VRF_NS_GATEWAY, check=False)
        return links[0].get('ifalias') if links else None

    # -- routes ----------------------------------------------------------------

    DEVICES = {host_state.GATEWAY: VRF_NS_GATEWAY, host_state.UPLINK: VRF_NS_UPLINK}

    def _desired_routes(self, state):
        host_routes = {}
        desired = {self.host_netns: host_routes}
        for vrf in state.vrfs.values():
            sid = Route(vrf.sid + '/128', naming.vrf_link_name(vrf.name), 'dev', via=VRF_LL)
            host_routes[sid.table, sid.dst] = sid
            default = Route('::/0', VRF_NS_UPLINK, 'dev', via=HOST_LL)
            ns = desired[self.vrf_netns(vrf.name)] = {(default.table, default.dst): default}
            for route in state.routes.get(vrf.name, ()):
                ns[route.table, route.dst] = route._replace(oif=self.DEVICES[route.oif])
        return desired

    # -- VRFs ------------------------------------------------------------------

    def _ensure_vrf(self, vrf, before):
        ns = self.vrf_netns(vrf.name)
        gateway_port = naming.gateway_port_name(vrf.network_id)
        if ns not in linux.namespaces():
            LOG.info('creating VRF %s (namespace %s)', vrf.name, ns)
            linux.run(['ip', 'netns', 'add', ns])
            try:
                self._create_links(vrf, ns, gateway_port)
            except Exception:
                # Half a VRF would be taken for a whole one on the next try.
                linux.run(['ip', 'netns', 'del', ns], check=False)
                raise
            self.routes.applied.setdefault(ns, {})
        linux.ip(ns, 'sr', 'tunsrc', 'set', vrf.sid)
        self._set_gateway_addresses(ns, VRF_NS_GATEWAY, vrf, before)
        self._plug(gateway_port)
        self.vrfs[vrf.name] = vrf

    def _create_links(self, vrf, ns, gateway_port):
        link = naming.vrf_link_name(vrf.name)
        linux.ip(ns, 'link', 'set', 'lo', 'up')
        linux.ip(self.host_netns, 'link', 'add', link, 'type', 'veth', 'peer', 'name',
            VRF_NS_UPLINK, 'netns', ns)
        linux.ip(self.host_netns, 'link', 'add', gateway_port, 'type', 'veth', 'peer',
            'name', VRF_NS_GATEWAY, 'netns', ns)
        linux.ip(self.host_netns, 'addr', 'add', HOST_LL + '/64', 'dev', link, 'nodad')
        linux.ip(ns, 'addr', 'add', VRF_LL + '/64', 'dev', VRF_NS_UPLINK, 'nodad')
        # The alias remembers the network across restarts (the VRF name
        # keeps only 6 characters of its id).
        linux.ip(ns, 'link', 'set', VRF_NS_GATEWAY, 'address', self.gateway_mac,
            'alias', vrf.network_id)
        for netns, dev in ((self.host_netns, link), (self.host_netns, gateway_port),
                           (ns, VRF_NS_UPLINK), (ns, VRF_NS_GATEWAY)):
            linux.ip(netns, 'link', 'set', dev, 'up')
        linux.sysctl(ns, 'net.ipv4.ip_forward', 1)
        linux.sysctl(ns, 'net.ipv6.conf.all.forwarding', 1)
        linux.sysctl(self.host_netns, 'net.ipv6.conf.all.forwarding', 1)

    def _delete_vrf(self, name):
        ns = self.vrf_netns(name)
        LOG.info('deleting VRF %s (namespace %s)', name, ns)
        network_id = self._network_of(name)
        if network_id:
            self._unplug(naming.gateway_port_name(network_id))
        # Deleting the namespace takes both veth pairs with it.
        linux.run(['ip', 'netns', 'del', ns], check=False)
        self.routes.forget(ns)
        self.vrfs.pop(name, None)
        # The host-side SID route went with the veth; forget it too.
        link = naming.vrf_link_name(name)
        self.routes.forget_where(self.host_netns, lambda route: route.oif == link)


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


class VrfDeviceDriver(VrfDriver):
    """A Linux l3mdev VRF device per network, with its own routing table, in
    the host's namespace (production kernels with CONFIG_NET_VRF):

        vrfX (type vrf, table T = vrf_ip as a number)
        gw-<net[:11]> ==veth== gv-<net[:11]>, enslaved to vrfX, with the
                               gateway IPs and MAC; the gw- end joins br-int
        T:    the VRF's routes, role GATEWAY on gv-..., UPLINK on vrfX
        main: the decap SID/128 route (End.DX4 ... dev vrfX): the SID is
              looked up where the underlay delivers it

    Its route layout follows networking-sr's; these development machines have
    no CONFIG_NET_VRF, so only the requests it makes are tested here.
    """

    kind = 'vrf'

    def load(self):
        links = [link for link in linux.ip_json(self.host_netns, 'link', 'show', 'type', 'vrf')
                 if link['ifname'].startswith(naming.VRF_PREFIX)]
        self.vrfs = {link['ifname']: None for link in links}
        self.networks = {link['ifname']: link.get('ifalias') for link in links}
        self.routes.load(self.host_netns, mine=not_a_router_route)

    def _desired_routes(self, state):
        wanted = {}
        for vrf in state.vrfs.values():
            devices = {host_state.GATEWAY: naming.gateway_slave_name(vrf.network_id),
                       host_state.UPLINK: vrf.name}
            table = vrf_table(vrf)
            for route in state.routes.get(vrf.name, ()):
                placed = route._replace(
                    oif=devices[route.oif],
                    table=MAIN_TABLE if route.action == 'decap' else table)
                wanted[placed.table, placed.dst] = placed
        return {self.host_netns: wanted}

    def _ensure_vrf(self, vrf, before):
        table = vrf_table(vrf)
        gateway_port = naming.gateway_port_name(vrf.network_id)
        slave = naming.gateway_slave_name(vrf.network_id)
        if before is None:
            # Each piece only if missing: a crash may have left half of them.
            links = {link['ifname'] for link in linux.ip_json(self.host_netns, 'link', 'show')}
            if vrf.name not in links:
                LOG.info('creating VRF device %s (table %d)', vrf.name, table)
                linux.ip(self.host_netns, 'link', 'add', vrf.name, 'type', 'vrf', 'table', str(table))
                linux.ip(self.host_netns, 'link', 'set', vrf.name, 'alias', vrf.network_id)
            if gateway_port not in links:
                linux.ip(self.host_netns, 'link', 'add', gateway_port, 'type', 'veth', 'peer',
                    'name', slave)
            linux.ip(self.host_netns, 'link', 'set', slave, 'master', vrf.name,
                'address', self.gateway_mac)
            for dev in (vrf.name, gateway_port, slave):
                linux.ip(self.host_netns, 'link', 'set', dev, 'up')
            linux.sysctl(self.host_netns, 'net.ipv4.ip_forward', 1)
            linux.sysctl(self.host_netns, 'net.ipv6.conf.all.forwarding', 1)
        self._set_gateway_addresses(self.host_netns, slave, vrf, before)
        self._plug(gateway_port)
        self.vrfs[vrf.name] = vrf

    def _delete_vrf(self, name):
        known = self.vrfs.get(name)
        LOG.info('deleting VRF device %s', name)
        network_id = self._network_of(name)
        if network_id:
            gateway_port = naming.gateway_port_name(network_id)
            self._unplug(gateway_port)
            linux.ip(self.host_netns, 'link', 'del', gateway_port, check=False)
        # The kernel drops the VRF's table routes with the device.
        linux.ip(self.host_netns, 'link', 'del', name, check=False)
        self.vrfs.pop(name, None)
        self.routes.forget_where(self.host_netns, lambda route: (
            known is not None and route.table == vrf_table(known) or route.oif == name))


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
