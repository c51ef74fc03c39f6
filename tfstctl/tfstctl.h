/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tfstctl subcommands.  Each takes argv starting at the command name and
 * returns the process exit status (TfstctlExit). */
#pragma once

/* Documented in tfstctl(1), EXIT STATUS. */
typedef enum {
  TFSTCTL_EXIT_OK = 0,
  TFSTCTL_EXIT_FAILURE = 1,
  TFSTCTL_EXIT_USAGE = 2,
  TFSTCTL_EXIT_NOT_FOUND = 3,
  TFSTCTL_EXIT_ACCESS_DENIED = 4,
} TfstctlExit;

int tfstctl_ports(int argc, char **argv);
int tfstctl_list(int argc, char **argv);
int tfstctl_status(int argc, char **argv);
int tfstctl_chain(int argc, char **argv);
int tfstctl_sessions(int argc, char **argv);
int tfstctl_stats(int argc, char **argv);
int tfstctl_dataflow(int argc, char **argv);
int tfstctl_keepalive(int argc, char **argv);
int tfstctl_log_level(int argc, char **argv);
int tfstctl_close(int argc, char **argv);
int tfstctl_reload(int argc, char **argv);
int tfstctl_check(int argc, char **argv);
int tfstctl_cat(int argc, char **argv);
int tfstctl_trace(int argc, char **argv);
int tfstctl_spi(int argc, char **argv);
int tfstctl_events(int argc, char **argv);
int tfstctl_monitor(int argc, char **argv);
int tfstctl_collect(int argc, char **argv);
int tfstctl_permissions(int argc, char **argv);
