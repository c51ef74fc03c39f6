/* tfstctl subcommands.  Each takes argv starting at the command name and
 * returns the process exit status. */
#pragma once

int tfstctl_ports(int argc, char **argv);
