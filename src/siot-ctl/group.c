/* SPDX-License-Identifier: MIT */
/*
 * siot-ctl -t GROUP send: the same commands to every member of a group (or
 * of a pattern), from a handful of devices to a fleet.
 *
 * Everything that can be wrong on this side (a member's target, its key
 * file) is checked before the first byte is sent, so that a usage or
 * configuration error never leaves half a fleet switched.  The file was
 * read once (target_load); each member's target comes from it.
 *
 * Then the work goes to worker processes, at most o->parallel at a time:
 *   - a member reached directly (TCP, a Unix socket) gets a worker of its
 *     own, so that one device's stall or crash never touches another's;
 *   - the members on one broker with one login share a worker and its one
 *     MQTT connection (send_mqtt.h): a thread per session, at most
 *     o->parallel sessions at once, each with its own correlation data,
 *     response topic and deadline.
 * A worker hands each member's outcomes back through its pipe as a record;
 * the parent prints every member's part in the group's order, keeps a
 * progress line on a terminal, and ends with a summary.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "commands.h"
#include "group_internal.h"
#include "output.h"
#include "prepare.h"
#include "send.h"
#include "usec.h"

/* What became of each member, kept until its turn to be printed. */
struct result {
	bool done;
	int code;
	char *text;
	size_t len;
};

struct fan {
	const struct options *o;
	const struct target_group *g;
	size_t rec_size;
	struct result *res;     /* by place in the group */
	unsigned next_print, answered, failed;
	unsigned count[10];     /* by outcome class (status_class) */
	bool progress;          /* a progress line on stderr */
	bool progress_shown;
	int64_t progress_ms;
	int64_t t0;             /* when the first worker started */
	int worst;
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

/* The summary's words for each rank, and for everything else. */
static const char *const class_name[10] = {
	"ok", "failed", "rejected", "busy", "timed out", "error", "network timeout",
	"unreachable", "not authentic", "local error",
};

static unsigned status_class(int code)
{
	int r = rank(code);

	return r < 9 ? (unsigned)r : 9;
}

/* Member pos's target, checked as a single send would check it, with its
 * key read once (then wiped): 0, or the exit status after a message. */
static int check_member(const struct options *o, const struct target_group *g, unsigned pos,
			struct target *t, char **broker_key)
{
	struct send_options so;
	struct siot_key *key;
	char *password = NULL;
	int code = 0;

	target_group_get(g, pos, t);
	target_merge(t, &o->flags); /* only -T can be set */
	if (!t->host[0] && !t->socket[0] && !t->mqtt[0]) {
		fprintf(stderr, "siot-ctl: target \"%s\" has no host, socket or mqtt\n", t->name);
		return EXIT_CONFIG;
	}
	if ((code = prepare_options(t, &so)) != 0 || (code = prepare_check_names(&so, o)) != 0)
		return code;
	code = prepare_mqtt_password(t, &so, &password);
	sodium_free(password);
	if (code)
		return code;
	key = prepare_read_key(t, so.params.hash, &code);
	if (!key)
		return code;
	prepare_free_key(key);
	/* Members share a connection when everything that makes it is equal. */
	if (t->mqtt[0] && asprintf(broker_key, "%s\n%s\n%s\n%s\n%s\n%s", t->mqtt, t->mqtt_username,
				   t->mqtt_password_file, t->mqtt_ca_file, t->mqtt_tls_cert_file,
				   t->mqtt_tls_key_file) < 0) {
		*broker_key = NULL;
		fprintf(stderr, "siot-ctl: out of memory\n");
		return 70;
	}
	return 0;
}

struct keyed {
	const char *key;
	unsigned pos;
};

static int keyed_cmp(const void *a, const void *b)
{
	const struct keyed *x = a, *y = b;
	int c = strcmp(x->key, y->key);

	return c ? c : (x->pos > y->pos) - (x->pos < y->pos);
}

static int job_cmp(const void *a, const void *b)
{
	const struct job *x = a, *y = b;

	return (x->pos[0] > y->pos[0]) - (x->pos[0] < y->pos[0]);
}

/* The jobs for members whose broker keys are keys[] (NULL: reached
 * directly): a job per direct member, one per broker connection; in the
 * order of their first members.  NULL when out of memory. */
static struct job *plan(char **keys, unsigned n, unsigned *n_jobs, unsigned **pos_block)
{
	struct keyed *k = calloc(n, sizeof(*k));
	struct job *jobs = calloc(n, sizeof(*jobs));
	unsigned *pos = calloc(n, sizeof(*pos));
	unsigned nk = 0, nj = 0, used = 0;

	if (!k || !jobs || !pos) {
		free(k);
		free(jobs);
		free(pos);
		return NULL;
	}
	for (unsigned i = 0; i < n; i++) {
		if (keys[i]) {
			k[nk++] = (struct keyed){ keys[i], i };
			continue;
		}
		pos[used] = i;
		jobs[nj++] = (struct job){ .pos = &pos[used++], .n = 1 };
	}
	qsort(k, nk, sizeof(*k), keyed_cmp);
	for (unsigned i = 0; i < nk; i++) {
		if (i == 0 || strcmp(k[i].key, k[i - 1].key) != 0)
			jobs[nj++] = (struct job){ .pos = &pos[used], .broker = true };
		pos[used++] = k[i].pos;
		jobs[nj - 1].n++;
	}
	free(k);
	qsort(jobs, nj, sizeof(*jobs), job_cmp);
	*n_jobs = nj;
	*pos_block = pos; /* the jobs' places: freed with them */
	return jobs;
}

/* Check every member, and plan the work.  0, or the exit status after a
 * message naming the member. */
static int prepare(const struct options *o, const struct target_group *g, struct job **jobs,
		   unsigned *n_jobs, unsigned **pos_block)
{
	struct target *t = malloc(sizeof(*t));
	char **keys = calloc(g->n, sizeof(*keys));
	int code = 0;

	if (!t || !keys) {
		fprintf(stderr, "siot-ctl: out of memory\n");
		code = 70;
	}
	for (unsigned i = 0; !code && i < g->n; i++) {
		code = check_member(o, g, i, t, &keys[i]);
		if (code)
			fprintf(stderr,
				"siot-ctl: (in target \"%s\" %s \"%s\"; nothing was sent to any "
				"device)\n",
				target_group_member(g, i),
				target_is_pattern(g->name) ? "matching" : "of group", g->name);
	}
	if (!code && !(*jobs = plan(keys, g->n, n_jobs, pos_block))) {
		fprintf(stderr, "siot-ctl: out of memory\n");
		code = 70;
	}
	for (unsigned i = 0; keys && i < g->n; i++)
		free(keys[i]);
	free(keys);
	free(t);
	return code;
}

/* Start job j's worker; 0, or -errno. */
static int start(const struct options *o, const struct target_group *g, struct job *j,
		 const struct job *all, unsigned n_all)
{
	int p[2];

	if (pipe(p) < 0)
		return -errno;
	fflush(stdout);
	fflush(stderr);
	j->pid = fork();
	if (j->pid < 0) {
		int e = errno;
		close(p[0]);
		close(p[1]);
		return -e;
	}
	if (j->pid == 0) {
		/* Only its own pipe: another worker's write end held here would
		 * keep the parent from seeing that worker finish. */
		for (unsigned k = 0; k < n_all; k++)
			if (all[k].pid > 0 && &all[k] != j)
				close(all[k].fd);
		close(p[0]);
		group_work(o, g, j, p[1]);
	}
	close(p[1]);
	j->fd = p[0];
	j->got = 0;
	return 0;
}

/* The progress line, at most ten times a second (force: now). */
static void show_progress(struct fan *f, bool force)
{
	int64_t t = monotonic_msec();

	if (!f->progress || (!force && t - f->progress_ms < 100))
		return;
	f->progress_ms = t;
	fprintf(stderr, "\r%u/%u answered, %u failed\033[K", f->answered, f->g->n, f->failed);
	fflush(stderr);
	f->progress_shown = true;
}

static void hide_progress(struct fan *f)
{
	if (f->progress_shown) {
		fputs("\r\033[K", stderr);
		fflush(stderr);
		f->progress_shown = false;
	}
}

/* Print what is done in the group's order, from the first not printed. */
static void print_ready(struct fan *f)
{
	bool any = false;

	while (f->next_print < f->g->n && f->res[f->next_print].done) {
		struct result *r = &f->res[f->next_print++];

		if (r->len) {
			if (!any)
				hide_progress(f);
			any = true;
			fwrite(r->text, 1, r->len, stdout);
		}
		free(r->text);
		r->text = NULL;
	}
	if (any) {
		fflush(stdout);
		show_progress(f, true);
	}
}

/* Member pos is done: its text kept for its turn, its status counted. */
static void finish(struct fan *f, unsigned pos, int code, const struct send_outcome *out)
{
	struct result *r = &f->res[pos];
	FILE *mem;

	if (r->done)
		return; /* a worker never reports a member twice; never count it twice */
	r->done = true;
	r->code = code;
	f->answered++;
	f->failed += code != 0;
	f->count[status_class(code)]++;
	if (group_worse(code, f->worst))
		f->worst = code;
	if ((!f->o->quiet || code != 0) && (mem = open_memstream(&r->text, &r->len)) != NULL) {
		output_group(mem, target_group_member(f->g, pos), out, f->o->n_commands, code,
			     f->o->json, f->o->n_commands > 1, monotonic_msec() - f->t0);
		fclose(mem);
	}
	print_ready(f);
	show_progress(f, false);
}

/* Job j's pipe is readable: read on; true when it has ended. */
static bool collect(struct fan *f, struct job *j)
{
	ssize_t n = read(j->fd, j->rec + j->got, f->rec_size - j->got);
	int status = 0;

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return false;
	if (n > 0) {
		j->got += (size_t)n;
		if (j->got == f->rec_size) {
			struct send_outcome *out = (struct send_outcome *)(j->rec + sizeof(struct record_head));
			struct record_head h;

			memcpy(&h, j->rec, sizeof(h));
			j->got = 0;
			j->reported++;
			if (!out[0].command) /* the worker had no memory for it */
				group_not_sent(f->o, out, h.code, "siot-ctl's worker ran out of memory");
			if (h.pos < f->g->n)
				finish(f, h.pos, h.code, out);
		}
		return false;
	}
	close(j->fd);
	while (waitpid(j->pid, &status, 0) < 0 && errno == EINTR)
		;
	j->pid = 0;
	if (j->reported < j->n) {
		/* Died before reporting them all: whether those requests left
		 * is unknown. */
		struct send_outcome *out = (struct send_outcome *)(j->rec + sizeof(struct record_head));
		char why[200];

		snprintf(why, sizeof(why),
			 "siot-ctl's worker for this device %s %d before it reported; the command "
			 "may have run",
			 WIFSIGNALED(status) ? "was killed by signal" : "exited with",
			 WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
		for (unsigned k = 0; k < j->n; k++) {
			if (f->res[j->pos[k]].done)
				continue;
			group_not_sent(f->o, out, 70, why);
			out[0].outcome = OUTCOME_ERROR;
			finish(f, j->pos[k], 70, out);
		}
	}
	return true;
}

/* Room for every pipe and connection of want devices at once (a pipe each
 * in the parent, a key file each in a broker's worker, and a few more):
 * the soft limit on open files raised toward the hard one.  Returns how
 * many devices may be in flight at once. */
#define SPARE_FILES 32
static unsigned fit_files(unsigned want)
{
	struct rlimit rl;
	rlim_t need = (rlim_t)want + SPARE_FILES;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= need)
		return want;
	rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need ? need : rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur >= need)
		return want;
	getrlimit(RLIMIT_NOFILE, &rl);
	want = rl.rlim_cur >= SPARE_FILES + 8 ? (unsigned)(rl.rlim_cur - SPARE_FILES) : 8;
	fprintf(stderr,
		"siot-ctl: warning: this process may open only %llu files (ulimit -n, hard limit "
		"%llu): at most %u devices at once\n",
		(unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max, want);
	return want;
}

/* The summary: how many devices, and how many of each outcome. */
static void summary(struct fan *f)
{
	bool first = true;

	if (f->o->quiet && f->failed == 0)
		return;
	fprintf(stderr, "siot-ctl: %s \"%s\", %u device%s:",
		target_is_pattern(f->g->name) ? "targets matching" : "group", f->g->name, f->g->n,
		f->g->n == 1 ? "" : "s");
	for (unsigned c = 0; c < 10; c++) {
		if (!f->count[c])
			continue;
		fprintf(stderr, "%s %u %s", first ? "" : ",", f->count[c], class_name[c]);
		first = false;
	}
	fprintf(stderr, " (%.1f s)\n", (double)(monotonic_msec() - f->t0) / 1000.0);
}

/* Run every job, at most slots at once. */
static void run_jobs(struct fan *f, struct job *jobs, unsigned n_jobs, unsigned slots)
{
	struct job **run = calloc(slots, sizeof(*run));
	struct pollfd *pfd = calloc(slots, sizeof(*pfd));
	unsigned next = 0, running = 0;

	if (!run || !pfd) {
		fprintf(stderr, "siot-ctl: out of memory\n");
		f->worst = 70;
		n_jobs = 0;
	}
	while (next < n_jobs || running) {
		for (unsigned k = 0; k < slots && next < n_jobs; k++) {
			int r;

			if (run[k])
				continue;
			if (!(jobs[next].rec = malloc(f->rec_size)))
				r = -ENOMEM;
			else
				r = start(f->o, f->g, &jobs[next], jobs, n_jobs);
			if (r < 0) {
				/* Out of processes: what is running finishes;
				 * the rest are not sent, and say so. */
				hide_progress(f);
				for (; next < n_jobs; next++)
					for (unsigned m = 0; m < jobs[next].n; m++)
						fprintf(stderr, "siot-ctl: %s: not sent: cannot start a "
								"worker: %s\n",
							target_group_member(f->g, jobs[next].pos[m]),
							strerror(-r));
				f->worst = 71;
				break;
			}
			run[k] = &jobs[next++];
			running++;
		}
		for (unsigned k = 0; k < slots; k++) {
			pfd[k].fd = run[k] ? run[k]->fd : -1;
			pfd[k].events = POLLIN;
			pfd[k].revents = 0;
		}
		if (!running)
			break;
		if (poll(pfd, slots, -1) < 0 && errno != EINTR) {
			fprintf(stderr, "siot-ctl: poll: %s\n", strerror(errno));
			f->worst = 71;
			break;
		}
		for (unsigned k = 0; k < slots; k++)
			if (pfd[k].revents && collect(f, run[k])) {
				/* The outcomes may hold a command's output. */
				sodium_memzero(run[k]->rec, f->rec_size);
				free(run[k]->rec);
				run[k]->rec = NULL;
				run[k] = NULL;
				running--;
			}
	}
	for (unsigned k = 0; run && k < slots; k++)
		if (run[k]) {
			if (run[k]->pid > 0) {
				close(run[k]->fd);
				waitpid(run[k]->pid, NULL, 0);
			}
			free(run[k]->rec);
		}
	free(run);
	free(pfd);
}

int cmd_send_group(const struct options *o, const struct target_group *g)
{
	struct fan f = { .o = o, .g = g };
	struct options lo = *o; /* with the parallelism the file limit allows */
	struct job *jobs = NULL;
	unsigned n_jobs = 0, slots, most = 0, *pos_block = NULL;
	int code;

	f.rec_size = group_record_size(o);
	f.res = calloc(g->n, sizeof(*f.res));
	if (!f.res) {
		fprintf(stderr, "siot-ctl: out of memory\n");
		code = 70;
		goto out;
	}
	if ((code = prepare(o, g, &jobs, &n_jobs, &pos_block)) != 0)
		goto out;
	/* In flight at once: workers in the parent, sessions in a broker's. */
	most = n_jobs;
	for (unsigned k = 0; k < n_jobs; k++)
		most = jobs[k].n > most ? jobs[k].n : most;
	most = fit_files((unsigned)o->parallel < most ? (unsigned)o->parallel : most);
	lo.parallel = (int)most;
	slots = most < n_jobs ? most : n_jobs;
	f.progress = !o->quiet && g->n > 1 && isatty(2);
	/* A reader that goes away (siot-ctl ... | head) must not kill the
	 * parent before every worker has been waited for. */
	signal(SIGPIPE, SIG_IGN);
	f.t0 = monotonic_msec();
	f.o = &lo;
	run_jobs(&f, jobs, n_jobs, slots ? slots : 1);
	hide_progress(&f);
	summary(&f);
	code = f.worst;
out:
	for (unsigned i = 0; f.res && i < g->n; i++)
		free(f.res[i].text);
	free(f.res);
	free(pos_block);
	free(jobs);
	return code;
}
