"""Neutron's list filters: which API views a ``{field: [value, ...]}`` query
selects, and which part of it a store can serve as an exact match.

The REST layer checks the names (its attribute map says which fields are
filters) and hands the values down as the query string sent them; their
meaning is decided here.  A view matches when each filtered field matches
one of the wanted values (``fixed_ips``: all of them), where

- booleans match true/True/1 and false/False/0,
- None matches '', 'None' and 'null',
- MAC addresses match whatever the letter case,
- a list (a port's security_groups) matches when one of its items does,
- ``fixed_ips`` takes ``ip_address=IP`` or ``subnet_id=ID`` and matches a
  port holding such an address,
- the tag filters take tags, comma-separated or repeated, and match a
  resource that has all of them (``tags``), any (``tags-any``), not all
  (``not-tags``) or none (``not-tags-any``), as neutron.objects.tag does.
"""

from srv6_ofapp import exceptions as exc
from srv6_ofapp.model import tags as tag_lib

FIXED_IP_KEYS = ('ip_address', 'subnet_id')


def check(filters):
    """Raise HTTPBadRequest for a value no document could mean, before any
    document is read (so the answer does not depend on what is stored)."""
    for wanted in filters.get('fixed_ips', ()):
        _fixed_ip_filter(wanted)


def exact(filters, fields):
    """{field: value} of the filters on ``fields`` that want a single value:
    what a store may match exactly (``fields`` are stored as shown)."""
    return {field: filters[field][0] for field in fields
            if len(filters.get(field, ())) == 1}


def fixed_ip_values(filters, key):
    """The values wanted for ``key`` (ip_address or subnet_id) by the
    ``fixed_ips`` filters."""
    return [value for wanted_key, value in map(_fixed_ip_filter, filters.get('fixed_ips', ()))
            if wanted_key == key]


def matches(view, filters):
    for name, wanted in filters.items():
        value = view.get(name)
        if name == 'fixed_ips':
            if not all(_fixed_ip_matches(value, w) for w in wanted):
                return False
        elif name in tag_lib.FILTERS:
            if not _tags_match(name, view.get('tags') or (), wanted):
                return False
        elif not any(_value_matches(value, w) for w in wanted):
            return False
    return True


def _value_matches(value, wanted):
    if isinstance(value, list):  # e.g. a port's security_groups: one of them
        return any(_value_matches(item, wanted) for item in value)
    if isinstance(value, bool):
        return wanted.lower() == str(value).lower() or wanted == str(int(value))
    if value is None:
        return wanted in ('', 'None', 'null')
    if isinstance(value, str) and ':' in value and len(value) == 17:  # a MAC
        return value == wanted.lower()
    return str(value) == wanted


def _tags_match(name, tags, wanted):
    wanted = {tag for value in wanted for tag in value.split(',')}
    has_all, has_any = wanted <= set(tags), bool(wanted & set(tags))
    return {'tags': has_all, 'tags-any': has_any, 'not-tags': not has_all,
            'not-tags-any': not has_any}[name]


def _fixed_ip_filter(wanted):
    """``ip_address=10.0.0.2`` -> ('ip_address', '10.0.0.2')."""
    key, sep, value = wanted.partition('=')
    if not sep or key not in FIXED_IP_KEYS:
        raise exc.HTTPBadRequest(message="fixed_ips filter must be 'ip_address=IP' or "
                                         "'subnet_id=ID', not '%s'" % wanted)
    return key, value


def _fixed_ip_matches(fixed_ips, wanted):
    key, value = _fixed_ip_filter(wanted)
    return any(f.get(key) == value for f in fixed_ips or ())
