/* SPDX-License-Identifier: MIT */
#include "target.h"
#include "target_internal.h"
#include "serial.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cfg.h"
#include "hostport.h"
#include "keyfile.h"
#include "utf8.h"

void target_clear(struct target *t)
{
	memset(t, 0, sizeof(*t));
	t->tag_length = t->challenge_length = t->wakeup_length = t->baud = -1;
	t->timeout = -1.0;
	t->classic_response = -1;
}

#define MERGE_STR(f)                                                                            \
	do {                                                                                    \
		if (over->f[0])                                                                 \
			memcpy(base->f, over->f, sizeof(base->f));                              \
	} while (0)
#define MERGE_NUM(f)                                                                            \
	do {                                                                                    \
		if (over->f >= 0)                                                               \
			base->f = over->f;                                                      \
	} while (0)

void target_merge(struct target *base, const struct target *over)
{
	MERGE_STR(name);
	MERGE_STR(host);
	MERGE_STR(port);
	MERGE_STR(socket);
	MERGE_STR(mqtt);
	MERGE_STR(serial);
	MERGE_NUM(baud);
	MERGE_STR(framing);
	MERGE_STR(mqtt_prefix);
	MERGE_STR(mqtt_username);
	MERGE_STR(mqtt_password_file);
	MERGE_STR(mqtt_ca_file);
	MERGE_STR(mqtt_tls_cert_file);
	MERGE_STR(mqtt_tls_key_file);
	MERGE_STR(device);
	MERGE_STR(id);
	MERGE_STR(key_file);
	MERGE_STR(protocol);
	MERGE_STR(hash);
	MERGE_NUM(tag_length);
	MERGE_NUM(challenge_length);
	MERGE_NUM(wakeup_length);
	MERGE_NUM(timeout);
	MERGE_NUM(classic_response);
	MERGE_STR(values);
	/* A socket, host, broker or serial port given on top of another wins
	 * alone. */
	if (over->socket[0]) {
		base->host[0] = '\0';
		base->mqtt[0] = base->serial[0] = '\0';
	}
	if (over->host[0] && !over->socket[0]) {
		base->socket[0] = '\0';
		base->mqtt[0] = base->serial[0] = '\0';
	}
	if (over->mqtt[0] && !over->host[0] && !over->socket[0])
		base->host[0] = base->socket[0] = base->serial[0] = '\0';
	if (over->serial[0] && !over->host[0] && !over->socket[0] && !over->mqtt[0])
		base->host[0] = base->socket[0] = base->mqtt[0] = '\0';
}

int target_expand_home(const char *in, char *out, size_t n)
{
	const char *home = getenv("HOME");
	int r;

	if (strncmp(in, "~/", 2) == 0 && home)
		r = snprintf(out, n, "%s/%s", home, in + 2);
	else
		r = snprintf(out, n, "%s", in);
	return r < 0 || (size_t)r >= n ? -ENAMETOOLONG : 0;
}

const char *target_default_path(char user[TARGET_PATH_MAX])
{
	const char *env = getenv("SIOT_CTL_CONFIG");
	const char *xdg = getenv("XDG_CONFIG_HOME");
	int r;

	if (env && *env)
		return env;
	/* The XDG base directory rule: an XDG_CONFIG_HOME that is not an
	 * absolute path is ignored. */
	if (xdg && xdg[0] == '/')
		r = snprintf(user, TARGET_PATH_MAX, "%s/siot/siot-ctl.conf", xdg) < TARGET_PATH_MAX
			    ? 0
			    : -1;
	else
		r = target_expand_home("~/.config/siot/siot-ctl.conf", user, TARGET_PATH_MAX);
	if (r == 0 && access(user, F_OK) == 0)
		return user;
	if (access("/etc/siot/siot-ctl.conf", F_OK) == 0)
		return "/etc/siot/siot-ctl.conf";
	return user;
}

/* Edit distance between a and b, up to 64 characters each. */
static unsigned distance(const char *a, const char *b)
{
	unsigned row[65], n = (unsigned)strlen(b), m = (unsigned)strlen(a);

	if (n > 64 || m > 64)
		return 99;
	for (unsigned j = 0; j <= n; j++)
		row[j] = j;
	for (unsigned i = 1; i <= m; i++) {
		unsigned diag = row[0], del;

		row[0] = i;
		for (unsigned j = 1; j <= n; j++) {
			unsigned up = row[j];

			del = up + 1 < row[j - 1] + 1 ? up + 1 : row[j - 1] + 1;
			row[j] = diag + (a[i - 1] != b[j - 1]) < del ? diag + (a[i - 1] != b[j - 1])
								       : del;
			diag = up;
		}
	}
	return row[n];
}

const char *target_nearest(const struct target_names *names, const char *want)
{
	const char *best = NULL;
	unsigned best_d = 3; /* two edits at most, and fewer than the name has */

	for (unsigned i = 0; i < names->n; i++) {
		unsigned d = distance(want, names->name[i]);

		if (d < best_d && d < strlen(names->name[i])) {
			best = names->name[i];
			best_d = d;
		}
	}
	return best;
}

/* The file must be the user's (or root's) and writable by no one else, as
 * ssh requires of its config: anyone who can edit it can send this user's
 * commands anywhere with this user's keys. */
int target_check_file(struct cfg_reader *r, const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return -errno;
	if (st.st_uid != getuid() && st.st_uid != 0) {
		cfg_report_line(r, 0, "owned by uid %u, not by you or root; siot-ctl refuses it, "
				      "as ssh refuses such a config",
				(unsigned)st.st_uid);
		return -EPERM;
	}
	if (st.st_mode & 022) {
		cfg_report_line(r, 0, "writable by %s; siot-ctl refuses it, as ssh refuses such a "
				      "config (chmod go-w %s)",
				(st.st_mode & 020) && (st.st_mode & 002) ? "group and others"
				: (st.st_mode & 020)                     ? "group"
									 : "others",
				path);
		return -EPERM;
	}
	return 0;
}

/* Every target's name and address, as written, into names. */
void target_list_names(const config_setting_t *list, int n, struct target_names *names)
{
	for (int i = 0; i < n && names->n < TARGET_MAX_NAMES; i++) {
		const config_setting_t *g = config_setting_get_elem(list, (unsigned)i);
		const char *name = NULL, *host = NULL, *sock = NULL, *mqtt = NULL, *dev = NULL;
		const char *serial = NULL;
		int port = 0;

		if (!config_setting_is_group(g) || !config_setting_lookup_string(g, "name", &name))
			continue;
		config_setting_lookup_string(g, "host", &host);
		config_setting_lookup_string(g, "socket", &sock);
		config_setting_lookup_string(g, "mqtt", &mqtt);
		config_setting_lookup_string(g, "serial", &serial);
		config_setting_lookup_string(g, "device", &dev);
		config_setting_lookup_int(g, "port", &port);
		snprintf(names->name[names->n], sizeof(names->name[0]), "%s", name);
		if (mqtt)
			snprintf(names->where[names->n], sizeof(names->where[0]), "%s (device %s)", mqtt,
				 dev ? dev : "?");
		else if (sock)
			snprintf(names->where[names->n], sizeof(names->where[0]), "%s", sock);
		else if (serial)
			snprintf(names->where[names->n], sizeof(names->where[0]), "%s", serial);
		else if (host && port)
			snprintf(names->where[names->n], sizeof(names->where[0]), "%s:%d", host, port);
		else
			snprintf(names->where[names->n], sizeof(names->where[0]), "%s",
				 host ? host : "?");
		names->n++;
	}
}

/* One problem, worded for the file or for the command line. */
struct check_ctx {
	enum target_origin origin;
	target_problem_fn report;
	void *userdata;
	unsigned n;
};

static void say(struct check_ctx *x, const char *setting, const char *file_fmt,
		const char *flags_fmt, ...) __attribute__((format(printf, 3, 0)));
static void say(struct check_ctx *x, const char *setting, const char *file_fmt,
		const char *flags_fmt, ...)
{
	char msg[600];
	va_list ap;

	va_start(ap, flags_fmt);
	vsnprintf(msg, sizeof(msg), x->origin == TARGET_FROM_FILE ? file_fmt : flags_fmt, ap);
	va_end(ap);
	x->report(x->userdata, setting, msg);
	x->n++;
}

unsigned target_check(const struct target *t, enum target_origin origin,
		      target_problem_fn report, void *userdata)
{
	struct check_ctx x = { origin, report, userdata, 0 };
	const char *n = t->name, *why;

	/* Each format takes the target's name, then what the message names. */
	if (t->baud >= 0 && !t->serial[0])
		say(&x, "baud",
		    "target \"%s\": baud is for a serial port (serial = \"/dev/ttyUSB0\")",
		    "%.0s--baud is for a serial port (-S DEVICE)", n);
	if (t->mqtt[0] && strcmp(t->framing, "serial") == 0)
		say(&x, "framing",
		    "target \"%s\": framing = \"serial\" is for a TCP stream bridged to a serial "
		    "line, not a broker",
		    "%.0s--framing serial is for a TCP stream bridged to a serial line, not a broker",
		    n);
	if (t->mqtt[0]) {
		char h[256], err[400];
		int p;
		bool tls;

		if (hostport_mqtt_url(t->mqtt, h, sizeof(h), &p, &tls, err, sizeof(err)) < 0)
			say(&x, "mqtt", "%.0smqtt %s", "%.0s-M %s", n, err);
		if (strcmp(t->protocol, "classic") == 0)
			say(&x, "protocol",
			    "target \"%s\": protocol \"classic\" cannot go through a broker: it "
			    "binds no device id, so the request could be forwarded to another device",
			    "%.0s--protocol classic cannot go through a broker (-M): it binds no device "
			    "id, so the request could be forwarded to another device",
			    n);
		if (t->mqtt_prefix[0] && (why = utf8_topic_problem(t->mqtt_prefix)) != NULL)
			say(&x, "mqtt_prefix", "%.0smqtt_prefix \"%s\": %s",
			    "%.0s--mqtt-prefix \"%s\": %s", n, t->mqtt_prefix, why);
		if (!t->device[0])
			say(&x, NULL,
			    "target \"%s\": mqtt needs device (its topics are named after it)",
			    "%.0sthrough a broker the device id is needed: give -D DEVICE (its topics "
			    "are named after it)",
			    n);
	}
	if (t->id[0] && !siot_valid_id(t->id, strlen(t->id)))
		say(&x, "id", "%.0sid \"%s\": use 1 to 32 of A-Z a-z 0-9 . _ -",
		    "%.0sclient id \"%s\": use 1 to 32 of A-Z a-z 0-9 . _ -", n, t->id);
	if (t->device[0] && !siot_valid_id(t->device, strlen(t->device)))
		say(&x, "device", "%.0sdevice \"%s\": use 1 to 32 of A-Z a-z 0-9 . _ -",
		    "%.0sdevice id \"%s\": use 1 to 32 of A-Z a-z 0-9 . _ -", n, t->device);
	return x.n;
}

/* A target's string settings, as the file names them. */
#define STRING_FIELD(f) { #f, offsetof(struct target, f), sizeof(((struct target *)0)->f) }
static const struct {
	const char *setting;
	size_t off, size;
} string_fields[] = {
	STRING_FIELD(name),	       STRING_FIELD(host),
	STRING_FIELD(socket),	       STRING_FIELD(device),
	STRING_FIELD(id),	       STRING_FIELD(key_file),
	STRING_FIELD(mqtt),	       STRING_FIELD(serial),
	STRING_FIELD(mqtt_prefix),     STRING_FIELD(mqtt_username),
	STRING_FIELD(mqtt_password_file), STRING_FIELD(mqtt_ca_file),
	STRING_FIELD(mqtt_tls_cert_file), STRING_FIELD(mqtt_tls_key_file),
};

/* Every setting a target may have. */
static const char *const target_settings[] = {
	"name",	    "host",	 "port",     "socket",	     "device",		  "id",
	"key_file", "protocol",	 "hash",     "tag_length",   "challenge_length", "wakeup_length",
	"timeout",  "classic_response", "mqtt", "mqtt_prefix", "mqtt_username",
	"mqtt_password_file", "mqtt_ca_file", "mqtt_tls_cert_file", "mqtt_tls_key_file",
	"serial",   "baud",	 "framing",  "values",   NULL
};

bool target_is_value(const struct target *t, const char *command)
{
	size_t n = strlen(command);

	if (strcmp(t->values, "*") == 0)
		return true;
	for (const char *p = t->values; *p;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);

		if (len == n && strncmp(p, command, n) == 0)
			return true;
		if (!comma)
			break;
		p = comma + 1;
	}
	return false;
}

/* values = [ "door", ... ]: command names, joined with commas. */
static void read_values(struct cfg_reader *r, const config_setting_t *g, struct target *t)
{
	const config_setting_t *v = config_setting_get_member(g, "values");
	int n = v ? config_setting_length(v) : 0;

	if (!v)
		return;
	if (config_setting_type(v) != CONFIG_TYPE_ARRAY) {
		cfg_report(r, v, "values must be an array of command names: [ \"door\", ... ]");
		return;
	}
	for (int i = 0; i < n; i++) {
		const char *c = config_setting_get_string_elem(v, (unsigned)i);
		size_t have = strlen(t->values);

		if (!c || !siot_valid_command(c, strlen(c))) {
			cfg_report(r, v, "values: command names, 1 to 64 of A-Z a-z 0-9 . _ -");
			return;
		}
		if (have + strlen(c) + 2 > sizeof(t->values)) {
			cfg_report(r, v, "values: too many names (%zu bytes at most)",
				   sizeof(t->values) - 1);
			return;
		}
		snprintf(t->values + have, sizeof(t->values) - have, "%s%s", have ? "," : "", c);
	}
}

/* One of a fixed set of words into buf. */
static void read_word(struct cfg_reader *r, const config_setting_t *g, const char *setting,
		      const char *const *words, const char *expect, char *buf, size_t n)
{
	int k;

	if (cfg_get_enum(r, g, setting, words, 2, expect, &k))
		snprintf(buf, n, "%s", words[k]);
}

/* host may carry the port, as -H does: "HOST:PORT", "[IPV6]:PORT". */
static void split_host(struct cfg_reader *r, const config_setting_t *g, struct target *t,
		       unsigned port)
{
	char h[sizeof(t->host)], p[8], err[400];

	if (hostport_split(t->host, h, sizeof(h), p, sizeof(p), err, sizeof(err)) < 0) {
		cfg_report(r, config_setting_get_member(g, "host"), "host %s", err);
	} else if (p[0] && port) {
		cfg_report(r, config_setting_get_member(g, "host"),
			   "give the port once: in host or in port, not both");
	} else {
		snprintf(t->host, sizeof(t->host), "%s", h);
		if (p[0])
			snprintf(t->port, sizeof(t->port), "%s", p);
	}
}

/* The numbers and flags of a target. */
static void read_numbers(struct cfg_reader *r, const config_setting_t *g, struct target *t)
{
	unsigned n;
	uint64_t usec;
	bool b;

	if (cfg_get_uint(r, g, "baud", &n, 300, 4000000)) {
		if (!serial_speed_known(n))
			cfg_report(r, config_setting_get_member(g, "baud"),
				   "baud %u: not a speed a serial port takes (%s)", n,
				   SERIAL_SPEEDS_TEXT);
		else
			t->baud = (int)n;
	}
	if (cfg_get_uint(r, g, "tag_length", &n, SIOT_MIN_TAG, SIOT_MAX_DIGEST))
		t->tag_length = (int)n;
	if (cfg_get_uint(r, g, "challenge_length", &n, SIOT_MIN_CHALLENGE, SIOT_MAX_CHALLENGE))
		t->challenge_length = (int)n;
	if (cfg_get_uint(r, g, "wakeup_length", &n, 0, SIOT_MAX_WAKEUP))
		t->wakeup_length = (int)n;
	if (cfg_get_usec(r, g, "timeout", &usec, 0.001, 86400.0))
		t->timeout = (double)usec / 1e6;
	if (cfg_get_bool(r, g, "classic_response", &b))
		t->classic_response = b;
}

struct file_problem {
	struct cfg_reader *r;
	const config_setting_t *g;
};

/* target_check's problems, at the setting's line (or the target's). */
static void report_at(void *userdata, const char *setting, const char *msg)
{
	struct file_problem *fp = userdata;
	const config_setting_t *at = setting ? config_setting_get_member(fp->g, setting) : NULL;

	cfg_report(fp->r, at ? at : fp->g, "%s", msg);
}

void target_read(struct cfg_reader *r, const config_setting_t *g, struct target *t)
{
	static const char *const protocols[] = { "v1", "classic" };
	static const char *const hashes[] = { "sha256", "sha512" };
	static const char *const framings[] = { "stream", "serial" };
	struct file_problem fp = { r, g };
	unsigned port = 0;

	target_clear(t);
	cfg_check_members(r, g, target_settings, "a target");
	for (size_t i = 0; i < sizeof(string_fields) / sizeof(string_fields[0]); i++)
		cfg_get_string_buf(r, g, string_fields[i].setting, (char *)t + string_fields[i].off,
				   string_fields[i].size);
	read_numbers(r, g, t);
	read_values(r, g, t);
	read_word(r, g, "framing", framings, "\"stream\" or \"serial\"", t->framing,
		  sizeof(t->framing));
	read_word(r, g, "protocol", protocols, "\"v1\" or \"classic\"", t->protocol,
		  sizeof(t->protocol));
	read_word(r, g, "hash", hashes, "\"sha256\" or \"sha512\"", t->hash, sizeof(t->hash));
	if (cfg_get_uint(r, g, "port", &port, 1, 65535))
		snprintf(t->port, sizeof(t->port), "%u", port);
	if (t->host[0])
		split_host(r, g, t, port);
	if (!!t->host[0] + !!t->socket[0] + !!t->mqtt[0] + !!t->serial[0] > 1)
		cfg_report(r, g, "target \"%s\": give one of host, socket, mqtt and serial",
			   t->name);
	target_check(t, TARGET_FROM_FILE, report_at, &fp);
}

/* check: the key file must be readable, safe and a key. */
void target_check_key(struct cfg_reader *r, const config_setting_t *g, const struct target *t)
{
	char path[4096], err[600];
	uint8_t *raw = sodium_malloc(SIOT_MAX_KEY);
	size_t len;

	if (!raw)
		return;
	if (target_expand_home(t->key_file, path, sizeof(path)) < 0)
		cfg_report(r, config_setting_get_member(g, "key_file"), "key_file is too long");
	else if (keyfile_load(path, KEYFILE_CLIENT, raw, &len, err, sizeof(err)) < 0)
		cfg_report(r, config_setting_get_member(g, "key_file"), "%s", err);
	sodium_free(raw);
}
