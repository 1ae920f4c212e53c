/* SPDX-License-Identifier: MIT */
/*
 * siot-ctl -t GROUP send: the same commands to every member of a group.
 *
 * Everything that can be wrong on this side (a member's target, its key
 * file) is checked before the first byte is sent, so that a usage or
 * configuration error never leaves half a fleet switched.  Then each member
 * gets its own process (send.c keeps one session at a time, and a process
 * per device keeps one device's stall or crash from touching another's),
 * at most o->parallel at once.  A worker hands its outcomes back through a
 * pipe; the parent prints them as each device finishes.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "commands.h"
#include "prepare.h"
#include "output.h"
#include "send.h"

/* What a worker hands back: every command's outcome, then the status. */
struct report {
	struct send_outcome out[OPTIONS_MAX_COMMANDS];
	int code;
};

struct worker {
	unsigned member;      /* index into the group */
	pid_t pid;
	int fd;               /* read end of its pipe */
	size_t got;           /* bytes of the report read so far */
	struct report *rep;
};

struct member {
	struct target t;
	struct send_options so;
};

/* A status's place in 76 > 69 > 75 > 5 > 4 > 3 > 2 > 1 > 0: higher is worse. */
static int rank(int code)
{
	static const int order[] = { 0, 1, 2, 3, 4, 5, EXIT_NETTIMEOUT, EXIT_UNREACHABLE,
				     EXIT_PROTOCOL };

	for (int i = 0; i < (int)(sizeof(order) / sizeof(order[0])); i++)
		if (order[i] == code)
			return i;
	return 100; /* a worker that died, or a local failure */
}

bool group_worse(int a, int b)
{
	return rank(a) > rank(b);
}

/* Check every member as a single send would, and read its key once (then
 * wipe it): 0, or the exit status after a message naming the member. */
static int prepare(const struct options *o, const char *path, const struct target_group *g,
		   struct member *m)
{
	for (unsigned i = 0; i < g->n; i++) {
		struct siot_key *key;
		int code = 0;

		target_clear(&m[i].t);
		if (target_load(path, g->member[i], &m[i].t, cfg_print_problem, false, NULL, NULL) <
		    0)
			code = EXIT_CONFIG;
		if (!code) {
			target_merge(&m[i].t, &o->flags); /* only -T can be set */
			if (!m[i].t.host[0] && !m[i].t.socket[0] && !m[i].t.mqtt[0]) {
				fprintf(stderr, "siot-ctl: %s: target \"%s\" has no host, socket or mqtt\n",
					path, g->member[i]);
				code = EXIT_CONFIG;
			}
		}
		if (!code)
			code = prepare_options(&m[i].t, &m[i].so);
		if (!code)
			code = prepare_check_names(&m[i].so, o);
		if (!code) {
			char *password = NULL;

			code = prepare_mqtt_password(&m[i].t, &m[i].so, &password);
			sodium_free(password);
			m[i].so.mqtt_password = NULL;
		}
		if (!code) {
			key = prepare_read_key(&m[i].t, m[i].so.params.hash, &code);
			if (key)
				code = 0;
			prepare_free_key(key);
		}
		if (code) {
			fprintf(stderr,
				"siot-ctl: (in target \"%s\" of group \"%s\"; nothing was sent to any "
				"device)\n",
				g->member[i], g->name);
			return code;
		}
	}
	return 0;
}

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

/* In the worker: send to one member and hand the report back. */
static _Noreturn void work(const struct options *o, struct member *m, int fd)
{
	struct report *rep = calloc(1, sizeof(*rep));
	struct siot_key *key = NULL;
	char *password = NULL;

	if (!rep)
		_exit(70); /* reported by the parent: no report */
	rep->code = prepare_mqtt_password(&m->t, &m->so, &password);
	if (!rep->code)
		key = prepare_read_key(&m->t, m->so.params.hash, &rep->code);
	if (key) {
		m->so.key = key;
		rep->code = send_commands(&m->so, o->commands, o->n_commands, rep->out);
		prepare_values(&m->t, rep->out, o->n_commands);
		prepare_free_key(key);
	} else {
		/* The key was readable a moment ago; say what changed. */
		for (size_t i = 0; i < o->n_commands; i++) {
			rep->out[i].command = o->commands[i];
			rep->out[i].outcome = OUTCOME_NOT_SENT;
		}
		snprintf(rep->out[0].error, sizeof(rep->out[0].error),
			 "its key or password file could no longer be read");
		rep->out[0].exit_code = rep->code;
	}
	sodium_free(password);
	_exit(write_all(fd, rep, sizeof(*rep)) ? 0 : 1);
}

/* Start a worker for member i into w; 0, or -errno. */
static int start(const struct options *o, struct member *m, unsigned i, struct worker *w,
		 const struct worker *all, unsigned n_all)
{
	int p[2];

	if (pipe(p) < 0)
		return -errno;
	fflush(stdout);
	fflush(stderr);
	w->pid = fork();
	if (w->pid < 0) {
		int e = errno;
		close(p[0]);
		close(p[1]);
		return -e;
	}
	if (w->pid == 0) {
		/* Only its own pipe: another worker's write end held here would
		 * keep the parent from seeing that worker finish. */
		for (unsigned k = 0; k < n_all; k++)
			if (all[k].pid > 0 && &all[k] != w)
				close(all[k].fd);
		close(p[0]);
		work(o, &m[i], p[1]);
	}
	close(p[1]);
	w->member = i;
	w->fd = p[0];
	w->got = 0;
	memset(w->rep, 0, sizeof(*w->rep));
	return 0;
}

/* Worker w's pipe is readable: read on; true when it has finished (its
 * report complete, or it died), with its status in *code. */
static bool collect(struct worker *w, const struct options *o, int *code)
{
	ssize_t n = read(w->fd, (char *)w->rep + w->got, sizeof(*w->rep) - w->got);
	int status = 0;

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return false;
	if (n > 0) {
		w->got += (size_t)n;
		return false;
	}
	close(w->fd);
	while (waitpid(w->pid, &status, 0) < 0 && errno == EINTR)
		;
	w->pid = 0;
	if (w->got == sizeof(*w->rep)) {
		*code = w->rep->code;
		return true;
	}
	/* Died before reporting: whether its request left is unknown. */
	memset(w->rep, 0, sizeof(*w->rep));
	for (size_t i = 0; i < o->n_commands; i++) {
		w->rep->out[i].command = o->commands[i];
		w->rep->out[i].outcome = OUTCOME_NOT_SENT;
	}
	snprintf(w->rep->out[0].error, sizeof(w->rep->out[0].error),
		 "siot-ctl's worker for this device %s %d before it reported; the command may "
		 "have run",
		 WIFSIGNALED(status) ? "was killed by signal" : "exited with",
		 WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
	w->rep->out[0].outcome = OUTCOME_ERROR;
	*code = w->rep->out[0].exit_code = 70;
	return true;
}

int cmd_send_group(const struct options *o, const char *path, const struct target_group *g)
{
	unsigned slots = (unsigned)o->parallel < g->n ? (unsigned)o->parallel : g->n;
	struct member *m = calloc(g->n, sizeof(*m));
	struct worker *w = calloc(slots, sizeof(*w));
	struct pollfd *pfd = calloc(slots, sizeof(*pfd));
	unsigned next = 0, running = 0;
	int worst = 0, code;

	if (!m || !w || !pfd) {
		fprintf(stderr, "siot-ctl: out of memory\n");
		worst = 70;
		goto out;
	}
	for (unsigned k = 0; k < slots; k++)
		if (!(w[k].rep = malloc(sizeof(*w[k].rep)))) {
			fprintf(stderr, "siot-ctl: out of memory\n");
			worst = 70;
			goto out;
		}
	if ((worst = prepare(o, path, g, m)) != 0)
		goto out;
	/* A reader that goes away (siot-ctl ... | head) must not kill the
	 * parent before every worker has been waited for. */
	signal(SIGPIPE, SIG_IGN);
	while (next < g->n || running) {
		for (unsigned k = 0; k < slots && next < g->n; k++) {
			int r;

			if (w[k].pid > 0)
				continue;
			if ((r = start(o, m, next, &w[k], w, slots)) < 0) {
				/* Out of processes: what is running finishes;
				 * the rest are not sent, and say so. */
				for (; next < g->n; next++)
					fprintf(stderr, "siot-ctl: %s: not sent: cannot start a worker: "
							"%s\n",
						g->member[next], strerror(-r));
				worst = 71;
				break;
			}
			next++;
			running++;
		}
		for (unsigned k = 0; k < slots; k++) {
			pfd[k].fd = w[k].pid > 0 ? w[k].fd : -1;
			pfd[k].events = POLLIN;
			pfd[k].revents = 0;
		}
		if (poll(pfd, slots, -1) < 0 && errno != EINTR) {
			fprintf(stderr, "siot-ctl: poll: %s\n", strerror(errno));
			worst = 71;
			goto out;
		}
		for (unsigned k = 0; k < slots; k++) {
			if (!pfd[k].revents || !collect(&w[k], o, &code))
				continue;
			running--;
			output_group(g->member[w[k].member], w[k].rep->out, o->n_commands, code,
				     o->json, o->n_commands > 1);
			if (group_worse(code, worst))
				worst = code;
		}
	}
out:
	for (unsigned k = 0; w && k < slots; k++) {
		if (w[k].pid > 0) {
			close(w[k].fd);
			waitpid(w[k].pid, NULL, 0);
		}
		free(w[k].rep);
	}
	free(pfd);
	free(w);
	free(m);
	return worst;
}
