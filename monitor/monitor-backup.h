/* Periodic backups of the state paths, run by the monitor as a child
 * process ("agentbox backup --json"): the daemon's loop never blocks on
 * the network, its memory stays small, and a crash in the backup cannot
 * take the monitor down. The child is the same code as a manual
 * "agentbox backup". */
#ifndef AGENTBOX_MONITOR_BACKUP_H
#define AGENTBOX_MONITOR_BACKUP_H

#include <sys/types.h>

#include "monitor-child.h"
#include "time-util.h"

struct monitor;

struct monitor_backup {
	int enabled;          /* storage configured and an interval set */
	char *agentbox;       /* path of the agentbox client next to us */
	struct child_job job; /* "agentbox backup --json"; job.pid: running */
	usec_t started;       /* CLOCK_BOOTTIME of the running (or last) start */
	usec_t next_at;       /* CLOCK_BOOTTIME of the next attempt */
	usec_t retry_delay;   /* after failures, doubling up to the interval */
	/* The last one that finished: */
	usec_t done_at;       /* CLOCK_BOOTTIME; 0: none yet */
	usec_t done_started;  /* when it started: files written after it are not in it */
	int ok;
	int skipped;
	char generation[64];
	uint64_t files, bytes, size; /* of that generation: entries, data, stored */
	char error[256];
	/* A final backup (agentbox backup --final: verified, lease given back)
	 * asked for by an interruption notice or a shutdown we did not choose: */
	char final_reason[256]; /* why; empty: the running child is periodic */
	usec_t final_asked;	/* CLOCK_BOOTTIME of the notice */
	int final_state;	/* 0 none, 1 running, 2 verified, -1 failed */
};

void monitor_backup_init(struct monitor *m);
/* Reaps a finished child and starts one when due. */
void monitor_backup_tick(struct monitor *m);
/* The running child's fd for the main loop's poll, or -1. */
int monitor_backup_fd(const struct monitor *m);
/* Stops a running child (SIGTERM; a backup cut short is never trusted). */
void monitor_backup_stop(struct monitor *m);
void monitor_backup_done(struct monitor *m);
/* Starts a final backup now (a periodic one under way is stopped first),
 * unless one is running or done; reason goes to the journal and status.
 * 0, or -errno when there is no storage or the child cannot start. */
int monitor_backup_final(struct monitor *m, const char *reason);
/* Waits up to timeout for a running final backup, keeping the watchdog
 * fed; stops it after that. */
void monitor_backup_final_wait(struct monitor *m, usec_t timeout);

#endif
