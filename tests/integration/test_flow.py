# SPDX-License-Identifier: GPL-2.0-or-later
"""Per-session flow control: a stalled reader on one session neither stalls
another session on the same hops nor makes the proxies buffer without
bound."""

import socket
import sys
import threading
import time
import unittest

from tfst_testlib import (KIB, MIB, SLOW, TfstTestCase, asan_small_quarantine_env, connect,
                          hash_until_eof, linear_chain, push_handler, sink_handler, stream_chunks,
                          stream_sha, xfer, xfer_handler)

SLOW_N = 32 * MIB
FAST_N = 64 * MIB
RSS_LIMIT_KIB = 64 * 1024


class FlowTest(TfstTestCase):
    def pull(self, addr, n, seed, rcvbuf=None):
        """Asks push_handler for n bytes; returns (sha, count, seconds)."""
        t0 = time.monotonic()
        s = connect(addr, rcvbuf=rcvbuf)
        try:
            s.sendall(f"PUSH {n} {seed}\n".encode())
            sha, got = hash_until_eof(s, 60 * SLOW)
        finally:
            s.close()
        return sha, got, time.monotonic() - t0

    def test_slow_reader_does_not_stall_others(self):
        srv = self.server(push_handler)
        self.daemon_env = asan_small_quarantine_env()
        top = linear_chain(self, relays=1, up={"bulk": srv.addr})
        top.start()
        top.wait_converged()
        addr = top.listen_addr("gw1", "bulk")
        expect_fast = stream_sha(FAST_N, 2)
        expect_slow = stream_sha(SLOW_N, 1)

        # Alone first: the reference time on this machine and build.
        sha, n, alone = self.pull(addr, FAST_N, 2)
        self.assertEqual((n, sha), (FAST_N, expect_fast))
        srv.result()
        # A stall must outlast the other transfer by far to show.
        stall = max(3.0, 2 * alone + 1.0)

        rss0 = {d.label: d.rss_kib() for d in top.daemons()}
        rss_peak = dict(rss0)
        stop_sampling = threading.Event()

        def sample():
            while not stop_sampling.is_set():
                for d in top.daemons():
                    try:
                        rss_peak[d.label] = max(rss_peak[d.label], d.rss_kib())
                    except OSError:
                        pass
                time.sleep(0.05)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()

        # The slow session: small receive buffer, no reading for `stall` s.
        slow = connect(addr, rcvbuf=64 * KIB)
        slow.sendall(f"PUSH {SLOW_N} 1\n".encode())
        time.sleep(0.5)  # its data is queued all along the chain by now
        t_stall = time.monotonic()
        fast_result = {}

        def fast():
            fast_result["r"] = self.pull(addr, FAST_N, 2)
            fast_result["t"] = time.monotonic()

        ft = threading.Thread(target=fast, daemon=True)
        ft.start()
        ft.join(max(0.0, stall - (time.monotonic() - t_stall)))
        stalled_until = time.monotonic()
        stop_sampling.set()
        sampler.join(2)
        try:
            sha_slow, n_slow = hash_until_eof(slow, 60 * SLOW)
        finally:
            slow.close()
        ft.join(60 * SLOW)
        self.assertIn("r", fast_result, "the fast session did not finish")
        sha, n, with_slow = fast_result["r"]
        self.assertEqual((n, sha), (FAST_N, expect_fast), "fast session bytes differ")
        self.assertEqual((n_slow, sha_slow), (SLOW_N, expect_slow), "slow session bytes differ")
        growth = {k: (rss_peak[k] - rss0[k]) // 1024 for k in rss0}
        sys.stderr.write(f"fast session: {alone:.2f}s alone, {with_slow:.2f}s next to a reader "
                         f"stalled for {stall:.1f}s; VmRSS growth MiB: {growth}\n")
        self.assertLess(fast_result["t"], stalled_until,
                        f"the fast session ({with_slow:.1f}s, {alone:.1f}s alone) only finished "
                        f"after the slow reader resumed ({stall:.1f}s stall): head-of-line "
                        f"blocking")
        self.assertLess(with_slow, max(10.0 * SLOW, 2 * alone + 1.0),
                        f"fast session took {with_slow:.1f}s next to a stalled one, "
                        f"{alone:.1f}s alone")
        for label, peak in rss_peak.items():
            growth = peak - rss0[label]
            self.assertLess(growth, RSS_LIMIT_KIB,
                            f"{label}: VmRSS grew by {growth // 1024} MiB while a reader stalled")

    def test_stalled_reader_bounded_memory(self):
        """A stalled reader with far more data behind it than the memory
        bound: without per-session flow control a proxy would buffer it."""
        big = 160 * MIB
        srv = self.server(push_handler)
        self.daemon_env = asan_small_quarantine_env()
        top = linear_chain(self, relays=2, up={"bulk": srv.addr})
        top.start()
        top.wait_converged()
        rss0 = {d.label: d.rss_kib() for d in top.daemons()}
        peak = dict(rss0)
        slow = connect(top.listen_addr("gw1", "bulk"), rcvbuf=64 * KIB)
        try:
            slow.sendall(f"PUSH {big} 3\n".encode())
            t_end = time.monotonic() + 3.0
            while time.monotonic() < t_end:
                for d in top.daemons():
                    peak[d.label] = max(peak[d.label], d.rss_kib())
                time.sleep(0.05)
            sha, n = hash_until_eof(slow, 60 * SLOW)
        finally:
            slow.close()
        self.assertEqual((n, sha), (big, stream_sha(big, 3)))
        growth = {k: (peak[k] - rss0[k]) // 1024 for k in rss0}
        sys.stderr.write(f"VmRSS growth MiB while stalled with {big // MIB} MiB pending: "
                         f"{growth}\n")
        for label, g in growth.items():
            self.assertLess(g, RSS_LIMIT_KIB // 1024,
                            f"{label}: VmRSS grew by {g} MiB behind a stalled reader")

    def test_slow_target_does_not_stall_uploads(self):
        """The reverse case: a target that does not read for a while, with
        a client pushing 32 MiB at it, and another client uploading 64 MiB
        to a healthy target over the same hops."""
        def lazy_sink(c, peer, server):
            time.sleep(stall)
            sink_handler(c, peer, server)

        stall = 3.0
        lazy = self.server(lazy_sink)
        srv_x = self.server(xfer_handler)
        self.daemon_env = asan_small_quarantine_env()
        top = linear_chain(self, relays=1, up={"lazy": lazy.addr, "x": srv_x.addr})
        top.start()
        top.wait_converged()
        sha, n, alone = xfer(top.listen_addr("gw1", "x"), "alone", FAST_N, 0, 5, 6)
        self.assertEqual(srv_x.result()["sha"], stream_sha(FAST_N, 5))
        stall = max(3.0, 2 * alone + 1.0)
        rss0 = {d.label: d.rss_kib() for d in top.daemons()}

        slow = connect(top.listen_addr("gw1", "lazy"))
        errors = []

        def push():
            try:
                for chunk in stream_chunks(SLOW_N, 8):
                    slow.sendall(chunk)
                slow.shutdown(socket.SHUT_WR)
            except OSError as e:
                errors.append(e)

        pusher = threading.Thread(target=push, daemon=True)
        pusher.start()
        time.sleep(0.5)
        t0 = time.monotonic()
        sha, n, with_slow = xfer(top.listen_addr("gw1", "x"), "busy", FAST_N, 0, 5, 6)
        t_done = time.monotonic()
        rss1 = {d.label: d.rss_kib() for d in top.daemons()}
        res = srv_x.result()
        self.assertEqual((res["n"], res["sha"]), (FAST_N, stream_sha(FAST_N, 5)))
        sys.stderr.write(f"upload: {alone:.2f}s alone, {with_slow:.2f}s next to a target stalled "
                         f"for {stall:.1f}s\n")
        self.assertLess(t_done - t0, stall - 0.5,
                        f"upload took {with_slow:.1f}s ({alone:.1f}s alone): it waited for the "
                        f"stalled target")
        pusher.join(60 * SLOW)
        self.assertEqual(errors, [])
        res = lazy.result(timeout=60 * SLOW)
        slow.close()
        self.assertEqual((res["n"], res["sha"]), (SLOW_N, stream_sha(SLOW_N, 8)))
        for label in rss0:
            growth = (rss1[label] - rss0[label]) // 1024
            self.assertLess(growth, RSS_LIMIT_KIB // 1024, f"{label}: VmRSS grew {growth} MiB")

    def test_both_directions_no_stall(self):
        """A slow reader downstream does not stall an upstream transfer on the
        same hops either."""
        srv = self.server(push_handler)
        srv_x = self.server(xfer_handler)
        top = linear_chain(self, relays=1, up={"bulk": srv.addr, "x": srv_x.addr})
        top.start()
        top.wait_converged()
        slow = connect(top.listen_addr("gw1", "bulk"), rcvbuf=64 * KIB)
        try:
            slow.sendall(f"PUSH {SLOW_N} 1\n".encode())
            time.sleep(0.5)
            sha, n, secs = xfer(top.listen_addr("gw1", "x"), "up", 32 * MIB, 0, 5, 6)
            res = srv_x.result()
            self.assertEqual((res["n"], res["sha"]), (32 * MIB, stream_sha(32 * MIB, 5)))
            self.assertLess(secs, 10.0 * SLOW, f"upstream transfer took {secs:.1f}s")
            sha_slow, n_slow = hash_until_eof(slow, 60 * SLOW)
            self.assertEqual((n_slow, sha_slow), (SLOW_N, stream_sha(SLOW_N, 1)))
        finally:
            slow.close()


if __name__ == "__main__":
    unittest.main()
