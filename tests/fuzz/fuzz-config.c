/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer target: the configuration loader, from text as a file would
 * hold it.  The first byte picks the role (the keys allowed differ). */
#include "tfst-config.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static const TfstRole roles[] = {TFST_ROLE_EPPROXY, TFST_ROLE_GWPROXY, TFST_ROLE_RELAY};

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
  /* A g_return_if_fail() reached from a file is a bug, as in the tests. */
  g_log_set_always_fatal(G_LOG_LEVEL_CRITICAL | G_LOG_FATAL_MASK);
  return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  g_autofree char *text = NULL;
  g_autoptr(GError) error = NULL;
  TfstConfig *config;

  if (size < 1)
    return 0;
  /* The file reader rejects NUL bytes; the text stops at the first one. */
  text = g_strndup((const char *)data + 1, size - 1);
  config = tfst_config_load_from_data(roles[data[0] % G_N_ELEMENTS(roles)], "fuzz", text,
                                      "fuzz.conf", &error);
  /* Either a configuration or a reason, never both or neither. */
  if ((config == NULL) == (error == NULL))
    abort();
  if (config != NULL && config->label == NULL)
    abort();
  tfst_config_free(config);
  return 0;
}
