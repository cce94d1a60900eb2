"""The WSGI application: URL routing, JSON in and out, Neutron error bodies.

Usable under any WSGI server; the launcher serves it with waitress.
"""

import json
import logging
import time
import uuid

import routes
import webob
import webob.dec

from rest import auth
from rest import definitions
from rest import request as request_lib
from rest import resource
from rest import tags
from srv6_ofapp import exceptions as exc
from srv6_ofapp import metrics

LOG = logging.getLogger(__name__)

API_VERSION = 'v2.0'
# oslo.middleware's request_id: req-<uuid> on every response, and in the
# WSGI environ under its key for whatever logs about the request.
REQUEST_ID_HEADER = 'X-Openstack-Request-Id'
REQUEST_ID_ENV = 'openstack.request_id'


def _json_response(status, body):
    response = webob.Response(status=status)
    if body is not None:
        response.content_type = 'application/json'
        response.charset = None
        response.body = json.dumps(body).encode()
    return response


def _null_response(status):
    """A JSON ``null``: what Neutron answers to a POST whose controller
    returns nothing (l3_agent_scheduler's; clients parse it as JSON)."""
    response = webob.Response(status=status, content_type='application/json', charset=None)
    response.body = b'null'
    return response


def error_response(error):
    return _json_response(error.status, exc.error_body(error.type, error.msg))


def _request_id(request):
    return request.environ.get(REQUEST_ID_ENV, '-')


def _traced(respond, request):
    """``respond(request)`` with a request id on the response and one log
    line for the request, as Neutron's WSGI server writes it."""
    request_id = request.environ[REQUEST_ID_ENV] = 'req-' + str(uuid.uuid4())
    started = time.monotonic()
    response = respond(request)
    response.headers[REQUEST_ID_HEADER] = request_id
    LOG.info('%s %s "%s %s" status: %d len: %d time: %.4f', request_id,
             request.client_addr, request.method, request_lib.logged_path(request),
             response.status_code, response.content_length or 0, time.monotonic() - started)
    return response


class API:
    """The Neutron v2.0 API over a plugin."""

    def __init__(self, plugin, authenticator):
        self.authenticator = authenticator
        self.controllers = {c: resource.Controller(plugin, c)
                            for c in definitions.RESOURCE_ATTRIBUTE_MAP}
        self.collection_of = {path: c for c, path in definitions.PATHS.items()}
        self.mapper = routes.Mapper()
        m = self.mapper
        m.connect('/', action='versions', conditions={'method': ['GET']})
        m.connect('/metrics', action='metrics', conditions={'method': ['GET']})
        prefix = '/' + API_VERSION
        m.connect(prefix, action='resources', conditions={'method': ['GET']})
        m.connect(prefix + '/', action='resources', conditions={'method': ['GET']})
        m.connect(prefix + '/extensions{fmt:(\\.json)?}', action='extensions',
                  conditions={'method': ['GET']})
        m.connect(prefix + '/extensions/{alias}', action='extension',
                  conditions={'method': ['GET']})
        for action, method, member in (('index', 'GET', False), ('create', 'POST', False),
                                       ('show', 'GET', True), ('update', 'PUT', True),
                                       ('delete', 'DELETE', True)):
            offering = [definitions.PATHS[c] for c in self.controllers
                        if action in definitions.ACTIONS[c]]
            path = prefix + '/{collection_path:(%s)}' % '|'.join(offering)
            if member:
                path += '/{id:[^/]+?}'
            m.connect(path + '{fmt:(\\.json)?}', action=action,
                      conditions={'method': [method]})
        self.tags = tags.Controller(plugin)
        tagged = [definitions.PATHS[c] for c in self.controllers
                  if 'tags' in definitions.RESOURCE_ATTRIBUTE_MAP[c]]
        path = prefix + '/{collection_path:(%s)}/{id:[^/]+}/tags' % '|'.join(tagged)
        for action, method, one in (('index', 'GET', False), ('create', 'POST', False),
                                    ('update_all', 'PUT', False),
                                    ('delete_all', 'DELETE', False),
                                    ('show', 'GET', True), ('update', 'PUT', True),
                                    ('delete', 'DELETE', True)):
            m.connect(path + ('/{tag:[^/]+}' if one else ''), action='tags_' + action,
                      conditions={'method': [method]})
        # Member actions (a router's add_router_interface), the listings
        # a member names (a router's l3-agents) and those an admin changes
        # (an L3 agent's l3-routers).
        for c in self.controllers:
            member = '%s/%s/{id:[^/]+}/' % (prefix, definitions.PATHS[c])
            for name in definitions.MEMBER_ACTIONS[c]:
                m.connect(member + name, action='member_action', name_=name,
                          collection_path=definitions.PATHS[c], conditions={'method': ['PUT']})
            for name in definitions.RELATED[c]:
                m.connect(member + name, action='related', name_=name,
                          collection_path=definitions.PATHS[c], conditions={'method': ['GET']})
            for name in definitions.RELATED_CHANGES[c]:
                m.connect(member + name, action='relate', name_=name,
                          collection_path=definitions.PATHS[c], conditions={'method': ['POST']})
                m.connect(member + name + '/{other_id:[^/]+}', action='unrelate', name_=name,
                          collection_path=definitions.PATHS[c],
                          conditions={'method': ['DELETE']})

    @webob.dec.wsgify
    def __call__(self, request):
        return _traced(self._respond, request)

    def _respond(self, request):
        try:
            return self._dispatch(request)
        except exc.NeutronException as error:
            if error.status >= 500:
                LOG.error('%s %s %s: %s', _request_id(request), request.method,
                          request_lib.logged_path(request), error)
            return error_response(error)
        except Exception:
            LOG.exception('%s %s %s failed', _request_id(request), request.method,
                          request_lib.logged_path(request))
            return error_response(exc.NeutronException(
                'Request failed: internal server error while processing your request.'))

    def _dispatch(self, request):
        match = self.mapper.match(environ=request.environ)
        if match is None:
            if self.mapper.match(request.environ['PATH_INFO']):  # the method is wrong
                raise exc.HTTPMethodNotAllowed(method=request.method,
                                               path=request_lib.logged_path(request))
            raise exc.HTTPNotFound()
        action = match['action']
        if action == 'versions':
            return _json_response(200, self._versions(request))
        if action == 'metrics':
            return _metrics_response()
        ctx = self.authenticator(request)
        if action == 'resources':
            return _json_response(200, self._resources(request))
        if action == 'extensions':
            return _json_response(200, {'extensions': [
                _extension(e) for e in definitions.EXTENSIONS]})
        if action == 'extension':
            for ext in definitions.EXTENSIONS:
                if ext.alias == match['alias']:
                    return _json_response(200, {'extension': _extension(ext)})
            raise exc.ExtensionNotFound(extension_alias=match['alias'])
        collection = self.collection_of[match['collection_path']]
        if action.startswith('tags_'):
            tag = match.get('tag')
            body = request_lib.body(request) \
                if action in ('tags_create', 'tags_update_all') else None
            return _json_response(*self.tags.handle(
                ctx, action[len('tags_'):], collection, match['id'],
                None if tag is None else _path_text(tag), body, _if_revision(request)))
        controller = self.controllers[collection]
        if action == 'member_action':
            return _json_response(*controller.member_action(ctx, match['id'], match['name_'],
                                                            request_lib.body(request)))
        if action == 'related':
            return _json_response(*controller.related(ctx, match['id'], match['name_'],
                                                      request_lib.query(request)))
        if action == 'relate':
            status, _ = controller.relate(ctx, match['id'], match['name_'],
                                          request_lib.body(request))
            return _null_response(status)
        if action == 'unrelate':
            return _json_response(*controller.unrelate(ctx, match['id'], match['name_'],
                                                       _path_text(match['other_id'])))
        if action == 'index':
            url = request.host_url + request.script_name + '/' + API_VERSION + '/' + \
                match['collection_path']
            return _json_response(*controller.index(ctx, request_lib.query(request), url))
        if action == 'show':
            return _json_response(*controller.show(ctx, request_lib.query(request),
                                                   match['id']))
        if action == 'delete':
            return _json_response(*controller.delete(ctx, match['id'],
                                                     _if_revision(request)))
        body = request_lib.body(request)
        if action == 'create':
            return _json_response(*controller.create(ctx, body))
        return _json_response(*controller.update(ctx, body, match['id'],
                                                 _if_revision(request)))

    @staticmethod
    def _versions(request):
        return {'versions': [{
            'id': API_VERSION, 'status': 'CURRENT',
            'links': [{'href': request.host_url + '/' + API_VERSION + '/', 'rel': 'self'}]}]}

    def _resources(self, request):
        base = request.host_url + '/' + API_VERSION + '/'
        return {'resources': [
            {'name': definitions.MEMBERS[c], 'collection': c,
             'links': [{'href': base + definitions.PATHS[c], 'rel': 'self'}]}
            for c in self.controllers]}


def _path_text(value):
    """A URL path segment as text: WSGI gives its bytes as latin-1."""
    try:
        return value.encode('latin-1').decode('utf-8')
    except UnicodeError:
        raise exc.HTTPBadRequest(message='The URL is not UTF-8')


def _if_revision(request):
    """The N of ``If-Match: revision_number=N`` (revision-if-match), or None
    (neutron.api.api_common.check_request_for_revision_constraint)."""
    revision = None
    for etag in getattr(request.if_match, 'etags', ()):
        if not etag.startswith('revision_number='):
            continue
        if revision is not None:
            raise exc.BadRequest(resource='if-match',
                                 msg='Multiple revision_number etags are not supported')
        try:
            revision = int(etag[len('revision_number='):])
        except ValueError:
            raise exc.BadRequest(resource='if-match', msg='Revision number etag must be '
                                 'in the format of revision_number=<int>')
    return revision


def _extension(extension):
    return dict(extension._asdict(), updated='2026-11-01T00:00:00-00:00', links=[])


def _metrics_response():
    body, content_type = metrics.exposition()
    return webob.Response(body=body, content_type=content_type.split(';')[0],
                          charset='utf-8')


def refusal_app(error):
    """A WSGI app that answers every request with ``error`` (a
    NeutronException), traced like the API's answers: what a stopping
    server answers to the requests it will not serve."""
    @webob.dec.wsgify
    def refuse(request):
        return _traced(lambda _: error_response(error), request)
    return refuse


@webob.dec.wsgify
def metrics_app(request):
    """What an agent serves: GET /metrics (Prometheus) and nothing else."""
    return _traced(_metrics_only, request)


def _metrics_only(request):
    if request.environ['PATH_INFO'] != '/metrics':
        return error_response(exc.HTTPNotFound())
    if request.method != 'GET':
        return error_response(exc.HTTPMethodNotAllowed(
            method=request.method, path=request_lib.logged_path(request)))
    return _metrics_response()


def make_app(plugin, conf):
    """The WSGI app for ``plugin`` with the authentication ``conf`` chooses
    (auth.ConfigurationError when it cannot work)."""
    return auth.protect(API(plugin, auth.make_authenticator(conf)), conf)
