/* SPDX-License-Identifier: MIT */
/* Between config.c and config_gpio.c, the two halves of config_load. */
#ifndef SIOTD_CONFIG_PARSE_H
#define SIOTD_CONFIG_PARSE_H

#include "config.h"

#define CONFIG_ID_RULE "1 to 32 of A-Z a-z 0-9 . _ -"

/* strdup and calloc that abort when out of memory (nothing sensible to do
 * while loading); calloc of 0 gives one element. */
char *config_xstrdup(const char *s);
void *config_xcalloc(size_t n, size_t size);

/* lines = ( ... ) into c->lines. */
void config_load_lines(struct cfg_reader *r, const config_setting_t *root, struct config *c);
/* A command's gpio = { ... }, against the lines already loaded. */
void config_load_gpio_action(struct cfg_reader *r, const config_setting_t *g, struct config *c,
			     struct command *cmd);

/* mqtt = { ... } into c->mqtt (NULL when absent). */
/* The clients list (config_clients.c), after the commands. */
void config_load_clients(struct cfg_reader *r, const config_setting_t *root, struct config *c);

void config_load_mqtt(struct cfg_reader *r, const config_setting_t *root, struct config *c);
void config_free_mqtt(struct mqtt_config *m);

#endif
