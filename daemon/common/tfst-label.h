/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Labels: the names components go by (Label=, PeerLabel=, forward names),
 * checked alike in the configuration, on the wire and in certificates. */
#pragma once

#include <glib.h>

#define TFST_LABEL_MAX 63

/* 1-TFST_LABEL_MAX characters of A-Z a-z 0-9 . _ - */
gboolean tfst_label_is_valid(const char *label);
