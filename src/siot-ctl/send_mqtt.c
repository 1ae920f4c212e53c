/* SPDX-License-Identifier: MIT */
#include "send_mqtt.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mqtt_protocol.h>

#include "mqtt_client.h"

#define CORR_LEN 16
#define KEEPALIVE 30 /* seconds */
#define QUEUE 8
#define ACKS 16

struct ctl_mqtt {
	struct mqtt_client_settings client;
	const struct send_options *o;
	struct mosquitto *mosq;
	mosquitto_property *connect_props;
	pthread_t thread;
	bool thread_started;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	/* What the thread saw; under lock. */
	bool connect_failed;
	int connect_rc, connect_errno;
	int connack;              /* -1 until the CONNACK */
	bool lost;
	/* The latest SUBACKs and PUBACKs, by message id: a caller learns its
	 * mid only when the call returns, and the answer may come first. */
	struct {
		int mid, rc;
	} acks[ACKS];
	unsigned n_acks;
	struct {
		uint8_t buf[SIOT_MAX_RESPONSE + SIOT_MAX_HELLO];
		size_t len;
	} q[QUEUE];
	unsigned q_head, q_len;
	/* The session. */
	uint8_t corr[CORR_LEN];
	char in_topic[400], out_topic[440];
	char where[600];
};

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait (lock held) for the thread to change something, until deadline_ms
 * (CLOCK_MONOTONIC).  False when the deadline has passed. */
static bool wait_change(struct ctl_mqtt *m, int64_t deadline_ms)
{
	int64_t left = deadline_ms - mono_ms();
	struct timespec until;

	if (left <= 0)
		return false;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += left / 1000;
	until.tv_nsec += (left % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	pthread_cond_timedwait(&m->cond, &m->lock, &until);
	return true;
}

static void on_connect(struct mosquitto *mosq, void *obj, int rc, int flags,
		       const mosquitto_property *props)
{
	struct ctl_mqtt *m = obj;

	(void)mosq;
	(void)flags;
	(void)props;
	pthread_mutex_lock(&m->lock);
	m->connack = rc;
	pthread_cond_broadcast(&m->cond);
	pthread_mutex_unlock(&m->lock);
}

static void on_disconnect(struct mosquitto *mosq, void *obj, int rc,
			  const mosquitto_property *props)
{
	struct ctl_mqtt *m = obj;

	(void)mosq;
	(void)rc;
	(void)props;
	pthread_mutex_lock(&m->lock);
	m->lost = true;
	pthread_cond_broadcast(&m->cond);
	pthread_mutex_unlock(&m->lock);
}

static void note_ack(struct ctl_mqtt *m, int mid, int rc)
{
	pthread_mutex_lock(&m->lock);
	m->acks[m->n_acks % ACKS].mid = mid;
	m->acks[m->n_acks % ACKS].rc = rc;
	m->n_acks++;
	pthread_cond_broadcast(&m->cond);
	pthread_mutex_unlock(&m->lock);
}

/* The answer to message mid (lock held), or -1 while there is none. */
static int ack_of(const struct ctl_mqtt *m, int mid)
{
	for (unsigned i = 0; i < ACKS && i < m->n_acks; i++)
		if (m->acks[i].mid == mid)
			return m->acks[i].rc;
	return -1;
}

static void on_subscribe(struct mosquitto *mosq, void *obj, int mid, int n, const int *granted,
			 const mosquitto_property *props)
{
	(void)mosq;
	(void)props;
	note_ack(obj, mid, n > 0 ? granted[0] : MQTT_RC_UNSPECIFIED);
}

static void on_publish(struct mosquitto *mosq, void *obj, int mid, int reason,
		       const mosquitto_property *props)
{
	(void)mosq;
	(void)props;
	note_ack(obj, mid, reason);
}

/* Only this session's answers: its topic and its correlation data. */
static void on_message(struct mosquitto *mosq, void *obj, const struct mosquitto_message *msg,
		       const mosquitto_property *props)
{
	struct ctl_mqtt *m = obj;
	void *corr = NULL;
	uint16_t corr_len = 0;

	(void)mosq;
	mosquitto_property_read_binary(props, MQTT_PROP_CORRELATION_DATA, &corr, &corr_len, false);
	pthread_mutex_lock(&m->lock);
	if (strcmp(msg->topic, m->out_topic) == 0 && corr && corr_len == CORR_LEN &&
	    memcmp(corr, m->corr, CORR_LEN) == 0 && msg->payloadlen > 0 &&
	    (size_t)msg->payloadlen <= sizeof(m->q[0].buf) && m->q_len < QUEUE) {
		unsigned i = (m->q_head + m->q_len++) % QUEUE;

		memcpy(m->q[i].buf, msg->payload, (size_t)msg->payloadlen);
		m->q[i].len = (size_t)msg->payloadlen;
		pthread_cond_broadcast(&m->cond);
	}
	pthread_mutex_unlock(&m->lock);
	free(corr);
}

static void *thread_main(void *arg)
{
	struct ctl_mqtt *m = arg;
	int rc;

	errno = 0;
	rc = mqtt_client_connect(m->mosq, &m->client, m->o->mqtt_host, m->o->mqtt_port,
				 m->connect_props);
	if (rc != MOSQ_ERR_SUCCESS) {
		pthread_mutex_lock(&m->lock);
		m->connect_failed = true;
		m->connect_rc = rc;
		m->connect_errno = errno;
		pthread_cond_broadcast(&m->cond);
		pthread_mutex_unlock(&m->lock);
		return NULL;
	}
	mosquitto_loop_forever(m->mosq, 1000, 1);
	pthread_mutex_lock(&m->lock);
	m->lost = true;
	pthread_cond_broadcast(&m->cond);
	pthread_mutex_unlock(&m->lock);
	return NULL;
}

static int failure(char *err, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int failure(char *err, size_t n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, n, fmt, ap);
	va_end(ap);
	return EXIT_UNREACHABLE;
}

int ctl_mqtt_connect(struct ctl_mqtt **out, const struct send_options *o, int64_t deadline_ms,
		     char *err, size_t errlen)
{
	struct ctl_mqtt *m = calloc(1, sizeof(*m));
	const char *url = o->mqtt_url;
	char msg[600];
	int rc, code = 0;

	*out = m;
	if (!m)
		return failure(err, errlen, "out of memory");
	if (mosq_dl_load(err, errlen) < 0) {
		free(m);
		*out = NULL;
		return EXIT_UNREACHABLE;
	}
	m->o = o;
	m->connack = -1;
	pthread_mutex_init(&m->lock, NULL);
	pthread_cond_init(&m->cond, NULL);
	snprintf(m->in_topic, sizeof(m->in_topic), "%s/%s/in", o->mqtt_prefix, o->device);
	snprintf(m->where, sizeof(m->where), "device %s through %s (topic %s)", o->device, url,
		 m->in_topic);
	mosquitto_lib_init();
	m->client = (struct mqtt_client_settings){ .username = o->mqtt_username,
						   .password = o->mqtt_password,
						   .tls = o->mqtt_tls,
						   .ca_file = o->mqtt_ca_file,
						   .cert_file = o->mqtt_cert_file,
						   .key_file = o->mqtt_key_file,
						   .key_policy = KEYFILE_CLIENT,
						   .keepalive = KEEPALIVE };
	m->mosq = mqtt_client_new(&m->client, m, &m->connect_props, msg, sizeof(msg));
	if (!m->mosq)
		return failure(err, errlen, "%s: %s", url, msg);
	mosquitto_connect_v5_callback_set(m->mosq, on_connect);
	mosquitto_disconnect_v5_callback_set(m->mosq, on_disconnect);
	mosquitto_subscribe_v5_callback_set(m->mosq, on_subscribe);
	mosquitto_publish_v5_callback_set(m->mosq, on_publish);
	mosquitto_message_v5_callback_set(m->mosq, on_message);
	/* Connecting (name lookup, TCP, TLS) blocks: in a thread of its own,
	 * so that the timeout holds even for a broker that never answers. */
	if ((rc = pthread_create(&m->thread, NULL, thread_main, m)) != 0)
		return failure(err, errlen, "cannot start a thread: %s", strerror(rc));
	m->thread_started = true;
	pthread_mutex_lock(&m->lock);
	while (m->connack < 0 && !m->connect_failed && !m->lost && wait_change(m, deadline_ms))
		;
	if (m->connack == 0)
		code = 0;
	else if (m->connack > 0)
		code = failure(err, errlen, "%s refused the login: %s", url,
			       mosquitto_reason_string(m->connack));
	else if (m->connect_failed)
		code = failure(err, errlen, "cannot connect to %s: %s", url,
			       m->connect_rc == MOSQ_ERR_ERRNO && m->connect_errno
				       ? strerror(m->connect_errno)
				       : mosquitto_strerror(m->connect_rc));
	else if (m->lost)
		code = failure(err, errlen, "cannot connect to %s: it closed the connection", url);
	else
		code = failure(err, errlen, "cannot connect to %s: no answer within the timeout", url);
	pthread_mutex_unlock(&m->lock);
	return code;
}

int ctl_mqtt_open(struct ctl_mqtt *m, int64_t deadline_ms, char *err, size_t errlen)
{
	const struct send_options *o = m->o;
	mosquitto_property *props = NULL;
	char hex[2 * CORR_LEN + 1];
	int rc, code = 0, mid = 0, ack = -1;

	randombytes_buf(m->corr, sizeof(m->corr));
	sodium_bin2hex(hex, sizeof(hex), m->corr, sizeof(m->corr));
	snprintf(m->out_topic, sizeof(m->out_topic), "%s/%s/out/%s", o->mqtt_prefix, o->device, hex);
	pthread_mutex_lock(&m->lock);
	m->q_len = 0;
	pthread_mutex_unlock(&m->lock);

	/* Subscribe first, so the HELLO cannot come before we listen. */
	rc = mosquitto_subscribe_v5(m->mosq, &mid, m->out_topic, 1, 0, NULL);
	pthread_mutex_lock(&m->lock);
	while (rc == MOSQ_ERR_SUCCESS && (ack = ack_of(m, mid)) < 0 && !m->lost &&
	       wait_change(m, deadline_ms))
		;
	if (rc != MOSQ_ERR_SUCCESS || m->lost)
		code = failure(err, errlen, "%s: lost the broker while subscribing", m->where);
	else if (ack < 0)
		code = EXIT_NETTIMEOUT, snprintf(err, errlen, "%s: no SUBACK within the timeout",
						 m->where);
	else if (ack >= 0x80)
		code = failure(err, errlen, "%s: the broker refused to subscribe to %s: %s (check its "
					    "ACL)",
			       m->where, m->out_topic, mosquitto_reason_string(ack));
	pthread_mutex_unlock(&m->lock);
	if (code)
		return code;

	/* The session's "connect": an empty message with where to answer. */
	mosquitto_property_add_string(&props, MQTT_PROP_RESPONSE_TOPIC, m->out_topic);
	mosquitto_property_add_binary(&props, MQTT_PROP_CORRELATION_DATA, m->corr, CORR_LEN);
	rc = mosquitto_publish_v5(m->mosq, &mid, m->in_topic, 0, NULL, 1, false, props);
	pthread_mutex_lock(&m->lock);
	while (rc == MOSQ_ERR_SUCCESS && (ack = ack_of(m, mid)) < 0 && !m->lost &&
	       wait_change(m, deadline_ms))
		;
	if (rc != MOSQ_ERR_SUCCESS || m->lost)
		code = failure(err, errlen, "%s: lost the broker while opening a session", m->where);
	else if (ack < 0)
		code = EXIT_NETTIMEOUT,
		snprintf(err, errlen, "%s: no PUBACK for %s within the timeout", m->where,
			 m->in_topic);
	else if (ack == MQTT_RC_NO_MATCHING_SUBSCRIBERS)
		code = failure(err, errlen, "%s: no device is subscribed to %s (is siotd of device "
					    "%s connected to the broker?)",
			       m->where, m->in_topic, o->device);
	else if (ack == MQTT_RC_NOT_AUTHORIZED)
		code = failure(err, errlen, "%s: the broker does not let this user publish to %s "
					    "(check its ACL)",
			       m->where, m->in_topic);
	else if (ack >= 0x80)
		code = failure(err, errlen, "%s: the broker refused the message to %s: %s", m->where,
			       m->in_topic, mosquitto_reason_string(ack));
	pthread_mutex_unlock(&m->lock);
	mosquitto_property_free_all(&props);
	return code;
}

int ctl_mqtt_recv(struct ctl_mqtt *m, uint8_t *buf, size_t size, int64_t deadline_ms)
{
	int r;

	pthread_mutex_lock(&m->lock);
	while (m->q_len == 0 && !m->lost && wait_change(m, deadline_ms))
		;
	if (m->q_len > 0) {
		size_t n = m->q[m->q_head].len < size ? m->q[m->q_head].len : size;

		memcpy(buf, m->q[m->q_head].buf, n);
		m->q_head = (m->q_head + 1) % QUEUE;
		m->q_len--;
		r = (int)n;
	} else {
		r = m->lost ? -ENOTCONN : -ETIMEDOUT;
	}
	pthread_mutex_unlock(&m->lock);
	return r;
}

int ctl_mqtt_send(struct ctl_mqtt *m, const uint8_t *buf, size_t len)
{
	mosquitto_property *props = NULL;
	int rc;

	mosquitto_property_add_binary(&props, MQTT_PROP_CORRELATION_DATA, m->corr, CORR_LEN);
	mosquitto_property_add_string(&props, MQTT_PROP_RESPONSE_TOPIC, m->out_topic);
	rc = mosquitto_publish_v5(m->mosq, NULL, m->in_topic, (int)len, buf, 1, false, props);
	mosquitto_property_free_all(&props);
	return rc == MOSQ_ERR_SUCCESS ? 0 : -ENOTCONN;
}

void ctl_mqtt_end_session(struct ctl_mqtt *m)
{
	mosquitto_unsubscribe_v5(m->mosq, NULL, m->out_topic, NULL);
}

const char *ctl_mqtt_where(const struct ctl_mqtt *m)
{
	return m->where;
}


void ctl_mqtt_free(struct ctl_mqtt *m)
{
	struct timespec until;

	if (!m)
		return;
	if (m->thread_started) {
		mosquitto_disconnect_v5(m->mosq, MQTT_RC_NORMAL_DISCONNECTION, NULL);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 2;
		if (pthread_timedjoin_np(m->thread, NULL, &until) != 0) {
			/* Stuck connecting to a broker that does not answer: the
			 * process is about to end; leave the thread to it. */
			return;
		}
	}
	if (m->mosq)
		mosquitto_destroy(m->mosq);
	mosquitto_property_free_all(&m->connect_props);
	mosquitto_lib_cleanup();
	pthread_mutex_destroy(&m->lock);
	pthread_cond_destroy(&m->cond);
	free(m);
}
