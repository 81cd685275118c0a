/* The jobs of the delete sequence (identify, final backup, delete), run in
 * a child process "agentbox internal-delete-job KIND" so that the network
 * and archive libraries never load into agentbox-monitor. The two sides
 * are always built together, so they exchange fixed-size records: the
 * expected identity on the child's stdin, the results on its stdout, each
 * checked by a magic number and its size. */
#ifndef AGENTBOX_MONITOR_DELETE_JOB_H
#define AGENTBOX_MONITOR_DELETE_JOB_H

#include <stdint.h>
#include <sys/types.h>

#include "provider.h"
#include "time-util.h"

#define DELETE_JOB_TEXT_MAX 512
#define DELETE_JOB_MAGIC 0x61626a31u /* "abj1" */

struct config;

enum job_kind {
	JOB_NONE,
	JOB_IDENTIFY,
	JOB_BACKUP,
	JOB_DELETE,
};

struct delete_job_in {
	uint32_t magic;
	uint32_t size;
	struct provider_identity expect; /* JOB_DELETE: the identity checked before */
};

struct delete_job_out {
	uint32_t magic;
	uint32_t size;
	int r;
	char why[DELETE_JOB_TEXT_MAX];
	struct provider_identity id;
	int ready_r;
	char ready_why[DELETE_JOB_TEXT_MAX];
	int shutdown_terminates; /* a poweroff deletes: 1, 0, -errno unknown, -EOPNOTSUPP never */
	char shutdown_why[DELETE_JOB_TEXT_MAX];
	char generation[64];
	int verify_failed; /* JOB_BACKUP: stored, but the read-back failed (r says how) */
	usec_t duration;
	struct provider_result result;
	int poweroff; /* JOB_DELETE: identity confirmed, poweroff is the delete */
	int method;   /* JOB_IDENTIFY: enum provider_method for the identity */
	char plan[DELETE_JOB_TEXT_MAX]; /* JOB_IDENTIFY: the delete step in words */
};

const char *delete_job_kind_to_string(enum job_kind kind);

/* Daemon side (monitor-delete-job.c): runs the job in the agentbox client
 * next to us and waits for it; *ret_pid holds the child's pid meanwhile
 * (for a stop to kill it). Returns 0 with *ret filled, or -errno with
 * ret->why saying what went wrong with the child. */
int delete_job_spawn(const struct config *c, enum job_kind kind,
		     const struct provider_identity *expect, pid_t *ret_pid,
		     struct delete_job_out *ret);

/* Client side (monitor-cli-job.c): "agentbox internal-delete-job KIND". */
int cli_delete_job(struct config *c, int argc, char **argv);

#endif
