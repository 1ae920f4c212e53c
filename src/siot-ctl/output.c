/* SPDX-License-Identifier: MIT */
#include "output.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>
#include <unistr.h>

/* Code points a terminal must not be handed: C1 controls (U+0080..U+009F,
 * which some terminals take as CSI and friends) and the bidi embeddings,
 * overrides and isolates (which reorder what is shown). */
static bool unsafe_code_point(ucs4_t uc)
{
	return (uc >= 0x80 && uc <= 0x9f) || (uc >= 0x202a && uc <= 0x202e) ||
	       (uc >= 0x2066 && uc <= 0x2069);
}

/* Output bytes as they are, or on a terminal: valid UTF-8 as it is, except
 * C0 controls other than newline and tab, DEL and bytes that are not UTF-8
 * as \xNN, and unsafe code points as \uNNNN (tests/tty-escape-cases.json). */
static void print_output(const uint8_t *s, size_t n)
{
	if (!isatty(1)) {
		fwrite(s, 1, n, stdout);
		return;
	}
	for (size_t i = 0; i < n;) {
		ucs4_t uc;
		int len;

		if (s[i] < 0x80) {
			if (s[i] == '\n' || s[i] == '\t' || (s[i] >= 0x20 && s[i] != 0x7f))
				putchar(s[i]);
			else
				printf("\\x%02x", s[i]);
			i++;
			continue;
		}
		len = u8_mbtoucr(&uc, s + i, n - i);
		if (len < 0) {
			printf("\\x%02x", s[i]); /* not UTF-8 */
			i++;
		} else if (unsafe_code_point(uc)) {
			printf("\\u%04X", (unsigned)uc);
			i += (size_t)len;
		} else {
			fwrite(s + i, 1, (size_t)len, stdout);
			i += (size_t)len;
		}
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
