/* SPDX-License-Identifier: MIT */
/*
 * libconfig helpers shared by siotd's /etc/siot.conf and siot-ctl's
 * siot-ctl.conf: one reader that collects every problem with its file and
 * line, typed getters that report a wrong type or range at the setting's
 * line, the unknown-setting check, and the "file:line: message" printer.
 *
 * The getters take an optional member of a group: when it is absent they
 * leave *out alone and return false, so callers set defaults first.  They
 * return true only when *out was set from a valid value.
 */
#ifndef SIOT_CFG_H
#define SIOT_CFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libconfig.h>

/* Called once per problem; line is 0 when there is none. */
typedef void (*cfg_report_fn)(void *userdata, const char *file, int line, const char *msg);

/* The usual cfg_report_fn: "file:line: message" (or "file: message") on
 * stderr.  userdata is ignored. */
void cfg_print_problem(void *userdata, const char *file, int line, const char *msg);

struct cfg_problem;

struct cfg_reader {
	const char *path;              /* the file being read (not owned) */
	unsigned errors;               /* problems reported so far */
	struct cfg_problem *problems;  /* kept until cfg_reader_flush */
};

void cfg_reader_init(struct cfg_reader *r, const char *path);

/*
 * Read path into cf (config_init'd by the caller).  A file that cannot be
 * read or does not parse is reported (with libconfig's line) and gives
 * -EINVAL; 0 otherwise.
 */
int cfg_read_file(struct cfg_reader *r, config_t *cf);

/* Report a problem at setting s (NULL: the file as a whole). */
void cfg_report(struct cfg_reader *r, const config_setting_t *s, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Report a problem at a line recorded earlier (0: none). */
void cfg_report_line(struct cfg_reader *r, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Hand every problem to report, sorted by file and line (ties in the order
 * they were found), and forget them.  Returns how many there were. */
unsigned cfg_reader_flush(struct cfg_reader *r, cfg_report_fn report, void *userdata);

/* Report each member of group whose name is not in allowed (NULL-terminated),
 * as "unknown setting 'x' in WHERE" (WHERE may be NULL). */
void cfg_check_members(struct cfg_reader *r, const config_setting_t *group,
		       const char *const *allowed, const char *where);

/* True when s has libconfig type `type`; otherwise reports
 * "NAME must be A, not B". */
bool cfg_want_type(struct cfg_reader *r, const config_setting_t *s, const char *name, int type);
/* True for a list ( ... ) or an array [ ... ]. */
bool cfg_is_sequence(const config_setting_t *s);

/* The string member `name`, or NULL when absent or not a string (reported). */
const char *cfg_get_string(struct cfg_reader *r, const config_setting_t *g, const char *name);
/* Copy the string member into out[0..n); too long is reported. */
bool cfg_get_string_buf(struct cfg_reader *r, const config_setting_t *g, const char *name,
			char *out, size_t n);
bool cfg_get_uint(struct cfg_reader *r, const config_setting_t *g, const char *name,
		  unsigned *out, unsigned min, unsigned max);
bool cfg_get_bool(struct cfg_reader *r, const config_setting_t *g, const char *name, bool *out);
/* Seconds, an integer or a number with min <= value <= max, as usec. */
bool cfg_get_usec(struct cfg_reader *r, const config_setting_t *g, const char *name,
		  uint64_t *out, double min, double max);
/*
 * A string member that must be one of names[0..n): sets *out to its index.
 * Anything else is reported as "NAME \"x\": must be " + expected.
 */
bool cfg_get_enum(struct cfg_reader *r, const config_setting_t *g, const char *name,
		  const char *const *names, size_t n, const char *expected, int *out);

/*
 * The member `name` of root as a list of at most max groups: returns its
 * length (0 when absent or the wrong type, which is reported as "NAME must
 * be a list SHAPE"; past max, reported and cut to max) and sets *out.
 */
int cfg_get_list(struct cfg_reader *r, const config_setting_t *root, const char *name, int max,
		 const char *shape, const config_setting_t **out);

/* A likely cause of a syntax error that libconfig reported at path:line,
 * from the text around it (a missing or extra comma between list entries, an
 * unquoted text value, a doubled ';', a quoted name), into hint; 0 when there
 * is one, -1 when nothing is evident. */
int cfg_syntax_hint(const char *path, int line, char *hint, size_t len);

#endif
