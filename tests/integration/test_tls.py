# SPDX-License-Identifier: GPL-2.0-or-later
"""TLS on the hops (TLS=yes): certificates made at test time with certtool.

A chain with TLS on every hop carries byte-identical payloads; an untrusted
CA, an expired certificate, a certificate for another label, a HELLO label
the certificate does not name and a plaintext peer are each refused with a
journal message naming the reason, and no session flows; gnutls-cli with a
client certificate negotiates TLS 1.3 with a hop listener and without one
is refused; a reload with a new certificate keeps the hop and its sessions
and the next connection presents the new certificate; a reconnect resumes
the TLS session from a ticket."""

import hashlib
import json
import os
import shutil
import socket
import ssl
import subprocess
import time
import unittest

from tfst_testlib import (IO_TIMEOUT, KIB, MIB, TfstTestCase, connect, linear_chain, recv_exact,
                          stream_sha, wait_until, xfer, xfer_handler)
from tfst_testlib.privbus import start_private_bus
from tfst_testlib.pki import CERTTOOL, Pki, tls_section
from tfst_testlib.wire import hello

DBUS_DAEMON = shutil.which("dbus-daemon")
BUILDDIR = os.environ.get("TFST_BUILDDIR") or os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "build")
TFSTCTL = os.environ.get("TFSTCTL") or os.path.join(BUILDDIR, "tfstctl", "tfstctl")
GNUTLS_CLI = shutil.which("gnutls-cli")


@unittest.skipIf(CERTTOOL is None, "certtool not installed (Debian package gnutls-bin)")
class TlsTest(TfstTestCase):
    def setUp(self):
        super().setUp()
        self.pki = Pki(os.path.join(self.workdir, "pki"))
        self.creds = {}

    def cert_for(self, label, **kw):
        if label not in self.creds:
            self.creds[label] = self.pki.issue(label, [label], **kw)
        return self.creds[label]

    def chain(self, relays=1, up=True, extra=None, creds=None, ca=None, plaintext=(), psk=None):
        """A linear chain with TLS=yes on both sides of every hop.  creds:
        label -> (cert, key) overrides; extra: label -> {"Parent": text,
        "Children": text} added to the TLS keys; plaintext: labels that
        keep TLS=no."""
        self.srv = self.server(xfer_handler)
        top = linear_chain(self, relays=relays, up={"web": self.srv.addr} if up else None,
                           down=None if up else {"mgmt": self.srv.addr})
        creds = creds or {}
        extra = extra or {}
        for n in top.order:
            if n.label in plaintext:
                continue
            sections = []
            if n.parent is not None:
                sections.append("Parent")
            if n.role != "gwproxy":
                sections.append("Children")
            text = ""
            for sec in sections:
                more = extra.get(n.label, {}).get(sec, "")
                if psk is not None:
                    path = psk.get(n.label, psk.get(None)) if isinstance(psk, dict) else psk
                    text += f"[{sec}]\nTLS=yes\nPSKFile={path}\nHandshakeTimeout=3s\n{more}\n"
                    continue
                cert, key = creds.get(n.label) or self.cert_for(n.label)
                text += f"[{sec}]\n" + tls_section(cert, key, ca or self.pki.ca, more) + "\n"
            n.extra = text
        return top

    def assert_no_session(self, addr):
        """A client of the forward gets nothing through: refused, reset or
        closed without a byte, and the server sees no connection."""
        try:
            s = connect(addr, timeout=2)
        except OSError:
            return
        with s:
            s.settimeout(2)
            try:
                s.sendall(b"XFER t 10 1\n")
                data = s.recv(10)
            except (OSError, socket.timeout):
                data = b""
        self.assertEqual(data, b"", "bytes flowed through a refused hop")

    # ---- the good chain ----

    def test_good_chain_payloads(self):
        top = self.chain(relays=2).start()
        top.wait_converged()
        for d in top.daemons():
            d.wait_log(r"TLS hop to \S+ at \S+ established: \(TLS1\.3\)")
        top.d("relay1").wait_log(r"established: .*peer label gw1|peer label relay2")
        addr = top.listen_addr("gw1", "web")
        for i, size in enumerate((1, 64 * KIB, 4 * MIB, 32 * MIB)):
            for n_up, n_down in ((size, size), (size, 0), (0, size)):
                tag = f"tls-{i}-{n_up}-{n_down}"
                sha, n, _ = xfer(addr, tag, n_up, n_down, 10 + i, 20 + i, timeout=IO_TIMEOUT)
                self.assertEqual((n, sha), (n_down, stream_sha(n_down, 20 + i)), tag)
                res = self.srv.result()
                self.assertEqual((res["tag"], res["n"], res["sha"]),
                                 (tag, n_up, stream_sha(n_up, 10 + i)), tag)
        for d in top.daemons():
            self.assertEqual(d.count_log(r"protocol error|TLS hop .* refused"), 0, d.log_tail())

    def test_uri_san_and_peer_label(self):
        # relay1's certificate names its label as URI tfst:label:relay1 only.
        creds = {"relay1": self.pki.issue("relay1-uri", ["relay1"], uri=True)}
        extra = {"gw1": {"Parent": "PeerLabel=relay1 other\n"},
                 "relay1": {"Children": "PeerLabel=gw1\n"}}
        top = self.chain(creds=creds, extra=extra).start()
        top.wait_converged()
        top.d("gw1").wait_log(r"TLS hop to parent .* established: .*peer label relay1")

    # ---- refusals ----

    def check_refused(self, top, label, regex, other=None, other_regex=None, converged=("ep",)):
        top.d(label).wait_log(regex, timeout=15)
        if other is not None:
            top.d(other).wait_log(other_regex, timeout=15)
        time.sleep(0.5)
        self.assertNotIn("gw1", top.d("ep").chain())
        self.assert_no_session(top.listen_addr("gw1", "web"))

    def test_untrusted_ca_refused(self):
        rogue = Pki(os.path.join(self.workdir, "rogue"), name="rogue", cn="rogue CA")
        creds = {"gw1": rogue.issue("gw1", ["gw1"])}
        top = self.chain(creds=creds).start()
        self.check_refused(top, "relay1",
                           r"TLS hop to child .* refused: TLS: the peer's certificate is "
                           r"refused: .*(issuer is unknown|not trusted)",
                           "gw1", r"TLS hop to parent .* refused: TLS alert from the peer: "
                           r"'.*' \(it does not accept our certificate\)")

    def test_expired_certificate_refused(self):
        creds = {"gw1": self.pki.issue("gw1-old", ["gw1"], expired=True)}
        top = self.chain(creds=creds).start()
        top.d("gw1").wait_log(r"TLS certificate of \[Parent\] has expired")
        self.check_refused(top, "relay1", r"refused: TLS: the peer's certificate is refused: "
                           r".*expired")

    def test_wrong_label_refused(self):
        # gw1's certificate names gw1, but relay1 only accepts gw2 below it.
        extra = {"relay1": {"Children": "PeerLabel=gw2\n"}}
        top = self.chain(extra=extra).start()
        self.check_refused(top, "relay1", r"refused: TLS: the peer's certificate names label "
                           r"gw1, not one PeerLabel= accepts \(gw2\)")

    def test_certificate_for_other_label_refused_at_start(self):
        creds = {"gw1": self.pki.issue("gw7", ["gw7"])}
        top = self.chain(creds=creds).create()
        d = top.d("gw1")
        with self.assertRaises(AssertionError):
            d.start()
        wait_until(lambda: d.proc.poll() is not None, 10, what="gw1 exits")
        rc, log = d.proc.returncode, d.log()
        d.proc = None  # the expected exit is not a shutdown problem
        self.assertEqual(rc, 78, log)
        self.assertRegex(log, r"invalid configuration: .*:\d+: \[Parent\] Certificate=: "
                         r"'.*gw7\.pem' does not name this instance's label 'gw1'")

    def test_hello_label_must_match_certificate(self):
        """A peer with a valid certificate for gw1 that announces another
        label in HELLO is refused."""
        top = self.chain().start()
        top.wait_converged()
        top.d("gw1").stop()
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        ctx.load_verify_locations(self.pki.ca)
        ctx.load_cert_chain(*self.cert_for("gw1"))
        ctx.check_hostname = False
        raw = connect(("127.0.0.1", top.node("relay1").children_port))
        with ctx.wrap_socket(raw, server_hostname="relay1") as s:
            s.sendall(hello(b"evil"))
            s.settimeout(5)
            try:
                while s.recv(4096):
                    pass
            except (OSError, ssl.SSLError):
                pass
        top.d("relay1").wait_log(r"refused: the peer announces label 'evil' in HELLO, but its "
                                 r"certificate names gw1")

    def test_plaintext_child_refused(self):
        top = self.chain(plaintext=("gw1",))
        # gw1 keeps TLS=no, relay1 has TLS=yes towards its children.
        top.start()
        self.check_refused(top, "relay1", r"refused: the peer speaks plaintext, not TLS \(first "
                           r"byte 0x01, a tfst frame\); with TLS=yes there is no "
                           r"plaintext fallback")

    def test_plaintext_parent_refused(self):
        # relay1 keeps TLS=no towards gw1 (and ep); gw1 wants TLS.
        top = self.chain(plaintext=("relay1", "ep"))
        top.start()
        self.check_refused(top, "gw1", r"refused: the peer speaks plaintext",
                           "relay1", r"the peer speaks TLS .* set TLS=yes on both sides")

    # ---- PSK mode ----

    def psk_file(self, name, keys):
        path = os.path.join(self.workdir, name)
        with open(path, "w") as f:
            f.write("# label:hexkey\n")
            for label, key in keys.items():
                f.write(f"{label}:{key}\n")
        os.chmod(path, 0o600)
        return path

    KEYS = {"ep": "00112233445566778899aabbccddeeff", "relay1": "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
            "gw1": "ffeeddccbbaa99887766554433221100"}

    def test_psk_chain(self):
        path = self.psk_file("psk", self.KEYS)
        top = self.chain(psk=path, extra={"gw1": {"Parent": "PeerLabel=relay1\n"}}).start()
        top.wait_converged()
        top.d("relay1").wait_log(r"TLS hop to child .* established: \(TLS1\.3\).*peer label gw1, "
                                 r"PSK identity")
        addr = top.listen_addr("gw1", "web")
        sha, n, _ = xfer(addr, "psk", MIB, MIB, 3, 4, timeout=IO_TIMEOUT)
        self.assertEqual((n, sha), (MIB, stream_sha(MIB, 4)))
        self.assertEqual(self.srv.result()["sha"], stream_sha(MIB, 3))

    def test_psk_wrong_key_refused(self):
        good = self.psk_file("psk", self.KEYS)
        bad = self.psk_file("psk-bad", dict(self.KEYS, gw1="1" * 32))
        top = self.chain(psk={None: good, "gw1": bad}).start()
        self.check_refused(top, "relay1", r"TLS hop to child .* refused: TLS: PSK refused .*: the "
                           r"peer's identity has no key in PSKFile= or its key differs from ours",
                           "gw1", r"TLS hop to parent .* refused: TLS alert from the peer: .* "
                           r"\(it does not accept our PSK")

    def test_handshake_timeout(self):
        """A client that connects and stays silent is closed after
        HandshakeTimeout= (3s here)."""
        top = self.chain().create()
        top.d("ep").start()
        top.d("relay1").start()
        with connect(("127.0.0.1", top.node("relay1").children_port)) as s:
            t0 = time.monotonic()
            top.d("relay1").wait_log(r"hop to child at \S+ closed before handshake completed: TLS "
                                     r"handshake not completed within 3000 ms "
                                     r"\(HandshakeTimeout=\)", timeout=10)
            self.assertGreaterEqual(time.monotonic() - t0, 2.5)
            s.settimeout(5)
            self.assertEqual(s.recv(1), b"")  # nothing was ever sent in plaintext

    # ---- gnutls-cli against a hop listener ----

    def gnutls_cli(self, port, cert=None, priority=None):
        args = [GNUTLS_CLI, "--x509cafile", self.pki.ca, "--verify-hostname", "relay1",
                "-p", str(port), "127.0.0.1"]
        if priority is not None:
            args[1:1] = ["--priority", priority]
        if cert is not None:
            args[1:1] = ["--x509certfile", cert[0], "--x509keyfile", cert[1]]
        return subprocess.run(args, input=b"", capture_output=True, timeout=20)

    @unittest.skipIf(GNUTLS_CLI is None, "gnutls-cli not installed (Debian package gnutls-bin)")
    def test_gnutls_cli(self):
        top = self.chain().create()
        top.d("ep").start()
        top.d("relay1").start()
        port = top.node("relay1").children_port
        r = self.gnutls_cli(port, cert=self.cert_for("gw1"))
        out = r.stdout.decode(errors="replace") + r.stderr.decode(errors="replace")
        self.assertIn("Handshake was completed", out)
        self.assertRegex(out, r"- Description: \(TLS1\.3-X\.509\)")
        # relay1 verified the client certificate and waited for a HELLO.
        top.d("relay1").wait_log(r"TLS hop to child at \S+ established: \(TLS1\.3\).*peer "
                                 r"label gw1")
        r = self.gnutls_cli(port)
        out = r.stdout.decode(errors="replace") + r.stderr.decode(errors="replace")
        top.d("relay1").wait_log(r"refused: TLS: the peer sent no certificate \(mutual "
                                 r"authentication is required\)")
        self.assertRegex(out, r"Received alert \[116\]: Certificate is required")
        self.assertNotIn("Simple Client Mode:\n\n\x01", out)  # no HELLO reached it
        self.assertEqual(top.d("relay1").count_log(r"TLS hop to child .* established"), 1, out)

    # ---- tfstctl status ----

    def private_bus(self):
        return start_private_bus(self)

    @unittest.skipIf(DBUS_DAEMON is None, "dbus-daemon not installed")
    def test_tfstctl_status(self):
        """TlsCertificates and TlsHops reach tfstctl status (text and JSON)."""
        address = self.private_bus()
        self.daemon_env["DBUS_SYSTEM_BUS_ADDRESS"] = address
        top = self.chain().start()
        top.wait_converged()
        env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=address, LANG="C.UTF-8", LC_ALL="C.UTF-8")

        def status_json():
            r = subprocess.run([TFSTCTL, "status", "--json", "relay@relay1"], capture_output=True,
                               text=True, env=env, timeout=20)
            if r.returncode != 0:
                return None
            st = json.loads(r.stdout)
            return st if len(st.get("tls_hops", [])) == 2 else None

        st = wait_until(status_json, 15, what="tfstctl status with two TLS hops")
        certs = {c["section"]: c for c in st["tls_certificates"]}
        self.assertEqual(sorted(certs), ["Children", "Parent"])
        self.assertEqual(certs["Parent"]["mode"], "x509")
        self.assertEqual(certs["Parent"]["labels"], "relay1")
        self.assertEqual(certs["Parent"]["subject"], "CN=relay1")
        self.assertEqual(certs["Parent"]["issuer"], "CN=tfst test CA")
        self.assertGreater(certs["Parent"]["expires"], time.time() + 29 * 86400)
        hops = {h["side"]: h for h in st["tls_hops"]}
        self.assertEqual(hops["parent"]["label"], "ep")
        self.assertEqual(hops["child"]["label"], "gw1")
        self.assertEqual(hops["child"]["subject"], "CN=gw1")
        self.assertRegex(hops["child"]["cipher"], r"^\(TLS1\.3[-)].*\(AES-256-GCM|CHACHA20")
        self.assertIs(hops["child"]["ktls"], False)
        r = subprocess.run([TFSTCTL, "status", "relay@relay1"], capture_output=True, text=True,
                           env=env, timeout=20)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"TLS:  \[Parent\] certificate for relay1: CN=relay1, issued "
                         r"by CN=tfst test CA, expires ")
        self.assertRegex(r.stdout, r"child gw1 \(127\.0\.0\.1:\d+\) \(TLS1\.3.*; peer "
                         r"certificate CN=gw1, issued by CN=tfst test CA, expires .*; TLS in the "
                         r"process \(no kernel TLS\)")

    @unittest.skipIf(GNUTLS_CLI is None, "gnutls-cli not installed (Debian package gnutls-bin)")
    def test_tls12_only_by_option(self):
        """TLS 1.2 is refused by default and negotiated with TLSMinVersion=1.2."""
        tls12 = "NORMAL:-VERS-ALL:+VERS-TLS1.2"
        for min_version in (None, "1.2"):
            with self.subTest(min_version=min_version):
                extra = {"relay1": {"Children": f"TLSMinVersion={min_version}\n"}} \
                    if min_version else None
                top = self.chain(extra=extra).create()
                top.d("ep").start()
                top.d("relay1").start()
                port = top.node("relay1").children_port
                r = self.gnutls_cli(port, cert=self.cert_for("gw1"), priority=tls12)
                out = r.stdout.decode(errors="replace") + r.stderr.decode(errors="replace")
                if min_version is None:
                    self.assertNotIn("Handshake was completed", out)
                    top.d("relay1").wait_log(r"TLS hop to child .* refused: TLS: no protocol "
                                             r"version or cipher in common with the peer")
                else:
                    self.assertIn("Handshake was completed", out)
                    self.assertRegex(out, r"- Description: \(TLS1\.2-X\.509\)")
                    top.d("relay1").wait_log(r"TLS hop to child .* established: \(TLS1\.2\)")
                top.d("relay1").stop()
                top.d("ep").stop()

    def test_reload_bad_certificate_refused(self):
        """A reload whose certificate cannot be loaded is refused, and the
        running credentials stay in use."""
        top = self.chain().start()
        top.wait_converged()
        d = top.d("relay1")
        cert, _ = self.cert_for("relay1")
        with open(cert, "w") as f:
            f.write("not a certificate\n")
        os.kill(d.pid, 1)
        d.wait_log(r"reload refused, keeping the running configuration: .*relay@relay1\.conf:\d+: "
                   r"\[Parent\] Certificate=: cannot load '.*relay1\.pem'")
        self.assertEqual(d.count_log(r"TLS credentials loaded for new hops"), 0)
        d.wait_log(r"\[Parent\] TLS credentials loaded: subject 'CN=relay1'")
        top.wait_converged()

    # ---- reload and resumption ----

    def kill_hop(self, port):
        r = subprocess.run(["ss", "-K", "dst", "127.0.0.1", "dport", "=", str(port)],
                           capture_output=True, text=True)
        if r.returncode != 0:
            self.skipTest(f"ss -K (socket destroy) not available: {r.stderr.strip()}")

    def test_resumption_on_reconnect(self):
        if os.geteuid() != 0:
            self.skipTest("ss -K needs root")
        top = self.chain().start()
        top.wait_converged()
        top.d("gw1").wait_log(r"TLS hop to parent .* established: .*full handshake")
        self.kill_hop(top.node("relay1").children_port)
        top.d("gw1").wait_log(r"TLS hop to parent .* established: .*resumed", timeout=15)
        top.wait_converged()

    def test_reload_new_certificate(self):
        if os.geteuid() != 0:
            self.skipTest("ss -K needs root")
        top = self.chain().start()
        top.wait_converged()
        d_relay, d_gw = top.d("relay1"), top.d("gw1")
        d_gw.wait_log(r"established: .*subject 'CN=relay1'")
        # A session open across the reload.
        s = connect(top.listen_addr("gw1", "web"))
        s.sendall(b"XFER keep 65536 7\n")
        got = recv_exact(s, 65536)
        # Replace relay1's certificate and reload it.
        cert, key = self.cert_for("relay1")
        new_cert, new_key = self.pki.issue("relay1-v2", ["relay1"], cn="relay1 v2")
        shutil.copy(new_cert, cert)
        shutil.copy(new_key, key)
        os.kill(d_relay.pid, 1)
        d_relay.wait_log(r"\[Children\] TLS credentials loaded for new hops: subject "
                         r"'CN=relay1 v2'")
        time.sleep(1)
        self.assertEqual(d_relay.count_log(r"lost|closed before handshake"), 0, d_relay.log_tail())
        self.assertEqual(d_gw.count_log(r"lost|closed before handshake"), 0, d_gw.log_tail())
        s.sendall(b"x" * 1000)
        s.shutdown(socket.SHUT_WR)
        s.settimeout(IO_TIMEOUT)
        self.assertEqual(s.recv(1), b"")
        s.close()
        res = self.srv.result()
        self.assertEqual((res["tag"], res["n"]), ("keep", 1000))
        self.assertEqual(hashlib.sha256(got).hexdigest(), stream_sha(65536, 7))
        # The next connection presents the new certificate (no resumption
        # across the reload: tickets of the old credentials are void).
        self.kill_hop(top.node("relay1").children_port)
        d_gw.wait_log(r"TLS hop to parent .* established: .*subject 'CN=relay1 v2'.*full "
                      r"handshake", timeout=15)
        top.wait_converged()

    def test_expiry_warning(self):
        creds = {"gw1": self.pki.issue("gw1-short", ["gw1"], days=5)}
        top = self.chain(creds=creds).start()
        top.d("gw1").wait_log(r"TLS certificate of \[Parent\] expires in [45] days")
        top.wait_converged()


if __name__ == "__main__":
    unittest.main()
