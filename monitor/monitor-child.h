/* The monitor's child jobs: every piece of work that needs the network or
 * the archive code (periodic backups, each step of the delete sequence)
 * runs as the agentbox client next to the daemon (or $AGENTBOX_CLIENT, for
 * tests), "agentbox ... --json"-style: an optional JSON request on its
 * stdin, one JSON object on its stdout, its exit status. The daemon's loop
 * never blocks on a job: it polls the job's stdout with its other fds
 * (readable when output comes or the child ends), reads what is there and
 * reaps the child at the end of its output. One mechanism for every job;
 * the daemon links neither libcurl nor libarchive, and a crash in a job
 * cannot take the monitor down. */
#ifndef AGENTBOX_MONITOR_CHILD_H
#define AGENTBOX_MONITOR_CHILD_H

#include <stddef.h>
#include <sys/types.h>

#define CHILD_JOB_OUT_MAX 8192

struct cJSON;

struct child_job {
	pid_t pid;  /* the running child, or 0 */
	int out_fd; /* its stdout (non-blocking) until its end, or -1 */
	char out[CHILD_JOB_OUT_MAX];
	size_t out_len;
	int status; /* its wait status, once finished */
};

/* Path of the agentbox client (caller frees). */
char *monitor_client_path(void);

/* PATH, plus CREDENTIALS_DIRECTORY, JOURNAL_STREAM and agentbox's own
 * non-secret settings when set; no secret is in the daemon's environment
 * to pass on, the child reads its secrets from files. Free with
 * monitor_child_env_free(). */
char **monitor_child_env(void);
void monitor_child_env_free(char **env);

/* An idle job: no child, no fd. */
void child_job_init(struct child_job *j);

/* Starts argv[0] with monitor_child_env(); 'input' (or nothing, when NULL:
 * stdin is /dev/null) is written to its stdin, which is then closed; it
 * must fit a pipe's buffer. 0, or -errno with nothing left running. */
int child_job_start(struct child_job *j, char *const argv[], const char *input);

/* The fd to poll for the job (readable on output or at its end), or -1. */
int child_job_fd(const struct child_job *j);

/* Reads what the child wrote; at the end of its output reaps it (waiting
 * at most 1 s for its exit). 1 when the job has finished (j->status and
 * j->out are its result), 0 while it runs, 0 when none runs. */
int child_job_poll(struct child_job *j);

/* The result of a finished job: its JSON object when it exited 0 and
 * wrote one, else NULL with 'why' saying what went wrong ("agentbox
 * backup exited with 1", "... killed by signal 9"). Caller frees. */
struct cJSON *child_job_result(const struct child_job *j, const char *what, char *why,
			       size_t size);

/* Stops a running job: SIGTERM, at most 2 s, then SIGKILL (a backup cut
 * short is never trusted); reaped, fd closed. Nothing when none runs. */
void child_job_stop(struct child_job *j);

#endif
