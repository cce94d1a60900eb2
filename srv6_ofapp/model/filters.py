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
    return compile_filters(filters)(view)


def compile_filters(filters):
    """A predicate on views equal to ``matches(view, filters)``, whose cost
    per view does not grow with the number of values a filter wants (a
    query may repeat a filter hundreds of times)."""
    tests = [_compile(name, wanted) for name, wanted in filters.items()]
    return lambda view: all(test(view) for test in tests)


def _compile(name, wanted):
    if name == 'fixed_ips':
        pairs = set(map(_fixed_ip_filter, wanted))
        return lambda view: _fixed_ips_match(view.get(name), pairs)
    if name in tag_lib.FILTERS:
        tags = {tag for value in wanted for tag in value.split(',')}
        return lambda view: _tags_match(name, set(view.get('tags') or ()), tags)
    exact, lower = set(wanted), {w.lower() for w in wanted}
    return lambda view: _value_matches(view.get(name), exact, lower)


def _value_matches(value, exact, lower):
    """Whether ``value`` matches one of the wanted values (``exact``, and
    ``lower``: the same lower-cased)."""
    if isinstance(value, list):  # e.g. a port's security_groups: one of them
        return any(_value_matches(item, exact, lower) for item in value)
    if isinstance(value, bool):
        return str(value).lower() in lower or str(int(value)) in exact
    if value is None:
        return bool(exact & {'', 'None', 'null'})
    if isinstance(value, str) and ':' in value and len(value) == 17:  # a MAC
        return value in lower
    return str(value) in exact


def _tags_match(name, tags, wanted):
    has_all, has_any = wanted <= tags, bool(wanted & tags)
    return {'tags': has_all, 'tags-any': has_any, 'not-tags': not has_all,
            'not-tags-any': not has_any}[name]


def _fixed_ip_filter(wanted):
    """``ip_address=10.0.0.2`` -> ('ip_address', '10.0.0.2')."""
    key, sep, value = wanted.partition('=')
    if not sep or key not in FIXED_IP_KEYS:
        raise exc.HTTPBadRequest(message="fixed_ips filter must be 'ip_address=IP' or "
                                         "'subnet_id=ID', not '%s'" % wanted)
    return key, value


def _fixed_ips_match(fixed_ips, pairs):
    """Whether the port holds, for each wanted (key, value), an address
    with that key's value."""
    held = {(key, f.get(key)) for f in fixed_ips or () for key in FIXED_IP_KEYS}
    return len(pairs) <= len(held) and pairs <= held
