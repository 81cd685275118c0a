/* idle.action "delete": the sequence that deletes this instance, safely.
 *
 *   identify -> backup -> verify -> deleting -> deleted
 *                                       \-> poweroff (EC2 shutdown mode, or the
 *                                           fallback where poweroff terminates)
 *   any step -> failed (stays up, loud; retried later, or back to active on
 *               activity); verify -> active when anything happened since the
 *               backup started.
 *
 * Network and backup work runs on a worker thread, one job at a time, so
 * the monitor keeps ticking (watchdog, status, activity) meanwhile. Each
 * step is written to <state_dir>/delete.json; after a crash or reboot the
 * sequence starts over from idle (a new final backup is needed). */
#ifndef AGENTBOX_MONITOR_DELETE_H
#define AGENTBOX_MONITOR_DELETE_H

#include <stddef.h>

struct cJSON;
struct monitor;

/* --dry-run: show every step, back up, delete and power off nothing. */
void monitor_delete_set_dry_run(int on);
int monitor_delete_dry_run(void);

/* Sets up for idle.action "delete": state_dir, an interrupted sequence
 * from before, and the identity lookup (in the background). 0 or -errno
 * (logged). */
int monitor_delete_prepare(struct monitor *m);

/* Every tick: collects a finished background job (logs the identity once). */
void monitor_delete_poll(struct monitor *m);

/* An fd that becomes readable when a background step finishes, or -1;
 * monitor_delete_wake() empties it and says whether to tick now. */
int monitor_delete_fd(const struct monitor *m);
int monitor_delete_wake(struct monitor *m);

/* The IDLE_ACTION_DELETE branch of the idle action: advances the sequence. */
void monitor_delete_act(struct monitor *m);

/* Adds "identity" and "delete" to the status document. */
void monitor_delete_status(const struct monitor *m, struct cJSON *root);

/* The step in words, for STATUS= ("final backup", "deleting ..."), or NULL. */
const char *monitor_delete_step_text(const struct monitor *m);

/* Releases everything; a running job is left to end with the process. */
void monitor_delete_done(struct monitor *m);

#endif
