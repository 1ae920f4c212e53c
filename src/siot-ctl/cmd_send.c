/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "hostport.h"
#include "keyfile.h"
#include "output.h"
#include "send.h"
#include "serial.h"

/* A problem in a config file that is being ignored, as a warning. */
static void print_warning(void *userdata, const char *file, int line, const char *msg)
{
	(void)userdata;
	if (line > 0)
		fprintf(stderr, "siot-ctl: warning: %s:%d: %s\n", file, line, msg);
	else
		fprintf(stderr, "siot-ctl: warning: %s: %s\n", file, msg);
}

/* Whether the flags alone name everything a send needs. */
static bool flags_complete(const struct target *f)
{
	return (f->host[0] || f->socket[0] || f->serial[0] || (f->mqtt[0] && f->device[0])) &&
	       f->key_file[0] &&
	       (f->id[0] || strcmp(f->protocol, "classic") == 0);
}

/* Flags that say where a single device is, or who to be on it: they make no
 * sense for a group, whose members each have their own. */
static const char *single_device_flag(const struct target *f)
{
	return f->host[0]     ? "-H"
	     : f->port[0]     ? "-p"
	     : f->socket[0]   ? "-U"
	     : f->mqtt[0]     ? "-M"
	     : f->serial[0]   ? "-S"
	     : f->baud >= 0   ? "--baud"
	     : f->framing[0]  ? "--framing"
	     : f->device[0]   ? "-D"
	     : f->id[0]       ? "-i"
	     : f->key_file[0] ? "-k"
	     : f->protocol[0] ? "--protocol"
	     : f->hash[0]     ? "--hash"
	     : f->tag_length >= 0       ? "--tag-length"
	     : f->challenge_length >= 0 ? "--challenge-length"
	     : f->wakeup_length >= 0    ? "--wakeup-length"
					: NULL;
}

/* The target: the config's (when there is one), then the flags on top.
 * Returns 0, an exit status, or -1 when the name is group's (in *group). */
static int pick_target(const struct options *o, struct target *t, struct target_group *group)
{
	const char *path = o->config_path ? o->config_path : target_default_path();
	/* With -H, -i and -k the file is not needed: a broken one is only
	 * warned about (unless -t asks for one of its targets). */
	bool optional = flags_complete(&o->flags) && !o->target_name;
	static struct target_names names;
	int r;

	target_clear(t);
	r = target_load(path, o->target_name, t, optional ? print_warning : cfg_print_problem, false,
			&names, group);
	if (r == 1) {
		const char *flag = single_device_flag(&o->flags);

		if (flag) {
			fprintf(stderr,
				"siot-ctl: %s is for one device; \"%s\" is a group of %u, each with "
				"its own (set it in their targets)\n",
				flag, group->name, group->n);
			return EXIT_USAGE;
		}
		return -1;
	}
	if (r == -ENOENT && (o->config_path || o->target_name)) {
		fprintf(stderr, "siot-ctl: %s: no such file%s\n", path,
			o->target_name ? " (needed for -t)" : "");
		return EXIT_CONFIG;
	}
	if (r == -EPERM)
		return EXIT_CONFIG; /* unsafe permissions: refused even when not needed */
	if (r == -EINVAL && optional) {
		fprintf(stderr, "siot-ctl: warning: %s ignored: -H/-U, -i and -k give everything "
				"needed\n",
			path);
		target_clear(t);
		r = 0;
	}
	if (r == -ESRCH) {
		const char *near = o->target_name ? target_nearest(&names, o->target_name) : NULL;

		if (near)
			fprintf(stderr, "siot-ctl: %s: no target named \"%s\"; did you mean \"%s\"?\n",
				path, o->target_name, near);
		else
			fprintf(stderr, "siot-ctl: %s: no target named \"%s\"%s\n", path,
				o->target_name ? o->target_name : "?",
				o->target_name ? "" : " (set default, or give -t NAME)");
		if (!near && names.n)
			fprintf(stderr, "siot-ctl: its targets: %s%s\n", names.name[0],
				names.n > 1 ? ", ..." : "");
		return EXIT_CONFIG;
	}
	if (r < 0 && r != -ENOENT)
		return EXIT_CONFIG;
	target_merge(t, &o->flags);
	if (!t->host[0] && !t->socket[0] && !t->mqtt[0] && !t->serial[0]) {
		fprintf(stderr,
			"siot-ctl: no device to talk to: give -t TARGET (from %s), -H HOST, -U SOCKET, "
			"-S SERIAL "
			"or -M URL\n",
			path);
		return EXIT_USAGE;
	}
	return 0;
}

int send_target_options(const struct target *t, struct send_options *so)
{
	enum siot_profile profile = SIOT_PROFILE_V1;
	enum siot_hash hash = SIOT_HASH_SHA256;

	if (t->protocol[0] && siot_profile_from_name(t->protocol, &profile) < 0) {
		fprintf(stderr, "siot-ctl: protocol must be v1 or classic, not '%s'\n", t->protocol);
		return EXIT_USAGE;
	}
	if (t->hash[0] && siot_hash_from_name(t->hash, &hash) < 0) {
		fprintf(stderr, "siot-ctl: hash must be sha256 or sha512, not '%s'\n", t->hash);
		return EXIT_USAGE;
	}
	if (profile == SIOT_PROFILE_V1 && !t->id[0]) {
		fprintf(stderr, "siot-ctl: no client id: give -i ID or set id in the target\n");
		return EXIT_USAGE;
	}
	if (t->id[0] && !siot_valid_id(t->id, strlen(t->id))) {
		fprintf(stderr, "siot-ctl: client id \"%s\": use 1 to 32 of A-Z a-z 0-9 . _ -\n",
			t->id);
		return EXIT_USAGE;
	}
	if (!t->key_file[0]) {
		fprintf(stderr, "siot-ctl: no key: give -k KEYFILE or set key_file in the target\n");
		return EXIT_USAGE;
	}
	if (profile == SIOT_PROFILE_CLASSIC && t->tag_length >= 0 &&
	    (size_t)t->tag_length != siot_digest_length(hash)) {
		fprintf(stderr, "siot-ctl: classic always uses the full digest; drop the tag length\n");
		return EXIT_USAGE;
	}
	so->serial_framing = t->serial[0] || strcmp(t->framing, "serial") == 0;
	if (so->serial_framing && t->mqtt[0]) {
		fprintf(stderr, "siot-ctl: --framing serial is for a TCP stream bridged to a serial "
				"line, not a broker\n");
		return EXIT_USAGE;
	}
	if (so->serial_framing && t->wakeup_length == 0) {
		fprintf(stderr, "siot-ctl: a serial line needs a wake-up: --wakeup-length 1 or more "
				"(default 4)\n");
		return EXIT_USAGE;
	}
	if (t->baud >= 0 && !t->serial[0]) {
		fprintf(stderr, "siot-ctl: --baud is for a serial port (-S DEVICE)\n");
		return EXIT_USAGE;
	}
	if (siot_params_init(&so->params, profile, hash,
			     t->tag_length < 0 ? 0 : (unsigned)t->tag_length,
			     t->challenge_length < 0 ? SIOT_DEFAULT_CHALLENGE
						     : (unsigned)t->challenge_length,
			     t->wakeup_length >= 0 ? (unsigned)t->wakeup_length
			     : so->serial_framing  ? SERIAL_DEFAULT_WAKEUP
						   : 0) < 0) {
		fprintf(stderr, "siot-ctl: tag length %d does not fit hash %s (16 .. %zu)\n",
			t->tag_length, siot_hash_name(hash), siot_digest_length(hash));
		return EXIT_USAGE;
	}
	if (t->mqtt[0]) {
		static char host[256];
		char err[400];

		if (hostport_mqtt_url(t->mqtt, host, sizeof(host), &so->mqtt_port, &so->mqtt_tls, err,
				      sizeof(err)) < 0) {
			fprintf(stderr, "siot-ctl: -M %s\n", err);
			return EXIT_USAGE;
		}
		if (!t->device[0]) {
			fprintf(stderr, "siot-ctl: through a broker the device id is needed: give -D "
					"DEVICE (its topics are named after it)\n");
			return EXIT_USAGE;
		}
		if (so->mqtt_tls && !t->mqtt_ca_file[0]) {
			fprintf(stderr, "siot-ctl: mqtts needs the CA certificates to trust: "
					"--mqtt-ca-file FILE (or mqtt_ca_file in the target)\n");
			return EXIT_USAGE;
		}
		if (t->mqtt_password_file[0] && !t->mqtt_username[0]) {
			fprintf(stderr, "siot-ctl: a broker password file needs a user name "
					"(--mqtt-user)\n");
			return EXIT_USAGE;
		}
		so->mqtt_url = t->mqtt;
		so->mqtt_host = host;
		so->mqtt_prefix = t->mqtt_prefix[0] ? t->mqtt_prefix : "siot";
		so->mqtt_username = t->mqtt_username[0] ? t->mqtt_username : NULL;
		so->mqtt_ca_file = t->mqtt_ca_file[0] ? t->mqtt_ca_file : NULL;
		so->mqtt_cert_file = t->mqtt_tls_cert_file[0] ? t->mqtt_tls_cert_file : NULL;
		so->mqtt_key_file = t->mqtt_tls_key_file[0] ? t->mqtt_tls_key_file : NULL;
	}
	so->client_id = t->id;
	so->host = t->host[0] ? t->host : NULL;
	so->port = t->port[0] ? t->port : "7468";
	so->socket_path = t->socket[0] ? t->socket : NULL;
	so->serial_path = t->serial[0] ? t->serial : NULL;
	so->baud = t->baud > 0 ? (unsigned)t->baud : SERIAL_DEFAULT_BAUD;
	so->device = t->device[0] ? t->device : NULL;
	so->timeout = t->timeout > 0 ? t->timeout : TARGET_DEFAULT_TIMEOUT;
	so->classic_response = t->classic_response != 0;
	return 0;
}

struct siot_key *send_read_key(const struct target *t, enum siot_hash hash, int *code)
{
	char path[4096], err[600];
	struct siot_key *key;
	uint8_t *raw;
	size_t len = 0;

	*code = EXIT_CONFIG;
	if (target_expand_home(t->key_file, path, sizeof(path)) < 0) {
		fprintf(stderr, "siot-ctl: key file path too long\n");
		return NULL;
	}
	raw = sodium_malloc(SIOT_MAX_KEY);
	key = sodium_malloc(sizeof(*key));
	if (!raw || !key) {
		fprintf(stderr, "siot-ctl: cannot lock memory for the key\n");
		*code = 5;
		key = NULL;
	} else if (keyfile_load(path, KEYFILE_CLIENT, raw, &len, err, sizeof(err)) < 0) {
		fprintf(stderr, "siot-ctl: %s\n", err);
		sodium_free(key);
		key = NULL;
	} else {
		siot_key_init(key, hash, raw, len);
	}
	sodium_free(raw); /* wipes; NULL is fine */
	return key;
}

int send_mqtt_password(const struct target *t, struct send_options *so, char **out)
{
	char path[4096], err[600];

	*out = NULL;
	if (!t->mqtt[0] || !t->mqtt_password_file[0])
		return 0;
	if (target_expand_home(t->mqtt_password_file, path, sizeof(path)) < 0) {
		fprintf(stderr, "siot-ctl: password file path too long\n");
		return EXIT_CONFIG;
	}
	*out = sodium_malloc(SEND_MAX_PASSWORD);
	if (!*out) {
		fprintf(stderr, "siot-ctl: cannot lock memory for the broker password\n");
		return 5;
	}
	if (keyfile_load_password(path, KEYFILE_CLIENT, *out, SEND_MAX_PASSWORD, err,
				  sizeof(err)) < 0) {
		fprintf(stderr, "siot-ctl: %s\n", err);
		sodium_free(*out);
		*out = NULL;
		return EXIT_CONFIG;
	}
	so->mqtt_password = *out;
	return 0;
}

void send_free_key(struct siot_key *key)
{
	if (key)
		siot_key_wipe(key);
	sodium_free(key);
}

int send_check_names(const struct send_options *so, const struct options *o)
{
	for (size_t i = 0; so->params.profile == SIOT_PROFILE_CLASSIC && i < o->n_commands; i++) {
		if (strlen(o->commands[i]) < 2) {
			/* A man in the middle could hand the request digest back as
			 * the response for such a name (siot-protocol(7)). */
			fprintf(stderr,
				"siot-ctl: \"%s\": classic refuses one-character command names (a "
				"reflected request digest could pass for a response)\n",
				o->commands[i]);
			return EXIT_USAGE;
		}
	}
	return 0;
}

int cmd_send(const struct options *o)
{
	static struct send_outcome outcomes[OPTIONS_MAX_COMMANDS];
	static struct target_group group;
	struct send_options so = { 0 };
	struct siot_key *key;
	struct target t;
	char *password;
	int code;

	code = pick_target(o, &t, &group);
	if (code == -1)
		return cmd_send_group(o, o->config_path ? o->config_path : target_default_path(),
				      &group);
	if (code != 0 || (code = send_target_options(&t, &so)) != 0 ||
	    (code = send_check_names(&so, o)) != 0)
		return code;
	if ((code = send_mqtt_password(&t, &so, &password)) != 0)
		return code;
	key = send_read_key(&t, so.params.hash, &code);
	if (!key) {
		sodium_free(password);
		return code;
	}
	so.key = key;
	code = send_commands(&so, o->commands, o->n_commands, outcomes);
	send_free_key(key);
	sodium_free(password); /* wipes; NULL is fine */
	for (size_t i = 0; i < o->n_commands; i++) {
		if (o->json)
			output_json(&outcomes[i]);
		else
			output_human(&outcomes[i], o->n_commands > 1, o->verbose);
	}
	fflush(stdout);
	return code;
}
