#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Before/after probes for a hop's defences against a hostile peer (issue
12): the same probe runs against any tfstd, so that a baseline build and a
fixed one are measured alike.  Not a test: it prints figures.

    TFSTD=/path/to/tfstd [NEW=1] python3 bench/hostile-hops.py Probe.test_flood

NEW=1 raises MaxPendingHops=/MaxPendingHopsPerAddress= (a build that knows
them) so that all 10 000 silent connections are held.  Probes: test_flood
(relay RSS under 9 s of PINGs never read), test_silent (RSS with 10 000
silent connections and after, worst echo round trip while their handshake
deadlines fire), test_silent_defaults (the same with default caps),
test_silent_twice (memory kept across bursts), test_takeover (legitimate
sessions failed during 20 s of label takeover attempts)."""
import errno, os, re, socket, sys, threading, time, unittest
sys.path.insert(0, os.environ.get("TESTDIR") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))
from tfst_testlib import *
from tfst_testlib.wire import FrameReader, PING, TELL, TELL_OK, WHO, IAM, frame, hello, tlv
NEW = os.environ.get("NEW") == "1"

def patch(d, lines):
    t = open(d.config_path).read()
    t = re.sub(r"(\[Children\]\nListen=[^\n]*\n)", lambda m: m.group(1) + lines, t)
    open(d.config_path, "w").write(t)

def smaps(pid):
    out = []
    cur = None
    for line in open(f"/proc/{pid}/smaps"):
        if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
            cur = line.split(None, 5)
        elif line.startswith("Rss:"):
            kb = int(line.split()[1])
            if kb > 1000:
                out.append((kb, cur[0], cur[-1].strip() if len(cur) > 5 else ""))
    return out

class Probe(TfstTestCase):
    NOFILE = 20000
    def chain(self, extra=""):
        self.echo = self.echo_server()
        self.top = linear_chain(self, relays=1, up={"web": self.echo.addr})
        self.top.create()
        self.relay = self.top.d("relay1")
        if extra: patch(self.relay, extra)
        self.top.start(); self.top.wait_converged()
        self.hop = ("127.0.0.1", self.top.node("relay1").children_port)
        self.session = self.client(self.top.listen_addr("gw1", "web"))
        assert echo_roundtrip(self.session, b"x")

    def test_flood(self):
        self.chain()
        rss0 = self.relay.rss_kib()
        s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.settimeout(10); s.connect(self.hop); s.sendall(hello(b"flood")); r = FrameReader(s)
        r.wait_for(WHO, 10); s.sendall(frame(IAM, payload=tlv(1, b"flood")))
        s.sendall(frame(TELL, payload=tlv(1, b"flood") + tlv(3, b"\0flood"))); r.wait_for(TELL_OK, 10)
        burst = frame(PING, payload=b"\0" * 8) * 65536
        stop = threading.Event(); res = {"sent": 0, "err": None}
        def sender():
            s.settimeout(1)
            while not stop.is_set():
                try:
                    s.sendall(burst); res["sent"] += len(burst)
                except socket.timeout:
                    pass  # partial sendall: framing may break; count as blocked
                except OSError as e:
                    res["err"] = e.errno; return
        t = threading.Thread(target=sender, daemon=True); t.start()
        t0 = time.monotonic(); peak = rss0
        while time.monotonic() - t0 < 9 and res["err"] is None:
            peak = max(peak, self.relay.rss_kib()); time.sleep(0.1)
        stop.set(); t.join(5)
        print(f"FLOOD 9s: sent >= {res['sent']/MIB:.1f} MiB, RSS {rss0/1024:.1f} -> peak {peak/1024:.1f} MiB, closed={res['err']} after {time.monotonic()-t0:.1f}s")
        s.close()

    def test_silent(self):
        n = 10000
        extra = "HandshakeTimeout=20s\n" + ("MaxPendingHops=20000\nMaxPendingHopsPerAddress=20000\n" if NEW else "")
        self.chain(extra)
        base = self.relay.fd_count(); rss0 = self.relay.rss_kib()
        worst = [0.0]; stop = threading.Event()
        def probe():
            while not stop.is_set():
                t0 = time.monotonic(); echo_roundtrip(self.session, b"p", timeout=30)
                worst[0] = max(worst[0], time.monotonic() - t0); time.sleep(0.01)
        t = threading.Thread(target=probe, daemon=True); t.start()
        socks = []
        for _ in range(n):
            s = socket.socket(); s.setblocking(False); s.connect_ex(self.hop); socks.append(s)
        wait_until(lambda: self.relay.fd_count() >= base + n, 60, interval=0.2, what="accept")
        full = self.relay.rss_kib()
        w_before = worst[0]
        wait_until(lambda: self.relay.fd_count() <= base, 60, interval=0.2, what="timeouts")
        for s in socks: s.close()
        stop.set(); t.join(35)
        time.sleep(1)
        after = self.relay.rss_kib()
        print(f"SILENT {n}: RSS {rss0/1024:.1f} -> {full/1024:.1f} -> after {after/1024:.1f} MiB; worst echo RTT before timeouts {w_before:.2f}s overall {worst[0]:.2f}s")
        print("SMAPS", smaps(self.relay.pid))

    def test_silent_twice(self):
        extra = "HandshakeTimeout=8s\nMaxPendingHops=20000\nMaxPendingHopsPerAddress=20000\n"
        self.chain(extra)
        base = self.relay.fd_count()
        print("RSS0", self.relay.rss_kib())
        for rnd in range(3):
            socks = []
            for _ in range(8000):
                s = socket.socket(); s.setblocking(False); s.connect_ex(self.hop); socks.append(s)
            wait_until(lambda: self.relay.fd_count() >= base + 8000, 60, interval=0.2, what="accept")
            full = self.relay.rss_kib()
            wait_until(lambda: self.relay.fd_count() <= base, 60, interval=0.2, what="timeouts")
            for s in socks: s.close()
            time.sleep(1)
            print("ROUND", rnd, full, self.relay.rss_kib())

    def test_silent_defaults(self):
        self.chain()
        rss0 = self.relay.rss_kib(); base = self.relay.fd_count()
        socks = []
        peak = rss0; maxfd = 0
        for i in range(10000):
            s = socket.socket(); s.setblocking(False); s.connect_ex(self.hop); socks.append(s)
            if i % 500 == 0:
                peak = max(peak, self.relay.rss_kib()); maxfd = max(maxfd, self.relay.fd_count() - base)
        t0 = time.monotonic()
        while time.monotonic() - t0 < 3:
            peak = max(peak, self.relay.rss_kib()); maxfd = max(maxfd, self.relay.fd_count() - base); time.sleep(0.1)
        t0 = time.monotonic(); assert echo_roundtrip(self.session, b"x"); rtt = time.monotonic() - t0
        for s in socks: s.close()
        print(f"DEFAULTS 10000 from one address: relay held at most {maxfd} pending, RSS {rss0/1024:.1f} -> peak {peak/1024:.1f} MiB, echo during {rtt:.3f}s, refusal lines {self.relay.count_log('refused a hop connection')}")

    def test_takeover(self):
        self.chain()
        ok = fail = attempts = refused = 0
        stop = threading.Event()
        def attacker():
            nonlocal attempts
            while not stop.is_set():
                try:
                    s = connect(self.hop); s.sendall(hello(b"gw1")); r = FrameReader(s)
                    r.wait_for(WHO, 5); s.sendall(frame(IAM, payload=tlv(1, b"gw1")))
                    s.sendall(frame(TELL, payload=tlv(1, b"gw1") + tlv(3, b"\0gw1")))
                    attempts += 1
                    r.wait_for(TELL_OK, 0.5)
                    time.sleep(0.4)
                    s.close()
                except OSError:
                    pass
        t = threading.Thread(target=attacker, daemon=True); t.start()
        t0 = time.monotonic()
        while time.monotonic() - t0 < 20:
            try:
                c = connect(self.top.listen_addr("gw1", "web"), timeout=3)
                if echo_roundtrip(c, b"legit", timeout=3): ok += 1
                else: fail += 1
                c.close()
            except OSError:
                fail += 1
            time.sleep(0.05)
        stop.set(); t.join(10)
        lost = self.relay.count_log(r"replaced by a new hop|takes over")
        print(f"TAKEOVER 20s: {attempts} attempts, legit sessions ok={ok} failed={fail}, takeovers={lost}, refusals logged={self.relay.count_log('refused hop from')}")

if __name__ == "__main__":
    unittest.main()
