# SPDX-License-Identifier: GPL-2.0-or-later
"""A real systemd manager for the tfst units: a systemd-nspawn container.

The machines the tests run on have no systemd as PID 1, so the units are
exercised in a container booted with systemd-nspawn: a bookworm minbase root
file system (debootstrap, built once and cached), systemd as the container's
PID 1 with journald and a system bus, and tfst installed the way a
distribution package installs it.

- rootfs: ${TFST_LAB_CACHE:-/var/tmp/tfst-lab}/rootfs-bookworm-tfst, rebuilt
  (debootstrap --variant=minbase) when it is missing or lacks one of
  ROOTFS_PACKAGES.  The container boots it with --volatile=overlay, so the
  cache is never modified; a shared lock held while a container runs keeps
  a rebuild by another test run from swapping it away underneath.
- tfst: the source tree configured with --prefix=/usr --sysconfdir=/etc in
  a cached build directory next to the rootfs (ninja rebuilds only what
  changed), installed with `meson install --destdir`; every installed file
  is bind-mounted read-only at its real path (/usr/sbin/tfstd,
  /usr/lib/systemd/system/tfst-*@.*, the generator, the catalog, the
  sysusers.d file).  The build under test (TFST_BUILDDIR) has prefix
  /usr/local and may be sanitized, which a hardened unit and a minimal
  rootfs cannot run; the installed layout is what a package ships.
- isolation (as /work/shared/lab/exp1b_nspawn.sh): nspawn runs from its own
  child cgroup in every hierarchy, --register=no --keep-unit (no machined,
  no host systemd), --private-network (the container has its own lo, so its
  ports never collide with other work).  Commands run inside through
  nsenter into the container's PID 1.

Never start a bare `systemd --user` on these machines (see the lab README).
"""

import atexit
import fcntl
import glob
import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.environ.get("TFST_SRCDIR") or os.path.dirname(os.path.dirname(HERE))
CACHE = os.environ.get("TFST_LAB_CACHE") or "/var/tmp/tfst-lab"
ROOTFS = os.path.join(CACHE, "rootfs-bookworm-tfst")
SUITE = "bookworm"

ROOTFS_PACKAGES = [
    "systemd", "systemd-sysv", "dbus", "python3-minimal", "iproute2",
    # tfstd's and tfst-generator's runtime libraries
    "libglib2.0-0", "libnl-3-200", "libnl-route-3-200", "libnl-xfrm-3-200",
    "libnl-idiag-3-200", "libgnutls30", "libpolkit-gobject-1-0", "libsystemd0",
    "libpcap0.8",
    # tfstctl's (status, collect; the units' ExecReload= runs it)
    "libjson-glib-1.0-0", "libsmartcols1",
    # tfst-metrics' HTTP server; polkitd (bus-activated) for the rule that
    # lets its user observe (test_metrics_systemd.py), with libpam-systemd
    # (default-logind), without which debootstrap cannot configure polkitd
    "libmicrohttpd12", "polkitd", "libpam-systemd",
    # Deliberately nothing more (no procps, no util-linux extras): the units
    # must work with what tfst's package depends on, so a unit that needs
    # another tool shows up here.
]

DEBOOTSTRAP_TIMEOUT = 900
BUILD_TIMEOUT = 600
BOOT_TIMEOUT = 60
CMD_TIMEOUT = 30


def log(msg):
    sys.stderr.write(f"[nspawn] {msg}\n")
    sys.stderr.flush()


def _tool(name):
    return shutil.which(name) or next(
        (p for p in (f"/usr/bin/{name}", f"/usr/sbin/{name}", f"/sbin/{name}")
         if os.access(p, os.X_OK)), None)


def _cgroup_parents():
    """Our cgroup in every hierarchy: where the container's cgroups go."""
    with open("/proc/self/cgroup") as f:
        lines = f.read().splitlines()
    for line in lines:
        _, ctrl, path = line.split(":", 2)
        if ctrl == "":
            h = "/sys/fs/cgroup/unified"
            if not os.path.isdir(h):
                h = "/sys/fs/cgroup"  # pure cgroup v2
        elif ctrl == "name=systemd":
            h = "/sys/fs/cgroup/systemd"
        else:
            h = "/sys/fs/cgroup/" + ctrl
        if os.path.isdir(h) and os.path.exists(os.path.join(h, "cgroup.procs")):
            yield h + path.rstrip("/")


def environment_problem():
    """None when a container can be built and booted here, otherwise why
    not (the caller skips with that reason)."""
    if os.geteuid() != 0:
        return "needs root (systemd-nspawn, debootstrap, cgroups)"
    for name, pkg in (("systemd-nspawn", "systemd-container"), ("debootstrap", "debootstrap"),
                      ("nsenter", "util-linux"), ("meson", "meson"), ("ninja", "ninja-build")):
        if _tool(name) is None:
            return f"{name} not found (Debian package {pkg}; tools/deps installs it)"
    if not os.path.isdir("/sys/fs/cgroup"):
        return "no /sys/fs/cgroup"
    for parent in _cgroup_parents():
        if os.statvfs(parent).f_flag & os.ST_RDONLY:
            return (f"{parent} is read-only (in a container?): the container needs cgroups "
                    f"of its own")
    if not os.path.isdir(ROOTFS) and _mirror() is None:
        return "no rootfs cached and no apt mirror known to debootstrap from"
    return None


# -- root file system -------------------------------------------------------

def _apt_entries():
    """(URI, suites) of every deb entry in the machine's apt sources:
    one-line .list files and deb822 .sources files."""
    entries = []
    paths = ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*.list")) + \
        sorted(glob.glob("/etc/apt/sources.list.d/*.sources"))
    for path in paths:
        try:
            with open(path) as f:
                text = f.read()
        except OSError:
            continue
        if path.endswith(".sources"):
            for stanza in re.split(r"\n\s*\n", text):
                fields = dict(re.findall(r"^([A-Za-z-]+):\s*(.*)$", stanza, re.M))
                if "deb" in fields.get("Types", "").split() and \
                        fields.get("Enabled", "yes").lower() != "no":
                    for uri in fields.get("URIs", "").split():
                        entries.append((uri, fields.get("Suites", "").split()))
            continue
        for line in text.splitlines():
            w = re.sub(r"\[[^]]*\]", "", line.split("#", 1)[0]).split()
            if len(w) >= 3 and w[0] == "deb":
                entries.append((w[1], [w[2]]))
    return entries


def _mirror():
    """The Debian mirror debootstrap uses: TFST_LAB_MIRROR, else the first
    apt source of this machine that carries SUITE itself (not its security
    or updates suites).  Never an address written here: a machine that
    reaches Debian only through its own mirror or proxy must use that one.
    None when apt knows no such source (the tests skip, saying so)."""
    if os.environ.get("TFST_LAB_MIRROR"):
        return os.environ["TFST_LAB_MIRROR"]
    for uri, suites in _apt_entries():
        if SUITE in suites:
            return uri
    return None


def _installed_packages(rootfs):
    """Names of the packages dpkg lists as installed in rootfs."""
    installed = set()
    try:
        with open(os.path.join(rootfs, "var/lib/dpkg/status")) as f:
            text = f.read()
    except OSError:
        return installed
    for stanza in text.split("\n\n"):
        pkg = re.search(r"^Package: (\S+)", stanza, re.M)
        status = re.search(r"^Status: (.*)$", stanza, re.M)
        if pkg and status and status.group(1).strip() == "install ok installed":
            installed.add(pkg.group(1))
    return installed


def rootfs_missing(rootfs=ROOTFS):
    """What a usable rootfs lacks: [] when complete."""
    if not os.access(os.path.join(rootfs, "lib/systemd/systemd"), os.X_OK):
        return ["lib/systemd/systemd"]
    have = _installed_packages(rootfs)
    return [p for p in ROOTFS_PACKAGES if p not in have]


def _debootstrap(target):
    mirror = _mirror()
    logpath = target + ".debootstrap.log"
    log(f"debootstrap {SUITE} into {target} from {mirror} (first run: about 2 min; "
        f"log {logpath})")
    t0 = time.monotonic()
    with open(logpath, "w") as logf:
        r = subprocess.run(["debootstrap", "--variant=minbase",
                            "--include=" + ",".join(ROOTFS_PACKAGES), SUITE, target, mirror],
                           stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
                           timeout=DEBOOTSTRAP_TIMEOUT)
    if r.returncode != 0:
        with open(logpath) as f:
            tail = f.read()[-3000:]
        raise RuntimeError(f"debootstrap failed ({r.returncode}); end of {logpath}:\n{tail}")
    # The downloaded packages are not needed to boot.
    archives = os.path.join(target, "var/cache/apt/archives")
    for name in os.listdir(archives):
        if name.endswith(".deb"):
            os.unlink(os.path.join(archives, name))
    os.unlink(logpath)
    log(f"debootstrap took {time.monotonic() - t0:.0f} s")


def ensure_rootfs():
    """Makes sure the cached rootfs is complete (building it when needed)
    and returns an open lock file holding a shared lock on it: keep it open
    while a container uses the rootfs."""
    os.makedirs(CACHE, exist_ok=True)
    lock = open(ROOTFS + ".lock", "w")
    try:
        fcntl.flock(lock, fcntl.LOCK_SH)
        missing = rootfs_missing()
        if missing:
            # Upgrading to exclusive releases the shared lock first:
            # check again once exclusive.
            fcntl.flock(lock, fcntl.LOCK_EX)
            missing = rootfs_missing()
            if missing:
                if os.path.exists(ROOTFS):
                    log(f"cached rootfs {ROOTFS} lacks {', '.join(missing)}: rebuilding it")
                tmp = tempfile.mkdtemp(prefix="rootfs-bookworm-tfst.new-", dir=CACHE)
                try:
                    _debootstrap(tmp)
                    still = rootfs_missing(tmp)
                    if still:
                        raise RuntimeError(f"debootstrap left out {', '.join(still)}")
                    if os.path.exists(ROOTFS):
                        old = tempfile.mkdtemp(prefix="rootfs-bookworm-tfst.old-", dir=CACHE)
                        os.rename(ROOTFS, os.path.join(old, "rootfs"))
                        shutil.rmtree(old, ignore_errors=True)
                    os.chmod(tmp, 0o755)
                    os.rename(tmp, ROOTFS)
                finally:
                    if os.path.exists(tmp):
                        shutil.rmtree(tmp, ignore_errors=True)
            fcntl.flock(lock, fcntl.LOCK_SH)
        return lock
    except BaseException:
        lock.close()
        raise


# -- tfst built and installed as a package ----------------------------------

def _run_logged(argv, logpath, timeout, **kw):
    with open(logpath, "a") as logf:
        logf.write(f"$ {' '.join(argv)}\n")
        logf.flush()
        return subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=logf,
                              stderr=subprocess.STDOUT, timeout=timeout, **kw).returncode


def build_and_install(destdir):
    """Builds the source tree with the distribution layout (cached build
    dir, incremental) and installs it into destdir.  Returns the list of
    installed files, relative to destdir."""
    key = hashlib.sha1(os.path.realpath(SRCDIR).encode()).hexdigest()[:12]
    builddir = os.path.join(CACHE, f"build-usr-{key}")
    logpath = os.path.join(destdir + ".build.log")
    os.makedirs(CACHE, exist_ok=True)
    with open(builddir + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        t0 = time.monotonic()
        setup = ["meson", "setup", builddir, SRCDIR, "--prefix=/usr", "--sysconfdir=/etc",
                 "--localstatedir=/var", "--buildtype=debugoptimized", "-Db_sanitize=none",
                 "-Dwerror=false"]
        ok = False
        for attempt in (1, 2):
            if attempt == 2 or not os.path.exists(os.path.join(builddir, "build.ninja")):
                shutil.rmtree(builddir, ignore_errors=True)
                if _run_logged(setup, logpath, BUILD_TIMEOUT) != 0:
                    continue
            if _run_logged(["ninja", "-C", builddir], logpath, BUILD_TIMEOUT) == 0:
                ok = True
                break
        if not ok:
            with open(logpath) as f:
                raise RuntimeError(f"building {SRCDIR} with prefix /usr failed:\n"
                                   f"{f.read()[-4000:]}")
        if _run_logged(["meson", "install", "-C", builddir, "--no-rebuild", "--quiet",
                        "--destdir", destdir], logpath, BUILD_TIMEOUT) != 0:
            with open(logpath) as f:
                raise RuntimeError(f"meson install failed:\n{f.read()[-4000:]}")
        log(f"built and installed (prefix /usr) in {time.monotonic() - t0:.1f} s")
    files = []
    for root, _, names in os.walk(destdir):
        for n in names:
            files.append(os.path.relpath(os.path.join(root, n), destdir))
    return sorted(files)


def container_path(rel):
    """Where an installed file lives in the merged-/usr rootfs."""
    first = rel.split("/", 1)[0]
    if first in ("lib", "lib64", "bin", "sbin"):
        return "/usr/" + rel
    return "/" + rel


# -- the container ----------------------------------------------------------

# Containers and temp dirs of this process, for the paths that bypass the
# tests' cleanups: meson's timeout sends SIGTERM to the test's process group
# and SIGKILL 0.5 s later, and an interrupted unittest skips class cleanups.
_running = []
_tmpdirs = []


def register_tmpdir(path):
    _tmpdirs.append(path)


def _cleanup_all():
    for c in list(_running):
        c.kill_now()
    for d in _tmpdirs:
        shutil.rmtree(d, ignore_errors=True)


def _on_signal(signum, frame):
    _cleanup_all()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


_handlers_installed = False


def _install_handlers():
    global _handlers_installed
    if _handlers_installed:
        return
    _handlers_installed = True
    atexit.register(_cleanup_all)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        try:
            signal.signal(sig, _on_signal)
        except ValueError:  # not the main thread: atexit still covers exits
            pass


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _kill_cgroup_tree(d):
    """SIGKILLs every process in cgroup d and its children."""
    for root, _, files in os.walk(d):
        if "cgroup.procs" not in files:
            continue
        try:
            with open(os.path.join(root, "cgroup.procs")) as f:
                pids = [int(p) for p in f.read().split()]
        except OSError:
            continue
        for p in pids:
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass


def _remove_cgroup_tree(d, timeout=5):
    """rmdir of d and its children, deepest first; True when gone."""
    deadline = time.monotonic() + timeout
    while os.path.isdir(d):
        for root, _, _ in os.walk(d, topdown=False):
            try:
                os.rmdir(root)
            except OSError:
                pass
        if not os.path.isdir(d) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    return not os.path.isdir(d)



class Container:
    """One booted container.  Use start(), run()/sh(), and always stop()."""

    def __init__(self, rootfs, binds, workdir, name="tfst"):
        self.rootfs = rootfs
        self.binds = binds  # [(host path, container path)], read-only
        self.workdir = workdir
        self.machine = f"{name}{os.getpid()}"
        self.tag = f"tfst-nsp-{os.getpid()}"
        self.console_path = os.path.join(workdir, "console.log")
        self.proc = None
        self.reaper = None
        self.leader = None
        self.cgdirs = []

    # cgroups: a child cgroup of ours in every hierarchy, so nothing the
    # container's systemd does to "its" cgroup reaches other processes.
    def _make_cgroups(self):
        for parent in _cgroup_parents():
            self._remove_stale(parent)
            d = os.path.join(parent, self.tag)
            os.mkdir(d)
            self.cgdirs.append(d)
            # cgroup v1 cpuset: a new child has empty cpus/mems, and
            # moving a task into it fails with ENOSPC.
            if os.path.exists(os.path.join(d, "cpuset.cpus")):
                for k in ("cpuset.cpus", "cpuset.mems"):
                    with open(os.path.join(os.path.dirname(d), k)) as src:
                        v = src.read()
                    with open(os.path.join(d, k), "w") as dst:
                        dst.write(v)

    @staticmethod
    def _remove_stale(parent):
        """Cgroups of earlier test processes that were killed before their
        cleanup ran (tfst-nsp-<pid> whose pid is gone)."""
        try:
            names = os.listdir(parent)
        except OSError:
            return
        for n in names:
            m = re.fullmatch(r"tfst-nsp-(\d+)", n)
            if m and not _pid_alive(int(m.group(1))):
                d = os.path.join(parent, n)
                log(f"removing stale cgroup {d}")
                _kill_cgroup_tree(d)
                _remove_cgroup_tree(d)

    def _start_reaper(self):
        """A process outside our process group and session that removes the
        container if this process dies without cleaning up (SIGKILL): the
        container's PID 1 does not die with systemd-nspawn."""
        self.reaper = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--reap", str(os.getpid()),
             *self.cgdirs, "--", *_tmpdirs],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)

    def start(self):
        t0 = time.monotonic()
        _install_handlers()
        _running.append(self)
        self._make_cgroups()
        self._start_reaper()
        argv = ["systemd-nspawn", "-q", "-D", self.rootfs, "--volatile=overlay",
                "-M", self.machine, "--register=no", "--keep-unit", "--private-network",
                "--console=pipe"]
        for src, dst in self.binds:
            argv.append(f"--bind-ro={src}:{dst}")
        argv.append("-b")
        # The shell joins our cgroups, then becomes nspawn.
        script = 'for d in "$@"; do echo $$ > "$d/cgroup.procs" || exit 1; done; exec ' + \
            " ".join(_shquote(a) for a in argv)
        with open(self.console_path, "wb") as console:
            self.proc = subprocess.Popen(["sh", "-c", script, "sh", *self.cgdirs],
                                         stdin=subprocess.DEVNULL, stdout=console,
                                         stderr=subprocess.STDOUT)
        # The container's PID 1 is the nspawn child named "systemd" (nspawn
        # may fork short-lived helpers first).
        deadline = time.monotonic() + BOOT_TIMEOUT
        while self.leader is None:
            if self.proc.poll() is not None:
                raise RuntimeError(f"systemd-nspawn exited ({self.proc.returncode}):\n"
                                   f"{self.console()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"no systemd in the container after {BOOT_TIMEOUT}s:\n"
                                   f"{self.console()}")
            for child in _children(self.proc.pid):
                if _comm(child) == "systemd":
                    self.leader = child
            time.sleep(0.05)
        while self.run("test", "-S", "/run/systemd/private", check=False).returncode != 0:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the container's manager never opened its socket:\n"
                                   f"{self.console()}")
            time.sleep(0.1)
        r = self.run("systemctl", "is-system-running", "--wait", check=False,
                     timeout=max(5, deadline - time.monotonic()))
        state = r.stdout.strip()
        log(f"container {self.machine} booted (leader pid {self.leader}) in "
            f"{time.monotonic() - t0:.1f} s, state {state}")
        if state != "running":
            failed = self.run("systemctl", "--failed", "--no-pager", "--no-legend",
                              check=False).stdout
            log(f"failed units at boot:\n{failed}")
        return state

    def console(self):
        try:
            with open(self.console_path, errors="replace") as f:
                return f.read()[-4000:]
        except OSError:
            return ""

    def run(self, *argv, check=True, timeout=CMD_TIMEOUT, input=None):
        """argv inside the container (all its namespaces, its root)."""
        assert self.leader is not None
        r = subprocess.run(["nsenter", "-t", str(self.leader), "-m", "-u", "-i", "-n", "-p",
                            "-r", "-w", "--", *argv], capture_output=True, text=True,
                           timeout=timeout, input=input)
        if check and r.returncode != 0:
            raise RuntimeError(f"in container: {' '.join(argv)} failed ({r.returncode}):\n"
                               f"{r.stdout}{r.stderr}")
        return r

    def sh(self, script, check=True, timeout=CMD_TIMEOUT):
        return self.run("sh", "-c", script, check=check, timeout=timeout)

    def write_file(self, path, text, mode=0o644):
        """Writes a file into the container (its volatile overlay)."""
        self.run("install", "-D", "-m", f"{mode:o}", "/dev/stdin", path, input=text)

    def stop(self):
        """Powers the container off (SIGTERM to nspawn = clean poweroff),
        kills what is left in our cgroups and removes them.  Safe to call
        more than once and after a failed start."""
        errors = []
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                errors.append("systemd-nspawn did not exit within 15 s of SIGTERM: killed")
                self.proc.kill()
                self.proc.wait(10)
        for d in self.cgdirs:
            _kill_cgroup_tree(d)
        for d in self.cgdirs:
            if not _remove_cgroup_tree(d):
                errors.append(f"cgroup {d} left behind")
        self.cgdirs = []
        self.leader = None
        if self in _running:
            _running.remove(self)
        if self.reaper is not None:
            # It leaves once the cgroups are gone.
            try:
                self.reaper.wait(5)
            except subprocess.TimeoutExpired:
                self.reaper.kill()
                self.reaper.wait()
            self.reaper = None
        return errors

    def kill_now(self):
        """Emergency stop within meson's 0.5 s grace: SIGKILL, no poweroff."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
        for d in self.cgdirs:
            _kill_cgroup_tree(d)
        for d in self.cgdirs:
            _remove_cgroup_tree(d, timeout=0.3)
        self.cgdirs = []
        if self in _running:
            _running.remove(self)


def _shquote(s):
    return "'" + s.replace("'", "'\\''") + "'"


def _children(pid):
    out = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out += [int(c) for c in f.read().split()]
    except OSError:
        pass
    return out


def _comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return None


def _reap(argv):
    """--reap PID CGDIR... -- TMPDIR...: waits until PID is gone or the
    cgroups are removed; in the first case kills and removes them."""
    pid = int(argv[0])
    sep = argv.index("--")
    cgdirs, tmpdirs = argv[1:sep], argv[sep + 1:]
    while _pid_alive(pid):
        if not any(os.path.isdir(d) for d in cgdirs):
            return 0
        time.sleep(0.5)
    for d in cgdirs:
        _kill_cgroup_tree(d)
    for d in cgdirs:
        _remove_cgroup_tree(d)
    for d in tmpdirs:
        shutil.rmtree(d, ignore_errors=True)
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--reap"]:
        sys.exit(_reap(sys.argv[2:]))
    # `tests/system/tfst_nspawn.py`: build (or check) the rootfs cache ahead
    # of a test run.
    why = environment_problem()
    if why:
        print(f"cannot build the container here: {why}")
        sys.exit(77)
    ensure_rootfs().close()
    print(f"rootfs ready: {ROOTFS}")
