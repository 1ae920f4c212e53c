/* SPDX-License-Identifier: MIT */
/*
 * Script actions: fork + execve of the fixed argv from the config.  No
 * shell, an exact environment, stdin from /dev/null, its own process group
 * and, under systemd with Delegate=yes, its own cgroup (cgroup.h); a time
 * limit; when the script ends or its time is up, everything it started is
 * killed (the cgroup, else the process group).  Stdout is captured up to a
 * bound (and drained past it so the script never blocks), stderr logged.
 */
#include "action.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "usec.h"

#define KILL_GRACE_USEC (2 * USEC_PER_SEC) /* SIGTERM, then SIGKILL after this */
#define STDERR_MAX_LINES 64
#define STDERR_LINE_MAX 512
#define DEFAULT_PATH "PATH=/usr/sbin:/usr/bin:/sbin:/bin"

struct script_run {
	struct actions *owner;
	char *name;
	pid_t pid;
	sd_event_source *child, *out_src, *err_src, *timer;
	int out_fd, err_fd, status_fd;
	uint8_t *out;
	size_t out_len, out_max;
	char err_line[STDERR_LINE_MAX];
	size_t err_len;
	unsigned err_lines;
	bool timed_out, killed;
	action_done_fn done;
	void *userdata;
	bool counted;          /* in owner->n_running */
	char cgroup[24];       /* its own cgroup, or "" (the process group alone) */
	struct list_node node; /* in owner->scripts */
};

/* Count the run out of its owner's running actions (once). */
static void uncount(struct script_run *a)
{
	if (!a->counted)
		return;
	a->counted = false;
	a->owner->n_running--;
}

static void close_source(sd_event_source **s, int *fd)
{
	*s = sd_event_source_disable_unref(*s);
	if (fd && *fd >= 0) {
		close(*fd);
		*fd = -1;
	}
}

static void free_action(struct script_run *a)
{
	close_source(&a->out_src, &a->out_fd);
	close_source(&a->err_src, &a->err_fd);
	close_source(&a->timer, NULL);
	close_source(&a->child, NULL);
	if (a->status_fd >= 0)
		close(a->status_fd);
	list_del(&a->node);
	uncount(a);
	if (a->out)
		sodium_memzero(a->out, a->out_max); /* the output was sent sealed */
	free(a->out);
	free(a->name);
	free(a);
}

static void flush_err_line(struct script_run *a)
{
	if (a->err_len == 0)
		return;
	a->err_line[a->err_len] = '\0';
	if (a->err_lines < STDERR_MAX_LINES)
		log_info("command %s[%d] stderr: %s", a->name, (int)a->pid, a->err_line);
	else if (a->err_lines == STDERR_MAX_LINES)
		log_info("command %s[%d]: further stderr not logged", a->name, (int)a->pid);
	a->err_lines++;
	a->err_len = 0;
}

/* Read what a pipe has; returns false at EOF or error (the source is done). */
static bool drain(struct script_run *a, int fd, bool is_stdout)
{
	uint8_t buf[4096];

	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN;
		if (n == 0)
			return false;
		if (is_stdout) {
			size_t keep = a->out_max - a->out_len;
			if (keep > (size_t)n)
				keep = (size_t)n;
			memcpy(a->out + a->out_len, buf, keep);
			a->out_len += keep; /* the rest is read and dropped */
		} else {
			for (ssize_t i = 0; i < n; i++) {
				char c = (char)buf[i];
				if (c == '\n' || a->err_len == STDERR_LINE_MAX - 1)
					flush_err_line(a);
				if (c != '\n')
					a->err_line[a->err_len++] = (c >= 0x20 && c != 0x7f) ? c : '?';
			}
		}
	}
}

static int on_output(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct script_run *a = userdata;
	bool is_stdout = s == a->out_src;

	(void)revents;
	if (!drain(a, fd, is_stdout)) {
		if (is_stdout)
			close_source(&a->out_src, &a->out_fd);
		else {
			flush_err_line(a);
			close_source(&a->err_src, &a->err_fd);
		}
	}
	return 0;
}

/* SIGKILL everything the script started: its cgroup when it has one (which
 * setsid cannot leave), and its process group either way. */
static void kill_everything(struct script_run *a)
{
	if (a->cgroup[0] && cgroups_kill(a->owner->cg, a->cgroup) < 0)
		log_warn("command %s[%d]: cannot kill its cgroup %s", a->name, (int)a->pid,
			 a->cgroup);
	kill(-a->pid, SIGKILL);
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct script_run *a = userdata;

	(void)usec;
	if (!a->timed_out) {
		a->timed_out = true;
		log_warnx("command %s[%d] ran past its time limit: SIGTERM to its process group",
			  a->name, (int)a->pid);
		kill(-a->pid, SIGTERM);
		sd_event_source_set_time_relative(s, KILL_GRACE_USEC);
		sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
	} else {
		log_warnx("command %s[%d] still running: SIGKILL to all it started", a->name,
			  (int)a->pid);
		kill_everything(a);
	}
	return 0;
}

static int on_child_exit(sd_event_source *s, const siginfo_t *si, void *userdata)
{
	struct script_run *a = userdata;
	struct action_result r = { .status = SIOT_STATUS_ERROR };
	char note[96];
	int exec_errno = 0;
	ssize_t n;

	(void)s;
	/* Whatever the script wrote before it ended is in the pipes now. */
	if (a->out_fd >= 0)
		drain(a, a->out_fd, true);
	if (a->err_fd >= 0) {
		drain(a, a->err_fd, false);
		flush_err_line(a);
	}
	n = read(a->status_fd, &exec_errno, sizeof(exec_errno));
	/* The leader is gone (a zombie until this returns); nothing it left
	 * behind may go on running outside the count of running actions. */
	kill_everything(a);

	if (n == (ssize_t)sizeof(exec_errno)) {
		r.status = SIOT_STATUS_ERROR;
		snprintf(note, sizeof(note), "could not start: %s", strerror(exec_errno));
	} else if (a->timed_out) {
		r.status = SIOT_STATUS_TIMEOUT;
		snprintf(note, sizeof(note), "stopped at its time limit");
	} else if (si->si_code == CLD_EXITED) {
		r.result = (uint8_t)si->si_status;
		r.status = si->si_status == 0 ? SIOT_STATUS_OK : SIOT_STATUS_FAILED;
		snprintf(note, sizeof(note), "exit %d", si->si_status);
	} else {
		r.result = (uint8_t)(128 + si->si_status);
		r.status = a->killed ? SIOT_STATUS_ERROR : SIOT_STATUS_FAILED;
		snprintf(note, sizeof(note), "killed by signal %d", si->si_status);
	}
	if (r.status == SIOT_STATUS_OK || r.status == SIOT_STATUS_FAILED) {
		r.output = a->out;
		r.output_len = a->out_len;
	}
	r.note = note;
	uncount(a); /* before done: whoever waits for the last action sees it gone */
	a->done(a->userdata, &r);
	free_action(a);
	return 0;
}

static char *env_entry(const char *name, const char *value)
{
	char *e;
	return asprintf(&e, "%s=%s", name, value) < 0 ? NULL : e;
}

static void free_env(char **env);

/* Build the exact environment: PATH (unless the command sets it), SIOT_*,
 * then the command's own. */
static char **make_env(const struct command *cmd, const struct action_context *ctx)
{
	size_t n = 0, k = 0;
	char **env;
	bool has_path = false, ok = true;

	while (cmd->env[n]) {
		if (strncmp(cmd->env[n], "PATH=", 5) == 0)
			has_path = true;
		n++;
	}
	env = calloc(n + 5, sizeof(char *));
	if (!env)
		return NULL;
	if (!has_path)
		ok = ok && (env[k++] = strdup(DEFAULT_PATH));
	ok = ok && (env[k++] = env_entry("SIOT_COMMAND", cmd->name));
	ok = ok && (env[k++] = env_entry("SIOT_CLIENT", ctx->client_id));
	ok = ok && (env[k++] = env_entry("SIOT_PEER", ctx->peer));
	for (size_t i = 0; ok && i < n; i++)
		ok = (env[k++] = strdup(cmd->env[i])) != NULL;
	if (!ok) {
		free_env(env);
		return NULL;
	}
	return env;
}

static void free_env(char **env)
{
	for (size_t i = 0; env && env[i]; i++)
		free(env[i]);
	free(env);
}

/* In the child: join the script's cgroup (cg_fd: its cgroup.procs, or
 * -1), set up fds and signals, exec, or report errno on fd 3. */
__attribute__((noreturn)) static void child(const struct command *cmd, char **env, int out_w,
					    int err_w, int status_w, int cg_fd)
{
	sigset_t none;
	int null_fd, e;

	if (cg_fd >= 0 && write(cg_fd, "0", 1) != 1) {
		e = errno;
		(void)!write(status_w, &e, sizeof(e));
		_exit(127);
	}
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			signal(sig, SIG_DFL);
	setpgid(0, 0);
	null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null_fd < 0 || dup2(null_fd, 0) < 0 || dup2(out_w >= 0 ? out_w : null_fd, 1) < 0 ||
	    dup2(err_w, 2) < 0 || dup2(status_w, 3) < 0)
		goto fail;
	fcntl(3, F_SETFD, FD_CLOEXEC);
	close_range(4, ~0U, 0);
	execve(cmd->argv[0], cmd->argv, env);
fail:
	e = errno;
	(void)!write(3, &e, sizeof(e));
	_exit(127);
}

static void close_pipes(int p[3][2])
{
	for (int k = 0; k < 3; k++)
		for (int i = 0; i < 2; i++)
			if (p[k][i] >= 0)
				close(p[k][i]);
}

/* Fork the script with pipes for stdout (when kept), stderr and the exec
 * status; the parent keeps the read ends, non-blocking.  0 or -errno. */
static int spawn(struct script_run *a, const struct command *cmd, char **env)
{
	int p[3][2] = { { -1, -1 }, { -1, -1 }, { -1, -1 } }; /* out, err, status */
	int cg_fd = -1, r;

	if (cgroups_enabled(a->owner->cg)) {
		cg_fd = cgroups_new(a->owner->cg, a->cgroup, sizeof(a->cgroup));
		if (cg_fd < 0) {
			errno = -cg_fd;
			log_warn("command %s: no cgroup of its own; only its process group will be "
				 "killed", cmd->name);
			a->cgroup[0] = '\0';
		}
	}
	if ((cmd->output && pipe2(p[0], O_CLOEXEC) < 0) || pipe2(p[1], O_CLOEXEC) < 0 ||
	    pipe2(p[2], O_CLOEXEC) < 0) {
		r = -errno;
		goto fail;
	}
	a->pid = fork();
	if (a->pid < 0) {
		r = -errno;
		goto fail;
	}
	if (a->pid == 0)
		child(cmd, env, p[0][1], p[1][1], p[2][1], cg_fd);
	if (cg_fd >= 0)
		close(cg_fd);
	setpgid(a->pid, a->pid); /* also done by the child: no race either way */
	for (int k = 0; k < 3; k++) {
		if (p[k][1] >= 0)
			close(p[k][1]);
		if (p[k][0] >= 0)
			fcntl(p[k][0], F_SETFL, O_NONBLOCK);
	}
	a->out_fd = p[0][0];
	a->err_fd = p[1][0];
	a->status_fd = p[2][0];
	return 0;

fail:
	close_pipes(p);
	if (cg_fd >= 0) {
		close(cg_fd);
		cgroups_remove(a->owner->cg, a->cgroup);
	}
	return r;
}

/* Watch the running script: its pipes, its time limit, its exit. */
static int watch_run(struct script_run *a, uint64_t timeout_usec)
{
	sd_event *e = a->owner->event;
	int r = 0;

	if (a->out_fd >= 0)
		r = sd_event_add_io(e, &a->out_src, a->out_fd, EPOLLIN, on_output, a);
	if (r >= 0)
		r = sd_event_add_io(e, &a->err_src, a->err_fd, EPOLLIN, on_output, a);
	if (r >= 0)
		r = sd_event_add_time(e, &a->timer, CLOCK_MONOTONIC,
				      monotonic_usec() + timeout_usec, ACCURACY_ACTION_USEC, on_timer,
				      a);
	if (r >= 0)
		r = sd_event_add_child(e, &a->child, a->pid, WEXITED, on_child_exit, a);
	return r < 0 ? r : 0;
}

int action_exec_start(struct actions *owner, const struct command *cmd,
		      const struct action_context *ctx, action_done_fn done, void *userdata)
{
	struct script_run *a = calloc(1, sizeof(*a));
	char **env = make_env(cmd, ctx);
	int r = -ENOMEM;

	if (!a || !env)
		goto fail;
	a->owner = owner;
	list_init(&a->node);
	a->done = done;
	a->userdata = userdata;
	a->out_fd = a->err_fd = a->status_fd = -1;
	a->name = strdup(cmd->name);
	a->out_max = cmd->output ? ctx->output_max : 0;
	a->out = malloc(a->out_max ? a->out_max : 1);
	if (!a->name || !a->out || (r = spawn(a, cmd, env)) < 0)
		goto fail;
	free_env(env);
	a->counted = true;
	owner->n_running++;
	list_add(&owner->scripts, &a->node);
	r = watch_run(a, cmd->timeout_usec);
	if (r < 0) {
		/* The process exists but cannot be watched: stop it and reap it. */
		kill(-a->pid, SIGKILL);
		waitpid(a->pid, NULL, 0);
		free_action(a);
		return r;
	}
	log_debug("command %s started as pid %d", cmd->name, (int)a->pid);
	return 0;

fail:
	free_env(env);
	if (a) {
		free(a->out);
		free(a->name);
	}
	free(a);
	return r;
}

void action_exec_kill_all(struct actions *owner)
{
	struct list_node *n, *tmp;

	list_for_each_safe(n, tmp, &owner->scripts) {
		struct script_run *a = list_entry(n, struct script_run, node);
		a->killed = true;
		kill_everything(a);
	}
}
