/* SPDX-License-Identifier: MIT */
/*
 * Serving through an MQTT v5 broker (siot-protocol(7), "MQTT"): each
 * session a client opens on PREFIX/DEVICE_ID/in is a connection of its own
 * (conn.c runs its exchange), answered on PREFIX/DEVICE_ID/out/HEX.
 *
 * libmosquitto runs in a thread of its own: connecting, TLS, keepalive and
 * reconnecting (with exponential backoff) can block there without holding
 * up the event loop.  Its callbacks only copy what arrived into a bounded
 * queue and wake the loop through an eventfd; everything else (sessions,
 * decisions, actions, logging) happens on the loop, as for TCP.
 */
#ifndef SIOTD_MQTT_H
#define SIOTD_MQTT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct daemon;

/* Start serving through d->config->mqtt (nothing when it is NULL): the
 * password file is read here (refused like an unsafe key file), and the
 * connection is made in the background.  on_status(userdata) is called on
 * the loop whenever mqtt_status changes.  0, or a negative errno after a
 * message. */
int mqtt_start(struct daemon *d, void (*on_status)(void *userdata), void *userdata);

/* Disconnect and stop the thread (end of the loop). */
void mqtt_stop(struct daemon *d);

/* After a reload: the broker settings (and the device id in the topics) are
 * those siotd started with; say so when the new config changed them. */
void mqtt_reloaded(struct daemon *d);

/* A line for the unit's STATUS=, e.g. "broker mqtt://b:1883 connected";
 * "" without mqtt. */
const char *mqtt_status(const struct daemon *d);

#endif
