"""Neutron-style exceptions shared by the model, the stores and the REST layer.

The class name is the ``type`` of the Neutron error body and the class
carries its HTTP status, so the REST layer maps any of them to
``{"NeutronError": {"type", "message", "detail"}}`` without a lookup table.

An error names the offending value, but never echoes it whole: a value is
cut to SHOWN_LEN characters (:func:`shown`, which every message that
quotes a client's value goes through; the text kwargs of a message template
are cut here), and a whole message to MESSAGE_LEN.
"""

# The characters of a client's value an error message shows, and the
# longest message: a 10 MB name must not make a 10 MB error.
SHOWN_LEN = 200
MESSAGE_LEN = 1024


def shown(value):
    """``value`` as text for an error message, cut to SHOWN_LEN characters."""
    text = value if isinstance(value, str) else str(value)
    return text if len(text) <= SHOWN_LEN else text[:SHOWN_LEN] + '...'


def error_body(type_, message):
    """Neutron's error body: what every refusal answers, from the API or
    from the web server before the API saw the request."""
    return {'NeutronError': {'type': type_, 'message': message, 'detail': ''}}


def _cut(value):
    return shown(value) if isinstance(value, str) else value


class NeutronException(Exception):
    status = 500
    message = 'An unknown exception occurred.'

    def __init__(self, message=None, **kwargs):
        self.kwargs = kwargs
        text = message if message is not None else \
            self.message % {key: _cut(value) for key, value in kwargs.items()}
        if len(text) > MESSAGE_LEN:
            text = text[:MESSAGE_LEN] + '...'
        super().__init__(text)
        self.msg = text

    @property
    def type(self):
        return type(self).__name__


# 400
class BadRequest(NeutronException):
    status = 400
    message = 'Bad %(resource)s request: %(msg)s.'


class InvalidInput(BadRequest):
    message = 'Invalid input for operation: %(error_message)s.'


class HTTPBadRequest(BadRequest):
    """Attribute validation failures; Neutron reports them with this type."""
    message = 'Invalid input for %(attr)s. Reason: %(reason)s.'


class SecurityGroupInvalidPortRange(InvalidInput):
    message = 'For TCP/UDP protocols, port_range_min must be <= port_range_max'


class SecurityGroupInvalidPortValue(InvalidInput):
    message = 'Invalid value for port %(port)s'


class SecurityGroupInvalidProtocolForPort(InvalidInput):
    message = ('Ports cannot be specified for protocol %(protocol)s. Ports are only '
               'supported for %(valid_port_protocols)s.')


class SecurityGroupInvalidIcmpValue(InvalidInput):
    message = 'Invalid value for ICMP %(field)s (%(attr)s) %(value)s. It must be 0 to 255.'


class SecurityGroupMissingIcmpType(InvalidInput):
    message = ('ICMP code (port-range-max) %(value)s is provided but ICMP type '
               '(port-range-min) is missing.')


class SecurityGroupEthertypeConflictWithProtocol(InvalidInput):
    message = 'Invalid ethertype %(ethertype)s for protocol %(protocol)s.'


class SecurityGroupRuleInvalidProtocol(InvalidInput):
    message = ('Security group rule protocol %(protocol)s not supported. Only protocol '
               'values %(values)s and integer representations [0 to 255] are supported.')


class SecurityGroupProtocolRequiredWithPorts(InvalidInput):
    message = 'Must also specify protocol if port range is given.'


class SecurityGroupMultipleRemoteEntites(InvalidInput):
    message = ('Only one of remote_ip_prefix or remote_group_id or '
               'remote_address_group_id may be provided.')


class SecurityGroupRuleParameterConflict(InvalidInput):
    message = 'Conflicting value ethertype %(ethertype)s for CIDR %(cidr)s'


class PortSecurityAndIPRequiredForSecurityGroups(InvalidInput):
    message = ('Port security must be enabled and port must have an IP address in order '
               'to use security groups.')


class InvalidIpForSubnet(BadRequest):
    message = 'IP address %(ip_address)s is not a valid IP for the specified subnet.'


class InvalidIpForNetwork(BadRequest):
    message = 'IP address %(ip_address)s is not a valid IP for any of the subnets on the specified network.'


class SubnetMismatchForPort(BadRequest):
    message = 'Subnet on port %(port_id)s does not match the requested subnet %(subnet_id)s.'


# 401 / 403
class NotAuthenticated(NeutronException):
    status = 401
    message = 'Authentication required.'


class PolicyNotAuthorized(NeutronException):
    status = 403
    message = "rule:%(action)s is disallowed by policy"


# 404
class NotFound(NeutronException):
    status = 404
    message = 'An unknown resource was not found.'


class NetworkNotFound(NotFound):
    message = 'Network %(net_id)s could not be found.'


class SubnetNotFound(NotFound):
    message = 'Subnet %(subnet_id)s could not be found.'


class PortNotFound(NotFound):
    message = 'Port %(port_id)s could not be found.'


class HostNotFound(NotFound):
    message = 'Host %(host_id)s could not be found.'


class Srv6EncapNetworkNotFound(NotFound):
    message = 'Srv6EncapNetwork %(srv6_encap_network_id)s could not be found.'


class AgentNotFound(NotFound):
    message = 'Agent %(id)s could not be found.'


class InvalidL3Agent(AgentNotFound):
    message = 'Agent %(id)s is not a L3 Agent or has been disabled'


class SecurityGroupNotFound(NotFound):
    message = 'Security group %(id)s does not exist'


class SecurityGroupRuleNotFound(NotFound):
    message = 'Security group rule %(id)s does not exist'


class RouterNotFound(NotFound):
    message = 'Router %(router_id)s could not be found'


class RouterInterfaceNotFound(NotFound):
    message = 'Router %(router_id)s does not have an interface with id %(port_id)s'


class RouterInterfaceNotFoundForSubnet(NotFound):
    message = 'Router %(router_id)s has no interface on subnet %(subnet_id)s'


class FloatingIPNotFound(NotFound):
    message = 'Floating IP %(floatingip_id)s could not be found'


class ExternalGatewayForFloatingIPNotFound(NotFound):
    message = ('External network %(external_network_id)s is not reachable from subnet '
               '%(subnet_id)s.  Therefore, cannot associate Port %(port_id)s with a '
               'Floating IP.')


class TagNotFound(NotFound):
    message = 'Tag %(tag)s could not be found.'


class ExtensionNotFound(NotFound):
    message = 'Extension with alias %(extension_alias)s does not exist.'


class HTTPNotFound(NotFound):
    message = 'The resource could not be found.'


# 405
class HTTPMethodNotAllowed(NeutronException):
    status = 405
    message = 'Method %(method)s is not allowed for %(path)s.'


# 413, 415: the request as a whole
class HTTPRequestEntityTooLarge(NeutronException):
    status = 413
    message = 'Request is too large: the body may have at most %(limit)d bytes.'


class HTTPUnsupportedMediaType(NeutronException):
    status = 415
    message = ("Unsupported Content-Type '%(content_type)s': a request body is JSON "
               "(application/json).")


# 409
class Conflict(NeutronException):
    status = 409
    message = 'A conflict occurred.'


class NetworkInUse(Conflict):
    message = ('Unable to complete operation on network %(net_id)s. '
               'There are one or more ports still in use on the network.')


class SubnetInUse(Conflict):
    message = ('Unable to complete operation on subnet %(subnet_id)s: '
               'One or more ports have an IP allocation from this subnet.')


class RouterInUse(Conflict):
    message = 'Router %(router_id)s %(reason)s'


class RouterInterfaceInUseByFloatingIP(Conflict):
    message = ('Router interface for subnet %(subnet_id)s on router %(router_id)s cannot be '
               'deleted, as it is required by one or more floating IPs.')


class RouterExternalGatewayInUseByFloatingIp(Conflict):
    message = ('Gateway cannot be updated for router %(router_id)s, since a gateway to '
               'external network %(net_id)s is required by one or more floating IPs.')


class FloatingIPPortAlreadyAssociated(Conflict):
    message = ('Cannot associate floating IP %(floating_ip_address)s (%(fip_id)s) with port '
               '%(port_id)s using fixed IP %(fixed_ip)s, as that fixed IP already has a '
               'floating IP on external network %(net_id)s.')


class FipAssociated(Conflict):
    message = ('Unable to complete the operation on port %(port_id)s because the port still '
               'has an associated floating IP.')


class ExternalNetworkInUse(Conflict):
    message = ('External network %(net_id)s cannot be updated to be made non-external, since '
               'it has existing gateway ports.')


class PortInUse(Conflict):
    message = ('Unable to complete operation on port %(port_id)s for network %(net_id)s. '
               'Port already has an attached device %(device_id)s.')


class ServicePortInUse(Conflict):
    message = 'Port %(port_id)s cannot be deleted directly via the port API: %(reason)s.'


class ServicePortChange(Conflict):
    """Not Neutron's: a router's or floating IP's port keeps what its owner
    gave it (the owner's document repeats it)."""
    message = ('Port %(port_id)s belongs to %(device_owner)s %(device_id)s: its %(attr)s '
               'does not change through the port API.')


class AgentInUse(Conflict):
    message = ('Agent %(id)s of host %(host)s is alive; stop it before deleting it '
               '(a dead agent is deleted).')


class RouterHostedByL3Agent(Conflict):
    message = 'The router %(router_id)s has been already hosted by the L3 Agent %(agent_id)s.'


class SecurityGroupInUse(Conflict):
    message = 'Security Group %(id)s in use.'


class SecurityGroupConflict(Conflict):
    message = 'Error %(reason)s while attempting the operation.'


class SecurityGroupCannotRemoveDefault(Conflict):
    message = 'Insufficient rights for removing default security group.'


class SecurityGroupCannotUpdateDefault(Conflict):
    message = 'Updating default security group not allowed.'


class SecurityGroupDefaultAlreadyExists(Conflict):
    message = 'Default security group already exists.'


class SecurityGroupRuleExists(Conflict):
    message = 'Security group rule already exists. Rule id is %(rule_id)s.'


class PortBound(Conflict):
    message = ('Unable to complete operation on port %(port_id)s, port is already bound, '
               'port type: %(vif_type)s, old_mac %(old_mac)s, new_mac %(new_mac)s.')


class HostInUse(Conflict):
    message = 'Unable to complete operation on host %(host_id)s: %(reason)s.'


class GatewayIpInUse(Conflict):
    message = ('Current gateway ip %(ip_address)s already in use by port %(port_id)s. '
               'Unable to update.')


class IpAddressAlreadyAllocated(Conflict):
    message = ('IP address %(ip)s already allocated in subnet %(subnet_id)s')


class MacAddressInUse(Conflict):
    message = ('Unable to complete operation for network %(net_id)s. '
               'The mac address %(mac)s is in use.')


class IpAddressGenerationFailure(Conflict):
    message = 'No more IP addresses available on network %(net_id)s.'


class MacAddressGenerationFailure(Conflict):
    message = 'Unable to generate unique mac on network %(net_id)s.'


class ServiceAddressGenerationFailure(Conflict):
    message = ('No free address in subnet %(cidr)s for the network\'s services (DHCP '
               'server, ARP answers), which a subnet without gateway_ip needs while '
               'enable_dhcp is true.')


class HostNameInUse(Conflict):
    message = 'A host with %(attr)s %(value)s already exists.'


class VrfIpGenerationFailure(Conflict):
    message = 'No more VRF addresses available in vrf_cidr %(vrf_cidr)s of host %(host)s.'


class VrfNameInUse(Conflict):
    message = ('VRF name %(vrf)s of network %(net_id)s is already used on host %(host)s by '
               'network %(other)s (the name keeps only 6 characters of each id).')


class StoreConflict(Conflict):
    """An optimistic store (etcd) kept finding that what the request read
    was changed by concurrent writers, and gave up."""
    message = ('The request conflicted with concurrent writes %(attempts)d times in a row '
               'and was not applied; try again.')


class AddressPairAndPortSecurityRequired(Conflict):
    message = ('Port Security must be enabled in order to have allowed '
               'address pairs on a port.')


# 412
class PreconditionFailed(NeutronException):
    status = 412
    message = 'Precondition failed.'


class RevisionNumberConstraintFailed(PreconditionFailed):
    """If-Match: revision_number=N and the resource is at another revision."""
    message = 'Constrained to %(expected)s, but current revision is %(current)s'


# 5xx
class ServiceUnavailable(NeutronException):
    status = 503
    message = 'The service is unavailable: %(reason)s.'


class StoreUnavailable(ServiceUnavailable):
    message = 'The store %(url)s is unavailable: %(reason)s'


class TransactionTimeLimitExceeded(ServiceUnavailable):
    """A request's transaction ran past the time a request may hold the
    store (its write lock, with sqlite) and was rolled back."""
    message = ('The request was not applied: its transaction ran longer than %(limit)s s '
               '(the store is busy, or the request asks too much at once).')
