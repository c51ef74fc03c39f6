# SPDX-License-Identifier: GPL-2.0-or-later
"""Shared helpers for the tfst integration (and system) tests, by concern.

Everything here is stdlib only and every wait is bounded: a test that finds a
broken daemon must fail with a message, never hang.

- env: paths of the tree and of tfstd, SLOW and the timeouts it scales,
  sanitizer detection, RLIMIT_NOFILE;
- wait: wait_until(), bounded polling;
- ports: PortLease, loopback ports leased machine-wide;
- daemon: Daemon, one tfstd process (config, readiness via a fake
  NOTIFY_SOCKET, log, fds, RSS, chain view, checked stop);
- topology: Topology and linear_chain(), a chain or tree of daemons with
  their forwards, ports and expected chain views;
- payload: deterministic streams and their digests;
- flows: Flow (a long session checked by hash to the end) and Hammer
  (short sessions one after another, each timed), traffic across a fault;
- pki: Pki, certificates made with certtool, and tls_section();
- privbus: start_private_bus(), a dbus-daemon of the test's own;
- net: client connections (connect, read exactly / to EOF, xfer, how a
  connection ends);
- servers: EchoServer, ThreadedServer and their handlers;
- ss: sockets of a process as `ss` shows them (CLOSE_WAIT, timers);
- case: TfstTestCase, the base class (work dir, ports, cleanup);
- wire: the hop protocol for hostile peers (frames, TLVs, FrameReader),
  imported as tfst_testlib.wire;
- events: the event sink from outside (numbered messages and their
  ledger, a syslog collector, a private rsyslogd, logger and snmptrap,
  GetSinks), imported as tfst_testlib.events.

The names the tests use are re-exported here: `from tfst_testlib import
TfstTestCase, linear_chain`.  No module here is named test_*.py, so that
meson (tests/meson.build) never takes one for a test file.
"""

from .case import TfstTestCase
from .daemon import CHAIN_RE, SANITIZER_RE, Daemon, log_dir, parse_chain, read_text
from .env import (BUILDDIR, CONVERGE_TIMEOUT, IO_TIMEOUT, KIB, MIB, READY_TIMEOUT, SLOW,
                  SRCDIR, STOP_TIMEOUT, TFSTD, asan_small_quarantine_env, raise_nofile,
                  tfstd_sanitized, tfstd_version)
from .flows import Flow, Hammer
from .net import (abort, connect, connect_retry, echo_roundtrip, hash_until_eof, probe_refused,
                  recv_exact, recv_line, recv_until_eof, wait_closed, xfer)
from .payload import sha256, stream_chunks, stream_sha
from .ports import PortLease
from .servers import (EchoServer, ThreadedServer, hold_handler, make_close_first_handler,
                      make_ident_handler, make_reset_handler, observe_handler, push_handler,
                      reply_after_eof_handler, sink_handler, stream_forever_handler,
                      xfer_handler)
from .ss import close_wait_sockets, parse_ss_tnoi, sockets_touching, ss_sockets
from .topology import Node, Topology, linear_chain
from .wait import wait_until

__all__ = [
    # env
    "BUILDDIR", "CONVERGE_TIMEOUT", "IO_TIMEOUT", "KIB", "MIB", "READY_TIMEOUT", "SLOW",
    "SRCDIR", "STOP_TIMEOUT", "TFSTD", "asan_small_quarantine_env", "raise_nofile",
    "tfstd_sanitized", "tfstd_version",
    # wait, ports, payload
    "wait_until", "PortLease", "sha256", "stream_chunks", "stream_sha",
    # flows
    "Flow", "Hammer",
    # daemon, topology, case
    "CHAIN_RE", "SANITIZER_RE", "Daemon", "log_dir", "parse_chain", "read_text",
    "Node", "Topology", "linear_chain", "TfstTestCase",
    # net
    "abort", "connect", "connect_retry", "echo_roundtrip", "hash_until_eof", "probe_refused",
    "recv_exact", "recv_line", "recv_until_eof", "wait_closed", "xfer",
    # servers
    "EchoServer", "ThreadedServer", "hold_handler", "make_close_first_handler",
    "make_ident_handler", "make_reset_handler", "observe_handler", "push_handler",
    "reply_after_eof_handler", "sink_handler", "stream_forever_handler", "xfer_handler",
    # ss
    "close_wait_sockets", "parse_ss_tnoi", "sockets_touching", "ss_sockets",
]
