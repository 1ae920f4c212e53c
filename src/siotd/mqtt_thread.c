/* SPDX-License-Identifier: MIT */
/*
 * libmosquitto's thread: connecting, TLS, keepalive and reconnecting with
 * backoff block here, never on the loop.  Its callbacks only copy what
 * arrived into the bounded queue and wake the loop through the eventfd;
 * mqtt.c does the rest on the loop.
 */
#include "mqtt_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mqtt_protocol.h>

static void push(struct mqtt *m, struct item *it)
{
	uint64_t one = 1;
	bool full;

	pthread_mutex_lock(&m->lock);
	full = it->kind == ITEM_MESSAGE && m->queued >= m->max_queue;
	if (full) {
		m->dropped_full++;
	} else {
		it->next = NULL;
		if (m->tail)
			m->tail->next = it;
		else
			m->head = it;
		m->tail = it;
		m->queued++;
	}
	pthread_mutex_unlock(&m->lock);
	if (full) {
		free(it->rtopic);
		free(it);
	}
	/* Even when dropped: the loop reports the count. */
	if (write(m->efd, &one, sizeof(one)) < 0) {
		/* The counter is not going to overflow; nothing to do. */
	}
}

static void push_event(struct mqtt *m, enum item_kind kind, int rc, int err)
{
	struct item *it = calloc(1, sizeof(*it));

	if (!it)
		return;
	it->kind = kind;
	it->rc = rc;
	it->err = err;
	push(m, it);
}

void mqtt_on_connect(struct mosquitto *mosq, void *obj, int rc, int flags,
		       const mosquitto_property *props)
{
	struct mqtt *m = obj;

	(void)flags;
	(void)props;
	if (rc == 0) {
		atomic_store(&m->reset_delay, true);
		/* QoS 1; not our own messages back. */
		mosquitto_subscribe_v5(mosq, NULL, m->in_topic, 1, MQTT_SUB_OPT_NO_LOCAL, NULL);
	}
	push_event(m, ITEM_CONNECTED, rc, 0);
}

void mqtt_on_message(struct mosquitto *mosq, void *obj, const struct mosquitto_message *msg,
		       const mosquitto_property *props)
{
	struct mqtt *m = obj;
	bool oversize = msg->payloadlen < 0 || (size_t)msg->payloadlen > SIOT_MAX_REQUEST;
	size_t len = oversize ? 0 : (size_t)msg->payloadlen;
	struct item *it = calloc(1, sizeof(*it) + len);
	void *corr = NULL;
	uint16_t corr_len = 0;
	char *rtopic = NULL;

	(void)mosq;
	if (!it)
		return;
	it->kind = ITEM_MESSAGE;
	it->oversize = oversize;
	it->retained = msg->retain;
	it->len = len;
	if (len)
		memcpy(it->payload, msg->payload, len);
	if (mosquitto_property_read_binary(props, MQTT_PROP_CORRELATION_DATA, &corr, &corr_len,
					   false)) {
		it->corr_len = corr_len;
		if (corr_len == MQTT_CORR_LEN)
			memcpy(it->corr, corr, MQTT_CORR_LEN);
		free(corr);
	}
	if (mosquitto_property_read_string(props, MQTT_PROP_RESPONSE_TOPIC, &rtopic, false))
		it->rtopic = rtopic;
	push(m, it);
}

/* Wait up to seconds, or until told to stop. */
static void pause_thread(struct mqtt *m, unsigned seconds)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += seconds;
	pthread_mutex_lock(&m->lock);
	while (!atomic_load(&m->stop) &&
	       pthread_cond_timedwait(&m->wake, &m->lock, &until) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&m->lock);
}

/* Connect, serve until the connection is lost, and try again with
 * exponential backoff (1 s, doubling up to a minute; back to 1 s after a
 * connection the broker accepted).  The loop wakes at least twice a second
 * to see whether it should stop; a publish from the event loop wakes it at
 * once (libmosquitto's socket pair). */
void *mqtt_thread_main(void *arg)
{
	struct mqtt *m = arg;
	unsigned delay = 1;

	while (!atomic_load(&m->stop)) {
		int rc;

		errno = 0;
		rc = mqtt_client_connect(m->mosq, &m->client, m->mc->host, m->mc->port,
					 m->connect_props);
		if (rc == MOSQ_ERR_SUCCESS) {
			while (!atomic_load(&m->stop) &&
			       (rc = mosquitto_loop(m->mosq, 500, 1)) == MOSQ_ERR_SUCCESS)
				;
			if (atomic_load(&m->stop))
				break;
			push_event(m, ITEM_DISCONNECTED, rc, errno);
		} else {
			push_event(m, ITEM_CONNECT_FAILED, rc, errno);
		}
		if (atomic_exchange(&m->reset_delay, false))
			delay = 1;
		pause_thread(m, delay);
		delay = delay * 2 > MQTT_MAX_DELAY ? MQTT_MAX_DELAY : delay * 2;
	}
	return NULL;
}
