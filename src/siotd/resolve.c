/* SPDX-License-Identifier: MIT */
/*
 * config_resolve: what a parsed config refers to outside itself.  Keys are
 * read (and two clients sharing one refused), GPIO chips and lines are
 * found (and two names for one line refused), exec programs are checked,
 * and what the request decision needs is built: the dummy key and classic's
 * candidate list.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config_parse.h"
#include "keyfile.h"
#include "keys.h"
#include "mosq_dl.h"

static void resolve_keys(struct config *c, struct cfg_reader *r)
{
	/* Raw keys, kept (locked) only while resolving, to refuse a shared one. */
	size_t total = 0, k = 0;
	uint8_t *raw;
	size_t *len;
	const struct client **owner;
	char err[512];

	for (size_t i = 0; i < c->n_clients; i++)
		total += c->clients[i].n_keys;
	raw = sodium_malloc((total ? total : 1) * SIOT_MAX_KEY);
	len = config_xcalloc(total + 1, sizeof(*len));
	owner = config_xcalloc(total + 1, sizeof(*owner));
	if (!raw)
		abort();
	for (size_t i = 0; i < c->n_clients; i++) {
		struct client *cl = &c->clients[i];

		for (size_t n = 0; n < cl->n_keys; n++, k++) {
			struct client_key *ck = &cl->keys[n];
			uint8_t *mine = raw + k * SIOT_MAX_KEY;
			int rk = keys_read(c->dir, ck->file, ck->credential, mine, &len[k], err,
					   sizeof(err));

			owner[k] = cl;
			if (rk < 0) {
				if (rk != -ENODATA) /* not checked: --check-config says so */
					cfg_report_line(r, ck->line, "%s", err);
				len[k] = 0;
				continue;
			}
			for (size_t j = 0; j < k; j++) {
				if (len[j] != len[k] ||
				    sodium_memcmp(raw + j * SIOT_MAX_KEY, mine, len[k]) != 0)
					continue;
				if (owner[j] == cl)
					cfg_report_line(r, ck->line,
							"client \"%s\" has this key twice", cl->id);
				else
					cfg_report_line(r, cl->line,
							"clients \"%s\" and \"%s\" share a key: give each "
							"client its own",
							owner[j]->id, cl->id);
			}
			ck->key = keys_new(c->params.hash, mine, len[k]);
			keyfile_fingerprint(mine, len[k], ck->fingerprint);
		}
	}
	sodium_free(raw); /* wipes */
	free(len);
	free(owner);
	c->dummy_key = keys_new_dummy(c->params.hash);
}

static void resolve_lines(struct config *c, struct cfg_reader *r)
{
	char err[512];

	for (size_t i = 0; i < c->n_lines; i++) {
		struct gpio_line_decl *d = &c->lines[i];

		if (!d->spec_line)
			continue; /* no chip or no line: config_load reported it */
		if (gpio_resolve(d->chip, d->line_name, d->offset, &d->chip_path, &d->offset, err,
				 sizeof(err)) < 0) {
			cfg_report_line(r, d->spec_line, "line \"%s\": %s", d->name, err);
			continue;
		}
		for (size_t j = 0; j < i; j++)
			if (c->lines[j].chip_path && !strcmp(c->lines[j].chip_path, d->chip_path) &&
			    c->lines[j].offset == d->offset)
				cfg_report_line(r, d->source_line,
						"lines \"%s\" and \"%s\" are the same GPIO line (%s %u)",
						c->lines[j].name, d->name, d->chip_path, d->offset);
	}
}

static void resolve_programs(struct config *c, struct cfg_reader *r)
{
	for (size_t i = 0; i < c->n_commands; i++) {
		const struct command *cmd = &c->commands[i];

		if (cmd->kind == ACTION_EXEC && cmd->exec_line && access(cmd->argv[0], X_OK) < 0)
			cfg_report_line(r, cmd->exec_line, "exec: %s: %s", cmd->argv[0],
					strerror(errno));
	}
}

unsigned long config_fd_need(const struct config *c, unsigned *scripts)
{
	unsigned long n = 0;

	for (size_t i = 0; i < c->n_commands; i++)
		if (c->commands[i].kind == ACTION_EXEC)
			n += c->commands[i].concurrency;
	if (scripts)
		*scripts = (unsigned)n;
	return c->max_connections + 4 * n + c->n_lines + 32;
}

/* The open-file limit must cover what the config may need at once, or
 * accept() would fail with EMFILE under load. */
static void resolve_fd_budget(struct config *c, struct cfg_reader *r)
{
	unsigned scripts;
	unsigned long need = config_fd_need(c, &scripts);
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY ||
	    need <= rl.rlim_cur)
		return;
	if (rl.rlim_max == RLIM_INFINITY || need <= rl.rlim_max) {
		struct rlimit raised = { .rlim_cur = need, .rlim_max = rl.rlim_max };
		if (setrlimit(RLIMIT_NOFILE, &raised) == 0)
			return;
	}
	cfg_report_line(r, c->max_connections_line,
			"max_connections (%u) + 4 x %u scripts that may run at once + %zu GPIO "
			"line(s) + 32 = %lu file descriptors, more than this process may open "
			"(%llu, hard limit %llu); lower max_connections or concurrency, or raise "
			"LimitNOFILE= in the unit",
			c->max_connections, scripts, c->n_lines, need, (unsigned long long)rl.rlim_cur,
			(unsigned long long)rl.rlim_max);
}

static void build_classic(struct config *c)
{
	struct classic_candidates *k = &c->classic;
	size_t n = 0;

	for (size_t i = 0; i < c->n_clients; i++)
		n += c->clients[i].n_commands * c->clients[i].n_keys;
	k->candidates = config_xcalloc(n + 1, sizeof(*k->candidates));
	k->client = config_xcalloc(n + 1, sizeof(*k->client));
	k->command = config_xcalloc(n + 1, sizeof(*k->command));
	k->key = config_xcalloc(n + 1, sizeof(*k->key));
	for (size_t i = 0; i < c->n_clients; i++) {
		const struct client *cl = &c->clients[i];

		for (size_t key = 0; key < cl->n_keys; key++) {
			if (!cl->keys[key].key)
				continue;
			for (size_t j = 0; j < cl->n_commands; j++) {
				k->candidates[k->n] =
					(struct siot_candidate){ cl->keys[key].key, cl->commands[j] };
				k->client[k->n] = cl;
				k->command[k->n] = cl->allowed[j];
				k->key[k->n] = &cl->keys[key];
				k->n++;
			}
		}
	}
}

/* The broker's files: the password file checked and read as a key file is
 * (then wiped: siotd reads it again when it connects), the TLS key file's
 * permissions, and the CA and certificate files readable. */
static void resolve_mqtt(struct config *c, struct cfg_reader *r)
{
	const struct mqtt_config *m = c->mqtt;
	/* (Files that config_load already refused are not looked at.) */
	const char *const readable[] = { m && m->tls ? m->ca_file : NULL,
					 m && m->tls ? m->tls_cert_file : NULL };
	char err[600], password[256];
	struct stat st;

	if (!m)
		return;
	if (mosq_dl_load(err, sizeof(err)) < 0)
		cfg_report_line(r, m->line, "mqtt: %s", err);
	if (m->password_file && m->username) {
		if (keyfile_load_password(m->password_file, KEYFILE_DAEMON, password, sizeof(password),
					  err, sizeof(err)) < 0)
			cfg_report_line(r, m->line, "mqtt: %s", err);
		sodium_memzero(password, sizeof(password));
	}
	if (m->tls && m->tls_key_file) {
		if (stat(m->tls_key_file, &st) < 0)
			cfg_report_line(r, m->line, "mqtt: %s: %s", m->tls_key_file, strerror(errno));
		else if (keyfile_check(&st, m->tls_key_file, KEYFILE_DAEMON, err, sizeof(err)) < 0)
			cfg_report_line(r, m->line, "mqtt: %s", err);
	}
	for (size_t i = 0; i < sizeof(readable) / sizeof(readable[0]); i++)
		if (readable[i] && access(readable[i], R_OK) < 0)
			cfg_report_line(r, m->line, "mqtt: %s: %s", readable[i], strerror(errno));
}

int config_resolve(struct config *c, struct cfg_reader *r)
{
	unsigned before = r->errors;

	resolve_keys(c, r);
	resolve_lines(c, r);
	resolve_programs(c, r);
	resolve_fd_budget(c, r);
	resolve_mqtt(c, r);
	build_classic(c);
	return r->errors > before ? -EINVAL : 0;
}

int config_load_and_resolve(const char *path, struct config **out, cfg_report_fn report, void *userdata)
{
	struct cfg_reader r;
	struct config *c;

	cfg_reader_init(&r, path);
	if (config_load(path, &c, &r) == 0)
		config_resolve(c, &r);
	if (cfg_reader_flush(&r, report, userdata) > 0) {
		config_unref(c);
		*out = NULL;
		return -EINVAL;
	}
	*out = c;
	return 0;
}
