/* SPDX-License-Identifier: MIT */
#include "target.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfg.h"
#include "hostport.h"
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

static void read_target(struct cfg_reader *r, const config_setting_t *g, struct target *t)
{
	static const char *const keys[] = { "name", "host", "port", "socket", "device", "id",
					    "key_file", "protocol", "hash", "tag_length",
					    "challenge_length", "wakeup_length", "timeout",
					    "classic_response", NULL };
	static const char *const protocols[] = { "v1", "classic" };
	static const char *const hashes[] = { "sha256", "sha512" };
	unsigned port = 0, n;
	uint64_t usec;
	bool b;
	int k;

	target_clear(t);
	cfg_check_members(r, g, keys, "a target");
	cfg_get_string_buf(r, g, "name", t->name, sizeof(t->name));
	cfg_get_string_buf(r, g, "host", t->host, sizeof(t->host));
	cfg_get_string_buf(r, g, "socket", t->socket, sizeof(t->socket));
	cfg_get_string_buf(r, g, "device", t->device, sizeof(t->device));
	cfg_get_string_buf(r, g, "id", t->id, sizeof(t->id));
	cfg_get_string_buf(r, g, "key_file", t->key_file, sizeof(t->key_file));
	if (cfg_get_enum(r, g, "protocol", protocols, 2, "\"v1\" or \"classic\"", &k))
		snprintf(t->protocol, sizeof(t->protocol), "%s", protocols[k]);
	if (cfg_get_enum(r, g, "hash", hashes, 2, "\"sha256\" or \"sha512\"", &k))
		snprintf(t->hash, sizeof(t->hash), "%s", hashes[k]);
	if (cfg_get_uint(r, g, "port", &port, 1, 65535))
		snprintf(t->port, sizeof(t->port), "%u", port);
	if (t->host[0]) {
		/* host may carry the port, as -H does: "HOST:PORT", "[IPV6]:PORT". */
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
	if (!t->name[0])
		cfg_report(r, g, "a target needs a name");
	if (t->host[0] && t->socket[0])
		cfg_report(r, g, "target \"%s\": give host or socket, not both", t->name);
	if (t->id[0] && !siot_valid_id(t->id, strlen(t->id)))
		cfg_report(r, config_setting_get_member(g, "id"),
			   "id \"%s\": use 1 to 32 of A-Z a-z 0-9 . _ -", t->id);
	if (t->device[0] && !siot_valid_id(t->device, strlen(t->device)))
		cfg_report(r, config_setting_get_member(g, "device"),
			   "device \"%s\": use 1 to 32 of A-Z a-z 0-9 . _ -", t->device);
}

/* check: the key file must be readable, safe and a key. */
static void check_key(struct cfg_reader *r, const config_setting_t *g, const struct target *t)
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

int target_load(const char *path, const char *name, struct target *out, cfg_report_fn report,
		bool check_all)
{
	static const char *const keys[] = { "default", "targets", NULL };
	const config_setting_t *root, *list, *def;
	const char *want = name;
	struct cfg_reader r;
	config_t cf;
	bool found = false;
	int n = 0;

	if (access(path, F_OK) < 0)
		return -ENOENT;
	cfg_reader_init(&r, path);
	config_init(&cf);
	if (cfg_read_file(&r, &cf) < 0) {
		config_destroy(&cf);
		cfg_reader_flush(&r, report, NULL);
		return -EINVAL;
	}
	root = config_root_setting(&cf);
	cfg_check_members(&r, root, keys, NULL);
	def = config_setting_get_member(root, "default");
	if (def && config_setting_type(def) != CONFIG_TYPE_STRING)
		cfg_report(&r, def, "default must be a string (a target's name)");
	else if (def && !want)
		want = config_setting_get_string(def);
	n = cfg_get_list(&r, root, "targets", 1024, "( { name = ...; ... }, ... )", &list);
	if (!want && n == 1)
		want = NULL; /* the only target */
	for (int i = 0; i < n; i++) {
		const config_setting_t *g = config_setting_get_elem(list, (unsigned)i);
		struct target t;

		if (!cfg_want_type(&r, g, "a target", CONFIG_TYPE_GROUP))
			continue;
		if (!check_all && found)
			break;
		read_target(&r, g, &t);
		if (check_all && t.key_file[0])
			check_key(&r, g, &t);
		for (int j = 0; j < i; j++) {
			const config_setting_t *o = config_setting_get_elem(list, (unsigned)j);
			const char *on = NULL;
			if (config_setting_lookup_string(o, "name", &on) && t.name[0] && !strcmp(on, t.name))
				cfg_report(&r, g, "target \"%s\" is declared twice", t.name);
		}
		if (!found && ((want && !strcmp(t.name, want)) || (!want && n == 1))) {
			*out = t;
			found = true;
		}
	}
	if (def && want && !found && !name)
		cfg_report(&r, def, "default = \"%s\": no such target", want);
	config_destroy(&cf);
	if (cfg_reader_flush(&r, report, NULL) > 0)
		return -EINVAL;
	if (!found)
		return want || n > 1 ? -ESRCH : 0;
	return 0;
}
