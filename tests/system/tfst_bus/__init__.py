# SPDX-License-Identifier: GPL-2.0-or-later
"""The bus fixture of the system tests, by concern:

- sysbus: PrivateSystemBus, a private system bus with the real polkitd
  (see its docstring), and PrivateBusMixin, one per test class;
- api: the D-Bus contract (names, interfaces, errors, polkit actions,
  the introspection XML);
- client: calls as root (Client, DBusCallError, sv), signals (Monitor)
  and the properties as a signal follower sees them (PropertyWatch);
- traffic: sessions kept open between exchanges (cmd_handler, Session);
- case: DbusTestCase, the chain of three daemons the D-Bus tests run
  against, and the names of its instances.

The names the tests use are re-exported here.  `/usr/bin/python3 -m
tfst_bus` (as root, from tests/system) is a manual check of the bus.
"""

import os
import sys

# tfst_testlib (tests/integration) serves the system tests as well.
_INTEGRATION = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "integration")
if _INTEGRATION not in sys.path:
    sys.path.insert(0, _INTEGRATION)

from .api import (BUS_PREFIX, E_ACCESS, E_CONFIG, E_FAILED, E_INVALID, E_NOTFOUND,  # noqa: E402
                  EVENTS, HOP_FIELDS, IFACE, IPSEC, KEEPALIVE, MANAGE, OBJ, OBSERVE, PROPS,
                  SESSION_FIELDS, STAT_KEYS_T, TRACE, TRACE_ACTION, TUNE, api_xml_files,
                  bus_name, escape_instance, now_us, parse_api, signature)
from .case import (EP_INSTANCE, GW_INSTANCE, INSTANCES, LABELS, NAME_TIMEOUT,  # noqa: E402
                   RELAY_INSTANCE, ROLE_OF_LABEL, SETTLE, TFSTCTL, DbusTestCase)
from .client import Client, DBusCallError, Monitor, PropertyWatch, sv  # noqa: E402
from .sysbus import (BUILDDIR, NOBODY, NOGROUP, POLKIT_NAME, SRCDIR, Gio, GLib,  # noqa: E402
                     PrivateBusMixin, PrivateSystemBus, environment_problem, setpriv_argv)
from .traffic import Session, cmd_handler  # noqa: E402

__all__ = [
    # sysbus
    "BUILDDIR", "NOBODY", "NOGROUP", "POLKIT_NAME", "SRCDIR", "Gio", "GLib",
    "PrivateBusMixin", "PrivateSystemBus", "environment_problem", "setpriv_argv",
    # api
    "BUS_PREFIX", "E_ACCESS", "E_CONFIG", "E_FAILED", "E_INVALID", "E_NOTFOUND", "EVENTS", "HOP_FIELDS", "IFACE",
    "IPSEC", "KEEPALIVE", "MANAGE", "OBJ", "OBSERVE", "PROPS", "SESSION_FIELDS", "STAT_KEYS_T",
    "TRACE", "TRACE_ACTION", "TUNE", "api_xml_files", "bus_name", "escape_instance", "now_us",
    "parse_api", "signature",
    # client, traffic
    "Client", "DBusCallError", "Monitor", "PropertyWatch", "sv", "Session", "cmd_handler",
    # case
    "EP_INSTANCE", "GW_INSTANCE", "INSTANCES", "LABELS", "NAME_TIMEOUT", "RELAY_INSTANCE",
    "ROLE_OF_LABEL", "SETTLE", "TFSTCTL", "DbusTestCase",
]
