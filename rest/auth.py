"""Who is calling: a request -> plugin Context, per ``auth_strategy``.

noauth    every caller is admin; X-Project-Id (if sent) names the project
          new resources belong to, else ``default_project_id``.
keystone  the API sits behind keystonemiddleware's auth_token, which has
          validated the token and set X-Identity-Status, X-Project-Id and
          X-Roles; we trust those headers (as Neutron does).
token     a built-in static scheme for small deployments: X-Auth-Token is
          the configured ``admin_token`` (admin) or one of ``project_tokens``
          (that project, member role).
"""

import hmac

from srv6_ofapp import exceptions as exc
from srv6_ofapp.model.context import Context

STRATEGIES = ('noauth', 'keystone', 'token')


def _roles(request):
    return [r.strip().lower() for r in request.headers.get('X-Roles', '').split(',')
            if r.strip()]


def make_authenticator(conf):
    strategy = conf.auth_strategy
    if strategy == 'noauth':
        def noauth(request):
            return Context(request.headers.get('X-Project-Id') or conf.default_project_id,
                           is_admin=True)
        return noauth

    if strategy == 'keystone':
        def keystone(request):
            if request.headers.get('X-Identity-Status') != 'Confirmed':
                raise exc.NotAuthenticated()
            project = request.headers.get('X-Project-Id')
            if not project:
                raise exc.NotAuthenticated('Authentication required: no project scope.')
            return Context(project, is_admin='admin' in _roles(request))
        return keystone

    if strategy == 'token':
        admin_token = conf.admin_token
        project_tokens = dict(conf.project_tokens or {})

        def token(request):
            presented = request.headers.get('X-Auth-Token', '')
            if admin_token and hmac.compare_digest(presented, admin_token):
                return Context(request.headers.get('X-Project-Id') or
                               conf.default_project_id, is_admin=True)
            for known, project in project_tokens.items():
                if hmac.compare_digest(presented, known):
                    return Context(project, is_admin=False)
            raise exc.NotAuthenticated()
        return token

    raise ValueError('auth_strategy must be one of %s, not %r' % (', '.join(STRATEGIES),
                                                                   strategy))
