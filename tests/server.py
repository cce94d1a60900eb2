"""Run a real ``srv6-ofapp`` process for tests and benchmarks."""

import os
import signal
import socket
import subprocess
import sys
import time

import requests

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


class Server:
    """``srv6-ofapp`` on ephemeral ports with its own sqlite file, or on the
    store a ``--store`` URL names (then give ``log_path`` too)."""

    def __init__(self, store_path, extra_args=(), log_path=None, wrapper=()):
        self.store_path = store_path
        self.extra_args = list(extra_args)
        self.log_path = log_path or store_path + '.log'
        # A command that execs the rest of the line in the same process
        # (e.g. unshare into a mount namespace), so proc is the server.
        self.wrapper = list(wrapper)
        self.proc = None
        self.port = None
        self.ofp_port = None

    @property
    def store_url(self):
        return self.store_path if '://' in self.store_path else 'sqlite:///' + self.store_path

    @property
    def url(self):
        return 'http://127.0.0.1:%d' % self.port

    def start(self, timeout=20):
        # A port free_port() found may be taken before the server binds it
        # (another test's client or server): pick new ones and try again.
        for attempt in range(3):
            fresh = self.port is None
            offset = self.log_size() if os.path.exists(self.log_path) else 0
            try:
                return self._start(timeout, offset)
            except RuntimeError:
                if not (fresh and attempt < 2 and
                        'Address already in use' in self.log_since(offset)):
                    raise
                self.port = self.ofp_port = None

    def _start(self, timeout, offset):
        # A restart keeps the ports, so switches reconnect to the same address.
        self.port = self.port or free_port()
        self.ofp_port = self.ofp_port or free_port()
        args = self.wrapper + [sys.executable, '-m', 'srv6_ofapp',
                '--store', self.store_url,
                '--wsapi-host', '127.0.0.1', '--wsapi-port', str(self.port),
                '--ofp-listen-host', '127.0.0.1',
                '--ofp-tcp-listen-port', str(self.ofp_port)] + self.extra_args
        with open(self.log_path, 'ab') as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT,
                                         cwd=ROOT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError('srv6-ofapp exited with %s:\n%s'
                                   % (self.proc.returncode, self.log()))
            try:
                requests.get(self.url + '/', timeout=1)
            except (requests.ConnectionError, requests.Timeout):
                # Not listening yet, or listening but too busy to answer
                # (a process loading a large store): not ready either way.
                time.sleep(0.05)
                continue
            # The OpenFlow listener fails in a thread of its own: the REST
            # API answers, but switches could not connect.
            if 'Address already in use' in self.log_since(offset):
                self.kill()
                raise RuntimeError('OpenFlow port %d taken:\n%s' % (self.ofp_port,
                                                                    self.log()))
            return self
        self.kill()
        raise RuntimeError('srv6-ofapp did not answer in %ss:\n%s' % (timeout, self.log()))

    def log(self):
        try:
            with open(self.log_path, errors='replace') as log:
                return log.read()[-4000:]
        except OSError:
            return ''

    def log_size(self):
        return os.path.getsize(self.log_path)

    def log_since(self, offset):
        """What the server logged after ``offset`` (from log_size())."""
        with open(self.log_path, errors='replace') as log:
            log.seek(offset)
            return log.read()

    def restart(self, ready='synced', timeout=20):
        """SIGTERM, then start again on the same ports and store, and wait
        until the new run logs ``ready``; returns where its log begins."""
        code = self.stop()
        if code != 0:
            raise RuntimeError('srv6-ofapp exited with %s on SIGTERM' % code)
        offset = self.log_size()
        self.start()
        deadline = time.monotonic() + timeout
        while ready not in self.log_since(offset):
            if time.monotonic() > deadline:
                raise RuntimeError('no %r in the log within %ss:\n%s' % (ready, timeout,
                                                                        self.log()))
            time.sleep(0.05)
        return offset

    def stop(self, timeout=10):
        """SIGTERM and wait: the clean shutdown path."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode if self.proc else None

    def kill(self):
        """SIGKILL: a crash."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()
