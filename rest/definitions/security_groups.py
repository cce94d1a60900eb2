"""Security groups and their rules (the ``security-group`` extension), as
Neutron defines them (neutron/extensions/securitygroup.py), and whether a
group is stateful (``stateful-security-group``, neutron-lib's
stateful_security_group; filterable, as Neutron's database fields are)."""

from rest import validators as v
from rest.definitions import base

COLLECTION = 'security_groups'
PATH = 'security-groups'  # Neutron's URL
MEMBER = 'security_group'

ATTRIBUTES = dict(base.PROJECT_RESOURCE, **{
    'name': base.NAME,
    'description': base.DESCRIPTION,
    'security_group_rules': base.READ_ONLY,
    'stateful': {'allow_post': True, 'allow_put': True, 'validate': v.boolean,
                 'default': True, 'is_visible': True, 'is_filter': True},
})

EXTENSIONS = (
    base.Extension('security-group', 'security-group', 'The security groups extension.'),
    base.Extension('stateful-security-group', 'Stateful security group',
                   'Indicates if the security group is stateful or not'),
)

