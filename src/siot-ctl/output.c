/* SPDX-License-Identifier: MIT */
#include "output.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "utf8.h"

/* Code points a terminal must not be handed: C1 controls (U+0080..U+009F,
 * which some terminals take as CSI and friends) and the bidi embeddings,
 * overrides and isolates (which reorder what is shown). */
static bool unsafe_code_point(uint32_t uc)
{
	return (uc >= 0x80 && uc <= 0x9f) || (uc >= 0x202a && uc <= 0x202e) ||
	       (uc >= 0x2066 && uc <= 0x2069);
}

/* Output bytes as they are, or on a terminal: valid UTF-8 as it is, except
 * C0 controls other than newline and tab, DEL and bytes that are not UTF-8
 * as \xNN, and unsafe code points as \uNNNN (tests/tty-escape-cases.json). */
static void print_output(FILE *f, const uint8_t *s, size_t n)
{
	if (!isatty(1)) {
		fwrite(s, 1, n, f);
		return;
	}
	for (size_t i = 0; i < n;) {
		uint32_t uc;
		int len;

		if (s[i] < 0x80) {
			if (s[i] == '\n' || s[i] == '\t' || (s[i] >= 0x20 && s[i] != 0x7f))
				fputc(s[i], f);
			else
				fprintf(f, "\\x%02x", s[i]);
			i++;
			continue;
		}
		len = utf8_decode(s + i, n - i, &uc);
		if (len < 0) {
			fprintf(f, "\\x%02x", s[i]); /* not UTF-8 */
			i++;
		} else if (unsafe_code_point(uc)) {
			fprintf(f, "\\u%04X", (unsigned)uc);
			i += (size_t)len;
		} else {
			fwrite(s + i, 1, (size_t)len, f);
			i += (size_t)len;
		}
	}
}

/* Why the device answered BUSY or REJECTED, from the authenticated result
 * byte (siot-protocol(7)); NULL for other statuses. */
const char *output_reason(const struct send_outcome *o)
{
	if (!o->authentic)
		return NULL;
	if (o->outcome == OUTCOME_BUSY)
		return o->result == 1 ? "this client or address is backing off after failed "
					"attempts; wait a while and try again"
		     : o->result == 0 ? "the command or its GPIO line is in use; try again when it "
					"has finished"
		     : o->result == 2 ? "the device is over its request rate through the broker "
					"(mqtt.request_rate); try again in a moment"
				      : "for a reason this siot-ctl does not know";
	if (o->outcome == OUTCOME_REJECTED)
		return o->result == 0 ? "no command that this client may run has this name"
		     : o->result == 1 ? "this client may not connect from this address"
				      : "for a reason this siot-ctl does not know";
	return NULL;
}

void output_human(const struct send_outcome *o, bool named, bool verbose)
{
	if (o->authentic && o->output_len) {
		const uint8_t *nl = memchr(o->output, '\n', o->output_len);
		bool one_line = nl == o->output + o->output_len - 1;

		/* With several commands, each one's output is introduced by its
		 * name (a command name is plain ASCII): "door: 1", or the name on
		 * a line of its own before output of several lines. */
		if (named)
			printf(one_line ? "%s: " : "%s:\n", o->command);
		print_output(stdout, o->output, o->output_len);
		if (named && o->output[o->output_len - 1] != '\n')
			putchar('\n');
	}
	fflush(stdout);
	if (o->outcome == OUTCOME_NOT_SENT && !o->sent && !o->error[0])
		fprintf(stderr, "siot-ctl: %s: not sent\n", o->command);
	else if (o->error[0] && !o->authentic)
		fprintf(stderr, "siot-ctl: %s: %s\n", o->command, o->error);
	else if (o->authentic && o->outcome == OUTCOME_FAILED)
		fprintf(stderr, "siot-ctl: %s: exit %u\n", o->command, o->result);
	else if (output_reason(o))
		fprintf(stderr, "siot-ctl: %s: %s: %s\n", o->command, outcome_name(o->outcome),
			output_reason(o));
	else if (o->authentic && o->exit_code != 0)
		fprintf(stderr, "siot-ctl: %s: %s\n", o->command, outcome_name(o->outcome));
	else if (verbose)
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

/* "output" when it is text (valid UTF-8, utf8.h), else
 * "output_base64". */
static bool add_output(json_object *obj, const uint8_t *out, size_t len)
{
	char b64[sodium_base64_ENCODED_LEN(SIOT_MAX_OUTPUT, sodium_base64_VARIANT_ORIGINAL)];

	if (utf8_valid(out, len))
		return add(obj, "output", json_object_new_string_len((const char *)out, (int)len));
	sodium_bin2base64(b64, sizeof(b64), out, len, sodium_base64_VARIANT_ORIGINAL);
	return add(obj, "output_base64", json_object_new_string(b64));
}

/* output_json, with "target" first when target is not NULL. */
static int json_line(FILE *f, const char *target, const struct send_outcome *o,
		     long long elapsed_ms)
{
	json_object *obj = json_object_new_object();
	bool ok = obj != NULL;

	if (target)
		ok = ok && add(obj, "target", json_object_new_string(target));
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
	if (elapsed_ms >= 0)
		ok = ok && add(obj, "elapsed_ms", json_object_new_int64(elapsed_ms));
	if (ok)
		fprintf(f, "%s\n", json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN |
										JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(obj);
	return ok ? 0 : -ENOMEM;
}

int output_json(const struct send_outcome *o)
{
	return json_line(stdout, NULL, o, -1);
}

/* The status part of a group's line for outcome o (exit status code). */
static void print_status(FILE *f, const struct send_outcome *o, int code)
{
	const char *reason = output_reason(o);

	if (o->authentic && o->outcome == OUTCOME_FAILED)
		fprintf(f, "failed (exit %u)", o->result);
	else if (o->authentic)
		fprintf(f, "%s%s%s", outcome_name(o->outcome), reason ? ": " : "", reason ? reason : "");
	else
		fprintf(f, "%s: %s",
		       code == EXIT_UNREACHABLE  ? "unreachable"
		       : code == EXIT_NETTIMEOUT ? "network timeout"
		       : code == EXIT_PROTOCOL   ? "not authentic"
						 : outcome_name(o->outcome),
		       o->error[0] ? o->error : "no answer");
}

/* out[0..len) indented by indent, one line at a time. */
static void print_indented(FILE *f, const uint8_t *out, size_t len, const char *indent)
{
	while (len) {
		const uint8_t *nl = memchr(out, '\n', len);
		size_t line = nl ? (size_t)(nl - out) + 1 : len;

		fputs(indent, f);
		print_output(f, out, line);
		if (!nl)
			fputc('\n', f);
		out += line;
		len -= line;
	}
}

void output_group(FILE *f, const char *target, const struct send_outcome *o, size_t n,
		  int code, bool json, bool named, long long elapsed_ms)
{
	size_t first_bad = n, not_sent = 0;

	if (json) {
		for (size_t i = 0; i < n; i++)
			json_line(f, target, &o[i], elapsed_ms);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (first_bad == n && (o[i].outcome != OUTCOME_OK || o[i].exit_code != 0))
			first_bad = i;
		else if (first_bad < i && o[i].outcome == OUTCOME_NOT_SENT && !o[i].sent)
			not_sent++;
	}
	fprintf(f, "%s: ", target);
	if (first_bad == n) {
		fprintf(f, named ? "ok (%zu commands)" : "ok", n);
	} else {
		if (named)
			fprintf(f, "%s: ", o[first_bad].command);
		print_status(f, &o[first_bad], code);
		if (not_sent)
			fprintf(f, "; %zu more not sent", not_sent);
	}
	fputc('\n', f);
	for (size_t i = 0; i < n; i++) {
		if (!o[i].authentic || !o[i].output_len)
			continue;
		if (named)
			fprintf(f, "  %s:\n", o[i].command);
		print_indented(f, o[i].output, o[i].output_len, named ? "    " : "  ");
	}
}
