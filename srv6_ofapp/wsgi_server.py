"""The REST API's web server: waitress on a thread of its own, with a stop
that answers every request it accepted.

``stop()`` (SIGTERM, SIGINT):

1. from now on a request that starts is refused at once, 503 with the
   Neutron error body and ``Connection: close`` (a request already running
   finishes and is answered);
2. on the server's own thread, the connections the kernel has already
   completed are accepted, then the listening socket is closed: a client
   connecting later is refused by the kernel, never dropped half-way;
3. the server waits until no request is queued, running or being read,
   no answer is left unsent, and every idle keep-alive connection has had
   IDLE_GRACE to send one more request (which gets its 503);
4. on the server's thread again, every connection is closed, which ends
   its loop; then the worker threads end.

Closing sockets only on the server's own thread is what keeps its select()
from meeting a closed descriptor (``OSError: [Errno 9]``).  waitress's own
shutdown cancels queued requests without a word, so it runs last, with
nothing left to cancel.
"""

import errno
import json
import logging
import threading
import time

import waitress.channel
import waitress.server
import waitress.task
from waitress import wasyncore

from srv6_ofapp.exceptions import error_body

LOG = logging.getLogger(__name__)

# An idle keep-alive connection gets this long after the stop began to send
# one more request (answered 503) before it is closed (seconds).
IDLE_GRACE = 0.3
# The longest stop() waits for requests running (their transactions are
# bounded by the plugin's REQUEST_TIME_LIMIT, 10 s) (seconds).
DRAIN_TIMEOUT = 15.0
# How often the server's thread checks whether it has drained (seconds).
SWEEP_INTERVAL = 0.02


class _Task(waitress.task.WSGITask):
    """A request's task: once the server stops, its answer closes the
    connection, so a keep-alive client does not send it more."""

    def execute(self):
        if self.channel.server.stopping.is_set():
            self.set_close_on_finish()
        super().execute()


class _ErrorTask(waitress.task.ErrorTask):
    """What waitress refuses before the app sees the request (a body over
    max_request_body_size, a malformed request line): the Neutron error
    body, as for every other refusal, instead of waitress's text."""

    def execute(self):
        error = self.request.error
        body = json.dumps(error_body('HTTP' + type(error).__name__,
                                     '%s: %s' % (error.reason, error.body))).encode()
        self.status = '%d %s' % (error.code, error.reason)
        self.response_headers.append(('Content-Type', 'application/json'))
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)


class _Channel(waitress.channel.HTTPChannel):
    task_class = _Task
    error_task_class = _ErrorTask

    def idle(self):
        """Nothing received, queued, running or left to send."""
        return not (self.requests or self.request is not None or self.total_outbufs_len)


class RestServer:
    """``wsgi_app`` on waitress; ``refusal_app`` answers what starts once
    stop() has begun."""

    def __init__(self, wsgi_app, refusal_app, host, port, threads, max_body):
        self.stopping = threading.Event()
        self._app, self._refusal_app = wsgi_app, refusal_app
        self._server = waitress.server.create_server(
            self._serve, host=host, port=port, threads=threads, ident='srv6-ofapp',
            clear_untrusted_proxy_headers=True, max_request_body_size=max_body)
        self._server.channel_class = _Channel
        self._server.stopping = self.stopping
        self.port = self._server.effective_port
        self._thread = threading.Thread(target=self._server.run, name='rest-api',
                                        daemon=True)
        self._stop_started = None
        self._drained = threading.Event()

    def _serve(self, environ, start_response):
        app = self._refusal_app if self.stopping.is_set() else self._app
        return app(environ, start_response)

    def start(self):
        self._thread.start()

    def stop(self):
        """Answer or refuse every request accepted, then stop; returns
        whether everything was answered within DRAIN_TIMEOUT."""
        self._stop_started = time.time()
        self.stopping.set()
        deadline = time.monotonic() + DRAIN_TIMEOUT
        self._on_server_thread(self._close_listener)
        while self._thread.is_alive() and time.monotonic() < deadline:
            self._on_server_thread(self._sweep)
            self._thread.join(SWEEP_INTERVAL)
        if self._thread.is_alive():
            LOG.warning('REST requests still running after %ss: closing their connections',
                        DRAIN_TIMEOUT)
            self._on_server_thread(self._close_all)
            self._thread.join(5)
        self._server.task_dispatcher.shutdown(timeout=5)
        return self._drained.is_set()

    def _on_server_thread(self, thunk):
        self._server.trigger.pull_trigger(thunk)

    # -- run on the server's thread ------------------------------------------

    def _close_listener(self):
        server = self._server
        if not server.accepting:
            return
        server.accepting = False
        while True:  # what the kernel already accepted is ours to answer
            try:
                sock, addr = server.socket.accept()
            except (BlockingIOError, InterruptedError):
                break
            except OSError as error:
                if error.errno in (errno.ECONNABORTED, errno.EPROTO):
                    continue  # that client gave up: the next one
                # Out of descriptors (EMFILE, ENFILE...): trying again would
                # fail again; those left in the backlog are refused.
                LOG.warning('accepting the last connections failed: %s', error)
                break
            try:
                server.set_socket_options(sock)
            except OSError:
                sock.close()
                continue
            server.channel_class(server, sock, server.fix_addr(addr), server.adj,
                                 map=server._map)
        server.del_channel()
        server.socket.close()

    def _sweep(self):
        server = self._server
        now = time.time()
        with server.task_dispatcher.lock:
            busy = bool(server.task_dispatcher.queue)
        for channel in list(server.active_channels.values()):
            if not channel.idle():
                busy = True
            elif now - max(channel.last_activity, self._stop_started) < IDLE_GRACE:
                busy = True  # it may still send a request: let it have its 503
            elif channel.connected:
                channel.handle_close()
        if not busy and not server.active_channels:
            self._drained.set()
            self._close_all()

    def _close_all(self):
        wasyncore.close_all(self._server._map)
