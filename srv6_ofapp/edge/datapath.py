"""OS-Ken's Datapath with a fast path for packet-ins: the one place the edge
reaches below OS-Ken's generic machinery.

OS-Ken hands every message through three threads: its receive loop parses
it into a message object (two recv() calls per message), queues an event for
the app's thread, and the app's packet-out goes through a send queue to a
send thread.  For a packet-in answered in a few microseconds that is most of
the cost (~230-250 us of CPU per reply measured live), and under overload the
queues hold stale requests for seconds.  FastDatapath changes only that:

  * the receive loop reads what the socket holds (up to READ_SIZE bytes) and
    splits it into messages itself; an OpenFlow 1.3 packet-in goes straight
    to the registered handler, ``packet_in(datapath, message bytes)``, on
    this thread, which returns the packet-out bytes to send, or None; every
    other message takes OS-Ken's own path (parse, handlers, events), so the
    handshake, echo, port status, statistics and errors are OS-Ken's as before;
  * the packet-outs of one read are sent with one write;
  * ``send`` writes to the socket itself, under a lock, instead of queueing
    for a send thread (writes from every thread keep their order; a blocked
    switch blocks the writer, as OS-Ken's full send queue did);
  * overload is shed here, before any work: when more than BACKLOG bytes
    wait behind a packet-in (the rest of the read, and what the socket
    still holds), the controller is behind, and packet-ins that start new
    work (DHCP DISCOVER, and any packet-in once STALE bytes wait) are
    dropped and counted, while requests that complete an exchange in
    progress (DHCP REQUEST) and ARP are answered.  What is dropped is the
    oldest: the messages at the head of a backlog.
    The socket's receive buffer is bounded (RCVBUF), so what waits is
    seconds of nothing: it is at most a few milliseconds of work.

``install(handler, on_shed)`` makes OS-Ken's controller create FastDatapaths
for the connections that follow: its listener calls the module-level
``datapath_connection_factory`` of os_ken.controller.controller, looked up
when the listener starts (after the apps are made); ``uninstall()`` restores
OS-Ken's own.  (The class name ``Datapath`` itself must stay OS-Ken's: its
__init__ names it in super().)
"""

import contextlib
import fcntl
import logging
import socket
import struct
import termios
import threading

from os_ken.controller import controller
from os_ken.controller import ofp_event
from os_ken.controller.handler import DEAD_DISPATCHER
from os_ken.lib import hub
from os_ken.lib.dpid import dpid_to_str
from os_ken.ofproto import ofproto_parser

from srv6_ofapp.edge import dhcp
from srv6_ofapp.edge import ofwire

LOG = logging.getLogger(__name__)

READ_SIZE = 256 * 1024
RCVBUF = 512 * 1024
# Bytes still waiting after a read beyond which new DHCP exchanges are shed
# (about 100 packet-ins), and beyond which every packet-in is.
BACKLOG = 40 * 1024
STALE = 256 * 1024

OFPT_PACKET_IN = 10
OFP_VERSION_1_3 = 4
_HEADER = struct.Struct('!BBHI')
_PENDING = struct.Struct('i')

# What shedding decides per packet-in.
KEEP = 0
SHED = 1


class FastDatapath(controller.Datapath):

    packet_in_handler = None      # packet_in(datapath, bytes) -> bytes or None
    shed_handler = None           # on_shed(reason, count)

    def __init__(self, sock, address):
        super().__init__(sock, address)
        self._write_lock = threading.Lock()
        self._received_all = threading.Event()
        try:
            self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
        except OSError:
            pass

    # -- sending: straight to the socket --

    def send(self, buf, close_socket=False):
        if self.state == DEAD_DISPATCHER and not close_socket:
            LOG.debug('datapath %s closed; send() discarded', self.address)
            return False
        try:
            with self._write_lock:
                self.socket.sendall(buf)
        except (OSError, socket.timeout) as exc:
            LOG.debug('send to %s failed: %s', self.address, exc)
            self.is_active = False
            self._close_write()
            return False
        if close_socket:
            self._close_write()
        return True

    def _send_loop(self):
        # Nothing queues for a send thread any more; OS-Ken's serve() still
        # starts one and waits for it once the receive loop has ended.  Its
        # end tells the echo loop (which watches send_q) to stop, as OS-Ken's.
        self._received_all.wait()
        self.send_q = None
        self._close_write()

    # -- receiving --

    def _pending(self):
        """Bytes waiting in the socket's receive queue."""
        try:
            return _PENDING.unpack(fcntl.ioctl(self.socket.fileno(), termios.FIONREAD,
                                               b'\0\0\0\0'))[0]
        except OSError:
            return 0

    def _recv_loop(self):
        try:
            self._receive()
        finally:
            self._received_all.set()

    @controller._deactivate
    def _receive(self):
        buf = b''
        count = 0
        while self.state != DEAD_DISPATCHER:
            try:
                ret = self.socket.recv(READ_SIZE)
            except socket.timeout:
                continue
            except (EOFError, OSError):
                break
            if not ret:
                break
            buf = buf + ret if buf else ret
            # A read that did not fill the buffer emptied the socket: only a
            # full one can have left a backlog behind it.
            backlog = self._pending() if len(ret) == READ_SIZE else 0
            handler = self.packet_in_handler
            out = []
            shed = 0
            stale = False
            offset = 0
            size = len(buf)
            while size - offset >= 8:
                version, msg_type, msg_len, xid = _HEADER.unpack_from(buf, offset)
                if msg_len < 8:
                    msg_len = 8  # as OS-Ken: someone isn't playing nicely
                if size - offset < msg_len:
                    break
                message = buf[offset:offset + msg_len]
                offset += msg_len
                if msg_type == OFPT_PACKET_IN and version == OFP_VERSION_1_3 and \
                        handler is not None:
                    # What waits behind this message: the rest of this read
                    # and what the socket still holds.
                    waiting = backlog + size - offset
                    if waiting > BACKLOG and shed_decision(message, waiting) == SHED:
                        shed += 1
                        stale |= waiting > STALE
                        continue
                    reply = handler(self, message)
                    if reply:
                        out.append(reply)
                    continue
                if out:
                    # What OS-Ken's path sends next must follow these.
                    self.send(b''.join(out))
                    out = []
                self._dispatch(version, msg_type, msg_len, xid, message)
                count += 1
                if count > 2048:
                    count = 0
                    hub.sleep(0)
            buf = buf[offset:]
            if out:
                self.send(b''.join(out))
            if shed and self.shed_handler is not None:
                self.shed_handler('stale' if stale else 'backlog', shed)

    def _dispatch(self, version, msg_type, msg_len, xid, message):
        """OS-Ken's own handling of one message (controller.Datapath._recv_loop)."""
        msg = ofproto_parser.msg(self, version, msg_type, msg_len, xid, bytearray(message))
        if not msg:
            return
        ev = ofp_event.ofp_msg_to_ev(msg)
        if self.ofp_brick is None:
            return
        self.ofp_brick.send_event_to_observers(ev, self.state)
        handlers = [handler for handler in self.ofp_brick.get_handlers(ev)
                    if self.state in handler.callers[ev.__class__].dispatchers]
        for handler in handlers:
            handler(ev)


def shed_decision(message, backlog):
    """KEEP or SHED for a packet-in while ``backlog`` bytes wait: past STALE
    everything is shed (it has waited too long to matter); below it, only
    what starts a new DHCP exchange."""
    if backlog > STALE:
        return SHED
    try:
        _, frame = ofwire.parse_packet_in(message)
    except ofwire.BadMessage:
        return SHED
    return SHED if dhcp.peek_message_type(frame) == dhcp.DHCP_DISCOVER else KEEP


def fast_connection_factory(sock, address):
    """os_ken.controller.controller.datapath_connection_factory, with a
    FastDatapath."""
    LOG.debug('connected socket:%s address:%s', sock, address)
    with contextlib.closing(FastDatapath(sock, address)) as datapath:
        try:
            datapath.serve()
        except BaseException:
            LOG.error('Error in the datapath %s from %s',
                      '%s' % datapath.id if datapath.id is None else dpid_to_str(datapath.id),
                      address)
            raise


def install(handler, on_shed=None):
    """New connections get FastDatapaths calling ``handler``."""
    FastDatapath.packet_in_handler = staticmethod(handler)
    FastDatapath.shed_handler = staticmethod(on_shed) if on_shed else None
    controller.datapath_connection_factory = fast_connection_factory


def uninstall():
    controller.datapath_connection_factory = _OSKEN_FACTORY
    FastDatapath.packet_in_handler = None
    FastDatapath.shed_handler = None


_OSKEN_FACTORY = controller.datapath_connection_factory
