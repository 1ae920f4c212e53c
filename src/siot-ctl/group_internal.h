/* SPDX-License-Identifier: MIT */
/* What group.c (the parent of a group send) and group_worker.c (its
 * worker processes) share. */
#ifndef SIOT_CTL_GROUP_INTERNAL_H
#define SIOT_CTL_GROUP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "options.h"
#include "send.h"

/* A record in a worker's pipe: the member's place in the group, its
 * status, then o->n_commands outcomes. */
struct record_head {
	unsigned pos;
	int code;
};

/* A record's size: its head and o's n_commands outcomes. */
static inline size_t group_record_size(const struct options *o)
{
	return sizeof(struct record_head) + o->n_commands * sizeof(struct send_outcome);
}

/* What one worker process does: one member, or a broker's members. */
struct job {
	unsigned *pos;          /* places in the group, in order */
	unsigned n;
	bool broker;            /* shared broker connection, a thread per session */
	unsigned reported;      /* records read back */
	pid_t pid;
	int fd;                 /* read end of its pipe */
	size_t got;             /* bytes of the current record read so far */
	unsigned char *rec;     /* the record being read (rec_size bytes) */
};

/* Every command of o not sent, with why in the first. */
void group_not_sent(const struct options *o, struct send_outcome *out, int code,
		    const char *why);

/* In a worker process: job j's members, a record each into fd as each
 * ends; then the process exits. */
_Noreturn void group_work(const struct options *o, const struct target_group *g,
			  const struct job *j, int fd);

#endif
