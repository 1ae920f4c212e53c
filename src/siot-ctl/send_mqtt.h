/* SPDX-License-Identifier: MIT */
/*
 * siot-ctl -M: the exchange through an MQTT v5 broker (siot-protocol(7),
 * "MQTT").  One session per command: a fresh 16-byte correlation id, a
 * subscription to PREFIX/DEVICE/out/HEX, and an empty message to
 * PREFIX/DEVICE/in that opens it.  libmosquitto runs in a thread of its own
 * so that the overall timeout holds while it connects.
 *
 * A single send has a broker connection of its own.  A group send shares
 * one connection (struct ctl_broker) among the members on the same broker
 * with the same login: each member is still its own session, run from a
 * thread of its own, and the connection's thread hands each message and
 * acknowledgement to the session it belongs to.  When a shared connection
 * drops, libmosquitto reconnects: a session that had not sent its request
 * yet opens anew; one that had fails, since its command may have run.
 */
#ifndef SIOT_CTL_SEND_MQTT_H
#define SIOT_CTL_SEND_MQTT_H

#include <stddef.h>
#include <stdint.h>

#include "send.h"

struct ctl_mqtt;
struct ctl_broker;

/* A connection to o's broker (o's URL, login and TLS files) for sessions
 * to share (send_options.broker), by deadline_ms.  0, or 69 with the cause
 * in err.  *out is to be freed with ctl_broker_free either way, after every
 * session on it. */
int ctl_broker_connect(struct ctl_broker **out, const struct send_options *o, int64_t deadline_ms,
		       char *err, size_t errlen);
void ctl_broker_free(struct ctl_broker *b);

/* A session's state, and a connection to o's broker by deadline_ms
 * (CLOCK_MONOTONIC) unless o->broker is one to share.  0, or 69 with the
 * cause in err (cannot connect, login refused, no answer).  *out is to be
 * freed with ctl_mqtt_free either way. */
int ctl_mqtt_connect(struct ctl_mqtt **out, const struct send_options *o, int64_t deadline_ms,
		     char *err, size_t errlen);

/* Open a new session: 0, 69 (ACL denial, no device subscribed, the broker
 * gone) or 75, with a message in err. */
int ctl_mqtt_open(struct ctl_mqtt *m, int64_t deadline_ms, char *err, size_t errlen);

/* The session's next message into buf: its length, -ETIMEDOUT, or
 * -ENOTCONN when the broker connection it was opened on went away. */
int ctl_mqtt_recv(struct ctl_mqtt *m, uint8_t *buf, size_t size, int64_t deadline_ms);

/* Publish a protocol message (the request) into the session. */
int ctl_mqtt_send(struct ctl_mqtt *m, const uint8_t *buf, size_t len);

/* Stop listening to the session's topic. */
void ctl_mqtt_end_session(struct ctl_mqtt *m);

/* "device D through URL (topic PREFIX/D/in)", for messages. */
const char *ctl_mqtt_where(const struct ctl_mqtt *m);

void ctl_mqtt_free(struct ctl_mqtt *m);

#endif
