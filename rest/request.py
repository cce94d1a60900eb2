"""What a request brings, read within bounds: its JSON body, its query
string, its path for the log.

Every limit on the shape of a request is here (the limits on one
attribute's value are in its attribute map, rest/definitions):

  MAX_BODY          1 MiB of body, 413 beyond (waitress refuses it before
                    buffering it, with the same limit).  Neutron's API sets
                    none; oslo.middleware's sizelimit would be 112 KiB, which
                    a bulk create of a few hundred ports passes.
  MAX_DEPTH         32 levels of JSON nesting (the deepest Neutron body, a
                    port's binding:profile, needs 4 or 5).
  MAX_BULK          1000 items in one bulk create (Neutron's default quota
                    of ports per project is 500).
  MAX_QUERY         16384 characters of query string: Neutron's
                    max_header_line, beyond which its server refuses the
                    request line.
  MAX_QUERY_PARAMS  1000 query parameters.

Beyond a limit, or when a body is not JSON or not declared JSON (415, as
Neutron answers), or a query string is not UTF-8, the answer is a Neutron
error body, before any work is done.
"""

import json
import urllib.parse

from srv6_ofapp import exceptions as exc

MAX_BODY = 1024 * 1024
MAX_DEPTH = 32
MAX_BULK = 1000
MAX_QUERY = 16384
MAX_QUERY_PARAMS = 1000
# What the log shows of a request's path and query string.
MAX_LOGGED_PATH = 4096

JSON_TYPE = 'application/json'


def body(request):
    """The request's JSON body (None when it has none)."""
    if request.content_length and request.content_length > MAX_BODY:
        raise exc.HTTPRequestEntityTooLarge(limit=MAX_BODY)
    raw = request.body_file.read(MAX_BODY + 1) if request.content_length != 0 else b''
    if len(raw) > MAX_BODY:
        raise exc.HTTPRequestEntityTooLarge(limit=MAX_BODY)
    if not raw:
        return None
    # Neutron: a body is JSON; no Content-Type at all is taken as JSON.
    content_type = request.headers.get('Content-Type')
    if content_type is not None and \
            content_type.split(';')[0].strip().lower() != JSON_TYPE:
        raise exc.HTTPUnsupportedMediaType(content_type=content_type)
    try:
        value = json.loads(raw, parse_constant=_not_json)
    except RecursionError:
        raise _malformed('nested deeper than %d levels' % MAX_DEPTH)
    except ValueError as error:  # UnicodeDecodeError and JSONDecodeError too
        raise _malformed(exc.shown(error))
    if _depth(value) > MAX_DEPTH:
        raise _malformed('nested deeper than %d levels' % MAX_DEPTH)
    return value


def bulk_items(collection, items):
    """The items of a bulk create, at most MAX_BULK of them."""
    if len(items) > MAX_BULK:
        raise exc.BadRequest(resource=collection, msg='a bulk request creates at most %d '
                             '%s (%d given)' % (MAX_BULK, collection, len(items)))
    return items


def query(request):
    """The query string's parameters (a webob MultiDict)."""
    text = request.environ.get('QUERY_STRING', '')
    if len(text) > MAX_QUERY:
        raise exc.HTTPBadRequest(message='The query string is longer than %d characters'
                                 % MAX_QUERY)
    try:
        params = request.GET
    except UnicodeDecodeError:
        raise exc.HTTPBadRequest(message='The query string is not UTF-8')
    if len(params) > MAX_QUERY_PARAMS:
        raise exc.HTTPBadRequest(message='The query string has more than %d parameters'
                                 % MAX_QUERY_PARAMS)
    return params


def logged_path(request):
    """The path and query string as received, for logs and errors (webob's
    request.path decodes them as UTF-8, which a client need not send)."""
    environ = request.environ
    path = (environ.get('SCRIPT_NAME', '') + environ.get('PATH_INFO', '')).encode('latin-1')
    query_string = environ.get('QUERY_STRING', '')
    shown = urllib.parse.quote(path, safe="/:@!$&'()*+,;=-._~") + \
        ('?' + query_string if query_string else '')
    return shown if len(shown) <= MAX_LOGGED_PATH else shown[:MAX_LOGGED_PATH] + '...'


def _not_json(constant):
    raise ValueError('%s is not JSON' % constant)


def _malformed(reason):
    return exc.HTTPBadRequest(message='Malformed request body: %s' % reason)


def _depth(value):
    """How deep containers nest in ``value`` (a scalar is 0), without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else \
            item if isinstance(item, list) else None
        if children is None:
            continue
        deepest = max(deepest, depth)
        if deepest > MAX_DEPTH:
            break
        stack.extend((child, depth + 1) for child in children)
    return deepest
