"""Who is calling: a request -> plugin Context, per ``auth_strategy``.

noauth    every caller is admin; X-Project-Id (if sent) names the project
          new resources belong to, else ``default_project_id``.  Only for
          an API nobody else can reach.
keystone  as Neutron: keystonemiddleware's auth_token runs in front of the
          API in this process (:func:`protect`), configured from the
          ``[keystone_authtoken]`` section of the config file.  It removes
          whatever identity headers the client sent, validates X-Auth-Token
          with Keystone, and sets X-Identity-Status, X-Project-Id and
          X-Roles from the token, which the authenticator then reads.
token     a built-in static scheme for small deployments: X-Auth-Token is
          the configured ``admin_token`` (admin) or one of ``project_tokens``
          (that project, member role).

Whatever the strategy, ``/`` (the version document) and ``/metrics`` answer
without credentials, as Neutron's version document does.
"""

import hmac

from srv6_ofapp import exceptions as exc
from srv6_ofapp.model.context import Context

STRATEGIES = ('noauth', 'keystone', 'token')
PUBLIC_PATHS = ('/', '/metrics')
KEYSTONE_GROUP = 'keystone_authtoken'


class ConfigurationError(ValueError):
    """The authentication the configuration asks for cannot work."""


def protect(app, conf):
    """``app`` behind what ``conf.auth_strategy`` puts in front of the API:
    keystonemiddleware's auth_token for keystone, nothing otherwise."""
    if conf.auth_strategy != 'keystone':
        return app
    from keystoneauth1 import loading
    from keystonemiddleware import auth_token
    for group, opts in auth_token.list_opts():
        conf.register_opts(opts, group=group)
    loading.register_auth_conf_options(conf, KEYSTONE_GROUP)
    section = conf[KEYSTONE_GROUP]
    if not section.auth_type or not section.www_authenticate_uri:
        raise ConfigurationError(
            'auth_strategy keystone validates tokens with Keystone: set www_authenticate_uri, '
            'auth_type, auth_url and the service credentials in [%s] of a --config-file'
            % KEYSTONE_GROUP)
    # delay_auth_decision: a request without a valid token still reaches the
    # API, marked X-Identity-Status: Invalid, which answers with Neutron's
    # 401 body; the identity headers a client sent are gone either way.
    validated = auth_token.AuthProtocol(app, {'oslo_config_config': conf,
                                              'delay_auth_decision': 'true'})

    def keystone_protected(environ, start_response):
        if environ.get('PATH_INFO') in PUBLIC_PATHS:
            return app(environ, start_response)
        return validated(environ, start_response)
    return keystone_protected


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
        # Only behind protect(): auth_token set these headers from the token.
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
