"""Which VM port sits where: the ports of one switch and the model ports
they carry.

An OVS interface carries a model port when it is named tap + port_id[:11]
(the Nova/Neutron convention) or, when the host's OVSDB is known, when its
``external_ids:iface-id`` names the port.  That rule lives here, for both
directions the edge asks it: the port behind an OpenFlow port number (a
packet-in, a status report) and the OpenFlow port of a model port (flows,
ARP unicast).
"""

import collections

from topology import naming

LocalPort = collections.namedtuple('LocalPort', 'port ofport')
LocalPort.__doc__ = """A VM port of the model whose interface is on this switch."""


class SwitchPorts:
    """The interfaces of one switch: {name: OpenFlow port number}, and the
    iface-ids its OVSDB reported ({name: port id})."""

    def __init__(self, ofports=None, iface_ids=None):
        self.ofports = {}
        self.names = {}
        self.iface_ids = {}
        self._by_iface_id = {}
        self.set_ports(ofports or {})
        self.set_iface_ids(iface_ids or {})

    def set_ports(self, ofports):
        self.ofports = dict(ofports)
        self.names = {number: name for name, number in self.ofports.items()}

    def add(self, name, number):
        self.remove(name)
        self.ofports[name] = number
        self.names[number] = name

    def remove(self, name):
        number = self.ofports.pop(name, None)
        if self.names.get(number) == name:
            del self.names[number]

    def set_iface_ids(self, iface_ids):
        self.iface_ids = dict(iface_ids)
        self._by_iface_id = {port_id: name for name, port_id in self.iface_ids.items()}

    def copy(self):
        return SwitchPorts(self.ofports, self.iface_ids)

    def port_at(self, replica, ofport):
        """The model port behind OpenFlow port ``ofport``, or None."""
        return self.port_named(replica, self.names.get(ofport))

    def port_named(self, replica, name):
        """The model port carried by the interface ``name``, or None."""
        if name is None:
            return None
        return replica.port_by_ifname(name) or replica.port(self.iface_ids.get(name))

    def ofport_of(self, port_id):
        """The OpenFlow port of model port ``port_id`` on this switch, or None."""
        number = self.ofports.get(naming.tap_name(port_id))
        if number is None and port_id in self._by_iface_id:
            number = self.ofports.get(self._by_iface_id[port_id])
        return number

    def local_ports(self, replica):
        """Every model port on this switch, as LocalPorts in interface-name order."""
        found = []
        for name, ofport in sorted(self.ofports.items()):
            port = self.port_named(replica, name)
            if port is not None:
                found.append(LocalPort(port, ofport))
        return found

    def __eq__(self, other):
        return (isinstance(other, SwitchPorts) and self.ofports == other.ofports and
                self.iface_ids == other.iface_ids)

    def __repr__(self):
        return 'SwitchPorts(%r, %r)' % (self.ofports, self.iface_ids)
