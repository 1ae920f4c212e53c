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

/* Wake the loop through the eventfd. */
static void wake_loop(struct mqtt *m)
{
	uint64_t one = 1;

	if (write(m->efd, &one, sizeof(one)) < 0) {
		/* The counter is not going to overflow; nothing to do. */
	}
}

static void push(struct mqtt *m, struct item *it)
{
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
	wake_loop(m); /* even when dropped: the loop reports the count */
}

static time_t now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec;
}

static void push_event(struct mqtt *m, enum item_kind kind, int rc, int err)
{
	struct item *it = calloc(1, sizeof(*it));

	if (!it)
		return;
	it->kind = kind;
	it->rc = rc;
	it->err = err;
	it->reason = m->disconnect_reason;
	it->delay = m->sub_delay;
	it->brief = kind == ITEM_DISCONNECTED && now_s() - m->connected_at < MQTT_STABLE_SECONDS;
	push(m, it);
}

/* The subscription failed (rc as ITEM_SUBSCRIBE_REFUSED has it): say so,
 * and try again after the backoff (1 s, doubling up to a minute). */
static void subscribe_failed(struct mqtt *m, int rc)
{
	m->sub_delay = m->sub_delay ? m->sub_delay : 1;
	push_event(m, ITEM_SUBSCRIBE_REFUSED, rc, 0);
	m->resub_at = now_s() + m->sub_delay;
	m->sub_delay = m->sub_delay * 2 > MQTT_MAX_DELAY ? MQTT_MAX_DELAY : m->sub_delay * 2;
}

static void subscribe(struct mqtt *m)
{
	/* QoS 1; not our own messages back. */
	int rc = mosquitto_subscribe_v5(m->mosq, NULL, m->in_topic, 1, MQTT_SUB_OPT_NO_LOCAL, NULL);

	m->resub_at = 0;
	if (rc != MOSQ_ERR_SUCCESS)
		subscribe_failed(m, -rc);
}

void mqtt_on_subscribe(struct mosquitto *mosq, void *obj, int mid, int qos_count,
		       const int *granted_qos, const mosquitto_property *props)
{
	struct mqtt *m = obj;

	(void)mosq;
	(void)mid;
	(void)props;
	/* One topic, so one reason code: 0 .. 2 granted, 0x80 and up refused. */
	if (qos_count < 1 || granted_qos[0] >= 0x80) {
		subscribe_failed(m, qos_count < 1 ? 0x80 : granted_qos[0]);
		return;
	}
	m->sub_delay = 0;
	push_event(m, ITEM_SUBSCRIBED, granted_qos[0], 0);
}

void mqtt_on_disconnect(struct mosquitto *mosq, void *obj, int rc,
			const mosquitto_property *props)
{
	struct mqtt *m = obj;

	(void)mosq;
	(void)props;
	m->disconnect_reason = rc;
}

void mqtt_on_connect(struct mosquitto *mosq, void *obj, int rc, int flags,
		       const mosquitto_property *props)
{
	struct mqtt *m = obj;

	(void)mosq;
	(void)flags;
	(void)props;
	m->disconnect_reason = 0;
	push_event(m, ITEM_CONNECTED, rc, 0);
	if (rc == 0) {
		m->connected_at = now_s();
		subscribe(m);
	}
}

/* Count a message dropped here; the first since the loop last looked
 * wakes it, so that it says so. */
static void drop(struct mqtt *m, enum drop_kind why)
{
	bool first = true;

	pthread_mutex_lock(&m->lock);
	for (int k = 0; k < DROP_KINDS; k++)
		first &= m->dropped_early[k] == 0;
	m->dropped_early[why]++;
	pthread_mutex_unlock(&m->lock);
	if (first)
		wake_loop(m);
}

/* Why a message can belong to no session, or DROP_KINDS when it may:
 * checked here, in the thread, so that a flood of such messages costs no
 * queue entry, no wake-up and no MAC (siot-protocol(7), MQTT). */
static enum drop_kind check_message(const struct mqtt *m, const struct mosquitto_message *msg,
				    const void *corr, uint16_t corr_len, const char *rtopic)
{
	char want[sizeof(m->out_prefix) + 2 * MQTT_CORR_LEN + 1];
	size_t at = strlen(m->out_prefix);

	if (msg->retain)
		return DROP_RETAINED;
	if (msg->payloadlen < 0 || (size_t)msg->payloadlen > SIOT_MAX_REQUEST)
		return DROP_OVERSIZE;
	if (corr_len != MQTT_CORR_LEN || !rtopic)
		return DROP_NO_IDS;
	/* Answering elsewhere would let a publisher aim our replies. */
	memcpy(want, m->out_prefix, at);
	sodium_bin2hex(want + at, sizeof(want) - at, corr, MQTT_CORR_LEN);
	return strcmp(rtopic, want) == 0 ? DROP_KINDS : DROP_WRONG_TOPIC;
}

void mqtt_on_message(struct mosquitto *mosq, void *obj, const struct mosquitto_message *msg,
		       const mosquitto_property *props)
{
	struct mqtt *m = obj;
	void *corr = NULL;
	uint16_t corr_len = 0;
	char *rtopic = NULL;
	struct item *it = NULL;
	enum drop_kind why;

	(void)mosq;
	if (!mosquitto_property_read_binary(props, MQTT_PROP_CORRELATION_DATA, &corr, &corr_len,
					    false))
		corr_len = 0;
	if (!mosquitto_property_read_string(props, MQTT_PROP_RESPONSE_TOPIC, &rtopic, false))
		rtopic = NULL;
	why = check_message(m, msg, corr, corr_len, rtopic);
	if (why == DROP_KINDS)
		it = calloc(1, sizeof(*it) + (size_t)msg->payloadlen);
	if (it) {
		it->kind = ITEM_MESSAGE;
		it->len = (size_t)msg->payloadlen;
		if (it->len)
			memcpy(it->payload, msg->payload, it->len);
		it->corr_len = corr_len;
		memcpy(it->corr, corr, MQTT_CORR_LEN);
		it->rtopic = rtopic;
		rtopic = NULL;
		push(m, it);
	} else if (why != DROP_KINDS) {
		drop(m, why);
	}
	free(corr);
	free(rtopic);
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
 * connection the broker accepted, unless it ended because another client
 * took siotd's client id: then the backoff goes on, so that two clients of
 * one id do not take it from each other every second).  The loop wakes at
 * least twice a second to see whether it should stop or subscribe again;
 * a publish from the event loop wakes it at once (libmosquitto's socket
 * pair). */
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
				if (m->resub_at && now_s() >= m->resub_at)
					subscribe(m);
			if (atomic_load(&m->stop))
				break;
			m->resub_at = 0;
			push_event(m, ITEM_DISCONNECTED, rc, errno);
			/* Back to 1 s only after a connection that held. */
			if (m->connected_at && now_s() - m->connected_at >= MQTT_STABLE_SECONDS &&
			    m->disconnect_reason != MQTT_RC_SESSION_TAKEN_OVER)
				delay = 1;
			m->connected_at = 0;
		} else {
			push_event(m, ITEM_CONNECT_FAILED, rc, errno);
		}
		m->sub_delay = 0;
		pause_thread(m, delay);
		delay = delay * 2 > MQTT_MAX_DELAY ? MQTT_MAX_DELAY : delay * 2;
	}
	return NULL;
}
