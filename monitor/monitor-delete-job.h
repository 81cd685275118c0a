/* The jobs of the delete sequence (identify, final backup, delete), run as
 * child jobs (monitor-child.h) "agentbox internal-delete-job KIND" so that
 * the network and archive libraries never load into agentbox-monitor: the
 * identity expected on the child's stdin and the result on its stdout, as
 * JSON objects, like every other job of the monitor. This file holds both
 * sides' conversions; the client's work is in monitor-cli-job.c. */
#ifndef AGENTBOX_MONITOR_DELETE_JOB_H
#define AGENTBOX_MONITOR_DELETE_JOB_H

#include "provider.h"
#include "time-util.h"

#define DELETE_JOB_TEXT_MAX 512

struct child_job;
struct config;
struct cJSON;

enum job_kind {
	JOB_NONE,
	JOB_IDENTIFY,
	JOB_BACKUP,
	JOB_DELETE,
};

struct delete_job_out {
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

/* Daemon side: starts the job in the agentbox client next to us, with the
 * identity checked before (JOB_DELETE compares it) on its stdin. 0 or -errno. */
int delete_job_start(struct child_job *j, const struct config *c, enum job_kind kind,
		     const struct provider_identity *expect);

/* Daemon side: the result of the finished job. 0 with *ret filled, or
 * -EIO with ret->why saying what went wrong with the child. */
int delete_job_result(const struct child_job *j, enum job_kind kind, struct delete_job_out *ret);

/* Both sides: the JSON forms (caller frees). */
struct cJSON *delete_job_identity_json(const struct provider_identity *id);
void delete_job_identity_parse(const struct cJSON *o, struct provider_identity *ret);
struct cJSON *delete_job_out_json(const struct delete_job_out *o);

/* Client side (monitor-cli-job.c): "agentbox internal-delete-job KIND". */
int cli_delete_job(struct config *c, int argc, char **argv);

#endif
