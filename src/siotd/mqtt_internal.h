/* SPDX-License-Identifier: MIT */
/*
 * Inside the MQTT transport: struct mqtt and the queue between
 * libmosquitto's thread (mqtt_thread.c) and the loop (mqtt.c).  Nothing
 * else includes this.
 */
#ifndef SIOTD_MQTT_INTERNAL_H
#define SIOTD_MQTT_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <systemd/sd-event.h>

#include "daemon.h"
#include "list.h"
#include "mqtt.h"
#include "mqtt_client.h"

#define MQTT_CORR_LEN 16
#define MQTT_MAX_DELAY 60 /* seconds between connection attempts, at most */
/* A connection that lasted less does not reset the reconnect backoff: a
 * broker that ends it at once (another login took the client id, say)
 * must not have siotd reconnecting every second. */
#define MQTT_STABLE_SECONDS 10

enum item_kind {
	ITEM_MESSAGE,
	ITEM_CONNECTED,
	ITEM_DISCONNECTED,
	ITEM_CONNECT_FAILED,
	ITEM_SUBSCRIBED,          /* the broker granted the in-topic */
	ITEM_SUBSCRIBE_REFUSED,   /* rc: SUBACK's reason (>= 0x80), or -MOSQ_ERR_ */
};

/* Messages the thread drops before they reach the queue, by why: none of
 * them could belong to a session, so none costs a MAC or a queue entry. */
enum drop_kind {
	DROP_RETAINED,    /* kept by the broker from some earlier time */
	DROP_OVERSIZE,    /* longer than any request */
	DROP_NO_IDS,      /* no Response Topic, or Correlation Data not 16 bytes */
	DROP_WRONG_TOPIC, /* a Response Topic that is not PREFIX/DEVICE/out/SESSION */
	DROP_KINDS
};

/* What the thread hands the loop. */
struct item {
	struct item *next;
	enum item_kind kind;
	int rc;                  /* CONNACK reason, disconnect or error code */
	int err;                 /* errno, for a failed connect */
	int reason;              /* a DISCONNECT's reason code from the broker, or 0 */
	unsigned delay;          /* seconds until the next attempt (subscribe, connect) */
	bool brief;              /* a connection lost within MQTT_STABLE_SECONDS */
	size_t corr_len;         /* 16: the thread dropped every other */
	uint8_t corr[MQTT_CORR_LEN];
	char *rtopic;            /* Response Topic, or NULL */
	size_t len;
	uint8_t payload[];
};

struct mqtt_session {
	struct list_node node;   /* in m->sessions, newest first */
	struct mqtt *m;
	struct conn *c;
	uint8_t corr[MQTT_CORR_LEN];
	char hex[2 * MQTT_CORR_LEN + 1];
	char *topic;             /* where its answers go */
	uint8_t last[SIOT_MAX_REQUEST]; /* the request taken last: a redelivery is ignored */
	size_t last_len;
	bool early;              /* a message came while none was asked for */
};

struct mqtt {
	struct daemon *d;
	struct config *cfg;      /* the config it started with: broker settings */
	const struct mqtt_config *mc;
	struct mosquitto *mosq;
	struct mqtt_client_settings client;
	mosquitto_property *connect_props;
	bool lib_ready;          /* libmosquitto loaded and initialised */
	pthread_t thread;
	bool thread_started;
	pthread_mutex_t lock;
	pthread_cond_t wake;     /* ends the thread's wait between attempts */
	struct item *head, *tail;
	unsigned queued, max_queue, dropped_full;
	unsigned dropped_early[DROP_KINDS]; /* since the loop last looked */
	uint64_t full_logged_at; /* the loop's: when it last said the queue was full */
	unsigned full_unlogged;  /* dropped for a full queue since that line */
	int efd;
	sd_event_source *efd_src;
	atomic_bool stop;
	char in_topic[320];
	char out_prefix[320];    /* PREFIX/DEVICE_ID/out/ */
	char client_id[64];
	struct list_node sessions;
	unsigned n_sessions;
	bool connected;
	char state[160];         /* for STATUS= */
	void (*on_status)(void *userdata); /* the owner's: state changed */
	void *status_data;
	/* The thread's own: the subscription's backoff and next attempt
	 * (CLOCK_MONOTONIC seconds, 0 none), and the broker's last DISCONNECT
	 * reason. */
	unsigned sub_delay;
	time_t resub_at;
	int disconnect_reason;
	time_t connected_at;
};

/* The thread's side (mqtt_thread.c): libmosquitto's callbacks, which copy
 * what arrived into the queue and wake the loop, and the thread itself,
 * which connects, serves and reconnects with backoff until m->stop. */
void mqtt_on_connect(struct mosquitto *mosq, void *obj, int rc, int flags,
		     const mosquitto_property *props);
void mqtt_on_message(struct mosquitto *mosq, void *obj, const struct mosquitto_message *msg,
		     const mosquitto_property *props);
void mqtt_on_subscribe(struct mosquitto *mosq, void *obj, int mid, int qos_count,
		       const int *granted_qos, const mosquitto_property *props);
void mqtt_on_disconnect(struct mosquitto *mosq, void *obj, int rc,
			const mosquitto_property *props);
void *mqtt_thread_main(void *arg);

#endif
