/* SPDX-License-Identifier: MIT */
#include "output.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>
#include <unistr.h>

/* Output bytes as they are, or with control characters escaped on a tty. */
static void print_output(const uint8_t *s, size_t n)
{
	if (!isatty(1)) {
		fwrite(s, 1, n, stdout);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		uint8_t c = s[i];
		if (c == '\n' || c == '\t' || (c >= 0x20 && c != 0x7f))
			putchar(c);
		else
			printf("\\x%02x", c);
	}
}

void output_human(const struct send_outcome *o)
{
	if (o->authentic && o->output_len)
		print_output(o->output, o->output_len);
	fflush(stdout);
	if (o->outcome == OUTCOME_NOT_SENT && !o->sent && !o->error[0])
		fprintf(stderr, "siot-ctl: %s: not sent\n", o->command);
	else if (o->error[0] && !o->authentic)
		fprintf(stderr, "siot-ctl: %s: %s\n", o->command, o->error);
	else if (o->authentic && o->exit_code == 1)
		fprintf(stderr, "siot-ctl: %s: failed (result %u)\n", o->command, o->result);
	else if (o->authentic && o->exit_code != 0)
		fprintf(stderr, "siot-ctl: %s: %s\n", o->command, outcome_name(o->outcome));
}

/* Add key = value to obj; false when out of memory. */
static bool add(json_object *obj, const char *key, json_object *value)
{
	if (!value)
		return false;
	if (json_object_object_add(obj, key, value) < 0) {
		json_object_put(value);
		return false;
	}
	return true;
}

/* "output" when it is text (valid UTF-8, as libunistring checks it), else
 * "output_base64". */
static bool add_output(json_object *obj, const uint8_t *out, size_t len)
{
	char b64[sodium_base64_ENCODED_LEN(SIOT_MAX_OUTPUT, sodium_base64_VARIANT_ORIGINAL)];

	if (u8_check(out, len) == NULL)
		return add(obj, "output", json_object_new_string_len((const char *)out, (int)len));
	sodium_bin2base64(b64, sizeof(b64), out, len, sodium_base64_VARIANT_ORIGINAL);
	return add(obj, "output_base64", json_object_new_string(b64));
}

int output_json(const struct send_outcome *o)
{
	json_object *obj = json_object_new_object();
	bool ok = obj != NULL;

	ok = ok && add(obj, "command", json_object_new_string(o->command));
	ok = ok && add(obj, "status", json_object_new_string(outcome_name(o->outcome)));
	if (o->authentic) {
		ok = ok && add(obj, "result", json_object_new_int(o->result));
		if (o->output_len)
			ok = ok && add_output(obj, o->output, o->output_len);
	}
	ok = ok && add(obj, "authentic", json_object_new_boolean(o->authentic));
	if (o->error[0])
		ok = ok && add(obj, "error", json_object_new_string(o->error));
	if (ok)
		puts(json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN |
							 JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(obj);
	return ok ? 0 : -ENOMEM;
}
