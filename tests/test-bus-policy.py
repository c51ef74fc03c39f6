#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The system bus policy (dbus/org.tfst.Tfst1.conf) on a private bus.

A private dbus-daemon runs with the default policy of Debian's system.conf
plus our policy file.  Checks: root can own org.tfst.Tfst1.<role>_<instance>
names, an unprivileged user (setpriv to 65534) cannot, the tfst user can (if
it exists here), nobody can own a name outside the prefix boundary
(org.tfst.Tfst10...), and an unprivileged user can call and introspect an
instance (authorization is polkit's job, not the bus's).

usage: test-bus-policy.py POLICY_FILE HELPER
Needs root (to start processes as other users): exit 77 otherwise.
"""

import os
import pwd
import shutil
import subprocess
import sys
import tempfile

from system_bus_conf import system_bus_config

NOBODY = 65534

BUS_EXTRA = '''  <include>{policy}</include>
'''

failures = 0


def check(ok, what, detail=''):
    global failures
    print(f'{"ok" if ok else "not ok"} - {what}')
    if not ok:
        failures += 1
        if detail:
            print('  ' + detail.strip().replace('\n', '\n  '))


def as_user(uid):
    if uid == 0:
        return []
    gid = pwd.getpwuid(uid).pw_gid if uid != NOBODY else NOBODY
    return ['setpriv', f'--reuid={uid}', f'--regid={gid}', '--clear-groups', '--']


def own(helper, address, name, uid):
    """Start the helper as uid asking for name; return (result, process)."""
    p = subprocess.Popen(as_user(uid) + [helper, address, name],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    line = p.stdout.readline().strip()
    if line != 'acquired':
        p.stdin.close()
        p.wait(timeout=10)
        err = p.stderr.read()
        return (line or f'exit {p.returncode}: {err.strip()}'), None
    return line, p


def release(p):
    if p is not None:
        p.stdin.close()
        p.wait(timeout=10)


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    policy, helper_built = sys.argv[1], sys.argv[2]
    if os.geteuid() != 0:
        print('SKIP: needs root to run bus clients as other users')
        return 77
    for tool in ('dbus-daemon', 'setpriv', 'gdbus'):
        if shutil.which(tool) is None:
            print(f'SKIP: {tool} not found (tools/deps installs it)')
            return 77

    with tempfile.TemporaryDirectory(prefix='tfst-bus-') as tmp:
        os.chmod(tmp, 0o755)
        # The build tree may not be readable by the unprivileged user.
        helper = os.path.join(tmp, 'bus-policy-helper')
        shutil.copy(helper_built, helper)
        os.chmod(helper, 0o755)
        config = os.path.join(tmp, 'bus.conf')
        with open(config, 'w') as f:
            f.write(system_bus_config(tmp, BUS_EXTRA.format(policy=os.path.abspath(policy))))

        bus = subprocess.Popen(['dbus-daemon', f'--config-file={config}', '--nofork',
                                '--nosyslog', '--print-address=1'],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            address = bus.stdout.readline().strip()
            if not address:
                print('dbus-daemon did not start: ' + bus.stderr.read())
                return 1
            run_checks(helper, address)
        finally:
            bus.terminate()
            bus.wait(timeout=10)
    return 1 if failures else 0


def run_checks(helper, address):
    name = 'org.tfst.Tfst1.relay_2'
    res, owner = own(helper, address, name, 0)
    check(res == 'acquired', f'root can own {name}', res)
    try:
        if owner is not None:
            gdbus = ['gdbus', 'call', '--address', address, '--dest', name,
                     '--object-path', '/org/tfst/Tfst1']
            r = subprocess.run(as_user(NOBODY) + gdbus + [
                '--method', 'org.freedesktop.DBus.Properties.Get',
                'org.tfst.Tfst1.Instance', 'Role'], capture_output=True, text=True)
            check(r.returncode == 0 and "'relay'" in r.stdout,
                  'an unprivileged user can call an instance', r.stdout + r.stderr)
            r = subprocess.run(as_user(NOBODY) + [
                'gdbus', 'introspect', '--address', address, '--dest', name,
                '--object-path', '/org/tfst/Tfst1'], capture_output=True, text=True)
            check(r.returncode == 0 and 'interface org.tfst.Tfst1.Instance' in r.stdout,
                  'an unprivileged user can introspect an instance', r.stdout + r.stderr)
    finally:
        release(owner)

    for n in ('org.tfst.Tfst1.relay_3', 'org.tfst.Tfst1'):
        res, p = own(helper, address, n, NOBODY)
        release(p)
        check(res == 'lost', f'an unprivileged user cannot own {n}', res)

    res, p = own(helper, address, 'org.tfst.Tfst1.epproxy_x2dfoo', 0)
    release(p)
    check(res == 'acquired', 'root can own org.tfst.Tfst1.epproxy_x2dfoo', res)

    res, p = own(helper, address, 'org.tfst.Tfst10.relay_2', 0)
    release(p)
    check(res == 'lost', 'the prefix ends at a name component: root cannot own '
          'org.tfst.Tfst10.relay_2', res)

    try:
        tfst = pwd.getpwnam('tfst').pw_uid
    except KeyError:
        print('# the user tfst does not exist here: not checking that it can own names')
        return
    res, p = own(helper, address, 'org.tfst.Tfst1.relay_2', tfst)
    release(p)
    check(res == 'acquired', 'the user tfst can own org.tfst.Tfst1.relay_2', res)


if __name__ == '__main__':
    sys.exit(main())
