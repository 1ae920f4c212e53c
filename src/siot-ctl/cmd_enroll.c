/* SPDX-License-Identifier: MIT */
/*
 * siot-ctl enroll NAME -H HOST [-p PORT] -i ID [-D DEVICE] [--force]
 * [--new-key]: one step for a new device.  A key beside the client
 * configuration, a target block added to that file as text (its other text
 * and comments kept as they are), and the device-side steps printed, ready
 * to paste.
 *
 * All or nothing: a new key goes to a file no target names yet, and the
 * configuration is replaced by one rename after the new text has read back
 * with the target in it; a failure before that removes the new key and
 * leaves the file as it was.  The target is found by its name setting, as
 * libconfig reads it, never by searching the text.  A symlinked
 * configuration is edited where the link points.
 */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libconfig.h>

#include "commands.h"
#include "send.h"

#define ENROLL_MAX_FILE (1024 * 1024)

/* The whole file, NUL-terminated, in *text (NULL and 0 when it does not
 * exist).  Returns 0 or an exit status after a message. */
static int read_text(const char *path, char **text, size_t *len, mode_t *mode)
{
	struct stat st;
	FILE *f = fopen(path, "re");

	*text = NULL;
	*len = 0;
	if (!f)
		return errno == ENOENT ? 0 : (fprintf(stderr, "siot-ctl: %s: %s\n", path,
						      strerror(errno)),
					      EXIT_CONFIG);
	if (fstat(fileno(f), &st) < 0 || st.st_size > ENROLL_MAX_FILE) {
		fprintf(stderr, "siot-ctl: %s: not a configuration siot-ctl will edit\n", path);
		fclose(f);
		return EXIT_CONFIG;
	}
	*mode = st.st_mode & 0777;
	*text = calloc(1, (size_t)st.st_size + 1);
	if (!*text || fread(*text, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
		fprintf(stderr, "siot-ctl: reading %s: %s\n", path, strerror(errno ? errno : EIO));
		free(*text);
		*text = NULL;
		fclose(f);
		return EXIT_CONFIG;
	}
	*len = (size_t)st.st_size;
	fclose(f);
	return 0;
}

/* Offset of the start of line (1-based) in text. */
static size_t line_start(const char *text, int line)
{
	size_t i = 0;

	for (int l = 1; l < line && text[i]; i++)
		if (text[i] == '\n')
			l++;
	return i;
}

/* From text[open], an opening bracket, to its closing one, skipping
 * strings and comments.  Returns the closing bracket's offset (or -1), and
 * in *last the offset of the last character before it that is not space
 * or comment. */
static long match_close(const char *text, size_t open, long *last)
{
	int depth = 0;

	*last = (long)open;
	for (size_t i = open; text[i]; i++) {
		char c = text[i];

		if (c == '"') {
			for (i++; text[i] && text[i] != '"'; i++)
				if (text[i] == '\\' && text[i + 1])
					i++;
			*last = (long)i;
			continue;
		}
		if (c == '#' || (c == '/' && text[i + 1] == '/')) {
			while (text[i + 1] && text[i + 1] != '\n')
				i++;
			continue;
		}
		if (c == '/' && text[i + 1] == '*') {
			char *end = strstr(text + i + 2, "*/");
			if (!end)
				return -1;
			i = (size_t)(end - text) + 1;
			continue;
		}
		if (c == '(' || c == '[' || c == '{')
			depth++;
		else if (c == ')' || c == ']' || c == '}') {
			if (--depth == 0)
				return (long)i;
		}
		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			*last = (long)i;
	}
	return -1;
}

/* A file beside path (same folder, so a rename can replace it). */
static int sibling(char *out, size_t n, const char *path, const char *fmt, const char *arg)
{
	const char *slash = strrchr(path, '/');
	int dir = slash ? (int)(slash - path) + 1 : 0;
	char name[256];
	int r;

	snprintf(name, sizeof(name), fmt, arg);
	r = snprintf(out, n, "%.*s%s", dir, path, name);
	return r < 0 || (size_t)r >= n ? -1 : 0;
}

/* text to a new file tmp (mode), synced: 0 or an exit status. */
static int write_new(const char *tmp, const char *text, mode_t mode)
{
	size_t n = strlen(text);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);

	if (fd < 0 || fchmod(fd, mode) < 0 || write(fd, text, n) != (ssize_t)n || fsync(fd) < 0) {
		fprintf(stderr, "siot-ctl: writing %s: %s\n", tmp, strerror(errno));
		if (fd >= 0) {
			close(fd);
			unlink(tmp);
		}
		return EXIT_CANTCREAT;
	}
	close(fd);
	return 0;
}

/* Append to a growing string; aborts when out of memory. */
static void add(char **s, size_t *len, const char *text, size_t n)
{
	*s = realloc(*s, *len + n + 1);
	if (!*s)
		abort();
	memcpy(*s + *len, text, n);
	*len += n;
	(*s)[*len] = '\0';
}

/* What one enroll works with. */
struct enroll {
	const struct options *o;
	const char *name;
	char path[PATH_MAX];      /* the file edited: where a symlink points */
	char *text;               /* its text, or NULL when it is new */
	size_t len;
	mode_t mode;
	bool exists;              /* it has a target of that name */
	long old_open, old_close; /* that target's braces in text */
	char old_key[4096];       /* its key_file as written, or "" */
	char device[SIOT_MAX_ID + 1];
	char key[4096];           /* the new target's key file */
	bool key_made;            /* made by this enroll: removed if it fails */
	char tmp[PATH_MAX + 64], backup[PATH_MAX + 64];
	char block[6000], stamp[32], fp[KEYFILE_FINGERPRINT_LEN];
};

/* The flags: 0, or 64 after a message. */
static int check_flags(const struct enroll *e)
{
	const struct target *f = &e->o->flags;

	if (!f->host[0] || !f->id[0]) {
		fprintf(stderr, "siot-ctl: enroll needs -H HOST and -i ID (the id the device will "
				"know this client by)\n");
		return EXIT_USAGE;
	}
	if (!siot_valid_id(e->name, strlen(e->name)) || !siot_valid_id(f->id, strlen(f->id)) ||
	    (f->device[0] && !siot_valid_id(f->device, strlen(f->device))) ||
	    strpbrk(f->host, "\"\\ \t\n")) {
		fprintf(stderr, "siot-ctl: enroll: NAME, -i and -D take 1 to 32 of A-Z a-z 0-9 . _ -, "
				"and -H a host name or address\n");
		return EXIT_USAGE;
	}
	return 0;
}

/* The file to edit: the configuration, or where its symlink points (a
 * link to nowhere is refused).  Its text and mode.  0 or an exit status. */
static int open_file(struct enroll *e)
{
	struct stat st;
	int r;

	if (lstat(e->o->path, &st) == 0 && S_ISLNK(st.st_mode)) {
		if (!realpath(e->o->path, e->path)) {
			fprintf(stderr, "siot-ctl: %s is a symbolic link to a file that is not there "
					"(%s); enroll edits the file a link points to, never the link\n",
				e->o->path, strerror(errno));
			return EXIT_CONFIG;
		}
	} else if (snprintf(e->path, sizeof(e->path), "%s", e->o->path) >= (int)sizeof(e->path)) {
		fprintf(stderr, "siot-ctl: %s: path too long\n", e->o->path);
		return EXIT_USAGE;
	}
	if ((r = read_text(e->path, &e->text, &e->len, &e->mode)) != 0)
		return r;
	if (!e->text)
		e->mode = 0600;
	return 0;
}

/* Past what starts at text[i]: a string, a comment, or a bracketed
 * element as a whole; one character otherwise.  -1 when it does not end. */
static long skip(const char *text, size_t i)
{
	long last, end = (long)i;

	switch (text[i]) {
	case '"':
		for (end = (long)i + 1; text[end] && text[end] != '"'; end++)
			if (text[end] == '\\' && text[end + 1])
				end++;
		break;
	case '#':
		while (text[end + 1] && text[end + 1] != '\n')
			end++;
		break;
	case '/':
		if (text[i + 1] == '/') {
			while (text[end + 1] && text[end + 1] != '\n')
				end++;
		} else if (text[i + 1] == '*') {
			const char *c = strstr(text + i + 2, "*/");
			end = c ? (long)(c - text) + 1 : -1;
		}
		break;
	case '{':
	case '(':
	case '[':
		end = match_close(text, i, &last);
		break;
	}
	return end < 0 || !text[end] ? -1 : end + 1;
}

/* The i-th element's braces in the list whose '(' is at text[open]. */
static int element_braces(const char *text, size_t open, int index, long *from, long *to)
{
	long last;

	for (size_t i = open + 1; text[i] && text[i] != ')';) {
		long next;

		if (text[i] == '{' && index-- == 0) {
			*from = (long)i;
			*to = match_close(text, i, &last);
			return *to < 0 ? -1 : 0;
		}
		if ((next = skip(text, i)) < 0)
			return -1;
		i = (size_t)next;
	}
	return -1;
}

/* The '(' of the targets list, found from the line libconfig gives it. */
static long list_open(const char *text, const config_setting_t *list)
{
	size_t at = line_start(text, (int)config_setting_source_line(list));
	const char *name = strstr(text + at, "targets");
	const char *open = name ? strchr(name, '(') : NULL;

	return open ? (long)(open - text) : -1;
}

/* The existing target called NAME, by its name setting: its braces and
 * key_file.  0, or 78 when the text cannot be matched to what libconfig
 * read (then nothing is changed). */
static int find_target(struct enroll *e, const config_t *cf)
{
	const config_setting_t *list = config_lookup(cf, "targets");
	const char *key = NULL, *n = NULL;
	long open;

	for (int i = 0; list && i < config_setting_length(list); i++) {
		const config_setting_t *g = config_setting_get_elem(list, (unsigned)i);

		if (!config_setting_lookup_string(g, "name", &n) || strcmp(n, e->name) != 0)
			continue;
		e->exists = true;
		if (config_setting_lookup_string(g, "key_file", &key))
			snprintf(e->old_key, sizeof(e->old_key), "%s", key);
		open = list_open(e->text, list);
		if (open < 0 || element_braces(e->text, (size_t)open, i, &e->old_open,
					       &e->old_close) < 0) {
			fprintf(stderr, "siot-ctl: %s: cannot find target \"%s\" in its text; change it "
					"by hand\n",
				e->path, e->name);
			return EXIT_CONFIG;
		}
		return 0;
	}
	return 0;
}

/* The file as it is: readable, safe, without problems; the existing
 * target, if any.  0 or an exit status after a message. */
static int read_file(struct enroll *e)
{
	struct target t;
	config_t cf;
	int r;

	target_clear(&t);
	r = target_load(e->o->path, NULL, &t, cfg_print_problem, false, NULL, NULL);
	if (r == -EPERM || r == -EINVAL) {
		fprintf(stderr, "siot-ctl: %s: fix the problems above first; enroll edits only a "
				"configuration it can read\n",
			e->o->path);
		return EXIT_CONFIG;
	}
	if ((r = open_file(e)) != 0 || !e->text)
		return r;
	config_init(&cf);
	if (!config_read_string(&cf, e->text)) {
		fprintf(stderr, "siot-ctl: %s: cannot read it again\n", e->path);
		config_destroy(&cf);
		return EXIT_CONFIG;
	}
	r = find_target(e, &cf);
	config_destroy(&cf);
	if (r == 0 && e->exists && !e->o->force) {
		fprintf(stderr, "siot-ctl: %s already has a target \"%s\" (--force replaces it in "
				"place, keeping its key unless --new-key; the file as it was is kept "
				"beside it)\n",
			e->path, e->name);
		return EXIT_CANTCREAT;
	}
	return r;
}

/* The key: the existing target's, kept (--force without --new-key), or a
 * new one in a file that nothing names yet: NAME-ID.key, or with the time
 * in its name when that is taken.  0 or an exit status. */
static int make_key(struct enroll *e)
{
	const struct target *f = &e->o->flags;
	char name[200];

	if (e->exists && e->old_key[0] && !e->o->new_key) {
		snprintf(e->key, sizeof(e->key), "%s", e->old_key);
		return 0;
	}
	snprintf(name, sizeof(name), "%s-%s.key", e->name, f->id);
	if (sibling(e->key, sizeof(e->key), e->path, "%s", name) < 0)
		return EXIT_USAGE;
	if (access(e->key, F_OK) == 0) {
		if (!e->o->new_key && !e->o->force) {
			fprintf(stderr, "siot-ctl: %s exists, and no target names it; enroll never "
					"overwrites a key (--new-key makes another beside it)\n",
				e->key);
			return EXIT_CANTCREAT;
		}
		snprintf(name, sizeof(name), "%s-%s-%s.key", e->name, f->id, e->stamp);
		sibling(e->key, sizeof(e->key), e->path, "%s", name);
	}
	e->key_made = true;
	return keygen_write(e->key, e->fp);
}

/* The new target's block: its own comment on a line of its own inside it,
 * so that nothing (a comma, say) can follow the comment. */
static void make_block(struct enroll *e)
{
	const struct target *f = &e->o->flags;

	snprintf(e->device, sizeof(e->device), "%s", f->device[0] ? f->device : e->name);
	snprintf(e->block, sizeof(e->block),
		 "{ # siot-ctl enroll, %s\n"
		 "    name = \"%s\"; host = \"%s\";%s%s%s id = \"%s\"; device = \"%s\";\n"
		 "    key_file = \"%s\"; }",
		 e->stamp, e->name, f->host, f->port[0] ? " port = " : "", f->port,
		 f->port[0] ? ";" : "", f->id, e->device, e->key);
}

/* The new text, malloc'd: the target replaced in place, or added to the
 * targets list (made when there is none). */
static char *new_text(const struct enroll *e)
{
	const char *text = e->text ? e->text : "# siot-ctl's targets: see siot-ctl(1).\n";
	char *out = NULL;
	size_t len = 0;
	config_t cf;
	const config_setting_t *list;
	long open, close, last;

	if (e->exists) {
		add(&out, &len, text, (size_t)e->old_open);
		add(&out, &len, e->block, strlen(e->block));
		add(&out, &len, text + e->old_close + 1, strlen(text + e->old_close + 1));
		return out;
	}
	config_init(&cf);
	list = config_read_string(&cf, text) ? config_lookup(&cf, "targets") : NULL;
	open = list ? list_open(text, list) : -1;
	close = open >= 0 ? match_close(text, (size_t)open, &last) : -1;
	config_destroy(&cf);
	if (close >= 0) {
		size_t eol = (size_t)last + 1;

		/* The last entry, a comma, the rest of its line (a comment, say),
		 * then the new entry on lines of its own. */
		add(&out, &len, text, (size_t)last + 1);
		if (text[last] != '(')
			add(&out, &len, ",", 1);
		while (text[eol] && text[eol] != '\n' && (long)eol < close)
			eol++;
		add(&out, &len, text + last + 1, eol - (size_t)(last + 1));
		add(&out, &len, "\n  ", 3);
		add(&out, &len, e->block, strlen(e->block));
		if (text[eol] != '\n')
			add(&out, &len, "\n", 1);
		add(&out, &len, text + eol, strlen(text + eol));
		return out;
	}
	add(&out, &len, text, strlen(text));
	if (len && out[len - 1] != '\n')
		add(&out, &len, "\n", 1);
	add(&out, &len, "\ntargets = (\n  ", 15);
	add(&out, &len, e->block, strlen(e->block));
	add(&out, &len, "\n);\n", 4);
	return out;
}

/* The file as it was, beside it: PATH.before-STAMP (-2, -3, ... when two
 * enrolls come within a second).  0 or an exit status. */
static int keep_backup(struct enroll *e)
{
	for (int n = 1; n < 100; n++) {
		if (n == 1)
			snprintf(e->backup, sizeof(e->backup), "%s.before-%s", e->path, e->stamp);
		else
			snprintf(e->backup, sizeof(e->backup), "%s.before-%s-%d", e->path, e->stamp, n);
		if (access(e->backup, F_OK) != 0)
			return write_new(e->backup, e->text, e->mode);
	}
	fprintf(stderr, "siot-ctl: %s: too many backups from this second\n", e->path);
	return EXIT_CANTCREAT;
}

/* The new text into a file beside the old, read back with the target in
 * it; then (with --force) the old one kept as a backup, and the new one
 * renamed over it: the one step that changes anything.  0 or a status. */
static int commit(struct enroll *e, const char *out)
{
	struct target t;
	int r;

	if (sibling(e->tmp, sizeof(e->tmp), e->path, ".%s.enroll-new", strrchr(e->path, '/')
							? strrchr(e->path, '/') + 1 : e->path) < 0)
		return EXIT_USAGE;
	unlink(e->tmp);
	if ((r = write_new(e->tmp, out, e->mode)) != 0)
		return r;
	target_clear(&t);
	if (target_load(e->tmp, e->name, &t, cfg_print_problem, false, NULL, NULL) < 0 ||
	    strcmp(t.key_file, e->key) != 0 || strcmp(t.host, e->o->flags.host) != 0) {
		fprintf(stderr, "siot-ctl: %s: the edit did not read back; the file is as it was\n",
			e->path);
		unlink(e->tmp);
		return EXIT_CONFIG;
	}
	if (e->exists && (r = keep_backup(e)) != 0) {
		unlink(e->tmp);
		return r;
	}
	if (rename(e->tmp, e->path) < 0) {
		fprintf(stderr, "siot-ctl: replacing %s: %s; the file is as it was\n", e->path,
			strerror(errno));
		unlink(e->tmp);
		return EXIT_CANTCREAT;
	}
	return 0;
}

/* The kept key's fingerprint (a new key's is made with it). */
static void key_fingerprint(struct enroll *e)
{
	char path[4096], err[600];
	uint8_t *raw = sodium_malloc(SIOT_MAX_KEY);
	size_t len;

	snprintf(e->fp, sizeof(e->fp), "?");
	if (raw && target_expand_home(e->key, path, sizeof(path)) == 0 &&
	    keyfile_load(path, KEYFILE_CLIENT, raw, &len, err, sizeof(err)) == 0)
		keyfile_fingerprint(raw, len, e->fp);
	sodium_free(raw);
}

/* What was done, and the steps on the device, ready to paste. */
static void print_steps(const struct enroll *e)
{
	const struct target *f = &e->o->flags;
	const char *base = strrchr(e->key, '/') ? strrchr(e->key, '/') + 1 : e->key;

	printf("%s %s (%s)\n", e->key_made ? "Created" : "Kept", e->key, e->fp);
	if (e->exists)
		printf("Replaced target \"%s\" in %s (the file as it was: %s)\n", e->name, e->path,
		       e->backup);
	else
		printf("Added target \"%s\" to %s\n", e->name, e->path);
	printf("\nOn the device (%s), as root:\n\n", f->host);
	printf("1. Copy %s there, and install it for siotd:\n\n", e->key);
	printf("   install -D -m 0640 -o root -g siot %s /etc/siot/keys/%s.key\n\n", base, f->id);
	printf("2. In /etc/siot.conf: the device id this target expects, this client, and a\n"
	       "   command it may run (into your lists, when the file has them already):\n\n");
	printf("   device_id = \"%s\";\n", e->device);
	printf("   clients = (\n     { id = \"%s\"; key_file = \"/etc/siot/keys/%s.key\"; }\n   );\n",
	       f->id, f->id);
	printf("   commands = (\n     { name = \"hello\"; exec = [ \"/bin/echo\", \"hello from %s\" ]; "
	       "output = true; }\n   );\n\n",
	       e->device);
	printf("3. Check it and apply it (a siotd that is not running reads it when it\n"
	       "   next starts):\n\n");
	printf("   siotd --check-config && systemctl try-reload-or-restart siotd.service\n\n");
	printf("Then here: siot-ctl -t %s send hello\n", e->name);
	printf("The device's copy must show the same fingerprint: siot-ctl fingerprint -k FILE\n");
}

int cmd_enroll(const struct options *o)
{
	struct enroll *e = calloc(1, sizeof(*e));
	time_t now = time(NULL);
	char *out = NULL;
	int r;

	if (!e) {
		fprintf(stderr, "siot-ctl: out of memory\n");
		return 70;
	}
	e->o = o;
	e->name = o->enroll_name;
	strftime(e->stamp, sizeof(e->stamp), "%Y%m%d-%H%M%S", localtime(&now));
	if ((r = check_flags(e)) == 0 && (r = read_file(e)) == 0 && (r = make_key(e)) == 0) {
		make_block(e);
		out = new_text(e);
		r = commit(e, out);
	}
	if (r == 0) {
		if (!e->key_made)
			key_fingerprint(e);
		print_steps(e);
	} else if (e->key_made) {
		unlink(e->key); /* nothing names it */
	}
	free(out);
	free(e->text);
	free(e);
	return r;
}
