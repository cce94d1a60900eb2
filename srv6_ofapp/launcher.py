"""``srv6-ofapp``: run the edge (srv6_ofapp.edge.app), the host agent and
the REST API in one process, launched like ryu-manager (same flag names,
config files, positional apps).
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
# The OpenFlow edge and the host agent (kernel VRFs and SRv6 routes).
MAIN_APPS = ['srv6_ofapp.edge.app', 'srv6_ofapp.dataplane.agent']


class RestServer:
    """The REST API on waitress, in a thread of its own."""

    def __init__(self, wsgi_app, host, port, threads):
        import waitress.server
        self._server = waitress.server.create_server(
            wsgi_app, host=host, port=port, threads=threads,
            ident='srv6-ofapp', clear_untrusted_proxy_headers=True)
        self.port = self._server.effective_port
        self._thread = threading.Thread(target=self._server.run, name='rest-api',
                                        daemon=True)

    def start(self):
        self._thread.start()

    def stop(self):
        from waitress import wasyncore
        self._server.task_dispatcher.shutdown(timeout=5)
        # An empty socket map ends the server's loop.
        wasyncore.close_all(self._server._map)
        self._thread.join(timeout=5)


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

    from os_ken import log
    from os_ken.base.app_manager import AppManager
    from rest.app import make_app

    app_mgr = AppManager.get_instance()
    try:
        app_mgr.load_apps(MAIN_APPS + CONF.app_lists + CONF.app)
        contexts = app_mgr.create_contexts()
    except exceptions.StoreUnavailable as error:
        return fail(error.msg)
    except ImportError as error:
        return fail('cannot load application: %s' % error)
    # Logging starts once the store is open, so that a start-up failure is
    # the one line above rather than a page of progress messages.
    log.init_log()
    runtime = contexts['runtime']
    try:
        rest = RestServer(make_app(runtime.plugin, CONF), CONF.wsapi_host, CONF.wsapi_port,
                          CONF.wsapi_threads)
    except OSError as error:
        app_mgr.close()
        return fail('cannot serve the REST API on %s:%d: %s'
                    % (CONF.wsapi_host, CONF.wsapi_port, error.strerror or error))

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    if CONF.pid_file:
        with open(CONF.pid_file, 'w') as pid_file:
            pid_file.write('%d\n' % os.getpid())

    app_mgr.instantiate_apps(**contexts)
    rest.start()
    logging.getLogger(PROG).info(
        'REST API on http://%s:%s/ (store %s); OpenFlow on %s:%s', CONF.wsapi_host,
        rest.port, runtime.store.url, CONF.ofp_listen_host, CONF.ofp_tcp_listen_port or 6653)
    try:
        stop.wait()
    finally:
        logging.getLogger(PROG).info('stopping')
        rest.stop()  # finishes the requests in flight, accepts no more
        close_apps(app_mgr)
        runtime.close()
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
