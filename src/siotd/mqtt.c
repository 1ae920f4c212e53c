/* SPDX-License-Identifier: MIT */
#include "mqtt_internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <mqtt_protocol.h>
#include <systemd/sd-daemon.h>

#include "conn.h"
#include "daemon.h"
#include "mqtt_client.h"
#include "usec.h"

/* ---- sessions, on the loop ------------------------------------------------- */

static const struct conn_transport mqtt_transport;

static struct mqtt_session *find_session(struct mqtt *m, const uint8_t *corr)
{
	struct list_node *n, *tmp;

	list_for_each_safe(n, tmp, &m->sessions) {
		struct mqtt_session *s = list_entry(n, struct mqtt_session, node);

		if (memcmp(s->corr, corr, MQTT_CORR_LEN) == 0)
			return s;
	}
	return NULL;
}

/* A line about a message that made no session or request (summarised, as
 * unverified lines are). */
static void log_message(struct mqtt *m, const char *session, const char *outcome, const char *note)
{
	uint64_t now = 0;
	struct log_line l = { .peer = "mqtt",
			      .session = session ? session : "-",
			      .client = "-",
			      .command = "-",
			      .outcome = outcome,
			      .note = note };

	sd_event_now(m->d->event, CLOCK_MONOTONIC, &now);
	log_unverified("mqtt", now, &l);
}

/* At max_sessions: end a session that has not sent a request, chosen at
 * random.  The oldest would do as long as opens are rare; under a flood of
 * opens it would end every honest session whose client takes longer than
 * max_sessions / (opens a second) to answer its HELLO.  At random, such a
 * client keeps its session with probability (1 - 1/max_sessions) per open
 * that comes in meanwhile: siot.conf(5) gives the figures.  True when one
 * was ended. */
static bool evict_waiting(struct mqtt *m)
{
	struct mqtt_session *victim = NULL;
	unsigned n = 0, pick;
	struct list_node *node, *tmp;

	list_for_each_safe(node, tmp, &m->sessions)
		n += conn_awaits_request(list_entry(node, struct mqtt_session, node)->c);
	if (n == 0)
		return false;
	pick = randombytes_uniform(n);
	list_for_each_safe(node, tmp, &m->sessions) {
		struct mqtt_session *s = list_entry(node, struct mqtt_session, node);

		if (conn_awaits_request(s->c) && pick-- == 0) {
			victim = s;
			break;
		}
	}
	conn_log_dropped(victim->c, "dropped",
			 "no request yet, ended for a new session at mqtt.max_sessions");
	conn_finish(victim->c, -ENOSPC);
	return true;
}

static void open_session(struct mqtt *m, const struct item *it, const char *hex)
{
	struct daemon *d = m->d;
	char peer[80];
	/* No address: the whole transport is one source for backoff, and
	 * "mqtt" in a client's from list. */
	struct conn_origin origin = { .src = { .family = NET_FAMILY_MQTT },
				      .addr = { .family = NET_FAMILY_MQTT },
				      .uid = (uid_t)-1,
				      .peer = peer,
				      .source = "mqtt" };
	struct mqtt_session *s;
	struct conn *c;

	if (m->n_sessions >= m->mc->max_sessions && !evict_waiting(m)) {
		log_message(m, hex, "dropped", "mqtt.max_sessions sessions are busy");
		return;
	}
	s = calloc(1, sizeof(*s));
	if (s)
		s->topic = strdup(it->rtopic);
	snprintf(peer, sizeof(peer), "mqtt:%s", hex);
	c = s && s->topic ? conn_new(d, &mqtt_transport, s, &origin) : NULL;
	if (!c) {
		if (s)
			free(s->topic);
		free(s);
		log_error("mqtt: out of memory for a new session");
		return;
	}
	memcpy(s->corr, it->corr, MQTT_CORR_LEN);
	memcpy(s->hex, hex, sizeof(s->hex));
	s->m = m;
	s->c = c;
	list_add(&m->sessions, &s->node);
	m->n_sessions++;
	conn_finish(c, conn_start(c));
}

static void take_message(struct mqtt *m, const struct item *it)
{
	char hex[2 * MQTT_CORR_LEN + 1];
	struct mqtt_session *s;
	struct conn *c;

	/* (Retained, oversized, or without the session's ids or topic: dropped
	 * by the thread already, mqtt_thread.c.) */
	if (m->d->stopping)
		return;
	sodium_bin2hex(hex, sizeof(hex), it->corr, MQTT_CORR_LEN);
	s = find_session(m, it->corr);
	if (it->len == 0) {
		if (!s)
			open_session(m, it, hex);
		else
			log_debug("mqtt session %s: opened again (a redelivery), ignored", hex);
		return;
	}
	if (!s) {
		log_message(m, hex, "dropped", "a request for no open session (ended, or never opened)");
		return;
	}
	c = s->c;
	if (s->last_len == it->len && memcmp(s->last, it->payload, it->len) == 0) {
		log_debug("mqtt session %s: the same request again (a redelivery), ignored", hex);
		return;
	}
	if (!conn_wants_request(c)) {
		s->early = true; /* refused when the session next looks (as early bytes) */
		log_debug("mqtt session %s: a message while none was asked for", hex);
		return;
	}
	memcpy(s->last, it->payload, it->len);
	s->last_len = it->len;
	conn_finish(c, conn_feed_message(c, it->payload, it->len));
}

static void set_state(struct mqtt *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_state(struct mqtt *m, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(m->state, sizeof(m->state), fmt, ap);
	va_end(ap);
	m->on_status(m->status_data);
}

static void take_event(struct mqtt *m, const struct item *it)
{
	const char *b = m->mc->broker;

	switch (it->kind) {
	case ITEM_CONNECTED:
		if (it->rc == 0) {
			m->connected = true;
			log_debug("mqtt: %s took the login; subscribing to %s", b, m->in_topic);
			set_state(m, "broker %s: subscribing to %s", b, m->in_topic);
		} else {
			log_error("mqtt: %s refused the connection: %s", b,
				  mosquitto_reason_string(it->rc));
			set_state(m, "broker %s refused the connection: %s", b,
				  mosquitto_reason_string(it->rc));
		}
		break;
	case ITEM_SUBSCRIBED:
		log_info("mqtt: connected to %s; serving %s", b, m->in_topic);
		set_state(m, "broker %s connected", b);
		break;
	case ITEM_SUBSCRIBE_REFUSED: {
		const char *why = it->rc < 0 ? mosquitto_strerror(-it->rc)
					     : mosquitto_reason_string(it->rc);

		/* Connected, but nothing would ever arrive: never "serving". */
		log_error("mqtt: %s refused the subscription to %s: %s; trying again in %u s "
			  "(the broker must let this login read that topic)",
			  b, m->in_topic, why, it->delay);
		set_state(m, "broker %s refused the subscription to %s: %s; retrying", b,
			  m->in_topic, why);
		break;
	}
	case ITEM_DISCONNECTED:
		if (it->reason == MQTT_RC_SESSION_TAKEN_OVER)
			log_warnx("mqtt: %s ended the connection: another client logged in with "
				  "siotd's client id %s (session taken over, reason 0x8E); "
				  "reconnecting with backoff (bind client ids to logins on the broker: "
				  "see siot.conf(5))",
				  b, m->client_id);
		else if (m->connected && it->brief)
			log_warnx("mqtt: %s ended the connection within %d s of accepting it (%s); "
				  "reconnecting with backoff.  If another client logs in with siotd's "
				  "client id %s, bind client ids to logins on the broker (siot.conf(5))",
				  b, MQTT_STABLE_SECONDS,
				  it->rc == MOSQ_ERR_ERRNO && it->err ? strerror(it->err)
								     : mosquitto_strerror(it->rc),
				  m->client_id);
		else if (m->connected)
			log_warnx("mqtt: lost the connection to %s (%s); reconnecting", b,
				  it->rc == MOSQ_ERR_ERRNO && it->err ? strerror(it->err)
								     : mosquitto_strerror(it->rc));
		m->connected = false;
		if (it->reason == MQTT_RC_SESSION_TAKEN_OVER)
			set_state(m, "broker %s: another login took client id %s; reconnecting", b,
				  m->client_id);
		else
			set_state(m, "broker %s unreachable; reconnecting", b);
		break;
	case ITEM_CONNECT_FAILED:
		m->connected = false;
		log_warnx("mqtt: cannot connect to %s: %s; trying again with backoff", b,
			  it->rc == MOSQ_ERR_ERRNO && it->err ? strerror(it->err)
							     : mosquitto_strerror(it->rc));
		set_state(m, "broker %s unreachable; reconnecting", b);
		break;
	case ITEM_MESSAGE:
		take_message(m, it);
		break;
	}
}

/* What the thread dropped since the loop last looked: the early drops as
 * unverified lines are (summarised per source), a full queue at most once
 * every 10 s. */
static void report_drops(struct mqtt *m, unsigned full, const unsigned early[DROP_KINDS])
{
	static const char *const why[DROP_KINDS] = {
		[DROP_RETAINED] = "a retained message, dropped",
		[DROP_OVERSIZE] = "a message larger than any request, dropped before any MAC",
		[DROP_NO_IDS] = "no Response Topic, or Correlation Data that is not 16 bytes",
		[DROP_WRONG_TOPIC] = "its Response Topic is not PREFIX/DEVICE/out/SESSION",
	};
	uint64_t now = 0;

	for (int k = 0; k < DROP_KINDS; k++)
		if (early[k])
			log_message(m, NULL, "malformed", why[k]);
	m->full_unlogged += full;
	sd_event_now(m->d->event, CLOCK_MONOTONIC, &now);
	if (m->full_unlogged &&
	    (!m->full_logged_at || now - m->full_logged_at >= 10 * USEC_PER_SEC)) {
		log_warnx("mqtt: %u message(s) dropped: more arrived than the loop could take "
			  "(a flood through the broker?)",
			  m->full_unlogged);
		m->full_logged_at = now ? now : 1;
		m->full_unlogged = 0;
	}
}

static int on_wake(sd_event_source *src, int fd, uint32_t revents, void *userdata)
{
	struct mqtt *m = userdata;
	struct item *it, *next;
	unsigned dropped, early[DROP_KINDS];
	uint64_t v;

	(void)src;
	(void)revents;
	if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_warn("mqtt: eventfd");
	pthread_mutex_lock(&m->lock);
	it = m->head;
	m->head = m->tail = NULL;
	m->queued = 0;
	dropped = m->dropped_full;
	m->dropped_full = 0;
	memcpy(early, m->dropped_early, sizeof(early));
	memset(m->dropped_early, 0, sizeof(m->dropped_early));
	pthread_mutex_unlock(&m->lock);
	report_drops(m, dropped, early);
	for (; it; it = next) {
		next = it->next;
		take_event(m, it);
		free(it->rtopic);
		free(it);
	}
	return 0;
}

/* ---- the transport: conn.c's side of a session ----------------------------- */

/* Each protocol message is a message of its own: the response, then the
 * next HELLO when one is queued after it. */
static int publish(struct mqtt_session *s, const uint8_t *msg, size_t len)
{
	mosquitto_property *props = NULL;
	int rc;

	/* The session's Correlation Data goes back with every answer, as MQTT
	 * v5 request/response has it. */
	rc = mosquitto_property_add_binary(&props, MQTT_PROP_CORRELATION_DATA, s->corr,
					   MQTT_CORR_LEN);
	if (rc == MOSQ_ERR_SUCCESS)
		rc = mosquitto_publish_v5(s->m->mosq, NULL, s->topic, (int)len, msg, 1, false,
					  props);
	mosquitto_property_free_all(&props);
	if (rc != MOSQ_ERR_SUCCESS) {
		log_debug("%s: cannot publish: %s", conn_peer(s->c), mosquitto_strerror(rc));
		return -ENOTCONN;
	}
	return 0;
}

static ssize_t session_send(struct conn *c, const uint8_t *buf, size_t len, size_t mark)
{
	struct mqtt_session *s = conn_transport_data(c);
	int r = 0;

	if (mark > 0)
		r = publish(s, buf, mark);
	if (r == 0 && len > mark)
		r = publish(s, buf + mark, len - mark);
	return r < 0 ? r : (ssize_t)len;
}

/* The session is over: nothing to drain. */
static int session_shutdown(struct conn *c)
{
	(void)c;
	return -ESHUTDOWN;
}

static bool session_early(const struct conn *c)
{
	const struct mqtt_session *s = conn_transport_data(c);

	return s->early;
}

static void session_release(struct conn *c)
{
	struct mqtt_session *s = conn_transport_data(c);

	list_del(&s->node);
	s->m->n_sessions--;
	free(s->topic);
	sodium_memzero(s->last, sizeof(s->last));
	free(s);
}

static const char *session_name(const struct conn *c)
{
	const struct mqtt_session *s = conn_transport_data(c);

	return s->hex;
}

static const struct conn_transport mqtt_transport = {
	.wakeup = false,
	.send = session_send,
	.receive = NULL, /* messages come whole, through the queue */
	.shutdown = session_shutdown,
	.early = session_early,
	.release = session_release,
	.name = session_name,
};

static bool same_string(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

void mqtt_reloaded(struct daemon *d)
{
	const struct mqtt_config *now = d->config->mqtt, *was = d->mqtt ? d->mqtt->mc : NULL;
	bool same = !now == !was;

	if (same && now) {
		const char *a[] = { now->broker,	 now->prefix,	now->username,
				    now->password_file,	 now->ca_file,	now->tls_cert_file,
				    now->tls_key_file,	 d->config->device_id };
		const char *b[] = { was->broker,	 was->prefix,	was->username,
				    was->password_file,	 was->ca_file,	was->tls_cert_file,
				    was->tls_key_file,	 d->mqtt->cfg->device_id };

		for (size_t i = 0; i < sizeof(a) / sizeof(a[0]); i++)
			same &= same_string(a[i], b[i]);
		same &= now->keepalive == was->keepalive && now->max_sessions == was->max_sessions;
	}
	if (!same)
		log_warnx("mqtt: the broker settings changed; they take effect when siotd restarts "
			  "(systemctl restart siotd)");
}

const char *mqtt_status(const struct daemon *d)
{
	return d->mqtt ? d->mqtt->state : "";
}

/* ---- start and stop -------------------------------------------------------- */

static int setup_client(struct mqtt *m)
{
	const struct mqtt_config *mc = m->mc;
	char password[256], err[600];

	m->client = (struct mqtt_client_settings){ .client_id = m->client_id,
						   .username = mc->username,
						   .tls = mc->tls,
						   .ca_file = mc->ca_file,
						   .cert_file = mc->tls_cert_file,
						   .key_file = mc->tls_key_file,
						   .key_policy = KEYFILE_DAEMON,
						   .keepalive = mc->keepalive };
	if (mc->username && mc->password_file) {
		if (keyfile_load_password(mc->password_file, KEYFILE_DAEMON, password,
					  sizeof(password), err, sizeof(err)) < 0) {
			log_error("mqtt: %s", err);
			return -EINVAL;
		}
		m->client.password = password;
	}
	/* libmosquitto keeps its own copy of the password. */
	m->mosq = mqtt_client_new(&m->client, m, &m->connect_props, err, sizeof(err));
	sodium_memzero(password, sizeof(password));
	m->client.password = NULL;
	if (!m->mosq) {
		log_error("mqtt: %s", err);
		return -EINVAL;
	}
	mosquitto_connect_v5_callback_set(m->mosq, mqtt_on_connect);
	mosquitto_subscribe_v5_callback_set(m->mosq, mqtt_on_subscribe);
	mosquitto_disconnect_v5_callback_set(m->mosq, mqtt_on_disconnect);
	mosquitto_message_v5_callback_set(m->mosq, mqtt_on_message);
	return 0;
}

int mqtt_start(struct daemon *d, void (*on_status)(void *userdata), void *userdata)
{
	const struct mqtt_config *mc = d->config->mqtt;
	struct mqtt *m;
	int r;

	if (!mc)
		return 0;
	m = calloc(1, sizeof(*m));
	if (!m) {
		log_error("mqtt: out of memory");
		return -EINVAL;
	}
	d->mqtt = m;
	m->d = d;
	m->on_status = on_status;
	m->status_data = userdata;
	m->cfg = config_ref(d->config);
	m->mc = mc;
	m->efd = -1;
	list_init(&m->sessions);
	pthread_mutex_init(&m->lock, NULL);
	pthread_cond_init(&m->wake, NULL);
	m->max_queue = 4 * mc->max_sessions + 64;
	snprintf(m->in_topic, sizeof(m->in_topic), "%s/%s/in", mc->prefix, d->config->device_id);
	snprintf(m->out_prefix, sizeof(m->out_prefix), "%s/%s/out/", mc->prefix,
		 d->config->device_id);
	snprintf(m->client_id, sizeof(m->client_id), "siotd-%s", d->config->device_id);
	snprintf(m->state, sizeof(m->state), "broker %s connecting", mc->broker);
	{
		char err[400];

		if (mosq_dl_load(err, sizeof(err)) < 0) {
			log_error("mqtt: %s", err);
			return -EINVAL;
		}
	}
	mosquitto_lib_init();
	m->lib_ready = true;
	if (setup_client(m) < 0)
		return -EINVAL;
	m->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (m->efd < 0 ||
	    (r = sd_event_add_io(d->event, &m->efd_src, m->efd, EPOLLIN, on_wake, m)) < 0) {
		log_error("mqtt: cannot set up the event source");
		return -EINVAL;
	}
	if ((r = pthread_create(&m->thread, NULL, mqtt_thread_main, m)) != 0) {
		log_error("mqtt: cannot start its thread: %s", strerror(r));
		return -EINVAL;
	}
	m->thread_started = true;
	log_info("mqtt: connecting to %s as %s", mc->broker, m->client_id);
	return 0;
}

/* A client whose thread is still in a connect() that the broker never
 * answers: left to the process's end, and reachable (no leak reported). */
static struct mqtt *left_running;

/* At a stop, responses may still sit in libmosquitto's queue (an action
 * that finished while siotd was stopping): give its thread up to a second
 * to write them before it is told to stop, and say so when it could not. */
static void drain(struct mqtt *m)
{
	for (int i = 0; i < 200 && m->connected && mosquitto_want_write(m->mosq); i++)
		nanosleep(&(struct timespec){ .tv_nsec = 5 * 1000 * 1000 }, NULL);
	if (m->connected && mosquitto_want_write(m->mosq))
		log_warnx("mqtt: stopping with messages not yet written to %s: a response in them "
			  "is lost (its action ran; the client reports a timeout)",
			  m->mc->broker);
}

void mqtt_stop(struct daemon *d)
{
	struct mqtt *m = d->mqtt;
	struct item *it, *next;

	if (!m)
		return;
	d->mqtt = NULL;
	if (m->thread_started) {
		struct timespec until;

		drain(m);
		atomic_store(&m->stop, true);
		pthread_mutex_lock(&m->lock);
		pthread_cond_broadcast(&m->wake);
		pthread_mutex_unlock(&m->lock);
		mosquitto_disconnect_v5(m->mosq, MQTT_RC_NORMAL_DISCONNECTION, NULL);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 2;
		if (pthread_timedjoin_np(m->thread, NULL, &until) != 0) {
			/* Still in a connect() to a broker that does not answer
			 * (the loop checks for stop twice a second otherwise).
			 * Cancelling it inside libmosquitto and OpenSSL is not
			 * safe; the process is about to end, which ends it. */
			log_debug("mqtt: still connecting; not waiting for it");
			m->efd_src = sd_event_source_disable_unref(m->efd_src);
			pthread_detach(m->thread);
			left_running = m;
			return;
		}
	}
	for (it = m->head; it; it = next) {
		next = it->next;
		free(it->rtopic);
		free(it);
	}
	sd_event_source_disable_unref(m->efd_src);
	if (m->efd >= 0)
		close(m->efd);
	if (m->lib_ready) { /* (a start that failed before it had loaded it) */
		mosquitto_property_free_all(&m->connect_props);
		if (m->mosq)
			mosquitto_destroy(m->mosq);
		mosquitto_lib_cleanup();
	}
	pthread_mutex_destroy(&m->lock);
	pthread_cond_destroy(&m->wake);
	config_unref(m->cfg);
	free(m);
}
