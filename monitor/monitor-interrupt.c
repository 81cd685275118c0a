/* Interruption notices and shutdowns; see monitor-interrupt.h. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
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

	*w = (struct monitor_interrupt){.out_fd = -1};
	if (streq(c->provider_name, "none") || !m->backup.agentbox)
		return;
	client = monitor_client_path();
	{
		char *argv[] = {client, (char *)"--config", (char *)config,
				(char *)"internal-watch-interruption", NULL};
		r = monitor_child_spawn(argv, &w->pid, NULL, &w->out_fd);
	}
	if (r < 0) {
		w->pid = 0;
		log_warning_errno(r, "Cannot watch for interruption notices, going on: %m");
		return;
	}
	fcntl(w->out_fd, F_SETFL, O_NONBLOCK);
}

static void interrupt_reap(struct monitor_interrupt *w)
{
	int status;

	if (w->pid && waitpid(w->pid, &status, WNOHANG) == w->pid)
		w->pid = 0;
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
	char *nl;
	ssize_t n;

	if (w->out_fd < 0)
		return;
	n = read(w->out_fd, w->out + w->out_len, sizeof(w->out) - 1 - w->out_len);
	if (n > 0)
		w->out_len += (size_t)n;
	w->out[w->out_len] = '\0';
	nl = strchr(w->out, '\n');
	if (nl) {
		cJSON *j = cJSON_Parse(w->out);
		const cJSON *what = cJSON_GetObjectItemCaseSensitive(j, "interruption");
		const cJSON *prov = cJSON_GetObjectItemCaseSensitive(j, "provider");

		if (cJSON_IsString(what))
			interrupt_notice(m, what->valuestring,
					 cJSON_IsString(prov) ? prov->valuestring : "?");
		cJSON_Delete(j);
	}
	if (nl || n == 0 || w->out_len == sizeof(w->out) - 1) {
		/* one line, or the watcher ended (no notices on this cloud, or no identity) */
		close(w->out_fd);
		w->out_fd = -1;
	}
	interrupt_reap(w);
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
	struct monitor_interrupt *w = &m->interrupt;
	int status;

	if (w->pid) {
		kill(w->pid, SIGTERM);
		/* bounded: it sleeps at most 2 s between questions and dies on SIGTERM */
		for (int i = 0; i < 100 && waitpid(w->pid, &status, WNOHANG) != w->pid; i++)
			usleep(10000);
		if (waitpid(w->pid, &status, WNOHANG) == 0) {
			kill(w->pid, SIGKILL);
			waitpid(w->pid, &status, 0);
		}
		w->pid = 0;
	}
	if (w->out_fd >= 0)
		close(w->out_fd);
	w->out_fd = -1;
}
