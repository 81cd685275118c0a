/* idle.action "delete": the sequence that deletes this instance, safely.
 *
 *   identify -> backup -> verify -> deleting -> deleted
 *                                       \-> poweroff (EC2 shutdown mode, or the
 *                                           fallback where poweroff terminates)
 *   any step -> failed (stays up, loud; retried later, or back to active on
 *               activity); verify -> active when anything happened since the
 *               backup started.
 *
 * Network and backup work runs in child jobs (monitor-child.h), one at a
 * time, so the monitor keeps ticking (watchdog, status, activity)
 * meanwhile. Each step is written to <state_dir>/delete.json; after a
 * crash or reboot the sequence starts over from idle (a new final backup
 * is needed).
 *
 * The sequence owns its state. The daemon tells it, each tick, only what
 * it needs (struct delete_tick) and gets back what to do (enum
 * delete_want); the sequence neither reads nor writes the daemon's struct,
 * and the daemon powers off itself when asked to. */
#ifndef AGENTBOX_MONITOR_DELETE_H
#define AGENTBOX_MONITOR_DELETE_H

#include <stddef.h>

#include "monitor-idle.h"
#include "time-util.h"

struct cJSON;
struct config;
struct delete_seq;

/* What the daemon tells the sequence at a tick. */
struct delete_tick {
	usec_t now;                 /* CLOCK_BOOTTIME */
	usec_t last_activity;       /* CLOCK_BOOTTIME of the latest activity of any signal */
	enum idle_state decision;   /* the idle policy's verdict now */
	usec_t keepalive_ended;     /* CLOCK_BOOTTIME the last keepalive ended */
	const char *kept_alive_by;  /* what the daemon says holds the box, or NULL */
	const char *kept_alive_detail;
};

/* What the daemon is to do next. */
enum delete_want {
	DELETE_WANT_ACT,      /* stay acting: the sequence goes on (or waits to retry) */
	DELETE_WANT_ACTIVE,   /* back to active: aborted, nothing deleted */
	DELETE_WANT_POWEROFF, /* power off: it terminates the instance (once; again after a failure) */
};

/* --dry-run: show every step, back up, delete and power off nothing. */
void monitor_delete_set_dry_run(int on);
int monitor_delete_dry_run(void);

/* Events for the user (monitor-webhook.h's names: WEBHOOK_ACTION when the
 * sequence starts, WEBHOOK_DELETE_REFUSED when it stops): the sequence
 * says them, the daemon sends them. */
typedef void (*delete_notify_fn)(void *userdata, const char *event, const char *message);

/* Sets up for idle.action "delete": state_dir, an interrupted sequence
 * from before, and the identity lookup (in the background). notify (may
 * be NULL) is called with userdata for each event. 0 or -errno (logged). */
int delete_seq_new(const struct config *c, usec_t now, delete_notify_fn notify, void *userdata,
		   struct delete_seq **ret);

/* Every tick while not acting: collects the start-up lookup (logs the
 * identity once). */
void delete_seq_poll(struct delete_seq *s, usec_t now);

/* The running job's fd for the daemon's poll (readable when it has
 * finished: tick then), or -1. */
int delete_seq_fd(const struct delete_seq *s);

/* Each tick of the idle action "delete": advances the sequence. */
enum delete_want delete_seq_act(struct delete_seq *s, const struct delete_tick *t);

/* The last failure of the sequence, "" when none (status: action_error). */
const char *delete_seq_error(const struct delete_seq *s);

/* Adds "identity" and "delete" to the status document. */
void delete_seq_status(const struct delete_seq *s, struct cJSON *root);

/* The step in words, for STATUS= ("final backup", "deleting ..."), or NULL. */
const char *delete_seq_step_text(const struct delete_seq *s);

/* Stops a running job (SIGTERM, bounded) and frees; returns NULL. */
struct delete_seq *delete_seq_free(struct delete_seq *s);

#endif
