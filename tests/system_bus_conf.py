# SPDX-License-Identifier: GPL-2.0-or-later
"""dbus-daemon configuration for a private system bus in the tests: the
default policy of Debian's /usr/share/dbus-1/system.conf (deny own="*",
deny method calls unless a policy file punches a hole, allow replies and
signals), listening on unix:path=DIR/system_bus_socket, followed by what
the caller adds (typically <include> of dbus/org.tfst.Tfst1.conf).
Shared by tests/test-bus-policy.py and tests/system/tfst_bus/sysbus.py.

open_bus_config() is the other kind: a bus that lets anyone own any name
and call anything, for tests of a client (tfstctl) against a name the test
owns itself, where the policy is not what is tested."""

# What both kinds of bus share: a system bus on DIR/system_bus_socket.
_HEAD = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={dir}/system_bus_socket</listen>
  <auth>EXTERNAL</auth>
"""

_TEMPLATE = _HEAD + """  <!-- The default policy of Debian's /usr/share/dbus-1/system.conf. -->
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus"
           send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus"
           send_interface="org.freedesktop.DBus.Introspectable"/>
    <allow send_destination="org.freedesktop.DBus"
           send_interface="org.freedesktop.DBus.Properties"/>
    <deny send_destination="org.freedesktop.DBus"
          send_interface="org.freedesktop.DBus"
          send_member="UpdateActivationEnvironment"/>
  </policy>
  <policy user="root">
    <allow send_destination="org.freedesktop.DBus"
           send_interface="org.freedesktop.DBus.Monitoring"/>
  </policy>
{extra}</busconfig>
"""


def system_bus_config(directory, extra=""):
    """The configuration text; `extra` goes inside <busconfig> after the
    default policy."""
    return _TEMPLATE.format(dir=directory, extra=extra)


_OPEN_TEMPLATE = _HEAD + """  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
  </policy>
</busconfig>
"""


def open_bus_config(directory):
    """A system bus on unix:path=DIRECTORY/system_bus_socket that allows
    everything."""
    return _OPEN_TEMPLATE.format(dir=directory)
