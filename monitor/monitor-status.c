/* What the monitor publishes: <runtime_dir>/status.json for "agentbox
 * status", and the STATUS= line "systemctl status" shows. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "fileio.h"
#include "monitor-daemon.h"
#include "monitor-delete.h"

static cJSON *json_time_or_null(const struct monitor *m, usec_t boottime)
{
	if (!boottime)
		return cJSON_CreateNull();
	return cJSON_CreateNumber((double)(tick_to_realtime(&m->tick, boottime) / USEC_PER_SEC));
}

cJSON *monitor_status_json(const struct monitor *m)
{
	const struct config *c = m->config;
	cJSON *root = cJSON_CreateObject(), *signals, *hold;

	cJSON_AddStringToObject(root, "version", AGENTBOX_VERSION);
	cJSON_AddNumberToObject(root, "pid", (double)getpid());
	cJSON_AddNumberToObject(root, "updated", (double)(m->tick.realtime / USEC_PER_SEC));
	cJSON_AddNumberToObject(root, "interval_seconds", (double)c->idle_interval / USEC_PER_SEC);
	cJSON_AddStringToObject(root, "state", idle_state_to_string(m->state));
	cJSON_AddStringToObject(root, "reason", idle_reason_to_string(m->decision.reason));
	cJSON_AddNumberToObject(root, "idle_seconds", (double)(m->decision.idle_for / USEC_PER_SEC));
	cJSON_AddNumberToObject(root, "timeout_seconds", (double)(c->idle_timeout / USEC_PER_SEC));
	cJSON_AddNumberToObject(root, "warn_before_seconds",
				(double)(c->idle_warn_before / USEC_PER_SEC));
	cJSON_AddItemToObject(root, "action_due",
			      m->decision.deadline == USEC_INFINITY
				      ? cJSON_CreateNull()
				      : json_time_or_null(m, m->decision.deadline));
	cJSON_AddStringToObject(root, "action", idle_action_to_string(c->idle_action));
	if (m->action_error[0])
		cJSON_AddStringToObject(root, "action_error", m->action_error);
	else
		cJSON_AddNullToObject(root, "action_error");
	if (m->kept_alive_by) {
		cJSON_AddStringToObject(root, "kept_alive_by", m->kept_alive_by);
		cJSON_AddStringToObject(root, "kept_alive_detail", m->kept_alive_detail);
	} else {
		cJSON_AddNullToObject(root, "kept_alive_by");
		cJSON_AddNullToObject(root, "kept_alive_detail");
	}
	cJSON_AddItemToObject(root, "last_activity", json_time_or_null(m, m->last_activity));
	cJSON_AddItemToObject(root, "boot_grace_until",
			      json_time_or_null(m, m->policy.boot_grace));
	cJSON_AddItemToObject(root, "max_lifetime_at",
			      json_time_or_null(m, m->policy.max_lifetime));

	if (m->backup.enabled) {
		cJSON *b = cJSON_AddObjectToObject(root, "backup");
		cJSON_AddBoolToObject(b, "running", m->backup.pid != 0);
		cJSON_AddItemToObject(b, "last_at", json_time_or_null(m, m->backup.done_at));
		cJSON_AddBoolToObject(b, "last_ok", m->backup.ok);
		cJSON_AddStringToObject(b, "generation", m->backup.generation);
		cJSON_AddBoolToObject(b, "skipped", m->backup.skipped);
		if (m->backup.ok) {
			/* the size of what is kept: entries, file data, the object stored */
			cJSON_AddNumberToObject(b, "files", (double)m->backup.files);
			cJSON_AddNumberToObject(b, "bytes", (double)m->backup.bytes);
			cJSON_AddNumberToObject(b, "stored_bytes", (double)m->backup.size);
		}
		if (m->backup.error[0])
			cJSON_AddStringToObject(b, "error", m->backup.error);
		else
			cJSON_AddNullToObject(b, "error");
		cJSON_AddItemToObject(b, "next_at", json_time_or_null(m, m->backup.next_at));
	} else
		cJSON_AddNullToObject(root, "backup");

	hold = cJSON_AddObjectToObject(root, "keepalive");
	if (m->keepalive.until) {
		cJSON_AddNumberToObject(hold, "until", (double)(m->keepalive.until / USEC_PER_SEC));
		cJSON_AddStringToObject(hold, "holder", m->keepalive.holder);
		cJSON_AddStringToObject(hold, "reason", m->keepalive.reason);
	} else
		cJSON_AddNullToObject(hold, "until");

	monitor_delete_status(m, root);
	monitor_interrupt_status(m, root);

	signals = cJSON_AddObjectToObject(root, "signals");
	for (size_t i = 0; i < m->n_signals; i++) {
		const struct signal_source *s = &m->signals[i];
		cJSON *o = cJSON_AddObjectToObject(signals, s->ops->name);

		cJSON_AddItemToObject(o, "last_active", json_time_or_null(m, s->state.last_active));
		cJSON_AddStringToObject(o, "detail", s->state.detail);
		cJSON_AddBoolToObject(o, "degraded", s->state.degraded);
		if (s->state.degraded)
			cJSON_AddStringToObject(o, "reason", s->state.reason);
		else
			cJSON_AddNullToObject(o, "reason");
	}
	return root;
}

/* "2m ago" for a CLOCK_BOOTTIME stamp. */
static const char *ago(const struct monitor *m, usec_t when, char *buf, size_t size)
{
	char d[FORMAT_DURATION_MAX];

	if (!when)
		return "never";
	format_duration(d, sizeof(d), m->tick.now > when ? m->tick.now - when : 0);
	snprintf(buf, size, "%s ago", d);
	return buf;
}

void monitor_status_line(const struct monitor *m, char *buf, size_t size)
{
	const struct config *c = m->config;
	char idle[FORMAT_DURATION_MAX], timeout[FORMAT_DURATION_MAX], left[FORMAT_DURATION_MAX],
		when[FORMAT_DURATION_MAX + 8], backup[FORMAT_DURATION_MAX + 8];
	usec_t due = m->decision.deadline > m->tick.now ? m->decision.deadline - m->tick.now : 0;

	format_duration(idle, sizeof(idle), m->decision.idle_for);
	format_duration(timeout, sizeof(timeout), c->idle_timeout);
	format_duration(left, sizeof(left), due);
	switch (m->state) {
	case IDLE_STATE_ACTIVE:
		snprintf(buf, size, "active: %s %s · idle %s/%s · action %s%s%s",
			 strempty(m->kept_alive_by), ago(m, m->last_activity, when, sizeof(when)),
			 idle, timeout, idle_action_to_string(c->idle_action),
			 !m->backup.done_at ? ""
			 : m->backup.ok     ? " · last backup "
					    : " · backup failing, last try ",
			 m->backup.done_at ? ago(m, m->backup.done_at, backup, sizeof(backup)) : "");
		break;
	case IDLE_STATE_HELD:
		snprintf(buf, size, "held: %s, %s left · idle %s/%s", strempty(m->kept_alive_by),
			 left, idle, timeout);
		break;
	case IDLE_STATE_WARNING:
		snprintf(buf, size, "warning: idle %s/%s · %s in %s unless there is activity",
			 idle, timeout, idle_action_to_string(c->idle_action), left);
		break;
	case IDLE_STATE_IDLE:
		snprintf(buf, size, "idle: quiet %s (%s) · action %s%s", idle,
			 idle_reason_to_string(m->decision.reason),
			 idle_action_to_string(c->idle_action),
			 c->idle_action == IDLE_ACTION_NONE ? ", nothing done" : "");
		break;
	case IDLE_STATE_ACTING:
		if (monitor_delete_step_text(m)) {
			snprintf(buf, size, "acting: %s%s%s", monitor_delete_step_text(m),
				 m->action_error[0] ? ": " : "", m->action_error);
			break;
		}
		snprintf(buf, size, "acting: %s%s%s", idle_action_to_string(c->idle_action),
			 m->action_error[0] ? " failed: " : " under way",
			 m->action_error);
		break;
	default:
		snprintf(buf, size, "unknown");
	}
}

int monitor_status_write(const struct monitor *m)
{
	cJSON *root = monitor_status_json(m);
	char *text = cJSON_Print(root);
	int r;

	r = write_file_replace(m->status_path, text, strlen(text), 0644);
	cJSON_free(text);
	cJSON_Delete(root);
	return r;
}
