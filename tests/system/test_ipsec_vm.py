# SPDX-License-Identifier: GPL-2.0-or-later
"""ConflictDetected with real ESP/AH SAs, in a throw-away QEMU VM.

The SA monitor of org.tfst.Tfst1.Ipsec reacts to the kernel's NEWSA/UPDSA
events, which only full SAs raise (`ip xfrm state add`; a larval SA from
allocspi raises none), and full SAs need the kernel's ESP/AH support.  When
the host kernel lacks it (as in the lab), this test boots a stock Debian
kernel that has it in QEMU (TCG: no KVM needed), with an initramfs holding
busybox, ip, dbus-daemon, gdbus and the built tfstd and tfstctl with their
libraries.  Inside: a bus, tfstd (epproxy) on it, `gdbus monitor` on the
instance, then SAs are added.  Asserted from the console:

- every new SA that collides raises exactly one ConflictDetected with the new
  SA's SPI, protocol, addresses and the kind (other-tunnel: another
  destination; AH next to ESP), and SAs that collide with nothing raise none;
- the daemon logs each with the SAs it collides with;
- `tfstctl --json spi conflicts` and `spi list` inside the VM agree.

Needs qemu-system-x86_64, busybox (static), cpio, kmod and a Debian kernel
package unpacked in $TFST_LAB_CACHE/vmkernel/root (default /var/tmp/tfst-lab;
the lab script exp4b_qemu_xfrm.sh fetches it with `apt-get download`); skips
naming what is missing.  Nothing is downloaded or installed by the test.
The VM has no network card; it powers itself off.  About 30 s.
"""

import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
BUILDDIR = os.environ.get("TFST_BUILDDIR") or os.path.join(HERE, "..", "..", "build")
TFSTD = os.environ.get("TFSTD") or os.path.join(BUILDDIR, "daemon", "tfstd")
TFSTCTL = os.environ.get("TFSTCTL") or os.path.join(BUILDDIR, "tfstctl", "tfstctl")
CACHE = os.path.join(os.environ.get("TFST_LAB_CACHE", "/var/tmp/tfst-lab"), "vmkernel")
VM_TIMEOUT = int(os.environ.get("TFST_VM_TIMEOUT", "240"))

MODULES = ("drbg jitterentropy_rng esp4 esp6 ah4 ah6 xfrm_user gcm ghash_generic aes_generic "
           "cbc hmac sha256_generic authenc echainiv seqiv ctr cryptd").split()
TOOLS = ("/usr/sbin/ip", "/usr/bin/dbus-daemon", "/usr/bin/gdbus")
GCM = "aead 'rfc4106(gcm(aes))' 0x0102030405060708091011121314151617181920 128"
AUTH = ("auth-trunc 'hmac(sha256)' "
        "0x00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff 128")

# A burst of SAs sharing one SPI, added by one `ip -batch` well within a
# second: more conflicts than ConflictDetected may signal in a second.
BURST = 15
BURST_SPI = 0x7000

BUS_CONF = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=/run/bus.sock</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_type="method_return"/>
    <allow send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
  </policy>
</busconfig>
"""

# Console lines of interest start with a tag; everything runs as PID 1's
# shell, so a failing step still reaches poweroff.
INIT = """#!/bin/sh
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
mkdir -p /run /tmp
for m in {modules}; do /sbin/modprobe $m 2>/dev/null; done
/sbin/ip link set lo up
export DBUS_SYSTEM_BUS_ADDRESS=unix:path=/run/bus.sock
/usr/bin/dbus-daemon --config-file=/etc/bus.conf --nofork --nopidfile >/tmp/bus.log 2>&1 &
for i in $(seq 50); do [ -S /run/bus.sock ] && break; sleep 0.2; done
/usr/bin/tfstd --role=epproxy --instance=vm --config=/etc/ep.conf >/tmp/tfstd.log 2>&1 &
for i in $(seq 100); do timeout 10 /usr/bin/tfstctl -i epproxy@vm spi list >/dev/null 2>&1 && break; sleep 0.2; done
/usr/bin/gdbus monitor --system --dest org.tfst.Tfst1.epproxy_vm >/tmp/monitor.log 2>&1 &
sleep 2
add() {{ out=$(/sbin/ip xfrm state add "$@" 2>&1); echo "ADD rc=$? $out"; sleep 1; }}
add src 10.0.0.1 dst 10.0.0.2 proto esp spi 0x5000 mode tunnel {gcm}
add src 10.0.0.1 dst 10.0.0.2 proto esp spi 0x5001 mode tunnel {gcm}
add src 10.0.0.3 dst 10.0.0.4 proto esp spi 0x5000 mode tunnel {gcm}
add src 10.0.0.1 dst 10.0.0.2 proto ah spi 0x5001 mode tunnel {auth}
add src 10.0.0.5 dst 10.0.0.6 proto esp spi 0x6000 mode tunnel {gcm}
sleep 3
grep ConflictDetected /tmp/monitor.log | sed 's/^/SIGNAL /'
/sbin/ip -batch /etc/burst.batch 2>&1 | sed 's/^/BURST /'
sleep 3
grep ConflictDetected /tmp/monitor.log | sed 's/^/SIGNAL2 /'
timeout 20 /usr/bin/tfstctl -i epproxy@vm --json spi conflicts | tr -d '\\n' | sed 's/^/CONFLICTS /'; echo
timeout 20 /usr/bin/tfstctl -i epproxy@vm --json spi list | tr -d '\\n' | sed 's/^/LIST /'; echo
sed 's/^/LOG /' /tmp/tfstd.log
sed 's/^/BUSLOG /' /tmp/bus.log
echo END
poweroff -f
"""


def environment_problem():
    for tool in ("qemu-system-x86_64", "busybox", "cpio", "depmod", "modprobe"):
        if shutil.which(tool) is None:
            return f"{tool} not found (apt-get install qemu-system-x86 busybox-static cpio kmod)"
    for path in (TFSTD, TFSTCTL) + TOOLS:
        if not os.access(path, os.X_OK):
            return f"{path} not found"
    if not glob.glob(os.path.join(CACHE, "root", "boot", "vmlinuz-*")):
        return (f"no Debian kernel unpacked in {CACHE}/root (apt-get download "
                "linux-image-amd64's dependency and dpkg-deb -x it there)")
    return None


def run(argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, check=True, timeout=120, **kw)


class VmImage:
    """An initramfs for the VM kernel in a temporary directory."""

    def __init__(self, tmp):
        self.tmp = tmp
        vmlinuz = sorted(glob.glob(os.path.join(CACHE, "root", "boot", "vmlinuz-*")))[-1]
        self.kernel = vmlinuz
        self.version = os.path.basename(vmlinuz)[len("vmlinuz-"):]
        self.root = os.path.join(tmp, "initramfs")

    def copy(self, src, dest=None):
        dest = os.path.join(self.root, (dest or src).lstrip("/"))
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        shutil.copy2(src, dest)

    def add_libraries(self, binaries):
        libs = set()
        for b in binaries:
            for line in run(["ldd", b]).stdout.splitlines():
                m = re.search(r"=> (/\S+)", line) or re.match(r"\s*(/\S+)", line)
                if m:
                    libs.add(m.group(1))
        for lib in libs:
            self.copy(os.path.realpath(lib), lib)

    def add_modules(self):
        kroot = os.path.join(CACHE, "root")
        moddir = os.path.join(kroot, "lib", "modules", self.version)
        if not os.path.exists(os.path.join(moddir, "modules.dep")):
            run(["depmod", "-b", kroot, self.version])
        kos = set()
        for m in MODULES:
            r = subprocess.run(["modprobe", "-d", kroot, "-S", self.version, "--show-depends", m],
                               capture_output=True, text=True, timeout=60)
            kos.update(f[1] for f in (ln.split() for ln in r.stdout.splitlines())
                       if len(f) > 1 and f[0] == "insmod")
        for ko in kos:
            self.copy(ko, os.path.relpath(ko, kroot))
        for f in ("modules.order", "modules.builtin", "modules.builtin.modinfo"):
            if os.path.exists(os.path.join(moddir, f)):
                self.copy(os.path.join(moddir, f),
                          os.path.join("lib", "modules", self.version, f))
        run(["depmod", "-b", self.root, self.version])

    def build(self):
        for d in ("bin", "proc", "sys", "dev", "run", "tmp"):
            os.makedirs(os.path.join(self.root, d))
        self.copy(shutil.which("busybox"), "/bin/busybox")
        for a in ("sh", "mount", "poweroff", "echo", "cat", "grep", "sed", "sleep", "seq", "tr",
                  "mkdir", "timeout"):
            os.symlink("busybox", os.path.join(self.root, "bin", a))
        self.copy(shutil.which("modprobe"), "/sbin/kmod")
        os.symlink("kmod", os.path.join(self.root, "sbin", "modprobe"))
        bins = [("/usr/sbin/ip", "/sbin/ip"), ("/usr/bin/dbus-daemon", None),
                ("/usr/bin/gdbus", None), (TFSTD, "/usr/bin/tfstd"),
                (TFSTCTL, "/usr/bin/tfstctl")]
        for src, dest in bins:
            self.copy(src, dest)
        self.add_libraries([shutil.which("modprobe")] + [b for b, _ in bins])
        self.add_modules()
        etc = os.path.join(self.root, "etc")
        os.makedirs(etc, exist_ok=True)
        files = {
            "etc/bus.conf": BUS_CONF,
            "etc/ep.conf": "[Instance]\nLabel=vm\n\n[Children]\nListen=127.0.0.1:27500\n",
            "etc/burst.batch": "".join(
                f"xfrm state add src 10.0.0.1 dst 10.1.0.{n} proto esp spi {hex(BURST_SPI)} "
                f"mode tunnel {GCM}\n" for n in range(1, BURST + 1)),
            "etc/passwd": "root:x:0:0:root:/:/bin/sh\n",
            "etc/group": "root:x:0:\n",
            "init": INIT.format(modules=" ".join(MODULES), gcm=GCM, auth=AUTH),
        }
        for name, text in files.items():
            with open(os.path.join(self.root, name), "w") as f:
                f.write(text)
        os.chmod(os.path.join(self.root, "init"), 0o755)
        image = os.path.join(self.tmp, "initrd.gz")
        listing = run(["find", "."], cwd=self.root).stdout
        cpio = subprocess.run(["cpio", "-o", "-H", "newc"], input=listing.encode(),
                              capture_output=True, cwd=self.root, check=True, timeout=120)
        with open(image, "wb") as f:
            f.write(subprocess.run(["gzip", "-1"], input=cpio.stdout, capture_output=True,
                                   check=True, timeout=120).stdout)
        return image


class IpsecVmTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        why = environment_problem()
        if why:
            print(f"SKIP test_ipsec_vm: {why}", file=sys.stderr, flush=True)
            raise unittest.SkipTest(why)

    def boot(self):
        tmp = tempfile.mkdtemp(prefix="tfst-ipsec-vm-")
        self.addCleanup(shutil.rmtree, tmp, True)
        img = VmImage(tmp)
        initrd = img.build()
        log_path = os.path.join(tmp, "console.log")
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                ["qemu-system-x86_64", "-accel", "tcg", "-cpu", "max", "-m", "768", "-smp", "1",
                 "-nographic", "-no-reboot", "-nic", "none", "-kernel", img.kernel, "-initrd",
                 initrd, "-append", "console=ttyS0 quiet panic=-1 rdinit=/init"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            try:
                rc = proc.wait(VM_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                rc = proc.wait()
        with open(log_path, "rb") as f:
            console = f.read().decode(errors="replace").replace("\r", "")
        lines = console.splitlines()
        if "END" not in lines:
            self.fail(f"the VM did not finish (qemu status {rc}):\n"
                      + "\n".join(lines[-200:]))
        return console, lines

    def test_conflict_detected(self):
        console, lines = self.boot()

        def tagged(tag):
            return [ln[len(tag) + 1:] for ln in lines if ln.startswith(tag + " ")]

        adds = tagged("ADD")
        self.assertEqual(len(adds), 5, console)
        for a in adds:
            self.assertTrue(a.startswith("rc=0"), f"ip xfrm state add failed: {a}\n{console}")
        signals = []
        for s in tagged("SIGNAL"):
            m = re.search(r"ConflictDetected \((.*)\)$", s)
            self.assertIsNotNone(m, s)
            signals.append(m.group(1))
        self.assertEqual(signals, [
            "uint32 20480, 'esp', '10.0.0.3', '10.0.0.4', 'other-tunnel'",
            "uint32 20481, 'ah', '10.0.0.1', '10.0.0.2', 'other-tunnel'",
        ], console)
        log = "\n".join(tagged("LOG"))
        # A sanitized tfstd (the ASan+UBSan build) reports into the same log.
        self.assertNotRegex(log, r"ERROR: AddressSanitizer|runtime error:", log)
        self.assertIn("IPsec SPI conflict (other-tunnel): new SA spi 0x00005000 esp 10.0.0.3 -> "
                      "10.0.0.4 collides with esp 10.0.0.1 -> 10.0.0.2", log)
        self.assertIn("IPsec SPI conflict (other-tunnel): new SA spi 0x00005001 ah 10.0.0.1 -> "
                      "10.0.0.2 collides with esp 10.0.0.1 -> 10.0.0.2", log)
        self.assertEqual(log.count("IPsec SPI conflict (other-tunnel): new SA spi 0x000050"), 2,
                         log)
        # The burst: each of its SAs collides with the others; at most 10
        # signals a second, and the rest is counted in the log.
        self.assertFalse([b for b in tagged("BURST") if b.strip()], console)
        burst = [s for s in tagged("SIGNAL2") if f"uint32 {BURST_SPI}," in s]
        logged = log.count(f"new SA spi 0x{BURST_SPI:08x}")
        self.assertEqual(len(burst), logged, log)
        held_back = sum(int(n) for n in re.findall(
            r"(\d+) more IPsec SPI conflicts within a second were not reported", log))
        self.assertGreater(held_back, 0, log)
        self.assertIn(len(burst) + held_back, (BURST - 1, BURST), log)
        self.assertLessEqual(len(burst), 10, burst)
        conflicts = json.loads(tagged("CONFLICTS")[0])["conflicts"]
        self.assertEqual(
            sorted((g["spi"], g["kind"], sorted((s["protocol"], s["source"], s["destination"])
                                                for s in g["sas"])) for g in conflicts),
            [(0x5000, "other-tunnel", [("esp", "10.0.0.1", "10.0.0.2"),
                                       ("esp", "10.0.0.3", "10.0.0.4")]),
             (0x5001, "other-tunnel", [("ah", "10.0.0.1", "10.0.0.2"),
                                       ("esp", "10.0.0.1", "10.0.0.2")]),
             (BURST_SPI, "other-tunnel", sorted(("esp", "10.0.0.1", f"10.1.0.{n}")
                                                for n in range(1, BURST + 1)))])
        sas = json.loads(tagged("LIST")[0])["sas"]
        self.assertEqual(len(sas), 5 + BURST, sas)
        self.assertEqual({s["mode"] for s in sas}, {"tunnel"})


if __name__ == "__main__":
    unittest.main()
