"""Security groups and their rules, with Neutron's semantics.

A security group is an allow-list: a port in one or more groups receives
and sends only what one of their rules allows (and the replies of what it
allowed: the firewall is stateful).  Every project has a ``default`` group,
made on first use, which lets its members talk to each other and anything
out; a port created without ``security_groups`` is in it, ``[]`` puts it in
none (so a port with port security and no group passes nothing but DHCP and
ARP).  A rule's ``remote_group_id`` stands for the addresses of that
group's member ports, wherever they are.

A group is ``stateful`` (the default) or not: a stateless group's rules
allow packets one by one, replies only when a rule allows them too.  As in
Neutron, a port's groups are all stateful or all stateless
(SecurityGroupConflict), and a group some port uses keeps its statefulness
(SecurityGroupInUse).

Store kinds:
  security_groups        the groups
  security_group_rules   the rules, each naming its security_group_id
  defaultsecuritygroups  <project> -> {security_group_id}: one default
                         group per project, even with racing API servers
"""

import netaddr

from srv6_ofapp import exceptions as exc
from srv6_ofapp.model import resource
from srv6_ofapp.sg_rules import (ICMP_PROTOCOLS, ICMPV6, PORT_PROTOCOLS, PROTOCOLS,
                                 is_stateful, known_protocol, protocol_number)

DEFAULTS = 'defaultsecuritygroups'
DEFAULT_NAME = 'default'

def default_rules(group_id):
    """Neutron's rules of a project's default group: members reach each
    other, and anything goes out (IPv4 and IPv6 each)."""
    return [{'direction': 'ingress', 'ethertype': ethertype, 'remote_group_id': group_id}
            for ethertype in ('IPv4', 'IPv6')] + \
        [{'direction': 'egress', 'ethertype': ethertype} for ethertype in ('IPv4', 'IPv6')]


def ensure_default(txn, project):
    """The id of ``project``'s default group, made now if it has none."""
    found = txn.get(DEFAULTS, project)
    if found is not None:
        return found['security_group_id']
    group = resource.Resource.new_doc({'name': DEFAULT_NAME, 'stateful': True,
                                       'description': 'Default security group'}, project)
    txn.put('security_groups', group['id'], group)
    txn.put(DEFAULTS, project, {'security_group_id': group['id']})
    for rule in default_rules(group['id']):
        _put_rule(txn, _complete(dict(rule, security_group_id=group['id'])), project)
    return group['id']


def port_groups(txn, ctx, port, requested):
    """The security groups of ``port``: ``requested`` (None: the project's
    default group), each an existing group of the port's project."""
    if requested is None:
        if not port['port_security_enabled']:
            return []
        return [ensure_default(txn, port['tenant_id'])]
    if requested and not port['port_security_enabled']:
        raise exc.PortSecurityAndIPRequiredForSecurityGroups()
    statefulness = set()
    for group_id in requested:
        group = txn.get('security_groups', group_id)
        if group is None or group['tenant_id'] != port['tenant_id']:
            raise exc.SecurityGroupNotFound(id=group_id)
        statefulness.add(is_stateful(group))
    if len(statefulness) > 1:
        raise exc.SecurityGroupConflict(
            reason='Cannot apply both stateful and stateless security groups on the '
                   'same port at the same time')
    return list(requested)


def _in_use(txn, group):
    """Whether a port is in ``group`` (ports are in their own project's)."""
    return any(group['id'] in port.get('security_groups', ())
               for port in txn.list('ports', where={'tenant_id': group['tenant_id']}))


def _complete(rule):
    """A rule with every attribute, as the API shows it."""
    return dict({'protocol': None, 'port_range_min': None, 'port_range_max': None,
                 'remote_ip_prefix': None, 'remote_group_id': None,
                 'remote_address_group_id': None, 'description': ''}, **rule)


def _put_rule(txn, rule, project):
    doc = resource.Resource.new_doc(rule, project)
    txn.put('security_group_rules', doc['id'], doc)
    return doc


# What makes two rules of a group the same rule (with the protocol, compared
# by number: 'tcp' is 6).
RULE_KEYS = ('direction', 'ethertype', 'port_range_min', 'port_range_max',
             'remote_ip_prefix', 'remote_group_id')


def _same_rule(a, b):
    return all(a.get(k) == b.get(k) for k in RULE_KEYS) and \
        protocol_number(a['protocol']) == protocol_number(b['protocol'])


def _existing_rule(txn, group_id, rule):
    """A rule of the group that is the same as ``rule``, or None.  The store
    picks the candidates by the fields ``rule`` sets, so a bulk create of
    many rules does not read every rule of the group for each of them."""
    where = dict({k: rule[k] for k in RULE_KEYS if rule.get(k) is not None},
                 security_group_id=group_id)
    return next((other for other in txn.list('security_group_rules', where=where)
                 if _same_rule(other, rule)), None)


def check_rule(rule):
    """Neutron's rule validation; raises the error Neutron raises."""
    protocol = rule['protocol']
    if not known_protocol(protocol):
        raise exc.SecurityGroupRuleInvalidProtocol(
            protocol=protocol, values=['any'] + sorted(PROTOCOLS))
    number = protocol_number(protocol)
    low, high = rule['port_range_min'], rule['port_range_max']
    if number is None and (low is not None or high is not None):
        raise exc.SecurityGroupProtocolRequiredWithPorts()
    if number in ICMP_PROTOCOLS:
        for field, value in (('type', low), ('code', high)):
            if value is not None and not 0 <= value <= 255:
                raise exc.SecurityGroupInvalidIcmpValue(field=field, attr='port_range_' + (
                    'min' if field == 'type' else 'max'), value=value)
        if high is not None and low is None:
            raise exc.SecurityGroupMissingIcmpType(value=high)
    elif low is not None or high is not None:
        if number not in PORT_PROTOCOLS:
            raise exc.SecurityGroupInvalidProtocolForPort(
                protocol=rule['protocol'],
                valid_port_protocols=', '.join(sorted(n.upper() for n, p in PROTOCOLS.items()
                                                      if p in PORT_PROTOCOLS)))
        if low == 0 or high == 0:
            raise exc.SecurityGroupInvalidPortValue(port=0)
        if low is None or high is None or low > high:
            raise exc.SecurityGroupInvalidPortRange()
    if number == ICMPV6 and rule['ethertype'] == 'IPv4':
        raise exc.SecurityGroupEthertypeConflictWithProtocol(ethertype='IPv4',
                                                             protocol=rule['protocol'])
    if rule['remote_ip_prefix'] and rule['remote_group_id']:
        raise exc.SecurityGroupMultipleRemoteEntites()
    if rule['remote_ip_prefix']:
        version = netaddr.IPNetwork(rule['remote_ip_prefix']).version
        if 'IPv%d' % version != rule['ethertype']:
            raise exc.SecurityGroupRuleParameterConflict(ethertype=rule['ethertype'],
                                                         cidr=rule['remote_ip_prefix'])


class SecurityGroups(resource.Resource):

    collection = 'security_groups'
    store_filters = ('tenant_id', 'name')
    # A project's first listing makes its default group.
    ensures_on_list = True

    def not_found(self, id_):
        return exc.SecurityGroupNotFound(id=id_)

    def on_list(self, txn, ctx):
        if not ctx.is_admin:
            ensure_default(txn, ctx.project_id)

    def create(self, txn, ctx, attrs):
        project = self.project_of(ctx, attrs)
        if attrs.get('name', '').lower() == DEFAULT_NAME:
            raise exc.SecurityGroupDefaultAlreadyExists()
        ensure_default(txn, project)
        doc = self.new_doc(attrs, project)
        txn.put(self.collection, doc['id'], doc)
        # Neutron gives every new group the two egress rules of the default.
        for rule in default_rules(doc['id'])[2:]:
            _put_rule(txn, _complete(dict(rule, security_group_id=doc['id'])), project)
        return doc

    def update(self, txn, ctx, doc, changes):
        if doc['name'] == DEFAULT_NAME and changes.get('name', DEFAULT_NAME) != DEFAULT_NAME:
            raise exc.SecurityGroupCannotUpdateDefault()
        if changes.get('name', '').lower() == DEFAULT_NAME and doc['name'] != DEFAULT_NAME:
            raise exc.SecurityGroupDefaultAlreadyExists()
        if 'stateful' in changes and changes['stateful'] != is_stateful(doc) and \
                _in_use(txn, doc):
            raise exc.SecurityGroupInUse(id=doc['id'])
        doc.update(changes)
        return doc

    def check_delete(self, txn, ctx, doc):
        if doc['name'] == DEFAULT_NAME and not ctx.is_admin:
            raise exc.SecurityGroupCannotRemoveDefault()

    def delete(self, txn, doc):
        default = txn.get(DEFAULTS, doc['tenant_id'])
        is_default = default is not None and default['security_group_id'] == doc['id']
        if _in_use(txn, doc):
            raise exc.SecurityGroupInUse(id=doc['id'])
        for rule in txn.list('security_group_rules', where={'security_group_id': doc['id']}):
            txn.delete('security_group_rules', rule['id'])
        # Rules of other groups that name it as their remote group go too,
        # as Neutron's foreign key cascades.
        for rule in txn.list('security_group_rules', where={'remote_group_id': doc['id']}):
            txn.delete('security_group_rules', rule['id'])
        if is_default:
            txn.delete(DEFAULTS, doc['tenant_id'])

    def view(self, views, doc):
        return dict(views.standard(doc), stateful=is_stateful(doc), security_group_rules=[
            views.standard(rule) for rule in views.rules_of(doc['id'])])


class SecurityGroupRules(resource.Resource):

    collection = 'security_group_rules'
    store_filters = ('tenant_id', 'security_group_id', 'direction', 'ethertype',
                     'remote_group_id')

    def not_found(self, id_):
        return exc.SecurityGroupRuleNotFound(id=id_)

    def create(self, txn, ctx, attrs):
        group = txn.get('security_groups', attrs['security_group_id'])
        if group is None or not self.visible(txn, ctx, group):
            raise exc.SecurityGroupNotFound(id=attrs['security_group_id'])
        project = self.project_of(ctx, attrs, default=group['tenant_id'])
        if project != group['tenant_id']:
            raise exc.PolicyNotAuthorized(action='create_security_group_rule:tenant_id')
        rule = _complete(attrs)
        check_rule(rule)
        if rule['remote_group_id'] and txn.get('security_groups',
                                               rule['remote_group_id']) is None:
            raise exc.SecurityGroupNotFound(id=rule['remote_group_id'])
        same = _existing_rule(txn, group['id'], rule)
        if same is not None:
            raise exc.SecurityGroupRuleExists(rule_id=same['id'])
        return _put_rule(txn, rule, project)

    def update(self, txn, ctx, doc, changes):
        doc.update(changes)  # only the description may change
        return doc
