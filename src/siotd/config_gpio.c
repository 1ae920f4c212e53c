/* SPDX-License-Identifier: MIT */
/* siot.conf's GPIO parts: the lines, and a command's gpio = { ... }. */
#include <string.h>

#include "config_parse.h"

static void load_line(struct cfg_reader *r, const config_setting_t *g, struct config *c,
		      struct gpio_line_decl *d)
{
	static const char *const keys[] = { "name", "chip", "line", "direction", "active_low",
					    "bias", "drive", "initial", NULL };
	static const char *const dirs[] = { [GPIO_INPUT] = "input", [GPIO_OUTPUT] = "output" };
	static const char *const biases[] = { [GPIO_BIAS_AS_IS] = "as-is",
					      [GPIO_BIAS_DISABLED] = "disabled",
					      [GPIO_BIAS_PULL_UP] = "pull-up",
					      [GPIO_BIAS_PULL_DOWN] = "pull-down" };
	static const char *const drives[] = { [GPIO_DRIVE_PUSH_PULL] = "push-pull",
					      [GPIO_DRIVE_OPEN_DRAIN] = "open-drain",
					      [GPIO_DRIVE_OPEN_SOURCE] = "open-source" };
	const config_setting_t *ls;
	const char *name, *chip;
	unsigned initial = 0;
	int k;

	cfg_check_members(r, g, keys, "a line");
	d->source_line = (int)config_setting_source_line(g);
	name = cfg_get_string(r, g, "name");
	if (!name || !siot_valid_id(name, strlen(name))) {
		cfg_report(r, g, "a line needs a name (" CONFIG_ID_RULE ")");
		name = "";
	}
	for (size_t j = 0; j < c->n_lines; j++)
		if (*name && !strcmp(c->lines[j].name, name))
			cfg_report(r, g, "line \"%s\" is declared twice (first on line %d)", name,
				   c->lines[j].source_line);
	d->name = config_xstrdup(name);
	chip = cfg_get_string(r, g, "chip");
	if (!chip)
		cfg_report(r, g, "line \"%s\" needs a chip (a path, a name, a label or \"sim\")",
			   name);
	d->chip = config_xstrdup(chip ? chip : "");
	ls = config_setting_get_member(g, "line");
	if (!ls)
		cfg_report(r, g, "line \"%s\" needs line = an offset or a line name", name);
	else if (config_setting_type(ls) == CONFIG_TYPE_STRING)
		d->line_name = config_xstrdup(config_setting_get_string(ls));
	else
		cfg_get_uint(r, g, "line", &d->offset, 0, 65535);
	d->spec_line = ls && chip ? (int)config_setting_source_line(ls) : 0;

	d->direction = GPIO_INPUT;
	if (cfg_get_enum(r, g, "direction", dirs, 2, "\"input\" or \"output\"", &k))
		d->direction = (enum gpio_direction)k;
	cfg_get_bool(r, g, "active_low", &d->active_low);
	if (cfg_get_enum(r, g, "bias", biases, 4,
			 "\"pull-up\", \"pull-down\", \"disabled\" or \"as-is\"", &k))
		d->bias = (enum gpio_bias)k;
	if (cfg_get_enum(r, g, "drive", drives, 3,
			 "\"push-pull\", \"open-drain\" or \"open-source\"", &k)) {
		if (d->direction != GPIO_OUTPUT)
			cfg_report(r, config_setting_get_member(g, "drive"),
				   "line \"%s\": drive is for outputs", name);
		else
			d->drive = (enum gpio_drive)k;
	}
	if (config_setting_get_member(g, "initial") && d->direction != GPIO_OUTPUT)
		cfg_report(r, config_setting_get_member(g, "initial"),
			   "line \"%s\": initial is for outputs", name);
	cfg_get_uint(r, g, "initial", &initial, 0, 1);
	d->initial = (int)initial;
}

void config_load_lines(struct cfg_reader *r, const config_setting_t *root, struct config *c)
{
	const config_setting_t *list;
	int n = cfg_get_list(r, root, "lines", CONFIG_MAX_LINES,
			     "( { name = ...; chip = ...; line = ...; }, ... )", &list);

	c->lines = config_xcalloc((size_t)n + 1, sizeof(*c->lines));
	for (int i = 0; i < n; i++) {
		const config_setting_t *g = config_setting_get_elem(list, (unsigned)i);

		if (!cfg_want_type(r, g, "a line", CONFIG_TYPE_GROUP))
			continue;
		load_line(r, g, c, &c->lines[c->n_lines]);
		c->n_lines++;
	}
}

void config_load_gpio_action(struct cfg_reader *r, const config_setting_t *g, struct config *c,
			     struct command *cmd)
{
	static const char *const keys[] = { "line", "action", "value", "duration", NULL };
	static const char *const ops[] = { [GPIO_OP_SET] = "set", [GPIO_OP_TOGGLE] = "toggle",
					   [GPIO_OP_PULSE] = "pulse", [GPIO_OP_GET] = "get" };
	const char *line, *op;
	unsigned value = 0;
	int k = -1;

	cmd->kind = ACTION_GPIO;
	if (!cfg_want_type(r, g, "gpio", CONFIG_TYPE_GROUP))
		return;
	cfg_check_members(r, g, keys, "gpio");
	line = cfg_get_string(r, g, "line");
	op = cfg_get_string(r, g, "action");
	for (size_t i = 0; line && i < c->n_lines; i++)
		if (!strcmp(c->lines[i].name, line))
			cmd->gpio_line = &c->lines[i];
	if (!line)
		cfg_report(r, g, "gpio needs line = the name of a line declared in lines");
	else if (!cmd->gpio_line)
		cfg_report(r, config_setting_get_member(g, "line"), "gpio: no line \"%s\" is declared",
			   line);
	for (size_t i = 0; op && i < 4; i++)
		if (!strcmp(op, ops[i]))
			k = (int)i;
	if (k < 0) {
		cfg_report(r, op ? config_setting_get_member(g, "action") : g,
			   "gpio needs action = \"set\", \"toggle\", \"pulse\" or \"get\"");
		return;
	}
	cmd->op = (enum gpio_op)k;
	if (cmd->op == GPIO_OP_SET || cmd->op == GPIO_OP_PULSE) {
		if (!config_setting_get_member(g, "value"))
			cfg_report(r, g, "gpio action \"%s\" needs value = 0 or 1", op);
		cfg_get_uint(r, g, "value", &value, 0, 1);
		cmd->value = (int)value;
	} else if (config_setting_get_member(g, "value")) {
		cfg_report(r, config_setting_get_member(g, "value"),
			   "gpio action \"%s\" takes no value", op);
	}
	if (cmd->op == GPIO_OP_PULSE) {
		if (!config_setting_get_member(g, "duration"))
			cfg_report(r, g, "gpio action \"pulse\" needs duration = seconds");
		cfg_get_usec(r, g, "duration", &cmd->duration_usec, CONFIG_MIN_PULSE, CONFIG_MAX_PULSE);
	} else if (config_setting_get_member(g, "duration")) {
		cfg_report(r, config_setting_get_member(g, "duration"), "only pulse takes a duration");
	}
	if (cmd->gpio_line && cmd->op != GPIO_OP_GET && cmd->gpio_line->direction != GPIO_OUTPUT)
		cfg_report(r, g, "gpio action \"%s\" needs an output line; \"%s\" is an input", op,
			   line);
}

