/* Warnings that reach the user: each event is posted to the webhook of
 * notify.webhook_url_file by a child "agentbox internal-notify" (the daemon
 * does no HTTP), which gets the event as one JSON line on stdin, retries a
 * bounded number of times and never logs the URL. */
#ifndef AGENTBOX_MONITOR_WEBHOOK_H
#define AGENTBOX_MONITOR_WEBHOOK_H

struct monitor;

/* Events, as the "event" field says them. */
#define WEBHOOK_IDLE_WARNING "idle_warning"
#define WEBHOOK_ACTION "action"
#define WEBHOOK_BACKUP_FAILED "backup_failed"
#define WEBHOOK_DELETE_REFUSED "delete_refused"
#define WEBHOOK_INTERRUPTION "interruption"

/* Sends one event (nothing when no webhook is configured). Never blocks:
 * at most WEBHOOK_CHILDREN_MAX senders at once; another event then is
 * dropped with a warning. */
void monitor_webhook(struct monitor *m, const char *event, const char *message);
/* Reaps finished senders; called every tick. */
void monitor_webhook_reap(void);
/* Waits a little (bounded) for senders still running, e.g. at shutdown. */
void monitor_webhook_done(void);

#endif
