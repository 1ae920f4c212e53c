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
#include "usec.h"

#define CORR_LEN 16
#define KEEPALIVE 30 /* seconds */
#define QUEUE 8
#define ACKS 1024 /* acknowledgements remembered: more than the sessions in flight */

struct ctl_broker {
	struct mqtt_client_settings client;
	char host[256], url[300];
	int port;
	bool shared;              /* sessions of a group: reconnect, and reopen */
	bool lib_init;            /* mosquitto_lib_init was called */
	struct mosquitto *mosq;
	mosquitto_property *connect_props;
	pthread_t thread;
	bool thread_started;
	pthread_mutex_t lock;
	pthread_cond_t cond;      /* the connection's state changed */
	/* What the thread saw; under lock. */
	bool connect_failed;
	int connect_rc, connect_errno;
	int connack;              /* -1 until the first CONNACK */
	bool lost;                /* down, for now (shared) or for good */
	bool ended;               /* the thread has stopped: down for good */
	unsigned generation;      /* connections made so far */
	/* The latest SUBACKs and PUBACKs, by message id: a caller learns its
	 * mid only when the call returns, and the answer may come first. */
	struct {
		int mid, rc;
	} acks[ACKS];
	unsigned n_acks;
	struct ctl_mqtt **sessions; /* open on this connection */
	unsigned n_sessions, cap_sessions;
};

/* One session (one command's exchange) on a broker connection. */
struct ctl_mqtt {
	struct ctl_broker *b;
	bool owns_broker;
	const struct send_options *o;
	pthread_cond_t cond;      /* something for this session; under b->lock */
	unsigned generation;      /* the connection it was opened on */
	int wait_mid;             /* the acknowledgement it waits for, or -1 */
	struct {
		uint8_t buf[SIOT_MAX_RESPONSE + SIOT_MAX_HELLO];
		size_t len;
	} q[QUEUE];
	unsigned q_head, q_len;
	bool listening;           /* corr and out_topic are this session's now */
	uint8_t corr[CORR_LEN];
	char in_topic[400], out_topic[440];
	char where[600];
};

/* Wait (b->lock held) on cond until deadline_ms (CLOCK_MONOTONIC).  False
 * when the deadline has passed. */
static bool wait_until(pthread_cond_t *cond, struct ctl_broker *b, int64_t deadline_ms)
{
	int64_t left = deadline_ms - monotonic_msec();
	struct timespec until;

	if (left <= 0)
		return false;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += left / 1000;
	until.tv_nsec += (left % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	pthread_cond_timedwait(cond, &b->lock, &until);
	return true;
}

/* A condition variable that waits by CLOCK_MONOTONIC. */
static void cond_init(pthread_cond_t *c)
{
	pthread_condattr_t a;

	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(c, &a);
	pthread_condattr_destroy(&a);
}

/* Wake everything that waits on b (lock held). */
static void wake_all(struct ctl_broker *b)
{
	pthread_cond_broadcast(&b->cond);
	for (unsigned i = 0; i < b->n_sessions; i++)
		pthread_cond_signal(&b->sessions[i]->cond);
}

static void on_connect(struct mosquitto *mosq, void *obj, int rc, int flags,
		       const mosquitto_property *props)
{
	struct ctl_broker *b = obj;

	(void)mosq;
	(void)flags;
	(void)props;
	pthread_mutex_lock(&b->lock);
	if (b->connack < 0 || b->shared)
		b->connack = rc;
	if (rc == 0 && b->shared) {
		b->lost = false;
		b->generation++;
	}
	wake_all(b);
	pthread_mutex_unlock(&b->lock);
}

static void on_disconnect(struct mosquitto *mosq, void *obj, int rc,
			  const mosquitto_property *props)
{
	struct ctl_broker *b = obj;

	(void)mosq;
	(void)rc;
	(void)props;
	pthread_mutex_lock(&b->lock);
	b->lost = true;
	wake_all(b);
	pthread_mutex_unlock(&b->lock);
}

static void note_ack(struct ctl_broker *b, int mid, int rc)
{
	pthread_mutex_lock(&b->lock);
	b->acks[b->n_acks % ACKS].mid = mid;
	b->acks[b->n_acks % ACKS].rc = rc;
	b->n_acks++;
	/* To the session that waits for it, if it waits yet: one that learns
	 * its mid later finds the answer in acks. */
	for (unsigned i = 0; i < b->n_sessions; i++)
		if (b->sessions[i]->wait_mid == mid)
			pthread_cond_signal(&b->sessions[i]->cond);
	pthread_mutex_unlock(&b->lock);
}

/* The answer to message mid (lock held), or -1 while there is none; the
 * newest first, as mids wrap. */
static int ack_of(const struct ctl_broker *b, int mid)
{
	unsigned n = b->n_acks < ACKS ? b->n_acks : ACKS;

	for (unsigned k = 1; k <= n; k++) {
		unsigned i = (b->n_acks - k) % ACKS;

		if (b->acks[i].mid == mid)
			return b->acks[i].rc;
	}
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

/* A message goes to the session whose topic and correlation data it has,
 * and to no other. */
static void on_message(struct mosquitto *mosq, void *obj, const struct mosquitto_message *msg,
		       const mosquitto_property *props)
{
	struct ctl_broker *b = obj;
	void *corr = NULL;
	uint16_t corr_len = 0;

	(void)mosq;
	mosquitto_property_read_binary(props, MQTT_PROP_CORRELATION_DATA, &corr, &corr_len, false);
	pthread_mutex_lock(&b->lock);
	for (unsigned i = 0; corr && corr_len == CORR_LEN && i < b->n_sessions; i++) {
		struct ctl_mqtt *m = b->sessions[i];

		if (!m->listening || memcmp(corr, m->corr, CORR_LEN) != 0 ||
		    strcmp(msg->topic, m->out_topic) != 0)
			continue;
		if (msg->payloadlen > 0 && (size_t)msg->payloadlen <= sizeof(m->q[0].buf) &&
		    m->q_len < QUEUE) {
			unsigned k = (m->q_head + m->q_len++) % QUEUE;

			memcpy(m->q[k].buf, msg->payload, (size_t)msg->payloadlen);
			m->q[k].len = (size_t)msg->payloadlen;
			pthread_cond_signal(&m->cond);
		}
		break;
	}
	pthread_mutex_unlock(&b->lock);
	free(corr);
}

static void *thread_main(void *arg)
{
	struct ctl_broker *b = arg;
	int rc;

	errno = 0;
	rc = mqtt_client_connect(b->mosq, &b->client, b->host, b->port, b->connect_props);
	if (rc != MOSQ_ERR_SUCCESS) {
		pthread_mutex_lock(&b->lock);
		b->connect_failed = true;
		b->connect_rc = rc;
		b->connect_errno = errno;
		wake_all(b);
		pthread_mutex_unlock(&b->lock);
		return NULL;
	}
	/* Reconnects (after a second) until ctl_broker_free disconnects. */
	mosquitto_loop_forever(b->mosq, 1000, 1);
	pthread_mutex_lock(&b->lock);
	b->lost = true;
	b->ended = true; /* nothing will reconnect */
	wake_all(b);
	pthread_mutex_unlock(&b->lock);
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

/* A new connection's state, and its thread started: 0, or 69. */
static int broker_start(struct ctl_broker *b, const struct send_options *o, char *err,
			size_t errlen)
{
	char msg[600];
	int rc;

	if (mosq_dl_load(err, errlen) < 0)
		return EXIT_UNREACHABLE;
	b->connack = -1;
	snprintf(b->host, sizeof(b->host), "%s", o->mqtt_host);
	snprintf(b->url, sizeof(b->url), "%s", o->mqtt_url);
	b->port = o->mqtt_port;
	pthread_mutex_init(&b->lock, NULL);
	cond_init(&b->cond);
	mosquitto_lib_init();
	b->lib_init = true;
	b->client = (struct mqtt_client_settings){ .username = o->mqtt_username,
						   .password = o->mqtt_password,
						   .tls = o->mqtt_tls,
						   .ca_file = o->mqtt_ca_file,
						   .cert_file = o->mqtt_cert_file,
						   .key_file = o->mqtt_key_file,
						   .key_policy = KEYFILE_CLIENT,
						   .keepalive = KEEPALIVE };
	b->mosq = mqtt_client_new(&b->client, b, &b->connect_props, msg, sizeof(msg));
	if (!b->mosq)
		return failure(err, errlen, "%s: %s", b->url, msg);
	mosquitto_connect_v5_callback_set(b->mosq, on_connect);
	mosquitto_disconnect_v5_callback_set(b->mosq, on_disconnect);
	mosquitto_subscribe_v5_callback_set(b->mosq, on_subscribe);
	mosquitto_publish_v5_callback_set(b->mosq, on_publish);
	mosquitto_message_v5_callback_set(b->mosq, on_message);
	/* Connecting (name lookup, TCP, TLS) blocks: in a thread of its own,
	 * so that the timeout holds even for a broker that never answers. */
	if ((rc = pthread_create(&b->thread, NULL, thread_main, b)) != 0)
		return failure(err, errlen, "cannot start a thread: %s", strerror(rc));
	b->thread_started = true;
	return 0;
}

/* Wait for the first CONNACK: 0, or 69 with the cause in err. */
static int broker_wait(struct ctl_broker *b, int64_t deadline_ms, char *err, size_t errlen)
{
	const char *url = b->url;
	int code;

	pthread_mutex_lock(&b->lock);
	while (b->connack < 0 && !b->connect_failed && !b->lost &&
	       wait_until(&b->cond, b, deadline_ms))
		;
	if (b->connack == 0)
		code = 0;
	else if (b->connack > 0)
		code = failure(err, errlen, "%s refused the login: %s", url,
			       mosquitto_reason_string(b->connack));
	else if (b->connect_failed)
		code = failure(err, errlen, "cannot connect to %s: %s", url,
			       b->connect_rc == MOSQ_ERR_ERRNO && b->connect_errno
				       ? strerror(b->connect_errno)
				       : mosquitto_strerror(b->connect_rc));
	else if (b->lost)
		code = failure(err, errlen, "cannot connect to %s: it closed the connection", url);
	else
		code = failure(err, errlen, "cannot connect to %s: no answer within the timeout", url);
	pthread_mutex_unlock(&b->lock);
	return code;
}

int ctl_broker_connect(struct ctl_broker **out, const struct send_options *o, int64_t deadline_ms,
		       char *err, size_t errlen)
{
	struct ctl_broker *b = calloc(1, sizeof(*b));
	int code;

	*out = b;
	if (!b)
		return failure(err, errlen, "out of memory");
	b->shared = true;
	code = broker_start(b, o, err, errlen);
	return code ? code : broker_wait(b, deadline_ms, err, errlen);
}

void ctl_broker_free(struct ctl_broker *b)
{
	struct timespec until;

	if (!b)
		return;
	if (b->thread_started) {
		mosquitto_disconnect_v5(b->mosq, MQTT_RC_NORMAL_DISCONNECTION, NULL);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 2;
		if (pthread_timedjoin_np(b->thread, NULL, &until) != 0) {
			/* Stuck connecting to a broker that does not answer: the
			 * process is about to end; leave the thread to it. */
			return;
		}
	}
	if (b->mosq)
		mosquitto_destroy(b->mosq);
	if (b->lib_init)
		mosquitto_lib_cleanup();
	mosquitto_property_free_all(&b->connect_props);
	pthread_mutex_destroy(&b->lock);
	pthread_cond_destroy(&b->cond);
	free(b->sessions);
	free(b);
}

/* Add m to b's sessions: 0, or -ENOMEM. */
static int attach(struct ctl_broker *b, struct ctl_mqtt *m)
{
	int r = 0;

	pthread_mutex_lock(&b->lock);
	if (b->n_sessions == b->cap_sessions) {
		unsigned cap = b->cap_sessions ? 2 * b->cap_sessions : 16;
		struct ctl_mqtt **s = realloc(b->sessions, cap * sizeof(*s));

		if (s) {
			b->sessions = s;
			b->cap_sessions = cap;
		}
	}
	if (b->n_sessions < b->cap_sessions)
		b->sessions[b->n_sessions++] = m;
	else
		r = -ENOMEM;
	pthread_mutex_unlock(&b->lock);
	return r;
}

static void detach(struct ctl_broker *b, struct ctl_mqtt *m)
{
	pthread_mutex_lock(&b->lock);
	for (unsigned i = 0; i < b->n_sessions; i++)
		if (b->sessions[i] == m) {
			b->sessions[i] = b->sessions[--b->n_sessions];
			break;
		}
	pthread_mutex_unlock(&b->lock);
}

int ctl_mqtt_connect(struct ctl_mqtt **out, const struct send_options *o, int64_t deadline_ms,
		     char *err, size_t errlen)
{
	struct ctl_mqtt *m = calloc(1, sizeof(*m));
	int code = 0;

	*out = m;
	if (!m)
		return failure(err, errlen, "out of memory");
	m->o = o;
	m->wait_mid = -1;
	cond_init(&m->cond);
	snprintf(m->in_topic, sizeof(m->in_topic), "%s/%s/in", o->mqtt_prefix, o->device);
	snprintf(m->where, sizeof(m->where), "device %s through %s (topic %s)", o->device,
		 o->mqtt_url, m->in_topic);
	if (o->broker) {
		m->b = o->broker;
	} else {
		if (!(m->b = calloc(1, sizeof(*m->b))))
			return failure(err, errlen, "out of memory");
		m->owns_broker = true;
		code = broker_start(m->b, o, err, errlen);
	}
	if (!code && attach(m->b, m) < 0)
		code = failure(err, errlen, "out of memory");
	if (!code && m->owns_broker)
		code = broker_wait(m->b, deadline_ms, err, errlen);
	return code;
}

/* Until the connection is up (lock held): false when it is down for good,
 * or stays down past deadline_ms. */
static bool wait_connected(struct ctl_mqtt *m, int64_t deadline_ms)
{
	struct ctl_broker *b = m->b;

	while (b->lost && b->shared && !b->ended && wait_until(&m->cond, b, deadline_ms))
		;
	return !b->lost;
}

/* Wait (lock held) for the answer to mid on the session's connection:
 * the reason code, -1 at the deadline, -2 when the connection dropped. */
static int wait_ack(struct ctl_mqtt *m, int mid, int64_t deadline_ms)
{
	struct ctl_broker *b = m->b;
	int ack;

	m->wait_mid = mid;
	while ((ack = ack_of(b, mid)) < 0 && !b->lost && b->generation == m->generation &&
	       wait_until(&m->cond, b, deadline_ms))
		;
	m->wait_mid = -1;
	if (ack < 0 && (b->lost || b->generation != m->generation))
		return -2;
	return ack;
}

/* The answer to message mid, sent by a call that returned rc: its reason
 * code, -1 at the deadline, -2 when the call failed or the connection
 * dropped. */
static int acked(struct ctl_mqtt *m, int rc, int mid, int64_t deadline_ms)
{
	int ack;

	if (rc != MOSQ_ERR_SUCCESS)
		return -2;
	pthread_mutex_lock(&m->b->lock);
	ack = wait_ack(m, mid, deadline_ms);
	pthread_mutex_unlock(&m->b->lock);
	return ack;
}

/* Subscribe to the session's topic: 0, a status with err filled, or -2
 * when the connection dropped. */
static int subscribe(struct ctl_mqtt *m, int64_t deadline_ms, char *err, size_t errlen)
{
	int mid = 0, ack, rc;

	rc = mosquitto_subscribe_v5(m->b->mosq, &mid, m->out_topic, 1, 0, NULL);
	if ((ack = acked(m, rc, mid, deadline_ms)) == -2)
		return -2;
	if (ack < 0) {
		snprintf(err, errlen, "%s: no SUBACK within the timeout", m->where);
		return EXIT_NETTIMEOUT;
	}
	if (ack >= 0x80)
		return failure(err, errlen, "%s: the broker refused to subscribe to %s: %s (check "
					    "its ACL)",
			       m->where, m->out_topic, mosquitto_reason_string(ack));
	return 0;
}

/* The session's "connect": an empty message with where to answer.  0, a
 * status with err filled, or -2 when the connection dropped. */
static int announce(struct ctl_mqtt *m, int64_t deadline_ms, char *err, size_t errlen)
{
	mosquitto_property *props = NULL;
	int mid = 0, ack, rc;

	mosquitto_property_add_string(&props, MQTT_PROP_RESPONSE_TOPIC, m->out_topic);
	mosquitto_property_add_binary(&props, MQTT_PROP_CORRELATION_DATA, m->corr, CORR_LEN);
	rc = mosquitto_publish_v5(m->b->mosq, &mid, m->in_topic, 0, NULL, 1, false, props);
	mosquitto_property_free_all(&props);
	if ((ack = acked(m, rc, mid, deadline_ms)) == -2)
		return -2;
	if (ack < 0) {
		snprintf(err, errlen, "%s: no PUBACK for %s within the timeout", m->where,
			 m->in_topic);
		return EXIT_NETTIMEOUT;
	}
	if (ack == MQTT_RC_NO_MATCHING_SUBSCRIBERS)
		return failure(err, errlen, "%s: no device is subscribed to %s (is siotd of device "
					    "%s connected to the broker?)",
			       m->where, m->in_topic, m->o->device);
	if (ack == MQTT_RC_NOT_AUTHORIZED)
		return failure(err, errlen, "%s: the broker does not let this user publish to %s "
					    "(check its ACL)",
			       m->where, m->in_topic);
	if (ack >= 0x80)
		return failure(err, errlen, "%s: the broker refused the message to %s: %s",
			       m->where, m->in_topic, mosquitto_reason_string(ack));
	return 0;
}

int ctl_mqtt_open(struct ctl_mqtt *m, int64_t deadline_ms, char *err, size_t errlen)
{
	struct ctl_broker *b = m->b;
	char hex[2 * CORR_LEN + 1];
	int code;

	/* Until a request leaves, a session may start over on a new
	 * connection: nothing has been asked of the device yet. */
	do {
		pthread_mutex_lock(&b->lock);
		if (!wait_connected(m, deadline_ms)) {
			pthread_mutex_unlock(&b->lock);
			return failure(err, errlen, "%s: lost the broker%s", m->where,
				       b->shared ? " and it did not come back in time" : "");
		}
		m->generation = b->generation;
		randombytes_buf(m->corr, sizeof(m->corr));
		sodium_bin2hex(hex, sizeof(hex), m->corr, sizeof(m->corr));
		snprintf(m->out_topic, sizeof(m->out_topic), "%s/%s/out/%s", m->o->mqtt_prefix,
			 m->o->device, hex);
		m->q_len = 0;
		m->listening = true;
		pthread_mutex_unlock(&b->lock);
		/* Subscribe first, so the HELLO cannot come before we listen. */
		code = subscribe(m, deadline_ms, err, errlen);
		if (code == 0)
			code = announce(m, deadline_ms, err, errlen);
	} while (code == -2 && b->shared);
	if (code == -2)
		code = failure(err, errlen, "%s: lost the broker while opening a session", m->where);
	return code;
}

int ctl_mqtt_recv(struct ctl_mqtt *m, uint8_t *buf, size_t size, int64_t deadline_ms)
{
	struct ctl_broker *b = m->b;
	int r;

	pthread_mutex_lock(&b->lock);
	while (m->q_len == 0 && !b->lost && b->generation == m->generation &&
	       wait_until(&m->cond, b, deadline_ms))
		;
	if (m->q_len > 0) {
		size_t n = m->q[m->q_head].len < size ? m->q[m->q_head].len : size;

		memcpy(buf, m->q[m->q_head].buf, n);
		m->q_head = (m->q_head + 1) % QUEUE;
		m->q_len--;
		r = (int)n;
	} else {
		r = b->lost || b->generation != m->generation ? -ENOTCONN : -ETIMEDOUT;
	}
	pthread_mutex_unlock(&b->lock);
	return r;
}

int ctl_mqtt_send(struct ctl_mqtt *m, const uint8_t *buf, size_t len)
{
	mosquitto_property *props = NULL;
	bool same;
	int rc;

	pthread_mutex_lock(&m->b->lock);
	same = !m->b->lost && m->b->generation == m->generation;
	pthread_mutex_unlock(&m->b->lock);
	if (!same)
		return -ENOTCONN; /* never onto a connection the session was not opened on */
	mosquitto_property_add_binary(&props, MQTT_PROP_CORRELATION_DATA, m->corr, CORR_LEN);
	mosquitto_property_add_string(&props, MQTT_PROP_RESPONSE_TOPIC, m->out_topic);
	rc = mosquitto_publish_v5(m->b->mosq, NULL, m->in_topic, (int)len, buf, 1, false, props);
	mosquitto_property_free_all(&props);
	return rc == MOSQ_ERR_SUCCESS ? 0 : -ENOTCONN;
}

void ctl_mqtt_end_session(struct ctl_mqtt *m)
{
	bool same;

	pthread_mutex_lock(&m->b->lock);
	m->listening = false;
	same = !m->b->lost && m->b->generation == m->generation;
	pthread_mutex_unlock(&m->b->lock);
	if (same)
		mosquitto_unsubscribe_v5(m->b->mosq, NULL, m->out_topic, NULL);
}

const char *ctl_mqtt_where(const struct ctl_mqtt *m)
{
	return m->where;
}

void ctl_mqtt_free(struct ctl_mqtt *m)
{
	if (!m)
		return;
	if (m->b) {
		detach(m->b, m);
		if (m->owns_broker)
			ctl_broker_free(m->b);
	}
	pthread_cond_destroy(&m->cond);
	free(m);
}
