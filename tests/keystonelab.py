"""A Keystone v3 identity endpoint small enough for tests, offline.

Enough of Keystone for keystonemiddleware's ``auth_token`` to work as it
does in production: version discovery, a password login (the service's own
token, with a catalog naming this endpoint) and token validation
(``GET /v3/auth/tokens`` with ``X-Subject-Token``, 404 for an unknown
token).  Tokens are issued by the test (:meth:`Keystone.issue`); every
validation is recorded, so a test can tell that the middleware asked.
"""

import http.server
import json
import threading
import uuid

SERVICE_USER = ('neutron', 'service-password')
EXPIRES = '2099-01-01T00:00:00.000000Z'
ISSUED = '2026-01-01T00:00:00.000000Z'
DOMAIN = {'id': 'default', 'name': 'Default'}


class Keystone:

    def __init__(self):
        self.tokens = {}       # token -> (project id, [role names])
        self.validations = []  # the user tokens auth_token asked about
        self._server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), self._handler())
        self.url = 'http://127.0.0.1:%d/v3' % self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def issue(self, project, roles):
        """A new token of a user in ``project`` with ``roles``."""
        token = 'tok-' + uuid.uuid4().hex
        self.tokens[token] = (project, list(roles))
        return token

    def config(self):
        """The [keystone_authtoken] section srv6-ofapp reads."""
        return ('[keystone_authtoken]\nwww_authenticate_uri = %(url)s\nauth_url = %(url)s\n'
                'auth_type = password\nusername = %(user)s\npassword = %(password)s\n'
                'project_name = service\nuser_domain_name = Default\n'
                'project_domain_name = Default\n' % dict(url=self.url, user=SERVICE_USER[0],
                                                         password=SERVICE_USER[1]))

    # -- the identity API ------------------------------------------------------

    def _token_body(self, project, roles):
        return {'token': {
            'methods': ['password'], 'expires_at': EXPIRES, 'issued_at': ISSUED,
            'user': {'id': 'user-' + project, 'name': 'user-' + project, 'domain': DOMAIN},
            'project': {'id': project, 'name': project, 'domain': DOMAIN},
            'roles': [{'id': 'role-' + r, 'name': r} for r in roles],
            'catalog': [{'type': 'identity', 'name': 'keystone', 'id': 'identity',
                         'endpoints': [{'id': i, 'interface': i, 'region': 'RegionOne',
                                        'region_id': 'RegionOne', 'url': self.url}
                                       for i in ('public', 'internal', 'admin')]}]}}

    def _version(self):
        return {'id': 'v3.14', 'status': 'stable', 'updated': '2020-04-07T00:00:00Z',
                'links': [{'rel': 'self', 'href': self.url + '/'}],
                'media-types': [{'base': 'application/json',
                                 'type': 'application/vnd.openstack.identity-v3+json'}]}

    def _handler(self):
        keystone = self

        class Handler(http.server.BaseHTTPRequestHandler):

            def log_message(self, *args):
                pass

            def _reply(self, status, body=None, headers=()):
                data = json.dumps(body).encode() if body is not None else b''
                self.send_response(status)
                self.send_header('Content-Type', 'application/json')
                self.send_header('Content-Length', str(len(data)))
                for name, value in headers:
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                path = self.path.rstrip('/')
                if path in ('', '/v3'):
                    version = keystone._version()
                    return self._reply(200, {'version': version} if path else
                                       {'versions': {'values': [version]}})
                if path == '/v3/auth/tokens':
                    subject = self.headers.get('X-Subject-Token')
                    if self.headers.get('X-Auth-Token') != keystone.service_token:
                        return self._reply(401, {'error': {'code': 401}})
                    keystone.validations.append(subject)
                    if subject not in keystone.tokens:
                        return self._reply(404, {'error': {'code': 404,
                                                           'title': 'Not Found'}})
                    project, roles = keystone.tokens[subject]
                    return self._reply(200, keystone._token_body(project, roles),
                                       [('X-Subject-Token', subject)])
                return self._reply(404, {'error': {'code': 404}})

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers['Content-Length'])))
                if self.path.rstrip('/') != '/v3/auth/tokens':
                    return self._reply(404, {'error': {'code': 404}})
                user = body['auth']['identity']['password']['user']
                if (user.get('name'), user.get('password')) != SERVICE_USER:
                    return self._reply(401, {'error': {'code': 401}})
                return self._reply(201, keystone._token_body('service', ['service', 'admin']),
                                   [('X-Subject-Token', keystone.service_token)])

        return Handler

    service_token = 'service-' + uuid.uuid4().hex
