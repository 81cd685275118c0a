/* The state of a running agentbox-monitor, in one struct passed explicitly. */
#ifndef AGENTBOX_MONITOR_DAEMON_H
#define AGENTBOX_MONITOR_DAEMON_H

#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "monitor-backup.h"
#include "monitor-idle.h"
#include "monitor-interrupt.h"
#include "monitor-keepalive.h"
#include "monitor.h"

#define MONITOR_TEXT_MAX 512

struct monitor {
	struct config *config;
	struct signal_source *signals;
	size_t n_signals;

	usec_t started;            /* CLOCK_BOOTTIME at start: counts as activity */
	struct monitor_tick tick;  /* the latest tick */
	struct idle_policy policy;
	struct idle_decision decision;
	enum idle_state state;     /* decision.state, or ACTING once an action runs */
	usec_t last_activity;      /* CLOCK_BOOTTIME */
	const char *kept_alive_by; /* a signal name, "keepalive", "boot_grace", "start", or NULL */
	char kept_alive_detail[SIGNAL_DETAIL_MAX];
	struct keepalive keepalive;
	usec_t keepalive_ended;
	char *keepalive_path;      /* <runtime_dir>/keepalive.d */
	struct timespec keepalive_mtime; /* of the directory at the last scan */
	usec_t keepalive_scanned;  /* CLOCK_BOOTTIME of the last scan */    /* CLOCK_BOOTTIME when the last keepalive ended or was cleared */

	int wall_sent;             /* a warning reached the terminals */
	usec_t action_started;     /* CLOCK_BOOTTIME; 0: none yet */
	usec_t action_retry_at;    /* CLOCK_BOOTTIME of the next attempt after a failure */
	pid_t action_pid;          /* the running poweroff command */
	int poweroff_started;      /* once; again only after a failure */
	char action_error[MONITOR_TEXT_MAX]; /* the poweroff's; the delete sequence keeps its own */
	struct delete_seq *delete; /* idle.action "delete" (monitor-delete.c), or NULL */

	struct monitor_backup backup;
	struct monitor_interrupt interrupt; /* notices, unchosen shutdowns */

	int64_t rt_offset;         /* CLOCK_REALTIME - CLOCK_BOOTTIME, re-read only when the clock is set */
	char *status_path;
	char *status_text;         /* the content last written to status_path */
	usec_t status_touched;     /* CLOCK_BOOTTIME of its last write or mtime refresh */
	char status_line[MONITOR_TEXT_MAX]; /* the last STATUS= sent */
	int ready_sent;
	usec_t watchdog_usec;      /* 0: no watchdog */
	usec_t watchdog_last;
	int stop;
};

/* Runs the daemon until SIGTERM/SIGINT. Returns an exit status. */
int monitor_run(struct config *c);

/* One tick: sample every signal, decide, act, publish. */
void monitor_tick(struct monitor *m);

/* The action's last failure: the poweroff's, else the delete sequence's; "" when none. */
const char *monitor_action_error(const struct monitor *m);

/* monitor-status.c */
/* The status document (caller frees with cJSON_Delete). */
struct cJSON *monitor_status_json(const struct monitor *m);
/* The one-line STATUS= text. */
void monitor_status_line(const struct monitor *m, char *buf, size_t size);
/* Unix seconds of a CLOCK_BOOTTIME stamp, the same on every tick. */
usec_t monitor_realtime(const struct monitor *m, usec_t boottime);
/* Writes <runtime_dir>/status.json atomically when its content changed;
 * otherwise refreshes its mtime (the freshness clients read) every
 * STATUS_HEARTBEAT_USEC. 1 when written, 0 when not, or -errno. */
#define STATUS_HEARTBEAT_USEC (10 * USEC_PER_SEC)
int monitor_status_write(struct monitor *m);

#endif
