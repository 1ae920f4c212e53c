/* SPDX-License-Identifier: MIT */
#include "target.h"

#include <errno.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libconfig.h>

#include "keyfile.h"

void target_clear(struct target *t)
{
	memset(t, 0, sizeof(*t));
	t->tag_length = t->challenge_length = t->wakeup_length = -1;
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
	/* A socket given on top of a host (or the reverse) wins alone. */
	if (over->socket[0])
		base->host[0] = '\0';
	if (over->host[0] && !over->socket[0])
		base->socket[0] = '\0';
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

const char *target_default_path(void)
{
	static char user[4096];
	const char *env = getenv("SIOT_CTL_CONFIG");

	if (env && *env)
		return env;
	if (target_expand_home("~/.config/siot/siot-ctl.conf", user, sizeof(user)) == 0 &&
	    access(user, F_OK) == 0)
		return user;
	if (access("/etc/siot/siot-ctl.conf", F_OK) == 0)
		return "/etc/siot/siot-ctl.conf";
	return user;
}

struct reader {
	const char *path;
	target_report_fn report;
	unsigned errors;
};

__attribute__((format(printf, 3, 4))) static void problem(struct reader *r,
							   const config_setting_t *s,
							   const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	r->errors++;
	r->report(r->path, s ? (int)config_setting_source_line(s) : 0, msg);
}

static void str_field(struct reader *r, const config_setting_t *g, const char *name, char *out,
		      size_t n)
{
	const config_setting_t *s = config_setting_get_member(g, name);

	if (!s)
		return;
	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		problem(r, s, "%s must be a string", name);
		return;
	}
	if (strlen(config_setting_get_string(s)) >= n) {
		problem(r, s, "%s is too long", name);
		return;
	}
	strcpy(out, config_setting_get_string(s));
}

static void int_field(struct reader *r, const config_setting_t *g, const char *name, int *out,
		      int min, int max)
{
	const config_setting_t *s = config_setting_get_member(g, name);
	long long v;

	if (!s)
		return;
	if (config_setting_type(s) != CONFIG_TYPE_INT && config_setting_type(s) != CONFIG_TYPE_INT64) {
		problem(r, s, "%s must be an integer", name);
		return;
	}
	v = config_setting_get_int64(s);
	if (v < min || v > max) {
		problem(r, s, "%s = %lld is out of range (%d .. %d)", name, v, min, max);
		return;
	}
	*out = (int)v;
}

static void read_target(struct reader *r, const config_setting_t *g, struct target *t)
{
	static const char *const keys[] = { "name", "host", "port", "socket", "device", "id",
					    "key_file", "protocol", "hash", "tag_length",
					    "challenge_length", "wakeup_length", "timeout",
					    "classic_response", NULL };
	const config_setting_t *s;
	int port = -1;

	target_clear(t);
	for (int i = 0; i < config_setting_length(g); i++) {
		const config_setting_t *m = config_setting_get_elem(g, (unsigned)i);
		bool ok = false;
		for (size_t k = 0; keys[k]; k++)
			if (!strcmp(config_setting_name(m), keys[k]))
				ok = true;
		if (!ok)
			problem(r, m, "unknown setting '%s' in a target", config_setting_name(m));
	}
	str_field(r, g, "name", t->name, sizeof(t->name));
	str_field(r, g, "host", t->host, sizeof(t->host));
	str_field(r, g, "socket", t->socket, sizeof(t->socket));
	str_field(r, g, "device", t->device, sizeof(t->device));
	str_field(r, g, "id", t->id, sizeof(t->id));
	str_field(r, g, "key_file", t->key_file, sizeof(t->key_file));
	str_field(r, g, "protocol", t->protocol, sizeof(t->protocol));
	str_field(r, g, "hash", t->hash, sizeof(t->hash));
	int_field(r, g, "port", &port, 1, 65535);
	if (port > 0)
		snprintf(t->port, sizeof(t->port), "%d", port);
	int_field(r, g, "tag_length", &t->tag_length, SIOT_MIN_TAG, SIOT_MAX_DIGEST);
	int_field(r, g, "challenge_length", &t->challenge_length, SIOT_MIN_CHALLENGE,
		  SIOT_MAX_CHALLENGE);
	int_field(r, g, "wakeup_length", &t->wakeup_length, 0, SIOT_MAX_WAKEUP);
	if ((s = config_setting_get_member(g, "timeout"))) {
		double v = config_setting_type(s) == CONFIG_TYPE_FLOAT ? config_setting_get_float(s)
			   : (config_setting_type(s) == CONFIG_TYPE_INT ||
			      config_setting_type(s) == CONFIG_TYPE_INT64)
				   ? (double)config_setting_get_int64(s)
				   : NAN;
		if (!(v > 0 && v <= 86400))
			problem(r, s, "timeout must be a number of seconds (more than 0, at most 86400)");
		else
			t->timeout = v;
	}
	if ((s = config_setting_get_member(g, "classic_response"))) {
		if (config_setting_type(s) != CONFIG_TYPE_BOOL)
			problem(r, s, "classic_response must be true or false");
		else
			t->classic_response = config_setting_get_bool(s);
	}
	s = config_setting_get_member(g, "name");
	if (!t->name[0])
		problem(r, g, "a target needs a name");
	if (t->host[0] && t->socket[0])
		problem(r, g, "target \"%s\": give host or socket, not both", t->name);
	if (t->id[0] && !siot_valid_id(t->id, strlen(t->id)))
		problem(r, config_setting_get_member(g, "id"),
			"id \"%s\": use 1 to 32 of A-Z a-z 0-9 . _ -", t->id);
	if (t->device[0] && !siot_valid_id(t->device, strlen(t->device)))
		problem(r, config_setting_get_member(g, "device"),
			"device \"%s\": use 1 to 32 of A-Z a-z 0-9 . _ -", t->device);
	if (t->protocol[0] && strcmp(t->protocol, "v1") && strcmp(t->protocol, "classic"))
		problem(r, config_setting_get_member(g, "protocol"),
			"protocol \"%s\": must be \"v1\" or \"classic\"", t->protocol);
	if (t->hash[0] && strcmp(t->hash, "sha256") && strcmp(t->hash, "sha512"))
		problem(r, config_setting_get_member(g, "hash"),
			"hash \"%s\": must be \"sha256\" or \"sha512\"", t->hash);
}

/* check: the key file must be readable, safe and a key. */
static void check_key(struct reader *r, const config_setting_t *g, const struct target *t)
{
	char path[4096], err[600];
	uint8_t *raw = sodium_malloc(SIOT_MAX_KEY);
	size_t len;

	if (!raw)
		return;
	if (target_expand_home(t->key_file, path, sizeof(path)) < 0)
		problem(r, config_setting_get_member(g, "key_file"), "key_file is too long");
	else if (keyfile_load(path, KEYFILE_CLIENT, raw, &len, err, sizeof(err)) < 0)
		problem(r, config_setting_get_member(g, "key_file"), "%s", err);
	sodium_free(raw);
}

int target_load(const char *path, const char *name, struct target *out, target_report_fn report,
		bool check_all)
{
	struct reader r = { .path = path, .report = report };
	const config_setting_t *root, *list, *def;
	const char *want = name;
	config_t cf;
	bool found = false;
	int n = 0;

	if (access(path, F_OK) < 0)
		return -ENOENT;
	config_init(&cf);
	if (config_read_file(&cf, path) != CONFIG_TRUE) {
		if (config_error_type(&cf) == CONFIG_ERR_FILE_IO)
			report(path, 0, strerror(errno ? errno : EIO));
		else
			report(config_error_file(&cf) ? config_error_file(&cf) : path,
			       config_error_line(&cf), config_error_text(&cf));
		config_destroy(&cf);
		return -EINVAL;
	}
	root = config_root_setting(&cf);
	for (int i = 0; i < config_setting_length(root); i++) {
		const config_setting_t *m = config_setting_get_elem(root, (unsigned)i);
		if (strcmp(config_setting_name(m), "default") && strcmp(config_setting_name(m), "targets"))
			problem(&r, m, "unknown setting '%s'", config_setting_name(m));
	}
	def = config_setting_get_member(root, "default");
	if (def && config_setting_type(def) != CONFIG_TYPE_STRING)
		problem(&r, def, "default must be a string (a target's name)");
	else if (def && !want)
		want = config_setting_get_string(def);
	list = config_setting_get_member(root, "targets");
	if (list && config_setting_type(list) != CONFIG_TYPE_LIST)
		problem(&r, list, "targets must be a list ( { name = ...; ... }, ... )");
	else if (list)
		n = config_setting_length(list);
	if (!want && n == 1)
		want = NULL; /* the only target */
	for (int i = 0; i < n; i++) {
		const config_setting_t *g = config_setting_get_elem(list, (unsigned)i);
		struct target t;

		if (config_setting_type(g) != CONFIG_TYPE_GROUP) {
			problem(&r, g, "a target must be a group { ... }");
			continue;
		}
		if (!check_all && found)
			break;
		read_target(&r, g, &t);
		if (check_all && t.key_file[0])
			check_key(&r, g, &t);
		for (int j = 0; j < i; j++) {
			const config_setting_t *o = config_setting_get_elem(list, (unsigned)j);
			const char *on = NULL;
			if (config_setting_lookup_string(o, "name", &on) && t.name[0] && !strcmp(on, t.name))
				problem(&r, g, "target \"%s\" is declared twice", t.name);
		}
		if (!found && ((want && !strcmp(t.name, want)) || (!want && n == 1))) {
			*out = t;
			found = true;
		}
	}
	if (def && want && !found && !name)
		problem(&r, def, "default = \"%s\": no such target", want);
	config_destroy(&cf);
	if (r.errors)
		return -EINVAL;
	if (!found)
		return want || n > 1 ? -ESRCH : 0;
	return 0;
}
