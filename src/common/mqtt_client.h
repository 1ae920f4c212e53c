/* SPDX-License-Identifier: MIT */
/*
 * The one libmosquitto client set-up that siotd (mqtt.c) and siot-ctl
 * (send_mqtt.c) share: MQTT v5, calls from more than one thread, no Nagle
 * delay, the login, TLS with the files given (the client key checked as a
 * key file is), the largest packet either side takes, and the keepalive
 * each connect uses.  libmosquitto must be loaded (mosq_dl_load) and
 * initialised first.  Never logs: problems go into err.
 */
#ifndef SIOT_MQTT_CLIENT_H
#define SIOT_MQTT_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include "keyfile.h"
#include "mosq_dl.h"

/* The largest packet either side takes (PROTOCOL.md, MQTT), said in
 * CONNECT so that a broker drops anything larger before it reaches us. */
#define MQTT_CLIENT_MAX_PACKET 8192

struct mqtt_client_settings {
	const char *client_id;    /* NULL: the broker names the client */
	const char *username;     /* or NULL */
	const char *password;     /* as read from its file, or NULL */
	bool tls;
	const char *ca_file, *cert_file, *key_file; /* TLS; NULL when not given */
	enum keyfile_policy key_policy;             /* whose key_file it is */
	unsigned keepalive;       /* seconds */
};

/* A new client for obj (the callbacks' userdata) with everything above
 * set, and the CONNECT properties in *connect_props (free them with
 * mosquitto_property_free_all).  NULL after a message in err. */
struct mosquitto *mqtt_client_new(const struct mqtt_client_settings *s, void *obj,
				  mosquitto_property **connect_props, char *err, size_t errlen);

/* Connect (blocking: name lookup, TCP, TLS) with the settings' keepalive:
 * a MOSQ_ERR_ value. */
int mqtt_client_connect(struct mosquitto *mosq, const struct mqtt_client_settings *s,
			const char *host, int port, const mosquitto_property *connect_props);

#endif
