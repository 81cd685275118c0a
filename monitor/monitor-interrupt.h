/* Shutdowns the box did not choose: a cloud's interruption notice (EC2
 * spot: instance-action, rebalance recommendation), watched by a child
 * "agentbox internal-watch-interruption", and SIGTERM while the system is
 * shutting down. Both start the final backup at once (monitor-backup.c)
 * and say why in the journal (MSGID_INTERRUPTION) and in status.json. */
#ifndef AGENTBOX_MONITOR_INTERRUPT_H
#define AGENTBOX_MONITOR_INTERRUPT_H

#include <sys/types.h>

#include "monitor-child.h"
#include "time-util.h"

/* The bound of the final backup at a shutdown; the unit's TimeoutStopSec
 * (systemd/agentbox-monitor.service.in) leaves 30 s more. */
#define MONITOR_SHUTDOWN_BACKUP_USEC (90 * USEC_PER_SEC)

struct monitor;
typedef struct cJSON cJSON;

struct monitor_interrupt {
	struct child_job job; /* the watcher: one JSON line, then it ends */
	char notice[512];     /* what it said; empty: none */
	usec_t notice_at;     /* unix usec */
};

/* Starts the watcher when the box may have notices (a provider other than
 * "none") and state storage to back up to. */
void monitor_interrupt_init(struct monitor *m);
/* Reads the watcher; on a notice, logs it and starts the final backup. */
void monitor_interrupt_tick(struct monitor *m);
/* The watcher's fd for the main loop's poll (a notice ticks at once), or -1. */
int monitor_interrupt_fd(const struct monitor *m);
void monitor_interrupt_status(const struct monitor *m, cJSON *root);
/* At SIGTERM: when systemd says the system is stopping (a shutdown this box
 * did not choose: its own poweroff comes after its final backup), runs the
 * final backup, bounded by MONITOR_SHUTDOWN_BACKUP_USEC. */
void monitor_interrupt_stopping(struct monitor *m);
void monitor_interrupt_done(struct monitor *m);

#endif
