/* SPDX-License-Identifier: MIT */
/* Real chips in a siotd built without libgpiod: only the sim chip exists. */
#include <errno.h>
#include <stdio.h>

#include "gpio_backend.h"

static int none_resolve(const char *chip, const char *line_name, unsigned offset_in,
			char **chip_path, unsigned *offset, char *err, size_t errlen)
{
	(void)line_name;
	(void)offset_in;
	(void)chip_path;
	(void)offset;
	snprintf(err, errlen,
		 "GPIO chip \"%s\": this siotd was built without libgpiod "
		 "(only chip = \"%s\" is available)",
		 chip, GPIO_SIM_CHIP);
	return -ENOTSUP;
}

static int none_configure(struct gpio_held *h, const struct gpio_line_decl *d, bool keep_value)
{
	(void)h;
	(void)d;
	(void)keep_value;
	return -ENOTSUP;
}

static int none_get(struct gpio_held *h, int *value)
{
	(void)h;
	(void)value;
	return -ENOTSUP;
}

static int none_set(struct gpio_held *h, int value)
{
	(void)h;
	(void)value;
	return -ENOTSUP;
}

static void none_release(struct gpio_held *h)
{
	(void)h;
}

const struct gpio_backend gpio_chip_backend = {
	.resolve = none_resolve,
	.configure = none_configure,
	.get = none_get,
	.set = none_set,
	.release = none_release,
};
