/* SPDX-License-Identifier: MIT */
/*
 * siot-ctl's targets: the client configuration file (siot-ctl(1)) and the
 * command-line overrides, merged into one struct target.
 */
#ifndef SIOT_CTL_TARGET_H
#define SIOT_CTL_TARGET_H

#include <stdbool.h>

#include "cfg.h"
#include "siot.h"

#define TARGET_DEFAULT_TIMEOUT 30.0

struct target {
	char name[64];
	char host[256];
	char port[16];
	char socket[108];       /* Unix socket path, instead of host/port */
	char mqtt[300];         /* an MQTT broker's URL, instead of both (device required) */
	char serial[4096];      /* a serial port (a board's UART), instead of all three */
	int baud;               /* its speed; -1: not set (115200) */
	char framing[16];       /* "stream" or "serial" (implied by serial) */
	char mqtt_prefix[129];
	char mqtt_username[128];
	char mqtt_password_file[4096];
	char mqtt_ca_file[4096], mqtt_tls_cert_file[4096], mqtt_tls_key_file[4096];
	char device[SIOT_MAX_ID + 1];
	char id[SIOT_MAX_ID + 1];
	char key_file[4096];
	char protocol[16], hash[16];
	int tag_length, challenge_length, wakeup_length; /* -1: not set */
	double timeout;         /* < 0: not set */
	int classic_response;   /* -1: not set */
	/* Commands whose result byte is a value (a device without sealed
	 * output, reading a pin): "door,window"; "*": every command (--value). */
	char values[512];
};

/* Whether command's result byte is a value for t (values, or --value). */
bool target_is_value(const struct target *t, const char *command);

/* Every field unset. */
void target_clear(struct target *t);

/* Fields set in over replace those of base. */
void target_merge(struct target *base, const struct target *over);

/* The targets a file declares, as written (for check, and for suggesting a
 * name when -t names none of them). */
#define TARGET_MAX_NAMES 64
struct target_names {
	char name[TARGET_MAX_NAMES][64];
	char where[TARGET_MAX_NAMES][320]; /* "host", "host:port", the socket or port */
	unsigned n;                         /* names kept (at most TARGET_MAX_NAMES) */
	unsigned n_all, n_groups_all;       /* targets and groups the file declares */
	char def[64];                       /* the default, or "" */
	char group[TARGET_MAX_NAMES][64];   /* the groups' names */
	unsigned group_size[TARGET_MAX_NAMES];
	unsigned n_groups;
};

/* The most targets a file may declare, groups it may declare, and members
 * a group may have once its nested groups and patterns are expanded. */
#define TARGET_MAX_TARGETS 100000
#define TARGET_MAX_GROUPS 1000
#define TARGET_MAX_GROUP 100000

/* What -t picked when it names more than one device: a group (groups = (
 * { name = ...; targets = [ ... ]; } ), whose targets may be target names,
 * group names and patterns), or a pattern of target names ("dev*", as
 * fnmatch(3) matches).  Its members are in the group's order (a pattern's
 * in the file's), each once.  The file stays open for target_group_get. */
struct target_file;
struct target_group {
	char name[256];            /* the group's name, or the pattern */
	unsigned n;
	unsigned *member;          /* the members, as indices into the file */
	struct target_file *file;
};

/* Member i's target, as checked when the group was picked. */
void target_group_get(const struct target_group *g, unsigned i, struct target *t);

/* Member i's name. */
const char *target_group_member(const struct target_group *g, unsigned i);

/* Free what target_load put into g (it may be all zeros). */
void target_group_free(struct target_group *g);

/* Whether name is a pattern (has *, ? or [) rather than a name. */
bool target_is_pattern(const char *name);

/* Name comparisons target_load has made so far: the unit test's measure
 * of its work, which grows as targets + members, not their product. */
extern unsigned long target_load_work;

/*
 * Read the client config at path and pick the target `name` (NULL: the
 * file's `default`, or its only target).  When that name is a group's or a
 * pattern and group is not NULL, fills group (free it with
 * target_group_free) and returns 1 (without group, -ESRCH).  Returns 0,
 * -ENOENT when the file does not exist, -EPERM when it may be written by
 * group or others or is owned by another user (as ssh refuses such a
 * config; reported), -ESRCH when the target is not there, -EINVAL after
 * reporting problems.  The file's structure (names, duplicates, groups and
 * their cycles) is always checked, and so is every target picked, a
 * group's members included.  With check_all, every target is validated
 * and reported, key files included (readable, safe permissions, a key).
 * names, when not NULL, gets every target's name.
 */
int target_load(const char *path, const char *name, struct target *out, cfg_report_fn report,
		bool check_all, struct target_names *names, struct target_group *group);

/* The name in names nearest to want (a typo away), or NULL. */
const char *target_nearest(const struct target_names *names, const char *want);

/* The config path siot-ctl reads: $SIOT_CTL_CONFIG, else
 * $XDG_CONFIG_HOME/siot/siot-ctl.conf (~/.config when XDG_CONFIG_HOME is not
 * set), else /etc/siot/siot-ctl.conf (the first that exists; the user's when
 * none does).  The user's path is made in buf (TARGET_PATH_MAX bytes); the
 * result points into buf or at a constant string. */
#define TARGET_PATH_MAX 4096
const char *target_default_path(char buf[TARGET_PATH_MAX]);

/* The rules that tie a target's settings together, checked in one place
 * for a target read from the file and for one given on the command line:
 * baud without a serial port, serial framing through a broker, a broker
 * URL, a broker without a device id, and the ids' syntax.  Each problem is
 * handed to report with the setting it is about (its name in the file) and
 * a message worded for where the target came from.  Returns the number of
 * problems. */
enum target_origin { TARGET_FROM_FILE, TARGET_FROM_FLAGS };
typedef void (*target_problem_fn)(void *userdata, const char *setting, const char *msg);
unsigned target_check(const struct target *t, enum target_origin origin,
		      target_problem_fn report, void *userdata);

/* Expand a leading "~/" with $HOME into out (size n); returns 0 or -ENAMETOOLONG. */
int target_expand_home(const char *in, char *out, size_t n);

#endif
