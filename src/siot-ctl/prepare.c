/* SPDX-License-Identifier: MIT */
/* Preparing a send: a target's options, its key and broker password, and
 * the command names it may take; for one device and for each member of a
 * group alike. */
#include "prepare.h"

#include <stdio.h>
#include <string.h>

#include "hostport.h"
#include "keyfile.h"
#include "serial.h"

/* target_check's problems with a target as the flags made it. */
static void print_usage_problem(void *userdata, const char *setting, const char *msg)
{
	(void)userdata;
	(void)setting;
	fprintf(stderr, "siot-ctl: %s\n", msg);
}

/* The broker's settings into so. */
static int prepare_mqtt(const struct target *t, struct send_options *so)
{
	char err[400];

	if (hostport_mqtt_url(t->mqtt, so->mqtt_host, sizeof(so->mqtt_host), &so->mqtt_port,
			      &so->mqtt_tls, err, sizeof(err)) < 0)
		return EXIT_USAGE; /* reported by target_check */
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
	so->mqtt_prefix = t->mqtt_prefix[0] ? t->mqtt_prefix : "siot";
	so->mqtt_username = t->mqtt_username[0] ? t->mqtt_username : NULL;
	so->mqtt_ca_file = t->mqtt_ca_file[0] ? t->mqtt_ca_file : NULL;
	so->mqtt_cert_file = t->mqtt_tls_cert_file[0] ? t->mqtt_tls_cert_file : NULL;
	so->mqtt_key_file = t->mqtt_tls_key_file[0] ? t->mqtt_tls_key_file : NULL;
	return 0;
}

/* The protocol's parameters into so->params. */
static int prepare_params(const struct target *t, struct send_options *so)
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
	if (profile == SIOT_PROFILE_CLASSIC && t->tag_length >= 0 &&
	    (size_t)t->tag_length != siot_digest_length(hash)) {
		fprintf(stderr, "siot-ctl: classic always uses the full digest; drop the tag length\n");
		return EXIT_USAGE;
	}
	if (so->serial_framing && t->wakeup_length == 0) {
		fprintf(stderr, "siot-ctl: a serial line needs a wake-up: --wakeup-length 1 or more "
				"(default 4)\n");
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
	return 0;
}

int prepare_options(const struct target *t, struct send_options *so)
{
	int code;

	*so = (struct send_options){ 0 };
	so->serial_framing = t->serial[0] || strcmp(t->framing, "serial") == 0;
	if ((code = prepare_params(t, so)) != 0)
		return code;
	if (so->params.profile == SIOT_PROFILE_V1 && !t->id[0]) {
		fprintf(stderr, "siot-ctl: no client id: give -i ID or set id in the target\n");
		return EXIT_USAGE;
	}
	if (!t->key_file[0]) {
		fprintf(stderr, "siot-ctl: no key: give -k KEYFILE or set key_file in the target\n");
		return EXIT_USAGE;
	}
	if (target_check(t, TARGET_FROM_FLAGS, print_usage_problem, NULL) > 0)
		return EXIT_USAGE;
	if (t->mqtt[0] && (code = prepare_mqtt(t, so)) != 0)
		return code;
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

struct siot_key *prepare_read_key(const struct target *t, enum siot_hash hash, int *code)
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

int prepare_mqtt_password(const struct target *t, struct send_options *so, char **out)
{
	char path[4096], err[600];

	*out = NULL;
	if (!t->mqtt[0] || !t->mqtt_password_file[0])
		return 0;
	if (target_expand_home(t->mqtt_password_file, path, sizeof(path)) < 0) {
		fprintf(stderr, "siot-ctl: password file path too long\n");
		return EXIT_CONFIG;
	}
	*out = sodium_malloc(PREPARE_MAX_PASSWORD);
	if (!*out) {
		fprintf(stderr, "siot-ctl: cannot lock memory for the broker password\n");
		return 5;
	}
	if (keyfile_load_password(path, KEYFILE_CLIENT, *out, PREPARE_MAX_PASSWORD, err,
				  sizeof(err)) < 0) {
		fprintf(stderr, "siot-ctl: %s\n", err);
		sodium_free(*out);
		*out = NULL;
		return EXIT_CONFIG;
	}
	so->mqtt_password = *out;
	return 0;
}

void prepare_free_key(struct siot_key *key)
{
	if (key)
		siot_key_wipe(key);
	sodium_free(key);
}

int prepare_check_names(const struct send_options *so, const struct options *o)
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

void prepare_values(const struct target *t, struct send_outcome *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct send_outcome *o = &out[i];

		if (o->authentic && o->outcome == OUTCOME_OK && o->output_len == 0 &&
		    target_is_value(t, o->command))
			o->output_len = (size_t)snprintf((char *)o->output, sizeof(o->output), "%u\n",
							 o->result);
	}
}
