/* SPDX-License-Identifier: MIT */
/*
 * A group send's worker process (group.c starts them): one member reached
 * directly, or every member on one broker connection, a thread per session
 * and at most o->parallel at once.  Each member's outcomes go back to the
 * parent as a record in the worker's pipe (group_internal.h).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "group_internal.h"
#include "prepare.h"
#include "send_mqtt.h"
#include "usec.h"

/* All of buf to fd; false when the parent has gone. */
static bool write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

void group_not_sent(const struct options *o, struct send_outcome *out, int code,
		    const char *why)
{
	memset(out, 0, o->n_commands * sizeof(*out));
	for (size_t i = 0; i < o->n_commands; i++) {
		out[i].command = o->commands[i];
		out[i].outcome = OUTCOME_NOT_SENT;
	}
	snprintf(out[0].error, sizeof(out[0].error), "%s", why);
	out[0].exit_code = code;
}

/* In a worker: send to member pos (through broker when not NULL); its
 * outcomes into out, its status returned. */
static int run_member(const struct options *o, const struct target_group *g, unsigned pos,
		      struct ctl_broker *broker, struct send_outcome *out)
{
	struct target *t = malloc(sizeof(*t));
	struct send_options so;
	struct siot_key *key = NULL;
	char *password = NULL;
	int code;

	if (!t) {
		group_not_sent(o, out, 70, "out of memory");
		return 70;
	}
	target_group_get(g, pos, t);
	target_merge(t, &o->flags);
	code = prepare_options(t, &so);
	so.broker = broker;
	if (!code && !broker)
		code = prepare_mqtt_password(t, &so, &password);
	if (!code)
		key = prepare_read_key(t, so.params.hash, &code);
	if (key) {
		so.key = key;
		code = send_commands(&so, o->commands, o->n_commands, out);
		prepare_values(t, out, o->n_commands);
		prepare_free_key(key);
	} else {
		/* The key was readable a moment ago; say what changed. */
		group_not_sent(o, out, code, "its key or password file could no longer be read");
	}
	sodium_free(password);
	free(t);
	return code;
}

/* A worker's pipe, shared by its threads. */
struct pipe_out {
	int fd;
	pthread_mutex_t lock;
	size_t rec_size;
	bool broken;
};

/* Member pos's record; without out (no memory for it), zeros that the
 * parent reads as "not sent". */
static void report(struct pipe_out *p, unsigned pos, int code, const struct send_outcome *out)
{
	static const unsigned char zeros[1024];
	struct record_head h = { pos, code };
	size_t left = p->rec_size - sizeof(h);

	pthread_mutex_lock(&p->lock);
	if (!p->broken)
		p->broken = !write_all(p->fd, &h, sizeof(h));
	if (!p->broken && out)
		p->broken = !write_all(p->fd, out, left);
	while (!p->broken && !out && left) {
		size_t n = left < sizeof(zeros) ? left : sizeof(zeros);

		p->broken = !write_all(p->fd, zeros, n);
		left -= n;
	}
	pthread_mutex_unlock(&p->lock);
}

/* The threads of a broker's worker: each takes the next member. */
struct sessions {
	const struct options *o;
	const struct target_group *g;
	const struct job *j;
	struct ctl_broker *b;
	struct pipe_out *out;
	pthread_mutex_t lock;
	unsigned next;
};

static void *session_thread(void *arg)
{
	struct sessions *s = arg;
	struct send_outcome *out = calloc(s->o->n_commands, sizeof(*out));

	for (;;) {
		unsigned k;
		int code;

		pthread_mutex_lock(&s->lock);
		k = s->next < s->j->n ? s->next++ : s->j->n;
		pthread_mutex_unlock(&s->lock);
		if (k == s->j->n)
			break;
		if (!out) {
			report(s->out, s->j->pos[k], 70, NULL);
			continue;
		}
		code = run_member(s->o, s->g, s->j->pos[k], s->b, out);
		report(s->out, s->j->pos[k], code, out);
		sodium_memzero(out, s->o->n_commands * sizeof(*out));
	}
	free(out);
	return NULL;
}

/* Connect to the broker that the job's first member names: 0, or the
 * status with why in err. */
static int connect_broker(const struct options *o, const struct target_group *g,
			  const struct job *j, struct ctl_broker **b, char *err, size_t errlen)
{
	struct target *t = malloc(sizeof(*t));
	struct send_options so;
	char *password = NULL;
	int code;

	*b = NULL;
	if (!t) {
		snprintf(err, errlen, "out of memory");
		return 70;
	}
	target_group_get(g, j->pos[0], t);
	target_merge(t, &o->flags);
	code = prepare_options(t, &so);
	if (!code && (code = prepare_mqtt_password(t, &so, &password)) != 0)
		snprintf(err, errlen, "its password file could no longer be read");
	if (!code)
		code = ctl_broker_connect(b, &so, monotonic_msec() + (int64_t)(so.timeout * 1000), err,
					  errlen);
	sodium_free(password); /* libmosquitto keeps its own copy */
	free(t);
	return code;
}

/* A broker's worker: one connection, up to o->parallel sessions at once. */
static void work_broker(const struct options *o, const struct target_group *g,
			const struct job *j, struct pipe_out *p)
{
	unsigned n = (unsigned)o->parallel < j->n ? (unsigned)o->parallel : j->n;
	struct sessions s = { o, g, j, NULL, p, PTHREAD_MUTEX_INITIALIZER, 0 };
	pthread_t *th = calloc(n, sizeof(*th));
	pthread_attr_t attr;
	char err[512];
	unsigned started = 0;
	int code = connect_broker(o, g, j, &s.b, err, sizeof(err));

	if (!code && th) {
		pthread_attr_init(&attr);
		pthread_attr_setstacksize(&attr, 512 * 1024);
		for (; started < n; started++)
			if (pthread_create(&th[started], &attr, session_thread, &s) != 0)
				break;
		pthread_attr_destroy(&attr);
		if (started == 0)
			session_thread(&s); /* no thread to be had: one at a time */
		for (unsigned i = 0; i < started; i++)
			pthread_join(th[i], NULL);
	} else {
		struct send_outcome *out = calloc(o->n_commands, sizeof(*out));

		if (!th)
			code = 70, snprintf(err, sizeof(err), "out of memory");
		for (unsigned k = 0; k < j->n; k++) {
			if (out)
				group_not_sent(o, out, code, err);
			report(p, j->pos[k], code, out);
		}
		free(out);
	}
	ctl_broker_free(s.b);
	free(th);
}

/* In the worker process: job j's members, each reported as it ends. */
_Noreturn void group_work(const struct options *o, const struct target_group *g,
			  const struct job *j, int fd)
{
	struct pipe_out p = { fd, PTHREAD_MUTEX_INITIALIZER, group_record_size(o), false };

	if (j->broker) {
		work_broker(o, g, j, &p);
	} else {
		struct send_outcome *out = calloc(o->n_commands, sizeof(*out));
		int code;

		if (!out)
			_exit(70); /* reported by the parent: no record */
		code = run_member(o, g, j->pos[0], NULL, out);
		report(&p, j->pos[0], code, out);
		sodium_memzero(out, o->n_commands * sizeof(*out));
	}
	_exit(p.broken ? 1 : 0);
}

