/* SPDX-License-Identifier: MIT */
/*
 * siot-ctl enroll NAME -H HOST [-p PORT] -i ID [-D DEVICE] [--force]: one
 * step for a new device.  A key beside the client configuration, a target
 * block added to that file as text (its other text and comments kept as
 * they are), and the device-side steps printed, ready to paste.
 */
#include <errno.h>
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

/* Write text to path through a temporary file and a rename, with mode. */
static int write_text(const char *path, const char *text, mode_t mode)
{
	char tmp[4200];
	int fd;
	size_t n = strlen(text);

	snprintf(tmp, sizeof(tmp), "%s.enroll-%ld", path, (long)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0 || fchmod(fd, mode) < 0 || write(fd, text, n) != (ssize_t)n || fsync(fd) < 0 ||
	    close(fd) < 0 || rename(tmp, path) < 0) {
		fprintf(stderr, "siot-ctl: writing %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			unlink(tmp);
		return EXIT_CANTCREAT;
	}
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

/* The existing target's block renamed NAME.replaced-DATE (the old block is
 * moved aside, not deleted), and the new block added to the targets list,
 * or a targets list made for it.  Returns the new text (malloc'd). */
static char *edit(const char *text, const config_t *cf, const char *name, const char *block,
		  const char *key, const char *stamp)
{
	const config_setting_t *list = config_lookup(cf, "targets");
	char *out = NULL, quoted_key[4200];
	size_t len = 0, from = 0;
	long close = -1, last = -1, old_open = -1, old_close = -1, ignored;
	int old_line = 0;

	for (int i = 0; list && i < config_setting_length(list); i++) {
		const config_setting_t *g = config_setting_get_elem(list, (unsigned)i);
		const char *n = NULL;

		if (config_setting_lookup_string(g, "name", &n) && strcmp(n, name) == 0) {
			const char *brace = strchr(
				text + line_start(text, (int)config_setting_source_line(g)), '{');

			old_line = (int)config_setting_source_line(
				config_setting_get_member(g, "name"));
			if (brace) {
				old_open = brace - text;
				old_close = match_close(text, (size_t)old_open, &ignored);
			}
		}
	}
	if (list) {
		size_t at = line_start(text, (int)config_setting_source_line(list));
		const char *open = strchr(text + at, '(');

		if (!open || (close = match_close(text, (size_t)(open - text), &last)) < 0)
			return NULL;
	}
	if (old_line) {
		/* name = "NAME" on that line becomes name = "NAME.replaced-DATE". */
		size_t at = line_start(text, old_line);
		char quoted[80];
		const char *q;

		snprintf(quoted, sizeof(quoted), "\"%s\"", name);
		q = strstr(text + at, quoted);
		if (!q)
			return NULL;
		add(&out, &len, text, (size_t)(q - text) + 1 + strlen(name));
		add(&out, &len, ".replaced-", 10);
		add(&out, &len, stamp, strlen(stamp));
		from = (size_t)(q - text) + 1 + strlen(name);
		/* Its key file, when it is the one enroll moves aside, follows it. */
		snprintf(quoted_key, sizeof(quoted_key), "\"%s\"", key);
		q = old_close > 0 ? strstr(text + from, quoted_key) : NULL;
		if (q && q - text < old_close) {
			add(&out, &len, text + from, (size_t)(q - text) + 1 + strlen(key) - from);
			add(&out, &len, ".replaced-", 10);
			add(&out, &len, stamp, strlen(stamp));
			from = (size_t)(q - text) + 1 + strlen(key);
		}
	}
	if (list) {
		bool empty = text[last] == '(';
		size_t eol = (size_t)last + 1;

		/* The last entry, a comma, the rest of its line (a comment, say),
		 * then the new entry on lines of its own. */
		add(&out, &len, text + from, (size_t)(last + 1) - from);
		if (!empty)
			add(&out, &len, ",", 1);
		while (text[eol] && text[eol] != '\n' && (long)eol < close)
			eol++;
		add(&out, &len, text + last + 1, eol - (size_t)(last + 1));
		add(&out, &len, "\n", 1);
		add(&out, &len, block, strlen(block));
		/* The block ends in a comment: what follows starts a new line. */
		if (text[eol] != '\n')
			add(&out, &len, "\n", 1);
		add(&out, &len, text + eol, strlen(text + eol));
		return out;
	}
	add(&out, &len, text + from, strlen(text + from));
	if (len && out[len - 1] != '\n')
		add(&out, &len, "\n", 1);
	add(&out, &len, "\ntargets = (\n", 13);
	add(&out, &len, block, strlen(block));
	add(&out, &len, "\n);\n", 4);
	return out;
}

/* path's folder and NAME.key in it. */
static int key_beside(const char *config, const char *name, char *out, size_t n)
{
	const char *slash = strrchr(config, '/');
	int r = slash ? snprintf(out, n, "%.*s/%s.key", (int)(slash - config), config, name)
		      : snprintf(out, n, "%s.key", name);

	return r < 0 || (size_t)r >= n ? -1 : 0;
}

/* With --force, an existing key is kept as NAME.key.replaced-DATE. */
static int key_aside(const char *key, const char *stamp, bool force)
{
	char aside[4200];

	if (access(key, F_OK) < 0)
		return 0;
	if (!force) {
		fprintf(stderr, "siot-ctl: %s exists; enroll never overwrites a key (--force moves it "
				"aside)\n",
			key);
		return EXIT_CANTCREAT;
	}
	snprintf(aside, sizeof(aside), "%s.replaced-%s", key, stamp);
	if (rename(key, aside) < 0) {
		fprintf(stderr, "siot-ctl: moving %s aside: %s\n", key, strerror(errno));
		return EXIT_CANTCREAT;
	}
	fprintf(stderr, "siot-ctl: the old key is now %s\n", aside);
	return 0;
}

/* What one enroll works with. */
struct enroll {
	const struct options *o;
	const char *name, *path;
	char key[4096], block[6000], stamp[32], fp[KEYFILE_FINGERPRINT_LEN];
	bool exists;     /* the file has a target of that name already */
};

/* The flags, and the file as it is: 0, or an exit status after a message. */
static int enroll_check(struct enroll *e)
{
	const struct target *f = &e->o->flags;
	struct target_names *names;
	struct target t;
	time_t now = time(NULL);
	int r;

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
	strftime(e->stamp, sizeof(e->stamp), "%Y%m%d-%H%M%S", localtime(&now));
	if (!(names = malloc(sizeof(*names)))) {
		fprintf(stderr, "siot-ctl: out of memory\n");
		return 70;
	}
	target_clear(&t);
	r = target_load(e->path, NULL, &t, cfg_print_problem, false, names, NULL);
	for (unsigned i = 0; i < names->n; i++)
		e->exists |= strcmp(names->name[i], e->name) == 0;
	free(names);
	if (r == -EPERM || r == -EINVAL) {
		fprintf(stderr, "siot-ctl: %s: fix the problems above first; enroll edits only a "
				"configuration it can read\n",
			e->path);
		return EXIT_CONFIG;
	}
	if (e->exists && !e->o->force) {
		fprintf(stderr, "siot-ctl: %s already has a target \"%s\" (--force replaces it, "
				"keeping the old block as \"%s.replaced-%s\")\n",
			e->path, e->name, e->name, e->stamp);
		return EXIT_CANTCREAT;
	}
	if (key_beside(e->path, e->name, e->key, sizeof(e->key)) < 0) {
		fprintf(stderr, "siot-ctl: %s: path too long\n", e->path);
		return EXIT_USAGE;
	}
	return 0;
}

/* The file's text with the new target in it, into *out (malloc'd). */
static int enroll_new_text(struct enroll *e, const char *text, char **out)
{
	const struct target *f = &e->o->flags;
	config_t cf;

	config_init(&cf);
	if (text && !config_read_string(&cf, text)) {
		fprintf(stderr, "siot-ctl: %s: cannot read it again\n", e->path);
		config_destroy(&cf);
		return EXIT_CONFIG;
	}
	snprintf(e->block, sizeof(e->block),
		 "  { name = \"%s\"; host = \"%s\";%s%s%s id = \"%s\";%s%s%s\n"
		 "    key_file = \"%s\"; }   # siot-ctl enroll, %s",
		 e->name, f->host, f->port[0] ? " port = " : "", f->port, f->port[0] ? ";" : "",
		 f->id, f->device[0] ? " device = \"" : "", f->device, f->device[0] ? "\";" : "",
		 e->key, e->stamp);
	*out = edit(text ? text : "# siot-ctl's targets: see siot-ctl(1).\n", &cf, e->name,
		    e->block, e->key, e->stamp);
	config_destroy(&cf);
	if (!*out) {
		fprintf(stderr, "siot-ctl: %s: cannot find where to add the target; add it by hand:\n%s\n",
			e->path, e->block);
		return EXIT_CONFIG;
	}
	return 0;
}

/* The key made, the file edited, and the edit read back (else the old
 * text put back): 0, or an exit status after a message. */
static int enroll_edit(struct enroll *e)
{
	char *text = NULL, *out = NULL;
	struct target t;
	size_t len = 0;
	mode_t mode = 0600;
	int r;

	if ((r = read_text(e->path, &text, &len, &mode)) != 0)
		return r;
	if ((r = enroll_new_text(e, text, &out)) != 0 ||
	    (r = key_aside(e->key, e->stamp, e->o->force)) != 0 ||
	    (r = keygen_write(e->key, e->fp)) != 0 || (r = write_text(e->path, out, mode)) != 0)
		goto done;
	target_clear(&t);
	if (target_load(e->path, e->name, &t, cfg_print_problem, false, NULL, NULL) < 0 ||
	    strcmp(t.key_file, e->key) != 0) {
		if (text)
			write_text(e->path, text, mode);
		fprintf(stderr, "siot-ctl: %s: the edit did not read back; the file is as it was\n",
			e->path);
		r = EXIT_CONFIG;
	}
done:
	free(text);
	free(out);
	return r;
}

/* What was done, and the steps on the device. */
static void enroll_print(const struct enroll *e)
{
	const struct target *f = &e->o->flags;

	printf("Created %s (%s)\n", e->key, e->fp);
	printf("Added target \"%s\" to %s\n", e->name, e->path);
	if (e->exists)
		printf("(the old target is kept as \"%s.replaced-%s\")\n", e->name, e->stamp);
	printf("\n");
	printf("On the device (%s), as root: copy %s there, then\n\n", f->host, e->key);
	printf("  install -m 0640 -o root -g siot %s.key /etc/siot/keys/%s.key\n\n", e->name, f->id);
	printf("and add this client to the clients list in /etc/siot.conf:\n\n");
	printf("  { id = \"%s\"; key_file = \"/etc/siot/keys/%s.key\"; },\n\n", f->id, f->id);
	printf("then check and reload:\n\n");
	printf("  siotd --check-config && systemctl reload siotd\n\n");
	printf("The device's copy must show the same fingerprint: siot-ctl fingerprint -k FILE\n");
}

int cmd_enroll(const struct options *o)
{
	struct enroll *e = calloc(1, sizeof(*e));
	int r;

	if (!e) {
		fprintf(stderr, "siot-ctl: out of memory\n");
		return 70;
	}
	e->o = o;
	e->name = o->enroll_name;
	e->path = o->path;
	if ((r = enroll_check(e)) == 0 && (r = enroll_edit(e)) == 0)
		enroll_print(e);
	free(e);
	return r;
}
