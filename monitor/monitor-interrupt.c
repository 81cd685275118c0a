/* Interruption notices and shutdowns; see monitor-interrupt.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <systemd/sd-bus.h>

#include "log.h"
#include "monitor-child.h"
#include "monitor-daemon.h"
#include "monitor-interrupt.h"
#include "monitor-webhook.h"

void monitor_interrupt_init(struct monitor *m)
{
	struct monitor_interrupt *w = &m->interrupt;
	const struct config *c = m->config;
	_cleanup_free_ char *client = NULL;
	const char *config = c->path ? c->path : CONFIG_DEFAULT_PATH;
	int r;

	*w = (struct monitor_interrupt){0};
	child_job_init(&w->job);
	if (streq(c->provider_name, "none") || !m->backup.agentbox)
		return;
	client = monitor_client_path();
	{
		char *argv[] = {client, (char *)"--config", (char *)config,
				(char *)"internal-watch-interruption", NULL};
		r = child_job_start(&w->job, argv, NULL);
	}
	if (r < 0)
		log_warning_errno(r, "Cannot watch for interruption notices, going on: %m");
}

int monitor_interrupt_fd(const struct monitor *m)
{
	return child_job_fd(&m->interrupt.job);
}

static void interrupt_notice(struct monitor *m, const char *what, const char *provider)
{
	struct monitor_interrupt *w = &m->interrupt;
	_cleanup_free_ char *reason = NULL;
	int r;

	snprintf(w->notice, sizeof(w->notice), "%s", what);
	w->notice_at = now_usec(CLOCK_REALTIME);
	log_event(LOG_WARNING, MSGID_INTERRUPTION,
		  LOG_FIELDS({"AGENTBOX_PROVIDER", provider}, {"AGENTBOX_REASON", what}), 2,
		  "Interruption notice from %s: %s; making the final backup now", provider, what);
	reason = xasprintf("%s %s", provider, what);
	{
		_cleanup_free_ char *msg = xasprintf(
		    "Interruption notice from %s: %s; making the final backup now", provider, what);
		monitor_webhook(m, WEBHOOK_INTERRUPTION, msg);
	}
	r = monitor_backup_final(m, reason);
	if (r < 0)
		log_event(LOG_ERR, MSGID_BACKUP_FAILED, LOG_FIELDS({"AGENTBOX_REASON", what}), 1,
			  "No final backup before the interruption: %s",
			  r == -ENOMEDIUM ? "no state storage is configured" : strerror(-r));
}

void monitor_interrupt_tick(struct monitor *m)
{
	struct monitor_interrupt *w = &m->interrupt;
	char why[256];
	cJSON *j;

	if (child_job_poll(&w->job) <= 0)
		return;
	/* It ended: a notice, or none on this cloud ({"interruptible": false}),
	 * or no identity (it logged why and exited with 1). */
	j = child_job_result(&w->job, "agentbox internal-watch-interruption", why, sizeof(why));
	if (j) {
		const cJSON *what = cJSON_GetObjectItemCaseSensitive(j, "interruption");
		const cJSON *prov = cJSON_GetObjectItemCaseSensitive(j, "provider");

		if (cJSON_IsString(what))
			interrupt_notice(m, what->valuestring,
					 cJSON_IsString(prov) ? prov->valuestring : "?");
		cJSON_Delete(j);
	} else
		log_debug("Interruption watcher: %s", why);
}

void monitor_interrupt_status(const struct monitor *m, cJSON *root)
{
	const struct monitor_interrupt *w = &m->interrupt;
	const struct monitor_backup *b = &m->backup;
	static const char *const states[] = {"failed", "none", "running", "verified"};
	cJSON *o;

	if (!w->notice[0] && !b->final_state) {
		cJSON_AddNullToObject(root, "interruption");
		return;
	}
	o = cJSON_AddObjectToObject(root, "interruption");
	cJSON_AddStringToObject(o, "reason", b->final_reason[0] ? b->final_reason : w->notice);
	if (w->notice_at)
		cJSON_AddNumberToObject(o, "at", (double)(w->notice_at / USEC_PER_SEC));
	cJSON_AddStringToObject(o, "final_backup", states[b->final_state + 1]);
	cJSON_AddStringToObject(o, "generation", b->final_state == 2 ? b->generation : "");
}

/* systemd's SystemState: "stopping" during a shutdown or reboot. Tests
 * set AGENTBOX_SYSTEM_STATE instead (no system bus to ask there). */
static int system_stopping(void)
{
	_cleanup_free_ char *state = NULL;
	const char *e = getenv("AGENTBOX_SYSTEM_STATE");
	sd_bus *bus = NULL;
	int r;

	if (e)
		return streq(e, "stopping");
	r = sd_bus_open_system(&bus);
	if (r < 0)
		return 0;
	r = sd_bus_get_property_string(bus, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
				       "org.freedesktop.systemd1.Manager", "SystemState", NULL,
				       &state);
	sd_bus_flush_close_unref(bus);
	return r >= 0 && streq(state, "stopping");
}

void monitor_interrupt_stopping(struct monitor *m)
{
	char took[FORMAT_DURATION_MAX];
	int r;

	/* our own poweroff (idle action) comes after its own final backup */
	if (m->action_pid || m->state == IDLE_STATE_ACTING || !system_stopping())
		return;
	format_duration(took, sizeof(took), MONITOR_SHUTDOWN_BACKUP_USEC);
	log_event(LOG_WARNING, MSGID_INTERRUPTION, LOG_FIELDS({"AGENTBOX_REASON", "shutdown"}), 1,
		  "The system is shutting down, not by this box's choice: final backup now "
		  "(at most %s)",
		  took);
	monitor_webhook(m, WEBHOOK_INTERRUPTION,
			"The system is shutting down, not by this box's choice: final backup now");
	r = monitor_backup_final(m, "system shutdown");
	if (r < 0) {
		log_event(LOG_ERR, MSGID_BACKUP_FAILED, LOG_FIELDS({"AGENTBOX_REASON", "shutdown"}),
			  1, "No final backup before the shutdown: %s",
			  r == -ENOMEDIUM ? "no state storage is configured" : strerror(-r));
		return;
	}
	monitor_backup_final_wait(m, MONITOR_SHUTDOWN_BACKUP_USEC);
}

void monitor_interrupt_done(struct monitor *m)
{
	/* bounded: it dies on SIGTERM (else SIGKILL after 1.5 s) */
	child_job_stop(&m->interrupt.job);
}
