"""Security groups and their rules (the ``security-group`` extension), as
Neutron defines them (neutron/extensions/securitygroup.py)."""

from rest.definitions import base

COLLECTION = 'security_groups'
PATH = 'security-groups'  # Neutron's URL
MEMBER = 'security_group'

ATTRIBUTES = dict(base.PROJECT_RESOURCE, **{
    'name': base.NAME,
    'description': base.DESCRIPTION,
    'security_group_rules': base.READ_ONLY,
})

EXTENSIONS = (
    base.Extension('security-group', 'security-group', 'The security groups extension.'),
)

