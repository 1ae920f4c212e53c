/* SPDX-License-Identifier: MIT */
#include "mqtt_client.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <mqtt_protocol.h>

static struct mosquitto *fail(struct mosquitto *mosq, char *err, size_t errlen, const char *what,
			      int rc)
{
	snprintf(err, errlen, "%s: %s", what, mosquitto_strerror(rc));
	if (mosq)
		mosquitto_destroy(mosq);
	return NULL;
}

/* The client key is a secret: refused as an unsafe key file would be. */
static int check_key_file(const struct mqtt_client_settings *s, char *err, size_t errlen)
{
	struct stat st;

	if (!s->key_file)
		return 0;
	if (stat(s->key_file, &st) < 0) {
		snprintf(err, errlen, "%s: %s", s->key_file, strerror(errno));
		return -1;
	}
	return keyfile_check(&st, s->key_file, s->key_policy, err, errlen) < 0 ? -1 : 0;
}

struct mosquitto *mqtt_client_new(const struct mqtt_client_settings *s, void *obj,
				  mosquitto_property **connect_props, char *err, size_t errlen)
{
	struct mosquitto *mosq;
	int rc;

	*connect_props = NULL;
	if (s->tls && check_key_file(s, err, errlen) < 0)
		return NULL;
	mosq = mosquitto_new(s->client_id, true, obj);
	if (!mosq) {
		snprintf(err, errlen, "cannot make an MQTT client: %s", strerror(errno));
		return NULL;
	}
	mosquitto_int_option(mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
	mosquitto_threaded_set(mosq, true);
	/* Small messages, each waited for: no Nagle delay. */
	mosquitto_int_option(mosq, MOSQ_OPT_TCP_NODELAY, 1);
	if (s->username &&
	    (rc = mosquitto_username_pw_set(mosq, s->username, s->password)) != MOSQ_ERR_SUCCESS)
		return fail(mosq, err, errlen, "the broker user name", rc);
	if (s->tls && (rc = mosquitto_tls_set(mosq, s->ca_file, NULL, s->cert_file, s->key_file,
					      NULL)) != MOSQ_ERR_SUCCESS)
		return fail(mosq, err, errlen, "TLS files", rc);
	rc = mosquitto_property_add_int32(connect_props, MQTT_PROP_MAXIMUM_PACKET_SIZE,
					  MQTT_CLIENT_MAX_PACKET);
	if (rc != MOSQ_ERR_SUCCESS)
		return fail(mosq, err, errlen, "the maximum packet size", rc);
	return mosq;
}

int mqtt_client_connect(struct mosquitto *mosq, const struct mqtt_client_settings *s,
			const char *host, int port, const mosquitto_property *connect_props)
{
	return mosquitto_connect_bind_v5(mosq, host, port, (int)s->keepalive, NULL, connect_props);
}
