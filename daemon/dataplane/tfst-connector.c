/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Connectors: the side that opens a hop, reconnecting with capped
 * exponential backoff and jitter.  Above the hop: the engine schedules a
 * reconnect from its down_cb. */
#include "tfst-engine-private.h"

#include <systemd/sd-event.h>

static int
connector_timer_cb(sd_event_source *s, guint64 usec, void *userdata)
{
  TfstConnector *c = userdata;
  TfstEngine *e = c->engine;
  int fd;

  fd = tfst_socket_connect(&c->addr, c->conf, &c->next_sport);
  if (fd < 0) {
    TfstLogFields f = {.err = -fd};
    g_autofree char *why = g_strdup_printf("cannot connect: %s", g_strerror(-fd));

    tfst_hop_error_text(c->last_error, sizeof(c->last_error), -fd, why);
    tfst_log_full(e->log, LOG_WARNING, &f, "cannot open hop to %s at %s: %s",
                  c->direction == TFST_HOP_TO_PARENT ? "parent" : "child",
                  tfst_addr_format(&c->addr, (char[TFST_ADDR_STRLEN]){0}), g_strerror(-fd));
    tfst_connector_schedule(c);
    return 0;
  }
  c->next_attempt_rt = 0;
  c->hop = tfst_hop_new(e, c->direction, fd, c);
  tfst_notify_changed(e); /* Hops: "connecting" */
  return 0;
}

void
tfst_connector_schedule(TfstConnector *c)
{
  TfstEngine *e = c->engine;
  guint64 delay_ms;

  if (c->attempts == 0) {
    delay_ms = c->conf->reconnect_min_ms / 4;
  } else {
    guint shift = MIN(c->attempts - 1, 20u);
    delay_ms = MIN((guint64)c->conf->reconnect_min_ms << shift, (guint64)c->conf->reconnect_max_ms);
    /* ±20 % jitter so a whole tier restarting does not reconnect in step. */
    delay_ms = delay_ms * g_random_int_range(80, 121) / 100;
  }
  c->attempts++;
  c->next_attempt_rt = g_get_real_time() + (gint64)delay_ms * 1000;
  if (c->timer == NULL)
    sd_event_add_time_relative(e->event, &c->timer, CLOCK_MONOTONIC, delay_ms * 1000, 0,
                               connector_timer_cb, c);
  else
    sd_event_source_set_time_relative(c->timer, delay_ms * 1000);
  sd_event_source_set_enabled(c->timer, SD_EVENT_ONESHOT);
  /* Hops shows the attempts, the last error and when the next one is due;
   * the backoff spaces these, and the control plane coalesces them. */
  tfst_notify_changed(e);
}
