/* SPDX-License-Identifier: MIT */
/*
 * The daemon's life: everything in struct daemon made in order
 * (daemon_init) and taken down in the mirror order (daemon_finish), the
 * listening sockets, reload on SIGHUP, stop on SIGTERM and SIGINT, and the
 * unit's STATUS=.
 */
#include "daemon.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "conn.h"
#include "conn_stream.h"
#include "mqtt.h"
#include "siot.h"
#include "usec.h"

/* Config problems: "file:line: message", to the log. */
static void report_log(void *userdata, const char *file, int line, const char *msg)
{
	(void)userdata;
	if (line > 0)
		log_error("%s:%d: %s", file, line, msg);
	else
		log_error("%s: %s", file, msg);
}

void daemon_notify_status(const struct daemon *d)
{
	const char *mqtt = mqtt_status(d);

	sd_notifyf(0, "STATUS=Serving %zu client(s), %zu command(s) as device %s (%s) on %zu "
		      "socket(s)%s%s",
		   d->config->n_clients, d->config->n_commands, d->config->device_id,
		   siot_profile_name(d->config->params.profile), d->n_listen, *mqtt ? "; " : "",
		   mqtt);
}

/* Request or adjust the GPIO lines a configuration declares. */
static bool apply_lines(struct daemon *d, const struct config *c)
{
	char err[512];

	if (gpio_apply(d->gpio, c->lines, c->n_lines, err, sizeof(err)) < 0) {
		log_error("%s: %s", c->path, err);
		return false;
	}
	return true;
}

static int on_reload(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
	struct daemon *d = userdata;
	struct config *next = NULL;

	(void)s;
	(void)si;
	sd_notify(0, "RELOADING=1");
	log_info("reloading %s", d->config_path);
	if (config_load_and_resolve(d->config_path, &next, report_log, NULL) < 0 || !apply_lines(d, next)) {
		config_unref(next);
		log_error("reload failed: still serving the previous configuration");
		sd_notify(0, "READY=1\nSTATUS=Reload failed; serving the previous configuration");
		return 0;
	}
	config_unref(d->config);
	d->config = next;
	gpio_release_undeclared(d->gpio, next->lines, next->n_lines);
	mqtt_reloaded(d);
	log_info("reloaded: %zu client(s), %zu command(s)", next->n_clients, next->n_commands);
	sd_notify(0, "READY=1");
	daemon_notify_status(d);
	return 0;
}

/* While stopping, after every loop iteration: exit once nothing is left. */
static int on_stop_check(sd_event_source *s, void *userdata)
{
	struct daemon *d = userdata;

	(void)s;
	if (d->n_conns == 0 && d->actions.n_running == 0)
		sd_event_exit(d->event, 0);
	return 0;
}

static int on_stop(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
	struct daemon *d = userdata;
	int r;

	(void)s;
	if (d->stopping) {
		log_info("second stop signal: killing %u running action(s)", d->actions.n_running);
		actions_kill_all(&d->actions);
		conn_close_idle(d);
		return 0;
	}
	d->stopping = true;
	sd_notify(0, "STOPPING=1");
	log_info("stopping on signal %u: %u connection(s), %u action(s) to finish", si->ssi_signo,
		 d->n_conns, d->actions.n_running);
	for (size_t i = 0; i < d->n_listen; i++) {
		d->listen_src[i] = sd_event_source_disable_unref(d->listen_src[i]);
		close(d->listen_fds[i]);
	}
	d->n_listen = 0;
	conn_close_idle(d);
	r = sd_event_add_post(d->event, &d->stop_check, on_stop_check, d);
	if (r < 0) {
		errno = -r;
		log_warn("cannot wait for running actions; exiting now");
		sd_event_exit(d->event, 0);
	}
	return on_stop_check(NULL, d); /* perhaps nothing is left already */
}

static int on_log_flush(sd_event_source *s, uint64_t usec, void *userdata)
{
	(void)userdata;
	log_flush_summaries(usec);
	sd_event_source_set_time(s, usec + LOG_SUMMARY_USEC / 5);
	sd_event_source_set_enabled(s, SD_EVENT_ON);
	return 0;
}

/* The listening sockets: systemd's, else --listen, else the config's. */
static int open_listeners(struct daemon *d, const struct daemon_settings *o)
{
	const char *const *specs = o->listen;
	size_t count = o->n_listen;
	int passed = 0, n = listen_from_systemd(d->listen_fds, LISTEN_MAX_FDS, &passed);

	if (n < 0)
		return n; /* logged */
	d->n_listen = (size_t)n;
	if (d->n_listen > 0) {
		log_info("using %zu socket(s) from systemd", d->n_listen);
		return 0;
	}
	if (passed > 0) {
		/* Started by a socket unit whose sockets are all wrong: listening
		 * on addresses of our own instead would surprise its owner. */
		log_error("systemd passed %d socket(s) and none is a listening stream socket; "
			  "check the socket unit (ListenStream=)",
			  passed);
		return -EBADF;
	}
	if (count == 0) {
		specs = (const char *const *)d->config->listen;
		while (d->config->listen[count])
			count++;
	}
	for (size_t i = 0; i < count && i < LISTEN_MAX_FDS; i++) {
		char err[256];
		int fd = listen_open(specs[i], err, sizeof(err));

		if (fd < 0) {
			log_error("cannot listen: %s", err);
			return fd;
		}
		log_info("listening on %s", specs[i]);
		d->listen_fds[d->n_listen++] = fd;
	}
	if (d->n_listen == 0 && !d->config->mqtt) {
		log_error("no socket to listen on");
		return -ENOTSOCK;
	}
	return 0;
}

/* A failed step of daemon_init: r (a negative errno) with a line. */
static int fail(int r, const char *what)
{
	errno = -r;
	log_warn("%s", what);
	return r;
}

/* The loop's sources: signals, the watchdog, the log's flush, the
 * deadlines and the listening sockets. */
static int add_sources(struct daemon *d)
{
	int r;

	if ((r = sd_event_add_signal(d->event, NULL, SIGTERM, on_stop, d)) < 0 ||
	    (r = sd_event_add_signal(d->event, NULL, SIGINT, on_stop, d)) < 0 ||
	    (r = sd_event_add_signal(d->event, NULL, SIGHUP, on_reload, d)) < 0 ||
	    (r = sd_event_set_watchdog(d->event, 1)) < 0 ||
	    (r = sd_event_add_time_relative(d->event, &d->log_flush, CLOCK_MONOTONIC,
					    LOG_SUMMARY_USEC / 5, USEC_PER_SEC, on_log_flush, d)) < 0 ||
	    (r = conn_deadlines_init(d)) < 0)
		return fail(r, "cannot set up signals, timers and the watchdog");
	for (size_t i = 0; i < d->n_listen; i++) {
		r = sd_event_add_io(d->event, &d->listen_src[i], d->listen_fds[i], EPOLLIN,
				    conn_stream_on_listen, d);
		if (r < 0)
			return fail(r, "cannot watch a listening socket");
	}
	return 0;
}

static void mqtt_status_changed(void *userdata)
{
	daemon_notify_status(userdata);
}

int daemon_init(struct daemon *d, const struct daemon_settings *o)
{
	sigset_t mask;
	int r;

	*d = (struct daemon){ .config_path = o->config_path, .cg = { .dir = -1 } };
	list_init(&d->conns);
	randpool_init(&d->challenges);
	log_init(&d->log, o->debug);
	/* Signals arrive through sd-event, so they are blocked here.  Children
	 * inherit the mask; action_exec.c clears it before execve. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);

	if ((r = config_load_and_resolve(d->config_path, &d->config, report_log, NULL)) < 0) {
		log_error("refusing to start: fix the configuration (siotd --check-config -c %s)",
			  d->config_path);
		return r;
	}
	/* The sim chip's folder is read once, here. */
	if (!(d->gpio = gpio_registry_new(getenv("SIOTD_GPIO_SIM_DIR"))))
		return fail(-ENOMEM, "cannot set up GPIO");
	if (!apply_lines(d, d->config)) {
		log_error("refusing to start: the GPIO lines cannot be requested");
		return -ENODEV;
	}
	if ((r = open_listeners(d, o)) < 0)
		return r;
	if (!(d->limits = limiter_new()))
		return fail(-ENOMEM, "cannot set up the limiter");
	/* Not sd_event_default(): it checks its thread with a gettid() on
	 * every iteration. */
	if ((r = sd_event_new(&d->event)) < 0)
		return fail(r, "cannot set up the event loop");
	if ((r = cgroups_init(&d->cg, d->event)) < 0) {
		errno = -r;
		log_warn("cannot set up the delegated cgroup; scripts run in process groups only");
	} else if (cgroups_enabled(&d->cg)) {
		log_info("scripts run in cgroups of their own");
	}
	actions_init(&d->actions, d->event, d->gpio, &d->cg);
	if ((r = add_sources(d)) < 0)
		return r;
	if ((r = mqtt_start(d, mqtt_status_changed, d)) < 0) {
		log_error("refusing to start: the broker connection cannot be set up");
		return r;
	}
	return 0;
}

/* The mirror of daemon_init, also after it failed part of the way. */
void daemon_finish(struct daemon *d)
{
	mqtt_stop(d);
	for (size_t i = 0; i < d->n_listen; i++) {
		sd_event_source_disable_unref(d->listen_src[i]);
		close(d->listen_fds[i]);
	}
	sd_event_source_disable_unref(d->stop_check);
	sd_event_source_disable_unref(d->accept_retry);
	sd_event_source_disable_unref(d->log_flush);
	sd_event_source_disable_unref(d->deadlines);
	randpool_wipe(&d->challenges);
	cgroups_finish(&d->cg);
	sd_event_unref(d->event);
	limiter_free(d->limits);
	gpio_registry_free(d->gpio);
	config_unref(d->config);
}

void daemon_ready(const struct daemon *d, const char *version)
{
	log_info("siotd %s ready: device %s, protocol %s, %zu client(s), %zu command(s)",
		 version, d->config->device_id, siot_profile_name(d->config->params.profile),
		 d->config->n_clients, d->config->n_commands);
	sd_notify(0, "READY=1");
	daemon_notify_status(d);
}
