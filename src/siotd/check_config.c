/* SPDX-License-Identifier: MIT */
/*
 * siotd --check-config: load and resolve the configuration as siotd would,
 * print every problem, and, run as root, check each key file as the service
 * user would open it: a key root can read but the service user cannot
 * passes root's own check and then stops the service at its start.
 */
#include "check_config.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cfg.h"
#include "config.h"
#include "keyfile.h"
#include "keys.h"

#define CHECK_MAX_GROUPS 256

/* The key file of ck as siotd opens it. */
static void key_path(const struct config *c, const struct client_key *ck, char *out, size_t len)
{
	if (ck->file[0] == '/')
		snprintf(out, len, "%s", ck->file);
	else
		snprintf(out, len, "%s/%s", c->dir, ck->file);
}

/* Every key file, with its client: the check's list. */
struct key_ref {
	const struct client *cl;
	const struct client_key *ck;
};

static size_t key_files(const struct config *c, struct key_ref *out)
{
	size_t n = 0;

	for (size_t i = 0; i < c->n_clients; i++)
		for (size_t k = 0; k < c->clients[i].n_keys; k++)
			if (c->clients[i].keys[k].file)
				out[n++] = (struct key_ref){ &c->clients[i], &c->clients[i].keys[k] };
	return n;
}

/* In a child that has become pw (its groups, gid and uid), try to open each
 * key file for reading; the parent gets one errno (0: readable) per client
 * with a key file, and where access was denied, the length of the first
 * folder on the way that pw may not enter (0: none; the file itself).
 * Returns 0, or -1 when the check could not be made. */
static int read_as(const struct passwd *pw, const struct config *c, const struct key_ref *refs,
		   size_t n_refs, int *errs, int *closed)
{
	gid_t groups[CHECK_MAX_GROUPS];
	int n = CHECK_MAX_GROUPS, p[2], status;
	pid_t pid;

	if (getgrouplist(pw->pw_name, pw->pw_gid, groups, &n) < 0 || pipe(p) < 0)
		return -1;
	pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		close(p[0]);
		if (setgroups((size_t)n, groups) < 0 || setgid(pw->pw_gid) < 0 ||
		    setuid(pw->pw_uid) < 0)
			_exit(2);
		for (size_t i = 0; i < n_refs; i++) {
			char path[4096];
			int e = 0, shut = 0; /* shut: the length of a folder closed to us */

			key_path(c, refs[i].ck, path, sizeof(path));
			if (access(path, R_OK) < 0)
				e = errno;
			for (char *q = path + 1; e == EACCES && !shut && (q = strchr(q, '/')); q++) {
				*q = '\0';
				if (access(path, X_OK) < 0)
					shut = (int)(q - path);
				*q = '/';
			}
			if (write(p[1], &e, sizeof(e)) != sizeof(e) ||
			    write(p[1], &shut, sizeof(shut)) != sizeof(shut))
				_exit(2);
		}
		_exit(0);
	}
	close(p[1]);
	for (size_t i = 0; i < n_refs; i++) {
		if (read(p[0], &errs[i], sizeof(int)) != sizeof(int) ||
		    read(p[0], &closed[i], sizeof(int)) != sizeof(int)) {
			close(p[0]);
			waitpid(pid, NULL, 0);
			return -1;
		}
	}
	close(p[0]);
	return waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0
		       ? 0
		       : -1;
}

/* Each key file, as the service user would open it; the number of problems. */
static unsigned check_as_user(const struct config *c, const char *user, bool user_given)
{
	static struct key_ref refs[CONFIG_MAX_CLIENTS * CONFIG_MAX_KEYS];
	static int errs[CONFIG_MAX_CLIENTS * CONFIG_MAX_KEYS], closed[CONFIG_MAX_CLIENTS * CONFIG_MAX_KEYS];
	const struct passwd *pw = getpwnam(user);
	const struct group *g;
	unsigned problems = 0;
	size_t n = key_files(c, refs);

	if (n == 0)
		return 0; /* no key file to check */
	if (!pw) {
		printf("%s: note: there is no user \"%s\" here, so whether the service can read the "
		       "key files was not checked%s\n",
		       c->path, user, user_given ? "" : " (the packaged service runs as siot; give "
							"--user USER for another)");
		return 0;
	}
	if (pw->pw_uid == 0)
		return 0; /* root reads what root checked */
	if (read_as(pw, c, refs, n, errs, closed) < 0) {
		printf("%s: note: could not check the key files as user \"%s\": %s\n", c->path, user,
		       strerror(errno ? errno : EPERM));
		return 0;
	}
	g = getgrgid(pw->pw_gid);
	for (size_t i = 0; i < n; i++) {
		int line = refs[i].ck->line;
		char path[4096];
		struct stat st;

		if (errs[i] == 0)
			continue;
		key_path(c, refs[i].ck, path, sizeof(path));
		problems++;
		if (closed[i] > 0)
			fprintf(stderr,
				"%s:%d: %s: the service user %s cannot read it: the folder %.*s is "
				"closed to it; keep keys in /etc/siot/keys (root:siot, mode 0750)\n",
				c->path, line, path, user, closed[i], path);
		else if (stat(path, &st) == 0 && g)
			fprintf(stderr,
				"%s:%d: %s: the service user %s cannot read it (%s); fix: chgrp %s %s "
				"&& chmod 640 %s\n",
				c->path, line, path, user, strerror(errs[i]), g->gr_name, path, path);
		else
			fprintf(stderr, "%s:%d: %s: the service user %s cannot read it (%s)\n", c->path,
				line, path, user, strerror(errs[i]));
	}
	return problems;
}

int check_config(const char *path, const char *user)
{
	bool as_root = geteuid() == 0;
	const char *service_user = user ? user : CHECK_SERVICE_USER;
	const struct passwd *pw = as_root ? getpwnam(service_user) : NULL;
	const struct group *g = pw ? getgrgid(pw->pw_gid) : NULL;
	struct config *c;
	unsigned problems = 0;

	/* Fix hints name the service user's group, not root's. */
	if (g)
		keyfile_set_service_group(g->gr_name, g->gr_gid);
	keys_set_check_only(true);
	if (config_load_and_resolve(path, &c, cfg_print_problem, NULL) < 0)
		return 1;
	for (size_t i = 0; i < c->n_clients; i++)
		for (size_t k = 0; k < c->clients[i].n_keys; k++)
			if (c->clients[i].keys[k].credential && !c->clients[i].keys[k].key)
				printf("%s:%d: note: client \"%s\": key_credential \"%s\" comes from "
				       "$CREDENTIALS_DIRECTORY, which only systemd sets for the service "
				       "(LoadCredential=); it was not checked here\n",
				       path, c->clients[i].keys[k].line, c->clients[i].id,
				       c->clients[i].keys[k].credential);
	if (as_root)
		problems = check_as_user(c, service_user, user != NULL);
	else if (user)
		printf("%s: note: --user is checked only when run as root\n", path);
	if (problems == 0)
		printf("%s: OK (%zu client(s), %zu command(s), protocol %s)\n", path, c->n_clients,
		       c->n_commands, siot_profile_name(c->params.profile));
	config_unref(c);
	return problems ? 1 : 0;
}
