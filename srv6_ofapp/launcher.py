"""``srv6-ofapp``: the controller, launched like ryu-manager (same flag
names, config files, positional apps), in one of three roles (--role):

  all    the REST API, the OpenFlow edge, the host dataplane and the state
         reporter in one process (the embedded default);
  api    the REST API alone, over a shared store;
  agent  one host's edge, dataplane and reporter (--host), fed from the
         store directly; its REST port serves only /metrics;
  gateway  a network node's routers (--host) in every cluster named by
         --cluster NAME=STORE_URL (gateway.py); /metrics only, no OpenFlow.
"""

import contextlib
import io
import logging
import os
import signal
import sys
import threading

from oslo_config import cfg as oslo_cfg

from srv6_ofapp import config
from srv6_ofapp import exceptions
from srv6_ofapp.config import CONF

PROG = 'srv6-ofapp'
# The OS-Ken apps of each role: the OpenFlow edge, the host dataplane
# (kernel VRFs and SRv6 routes) and the agents' state reports.
HOST_APPS = ['srv6_ofapp.edge.app', 'srv6_ofapp.dataplane.app', 'srv6_ofapp.report_state']
ROLE_APPS = {'all': HOST_APPS, 'agent': HOST_APPS, 'api': [], 'gateway': []}


def started(conf, runtime, rest_port):
    """The line that says what the process serves, once it does."""
    openflow = 'OpenFlow on %s:%s' % (conf.ofp_listen_host or '0.0.0.0',
                                      conf.ofp_tcp_listen_port or 6653)
    if conf.role == 'gateway':
        return 'gateway of host %s for clusters %s: metrics on http://%s:%s/metrics' % (
            conf.host, ', '.join(c.partition('=')[0] for c in conf.cluster), conf.wsapi_host,
            rest_port)
    if conf.role == 'agent':
        return 'agent of host %s: %s, metrics on http://%s:%s/metrics (store %s)' % (
            conf.host, openflow, conf.wsapi_host, rest_port, runtime.store.url)
    api = 'REST API on http://%s:%s/ (store %s)' % (conf.wsapi_host, rest_port,
                                                    runtime.store.url)
    return api if conf.role == 'api' else api + '; ' + openflow


def close_apps(app_mgr):
    """Let each application finish its background work (the edge's status
    writes, the agent's netlink sockets) before the store closes.  Not
    AppManager.close(): OS-Ken's native hub cannot stop the apps' threads."""
    for app in list(app_mgr.applications.values()):
        close = getattr(app, 'close', None)
        if callable(close):
            try:
                close()
            except Exception:
                logging.getLogger(PROG).exception('closing %s failed', app.name)


def fail(message, code=1):
    print('%s: error: %s' % (PROG, message), file=sys.stderr)
    return code


def parse_args(argv):
    """Parse flags and config files; a mistake is one line on stderr and exit 2.

    oslo.config (through argparse) prints a full usage text before its
    error; we keep only the error line, but --help still gets the text.
    """
    config.register_opts()
    captured = io.StringIO()
    try:
        with contextlib.redirect_stderr(captured):
            CONF(argv, prog=PROG, project='srv6_ofapp', default_config_files=[])
    except oslo_cfg.Error as error:
        raise SystemExit(fail(str(error).splitlines()[0], 2))
    except SystemExit as done:
        if not done.code:
            sys.stdout.write(captured.getvalue())
            raise
        lines = [line for line in captured.getvalue().splitlines() if line.strip()]
        message = lines[-1] if lines else 'invalid arguments'
        prefix = PROG + ': error: '
        raise SystemExit(fail(message[len(prefix):] if message.startswith(prefix)
                              else message, 2))


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    parse_args(argv)
    if CONF.role == 'gateway':
        return main_gateway()

    from os_ken import log
    from os_ken.base.app_manager import AppManager
    from rest.app import make_app, metrics_app, refusal_app
    from rest.auth import ConfigurationError
    from rest.request import MAX_BODY
    from rest.validators import global_ipv6
    from srv6_ofapp.runtime import Runtime
    from srv6_ofapp.wsgi_server import RestServer

    if CONF.default_route_sid:
        try:
            global_ipv6(CONF.default_route_sid)
        except ValueError as error:
            return fail('--default-route-sid: %s' % error, 2)
    apps = ROLE_APPS[CONF.role] + CONF.app_lists + CONF.app
    if CONF.role == 'api' and apps:
        return fail('--role api serves the REST API alone; it runs no applications', 2)
    app_mgr = AppManager.get_instance()
    try:
        if apps:
            app_mgr.load_apps(apps)
            contexts = app_mgr.create_contexts()
            runtime = contexts['runtime']
        else:
            contexts, runtime = {}, Runtime()
    except exceptions.StoreUnavailable as error:
        return fail(error.msg)
    except ImportError as error:
        return fail('cannot load application: %s' % error)
    try:
        wsgi = metrics_app if CONF.role == 'agent' else make_app(runtime.plugin, CONF)
    except ConfigurationError as error:
        runtime.close()
        return fail(str(error))
    # Logging starts once the store is open, so that a start-up failure is
    # the one line above rather than a page of progress messages.
    log.init_log()
    stopping = refusal_app(exceptions.ServiceUnavailable(reason='the server is stopping'))
    try:
        rest = RestServer(wsgi, stopping, CONF.wsapi_host, CONF.wsapi_port,
                          CONF.wsapi_threads, MAX_BODY)
    except OSError as error:
        runtime.close()
        return fail('cannot serve the REST API on %s:%d: %s'
                    % (CONF.wsapi_host, CONF.wsapi_port, error.strerror or error))

    def begin():
        if apps:
            app_mgr.instantiate_apps(**contexts)

    def end():
        close_apps(app_mgr)
        runtime.close()
    return serve(rest, begin, end, lambda port: started(CONF, runtime, port))


def main_gateway():
    """--role gateway: a network node's routers in several clusters."""
    from os_ken import log
    from rest.app import metrics_app, refusal_app
    from rest.request import MAX_BODY
    from srv6_ofapp import gateway as gateway_lib
    from srv6_ofapp.wsgi_server import RestServer

    try:
        clusters = gateway_lib.parse_clusters(CONF.cluster)
    except ValueError as error:
        return fail(str(error), 2)
    log.init_log()
    try:
        stopping = refusal_app(exceptions.ServiceUnavailable(reason='the gateway is stopping'))
        rest = RestServer(metrics_app, stopping, CONF.wsapi_host, CONF.wsapi_port,
                          CONF.wsapi_threads, MAX_BODY)
    except OSError as error:
        return fail('cannot serve /metrics on %s:%d: %s'
                    % (CONF.wsapi_host, CONF.wsapi_port, error.strerror or error))
    gateway = gateway_lib.Gateway(clusters, CONF.host, CONF)
    return serve(rest, gateway.start, gateway.close, lambda port: started(CONF, None, port))


def serve(rest, begin, end, started_line):
    """Write the pid file, ``begin()``, serve REST until SIGTERM or SIGINT,
    then ``end()``."""
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    if CONF.pid_file:
        with open(CONF.pid_file, 'w') as pid_file:
            pid_file.write('%d\n' % os.getpid())
    begin()
    rest.start()
    logging.getLogger(PROG).info('%s', started_line(rest.port))
    try:
        stop.wait()
    finally:
        # Every consumer of the store stops before it closes: the REST
        # server answers (or refuses, 503) each request it accepted, the
        # apps end their threads (the edge's worker, the dataplane's, the
        # reporter, which revokes its leases), the replica's change feed
        # ends, and only then the store closes (waiting for any operation
        # still running).
        logging.getLogger(PROG).info('stopping')
        if not rest.stop():  # answers the requests in flight, accepts no more
            logging.getLogger(PROG).warning('some REST requests were not answered')
        end()
        if CONF.pid_file:
            try:
                os.unlink(CONF.pid_file)
            except OSError:
                pass
    return 0


def run():
    """The console script: ``main`` then the end of the process.

    OS-Ken's native hub cannot stop its OpenFlow listener (hub.kill is a
    no-op there) and its threads are not daemons, so neither
    AppManager.close() nor interpreter exit would return; ``main`` has
    closed the state, so end the process here.
    """
    code = main()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == '__main__':
    run()
