/* SPDX-License-Identifier: MIT */
#include "send.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "send_mqtt.h"
#include "serial.h"
#include "usec.h"

#define CONNECT_TIMEOUT_MS 10000 /* per address, within the overall timeout */
#define WAKEUP_RESEND_MS 250     /* serial framing: a wake-up again until a HELLO */

/* What a wake-up is made of (PROTOCOL.md): zeros. */
static const uint8_t wakeup_zeros[SIOT_MAX_WAKEUP];

struct session {
	const struct send_options *o;
	int fd;
	bool tty;                 /* fd is a serial port: read/write, not recv/send */
	struct ctl_mqtt *mq;      /* with -M: the broker, connected once */
	bool mq_open;             /* a session is open on it */
	int64_t deadline_ms;
	struct siot_exchange ex;
	uint8_t rx[SIOT_MAX_RESPONSE + SIOT_MAX_HELLO];
	size_t rx_len, rx_off;
	char where[300];
};

__attribute__((format(printf, 3, 4))) static int fail(struct send_outcome *out, int code,
						       const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out->error, sizeof(out->error), fmt, ap);
	va_end(ap);
	out->exit_code = code;
	out->outcome = OUTCOME_ERROR;
	return code;
}

const char *outcome_name(enum outcome o)
{
	switch (o) {
	case OUTCOME_OK:
	case OUTCOME_FAILED:
	case OUTCOME_REJECTED:
	case OUTCOME_BUSY:
	case OUTCOME_TIMEOUT:
	case OUTCOME_ERROR:
		return siot_status_name((unsigned)o);
	case OUTCOME_NOT_SENT:
		return "not-sent";
	}
	return "error";
}

/* Wait for events on the session's fd until the overall deadline, or until
 * limit_ms if that comes first.  Returns >0 ready, 0 time out, <0 -errno. */
static int wait_fd(struct session *s, short events, int64_t limit_ms)
{
	for (;;) {
		int64_t until = limit_ms < s->deadline_ms ? limit_ms : s->deadline_ms;
		int64_t left = until - monotonic_msec();
		struct pollfd p = { .fd = s->fd, .events = events };
		int r;

		if (left <= 0)
			return 0;
		r = poll(&p, 1, (int)(left > 60000 ? 60000 : left));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r > 0)
			return 1;
	}
}

static int try_connect(struct session *s, int family, const struct sockaddr *sa, socklen_t len)
{
	int err = 0;
	socklen_t elen = sizeof(err);
	int r;

	s->fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s->fd < 0)
		return -errno;
	if (connect(s->fd, sa, len) == 0)
		return 0;
	if (errno != EINPROGRESS) {
		r = -errno;
		goto fail;
	}
	r = wait_fd(s, POLLOUT, monotonic_msec() + CONNECT_TIMEOUT_MS);
	if (r == 0) {
		r = -ETIMEDOUT;
		goto fail;
	}
	if (r < 0)
		goto fail;
	getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &elen);
	if (err == 0)
		return 0;
	r = -err;
fail:
	close(s->fd);
	s->fd = -1;
	return r;
}

/* Connect to the target; on failure fill out and return its exit code. */
static int session_connect(struct session *s, struct send_outcome *out)
{
	const struct send_options *o = s->o;
	int r = -ECONNREFUSED;

	s->rx_len = s->rx_off = 0;
	if (o->serial_path) {
		snprintf(s->where, sizeof(s->where), "%s", o->serial_path);
		r = serial_open(o->serial_path, o->baud, out->error, sizeof(out->error));
		if (r == -EINVAL)
			return fail(out, EXIT_USAGE, "%s", out->error);
		if (r < 0) {
			out->exit_code = EXIT_UNREACHABLE;
			out->outcome = OUTCOME_ERROR;
			return EXIT_UNREACHABLE;
		}
		s->fd = r;
		s->tty = true;
		return 0;
	}
	if (o->mqtt_url) {
		int code = 0;

		if (!s->mq)
			code = ctl_mqtt_connect(&s->mq, o, s->deadline_ms, out->error,
						sizeof(out->error));
		if (!code)
			code = ctl_mqtt_open(s->mq, s->deadline_ms, out->error, sizeof(out->error));
		snprintf(s->where, sizeof(s->where), "%s", s->mq ? ctl_mqtt_where(s->mq) : "");
		if (code) {
			out->exit_code = code;
			out->outcome = OUTCOME_ERROR;
			return code;
		}
		s->mq_open = true;
		return 0;
	}
	if (o->socket_path) {
		struct sockaddr_un sun = { .sun_family = AF_UNIX };
		snprintf(s->where, sizeof(s->where), "%s", o->socket_path);
		if (strlen(o->socket_path) >= sizeof(sun.sun_path))
			return fail(out, EXIT_USAGE, "socket path too long: %s", o->socket_path);
		strcpy(sun.sun_path, o->socket_path);
		r = try_connect(s, AF_UNIX, (struct sockaddr *)&sun, sizeof(sun));
	} else {
		struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai = NULL, *a;
		int g;

		snprintf(s->where, sizeof(s->where), strchr(o->host, ':') ? "[%s]:%s" : "%s:%s",
			 o->host, o->port);
		g = getaddrinfo(o->host, o->port, &hints, &ai);
		if (g != 0)
			return fail(out, EXIT_UNREACHABLE, "cannot resolve %s: %s", o->host,
				    gai_strerror(g));
		for (a = ai; a; a = a->ai_next) {
			r = try_connect(s, a->ai_family, a->ai_addr, a->ai_addrlen);
			if (r == 0 || monotonic_msec() >= s->deadline_ms)
				break;
		}
		freeaddrinfo(ai);
	}
	if (r == 0)
		return 0;
	if (monotonic_msec() >= s->deadline_ms)
		return fail(out, EXIT_NETTIMEOUT, "timed out connecting to %s", s->where);
	return fail(out, EXIT_UNREACHABLE, "could not connect to %s: %s", s->where, strerror(-r));
}

static void session_close(struct session *s)
{
	if (s->mq_open)
		ctl_mqtt_end_session(s->mq);
	s->mq_open = false;
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	s->tty = false;
}

/* A serial port whose other end went away (an adapter unplugged, a pty's
 * master closed): poll says POLLHUP.  A read of 0 without it is no end: a
 * serial port has no EOF. */
static bool tty_hung_up(const struct session *s)
{
	struct pollfd p = { .fd = s->fd, .events = POLLIN };

	return poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLERR));
}

/* Make unread bytes available: >0 bytes in rx, 0 at EOF, -ETIMEDOUT,
 * SESSION_HUNG_UP for a serial port that hung up, -errno. */
#define SESSION_HUNG_UP (-ENOLINK)
static int session_fill(struct session *s)
{
	ssize_t n;
	int r;

	if (s->rx_off < s->rx_len)
		return (int)(s->rx_len - s->rx_off);
	s->rx_len = s->rx_off = 0;
	if (s->mq) {
		/* One protocol message per MQTT message. */
		r = ctl_mqtt_recv(s->mq, s->rx, sizeof(s->rx), s->deadline_ms);
		if (r > 0)
			s->rx_len = (size_t)r;
		return r == -ENOTCONN ? 0 : r;
	}
	for (;;) {
		r = wait_fd(s, POLLIN, s->deadline_ms);
		if (r == 0)
			return -ETIMEDOUT;
		if (r < 0)
			return r;
		n = s->tty ? read(s->fd, s->rx, sizeof(s->rx)) : recv(s->fd, s->rx, sizeof(s->rx), 0);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (s->tty && ((n < 0 && errno == EIO) || (n == 0 && tty_hung_up(s))))
			return SESSION_HUNG_UP; /* at once: never a loop of empty reads */
		if (n == 0 && s->tty) {
			nanosleep(&(struct timespec){ .tv_nsec = 10 * 1000 * 1000 }, NULL);
			continue;
		}
		if (n < 0)
			return errno == ECONNRESET ? 0 : -errno;
		s->rx_len = (size_t)n;
		return (int)n;
	}
}

static int session_write(struct session *s, const uint8_t *buf, size_t len)
{
	size_t off = 0;

	if (s->mq)
		return ctl_mqtt_send(s->mq, buf, len);
	while (off < len) {
		ssize_t n = s->tty ? write(s->fd, buf + off, len - off)
				   : send(s->fd, buf + off, len - off, MSG_NOSIGNAL);
		if (n < 0 && (errno == EINTR))
			continue;
		if (n < 0 && errno == EAGAIN) {
			int r = wait_fd(s, POLLOUT, s->deadline_ms);
			if (r <= 0)
				return r == 0 ? -ETIMEDOUT : r;
			continue;
		}
		if (n < 0)
			return -errno;
		off += (size_t)n;
	}
	return 0;
}

typedef enum siot_feed (*feed_fn)(struct siot_exchange *, const uint8_t *, size_t, size_t *);

/* Feed the stream into fn until it is done: 1 done, 0 EOF first,
 * -EBADMSG malformed, -ETIMEDOUT, -errno. */
static int session_read(struct session *s, feed_fn fn)
{
	for (;;) {
		size_t used = 0;
		enum siot_feed f;
		int r = session_fill(s);

		if (r <= 0)
			return r;
		f = fn(&s->ex, s->rx + s->rx_off, s->rx_len - s->rx_off, &used);
		s->rx_off += used;
		if (f == SIOT_FEED_DONE)
			return 1;
		if (f == SIOT_FEED_MALFORMED)
			return -EBADMSG;
	}
}

static const char *hash_id_name(unsigned id)
{
	if (id != SIOT_HASH_SHA256 && id != SIOT_HASH_SHA512)
		return "an unknown hash";
	return siot_hash_name((enum siot_hash)id);
}

static int hello_error(struct session *s, struct send_outcome *out)
{
	const struct siot_exchange *ex = &s->ex;
	const struct siot_params *p = &s->o->params;

	switch (ex->reason) {
	case SIOT_REASON_MAGIC:
		return fail(out, EXIT_PROTOCOL, "%s does not speak siot v1 (wrong magic)", s->where);
	case SIOT_REASON_VERSION:
		return fail(out, EXIT_PROTOCOL, "%s speaks siot protocol version %u, not %u",
			    s->where, ex->peer_version, SIOT_VERSION);
	case SIOT_REASON_HASH:
		return fail(out, EXIT_PROTOCOL, "%s uses hash %s, this target is configured for %s",
			    s->where, hash_id_name(ex->peer_hash_id), siot_hash_name(p->hash));
	case SIOT_REASON_TAG_LENGTH:
		return fail(out, EXIT_PROTOCOL,
			    "%s uses tag length %u, this target is configured for %u", s->where,
			    ex->peer_tag_length, p->tag_length);
	case SIOT_REASON_CHALLENGE_LENGTH:
		return fail(out, EXIT_PROTOCOL,
			    "%s uses challenge length %u, this target is configured for %u",
			    s->where, ex->peer_challenge_length, p->challenge_length);
	case SIOT_REASON_DEVICE_ID:
		return fail(out, EXIT_PROTOCOL, "%s sent an invalid device id", s->where);
	case SIOT_REASON_NONE:
	case SIOT_REASON_ID_LENGTH:
	case SIOT_REASON_OUTPUT_LENGTH:
	case SIOT_REASON_STATE:
		break; /* not reasons a HELLO is refused for */
	}
	return fail(out, EXIT_PROTOCOL, "%s sent a malformed HELLO: %s", s->where,
		    siot_reason_str(ex->reason));
}

/* After the request left: read the response, verify it, fill out. */
static int read_outcome(struct session *s, struct send_outcome *out)
{
	const struct send_options *o = s->o;
	int r;

	if (o->params.profile == SIOT_PROFILE_CLASSIC && !o->classic_response) {
		out->exit_code = 0;
		out->outcome = OUTCOME_OK;
		snprintf(out->error, sizeof(out->error), "sent; no confirmation requested");
		return 0;
	}
	r = session_read(s, siot_client_feed_response);
	if (r == SESSION_HUNG_UP)
		return fail(out, EXIT_NETTIMEOUT,
			    "the serial port %s hung up after the request was sent; the command may "
			    "have run on the device",
			    s->where);
	if (r == -ETIMEDOUT)
		return fail(out, EXIT_NETTIMEOUT,
			    "timed out after %g s waiting for the response of %s; the command may "
			    "still have run on the device",
			    o->timeout, s->where);
	if (s->mq && r == 0)
		return fail(out, EXIT_NETTIMEOUT,
			    "lost the broker while waiting for the response of %s; the command may "
			    "still have run on the device (it runs at most once)",
			    s->where);
	if (o->params.profile == SIOT_PROFILE_CLASSIC && r == 0) {
		fail(out, 2, "not confirmed: %s closed the connection without a response (no "
			     "command matched, or it did not complete)",
		     s->where);
		out->outcome = OUTCOME_REJECTED;
		return 2;
	}
	if (r == 0)
		return fail(out, EXIT_PROTOCOL, "%s closed the connection without a response",
			    s->where);
	if (r == -EBADMSG)
		return fail(out, EXIT_PROTOCOL, "%s sent a malformed response: %s", s->where,
			    siot_reason_str(s->ex.reason));
	if (r < 0)
		return fail(out, EXIT_UNREACHABLE, "%s: %s", s->where, strerror(-r));

	if (siot_client_verify(&s->ex, o->key, &out->result, out->output, &out->output_len) < 0) {
		if (o->params.profile == SIOT_PROFILE_V1 &&
		    (s->ex.status == SIOT_STATUS_REJECTED || s->ex.status == SIOT_STATUS_BUSY))
			return fail(out, EXIT_PROTOCOL,
				    "refused, not verified: the key is wrong, or the device does "
				    "not know this client id");
		return fail(out, EXIT_PROTOCOL, "the response from %s is not authentic", s->where);
	}
	out->authentic = true;
	if (o->params.profile == SIOT_PROFILE_CLASSIC) {
		out->status = out->result == 0 ? SIOT_STATUS_OK : SIOT_STATUS_FAILED;
		out->exit_code = out->result == 0 ? 0 : 1;
	} else {
		out->status = s->ex.status;
		out->exit_code = s->ex.status > SIOT_STATUS_ERROR ? SIOT_STATUS_ERROR : s->ex.status;
	}
	out->outcome = (enum outcome)out->exit_code;
	return out->exit_code;
}

/* Serial framing: the wake-up, again every WAKEUP_RESEND_MS until the
 * device answers (through a board's reset and bootloader, noise, or an
 * exchange the device was still finishing), bounded by the deadline. */
static int wake(struct session *s, struct send_outcome *out)
{
	const struct send_options *o = s->o;
	int r;

	if (s->rx_off < s->rx_len)
		return 0;
	for (;;) {
		r = session_write(s, wakeup_zeros, o->params.wakeup_length);
		if (r == -ETIMEDOUT)
			break;
		if (r == -EIO && s->tty)
			return fail(out, EXIT_UNREACHABLE,
				    "the serial port %s hung up before its HELLO; nothing was sent",
				    s->where);
		if (r < 0)
			return fail(out, EXIT_UNREACHABLE, "sending the wake-up to %s: %s", s->where,
				    strerror(-r));
		r = wait_fd(s, POLLIN, monotonic_msec() + WAKEUP_RESEND_MS);
		if (r > 0)
			return 0;
		if (r < 0)
			return fail(out, EXIT_UNREACHABLE, "%s: %s", s->where, strerror(-r));
		if (monotonic_msec() >= s->deadline_ms)
			break;
	}
	return fail(out, EXIT_NETTIMEOUT,
		    "no HELLO from %s within %g s of wake-ups (is a siot device there, at this "
		    "speed, with this wake-up length?)",
		    s->where, o->timeout);
}

/* Serial framing, v1: bytes before a HELLO's first ('S') are line noise or
 * the tail of an older answer; drop them.  0, or an exit code in out. */
static int skip_noise(struct session *s, struct send_outcome *out)
{
	for (;;) {
		int r = session_fill(s);

		if (r == -ETIMEDOUT)
			return fail(out, EXIT_NETTIMEOUT, "timed out waiting for the HELLO of %s",
				    s->where);
		if (r == SESSION_HUNG_UP)
			return fail(out, EXIT_UNREACHABLE,
				    "the serial port %s hung up before its HELLO; nothing was sent",
				    s->where);
		if (r == 0)
			return fail(out, EXIT_UNREACHABLE, "%s closed the connection before its HELLO",
				    s->where);
		if (r < 0)
			return fail(out, EXIT_UNREACHABLE, "%s: %s", s->where, strerror(-r));
		while (s->rx_off < s->rx_len && s->rx[s->rx_off] != SIOT_MAGIC[0])
			s->rx_off++;
		if (s->rx_off < s->rx_len)
			return 0;
	}
}

/* One command over the session; the connection is open and no HELLO of it
 * has been read.  Returns the command's exit code; *reconnect asks the
 * caller to open a new connection and call again (the device closed a kept
 * connection before its next HELLO: nothing was sent). */
static int send_one(struct session *s, const char *command, bool reused, bool *reconnect,
		    struct send_outcome *out)
{
	const struct send_options *o = s->o;
	uint8_t req[SIOT_MAX_REQUEST];
	int r, n;

	*reconnect = false;
	r = session_read(s, siot_client_feed_hello);
	if (r == SESSION_HUNG_UP)
		return fail(out, EXIT_UNREACHABLE,
			    "the serial port %s hung up before its HELLO; nothing was sent", s->where);
	if (r == 0 && reused) {
		*reconnect = true;
		return 0;
	}
	if (r == 0 && s->mq)
		return fail(out, EXIT_NETTIMEOUT, "lost the broker while waiting for the HELLO of %s",
			    s->where);
	if (r == 0)
		return fail(out, EXIT_UNREACHABLE,
			    "%s closed the connection before its HELLO (connection limit reached, "
			    "or not a siot device)",
			    s->where);
	if (r == -ETIMEDOUT && !s->tty && !s->mq && !o->serial_framing && !s->rx_len)
		return fail(out, EXIT_NETTIMEOUT,
			    "timed out waiting for the HELLO of %s: nothing came on the connection "
			    "(a serial line behind a TCP bridge needs --framing serial)",
			    s->where);
	if (r == -ETIMEDOUT)
		return fail(out, EXIT_NETTIMEOUT, "timed out waiting for the HELLO of %s", s->where);
	if (r == -EBADMSG)
		return hello_error(s, out);
	if (r < 0)
		return fail(out, EXIT_UNREACHABLE, "%s: %s", s->where, strerror(-r));
	if (o->params.profile == SIOT_PROFILE_V1 && o->device && strcmp(o->device, s->ex.device_id))
		return fail(out, EXIT_PROTOCOL, "%s is device \"%s\", not \"%s\"", s->where,
			    s->ex.device_id, o->device);

	n = siot_client_request(&s->ex, o->key, o->client_id, command, req, sizeof(req));
	if (n < 0)
		return fail(out, EXIT_USAGE, "cannot build a request for \"%s\"", command);
	r = session_write(s, req, (size_t)n);
	sodium_memzero(req, sizeof(req));
	if (r == -ETIMEDOUT)
		return fail(out, EXIT_NETTIMEOUT, "timed out sending to %s", s->where);
	if (r == -EIO && s->tty)
		return fail(out, EXIT_UNREACHABLE,
			    "the serial port %s hung up before the request went out; the command did "
			    "not run",
			    s->where);
	if (r < 0)
		return fail(out, EXIT_UNREACHABLE, "sending to %s: %s", s->where, strerror(-r));
	out->sent = true;
	return read_outcome(s, out);
}

int send_commands(const struct send_options *o, const char *const *commands, size_t n,
		  struct send_outcome *out)
{
	struct session *s = calloc(1, sizeof(*s)); /* large (8 KiB buffers) */
	int code = 0;
	size_t i = 0;
	bool reused = false;

	for (i = 0; i < n; i++) {
		memset(&out[i], 0, sizeof(out[i]));
		out[i].command = commands[i];
		out[i].outcome = OUTCOME_NOT_SENT;
	}
	if (!s)
		return fail(&out[0], 70, "out of memory");
	s->o = o;
	s->fd = -1;
	s->deadline_ms = monotonic_msec() + (int64_t)(o->timeout * 1000);
	for (i = 0; i < n; i++) {
		bool reconnect = false;

		for (int attempt = 0; attempt < 2; attempt++) {
			if (s->fd < 0 && !s->mq_open) {
				code = session_connect(s, &out[i]);
				if (code)
					goto done;
				reused = false;
				if (o->params.wakeup_length && !o->mqtt_url && !o->serial_framing) {
					if (session_write(s, wakeup_zeros, o->params.wakeup_length) < 0) {
						code = fail(&out[i], EXIT_UNREACHABLE,
							    "sending the wake-up to %s failed", s->where);
						goto done;
					}
				}
				siot_exchange_init(&s->ex, &o->params);
			}
			if (o->serial_framing) {
				/* One request per wake-up, on the same line. */
				siot_exchange_init(&s->ex, &o->params);
				reused = false;
				code = wake(s, &out[i]);
				if (!code && o->params.profile == SIOT_PROFILE_V1)
					code = skip_noise(s, &out[i]);
				if (code)
					goto done;
			}
			code = send_one(s, commands[i], reused, &reconnect, &out[i]);
			if (!reconnect)
				break;
			session_close(s);
		}
		if (code)
			goto done;
		/* Over MQTT, a session per command: the device's next HELLO
		 * may never come (max_requests), and a broker has no EOF. */
		if ((o->params.profile == SIOT_PROFILE_CLASSIC && !o->serial_framing) || o->mqtt_url)
			session_close(s);
		reused = true;
	}
done:
	session_close(s);
	ctl_mqtt_free(s->mq);
	s->mq = NULL;
	siot_exchange_wipe(&s->ex);
	free(s);
	return code;
}
