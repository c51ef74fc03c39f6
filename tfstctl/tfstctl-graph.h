/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The chain graph (ChainLinks) drawn as a tree for people: from each root
 * (a label with no parent) down, a label with several parents drawn under
 * each of them and marked with the others. */
#pragma once

#include <glib.h>

/* links: a(ss) of (upper, lower), lower having a hop to its parent upper.
 * notes: label -> text to show after that label (translated; may be
 * NULL).  Returns the lines ("ep", "├─ relayA", "│  └─ gw1 (also via
 * relayB)", ...); none for no links.  At most `max_lines` labels are
 * drawn, then a line that says the rest was left out (a graph whose
 * labels have many parents grows fast as a tree). */
GPtrArray *tfstctl_graph_lines(GVariant *links, GHashTable *notes,
                               guint max_lines) G_GNUC_WARN_UNUSED_RESULT;
