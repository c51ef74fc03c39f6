# SPDX-License-Identifier: GPL-2.0-or-later
"""A manual check of the private bus, as root from tests/system:
`/usr/bin/python3 -m tfst_bus` starts the bus and polkitd with the tfst
actions, and shows that root is allowed, nobody refused, and a rule
granting nobody an action works until it is revoked."""

import sys

from .sysbus import POLKIT_NAME, PrivateSystemBus


def main():
    with PrivateSystemBus() as bus:
        print("address:", bus.address)
        print("polkitd:", bus.name_owner(POLKIT_NAME))
        r = bus.run(["pkaction", "--action-id", "org.tfst.tfst1.observe", "--verbose"])
        print(r.stdout, r.stderr)
        print("root observe:", bus.pkcheck("org.tfst.tfst1.observe", user="root"))
        print("nobody observe:", bus.pkcheck("org.tfst.tfst1.observe"))
        rule = bus.grant("org.tfst.tfst1.observe")
        print("nobody observe with rule:", bus.pkcheck("org.tfst.tfst1.observe"))
        print("nobody manage with rule:", bus.pkcheck("org.tfst.tfst1.manage"))
        bus.revoke(rule, "org.tfst.tfst1.observe")
        print("nobody observe after revoke:", bus.pkcheck("org.tfst.tfst1.observe"))
        bus.restart_bus(0.5)
        print("polkitd after restart:", bus.name_owner(POLKIT_NAME))
    return 0


sys.exit(main())
