/* What the monitor publishes: <runtime_dir>/status.json for "agentbox
 * status", and the STATUS= line "systemctl status" shows.
 *
 * Both hold only what changes when something happens: times are absolute
 * (unix seconds, "at 14:03:05Z"), never ages, so an idle tick changes
 * neither and costs no write. Clients compute ages ("idle_seconds") and
 * read freshness from the file's mtime, refreshed every
 * STATUS_HEARTBEAT_USEC while the content stands still. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "fileio.h"
#include "monitor-daemon.h"
#include "monitor-delete.h"

usec_t monitor_realtime(const struct monitor *m, usec_t boottime)
{
	int64_t t = (int64_t)boottime + m->rt_offset;

	return t > 0 ? (usec_t)t / USEC_PER_SEC : 0;
}

static cJSON *json_time_or_null(const struct monitor *m, usec_t boottime)
{
	if (!boottime)
		return cJSON_CreateNull();
	return cJSON_CreateNumber((double)monitor_realtime(m, boottime));
}

cJSON *monitor_status_json(const struct monitor *m)
{
	static pid_t self; /* getpid() is a system call each time: once */
	const struct config *c = m->config;
	cJSON *root = cJSON_CreateObject(), *signals, *hold;

	if (!self)
		self = getpid();
	cJSON_AddStringToObject(root, "version", AGENTBOX_VERSION);
	cJSON_AddNumberToObject(root, "pid", (double)self);
	cJSON_AddNumberToObject(root, "interval_seconds", (double)c->idle_interval / USEC_PER_SEC);
	cJSON_AddStringToObject(root, "state", idle_state_to_string(m->state));
	cJSON_AddStringToObject(root, "reason", idle_reason_to_string(m->decision.reason));
	cJSON_AddItemToObject(root, "idle_since", json_time_or_null(m, m->decision.idle_since));
	cJSON_AddNumberToObject(root, "timeout_seconds", (double)(c->idle_timeout / USEC_PER_SEC));
	cJSON_AddNumberToObject(root, "warn_before_seconds",
				(double)(c->idle_warn_before / USEC_PER_SEC));
	cJSON_AddItemToObject(root, "action_due",
			      m->decision.deadline == USEC_INFINITY
				      ? cJSON_CreateNull()
				      : json_time_or_null(m, m->decision.deadline));
	cJSON_AddStringToObject(root, "action", idle_action_to_string(c->idle_action));
	if (monitor_action_error(m)[0])
		cJSON_AddStringToObject(root, "action_error", monitor_action_error(m));
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
		cJSON_AddBoolToObject(b, "running", m->backup.job.pid != 0);
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

	delete_seq_status(m->delete, root);
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

/* "14:03:05Z" for a CLOCK_BOOTTIME stamp. */
static const char *at(const struct monitor *m, usec_t when, char *buf, size_t size)
{
	time_t t = (time_t)monitor_realtime(m, when);
	struct tm tm;

	if (!when)
		return "never";
	gmtime_r(&t, &tm);
	strftime(buf, size, "%H:%M:%SZ", &tm);
	return buf;
}

void monitor_status_line(const struct monitor *m, char *buf, size_t size)
{
	const struct config *c = m->config;
	char timeout[FORMAT_DURATION_MAX], when[16], due[16], since[16], backup[16];

	format_duration(timeout, sizeof(timeout), c->idle_timeout);
	at(m, m->decision.deadline == USEC_INFINITY ? 0 : m->decision.deadline, due, sizeof(due));
	at(m, m->decision.idle_since, since, sizeof(since));
	switch (m->state) {
	case IDLE_STATE_ACTIVE:
		snprintf(buf, size, "active: %s at %s · idle at %s (timeout %s) · action %s%s%s",
			 strempty(m->kept_alive_by), at(m, m->last_activity, when, sizeof(when)),
			 due, timeout, idle_action_to_string(c->idle_action),
			 !m->backup.done_at ? ""
			 : m->backup.ok     ? " · last backup at "
					    : " · backup failing, last try at ",
			 m->backup.done_at ? at(m, m->backup.done_at, backup, sizeof(backup)) : "");
		break;
	case IDLE_STATE_HELD:
		snprintf(buf, size, "held: %s until %s · timeout %s", strempty(m->kept_alive_by),
			 since, timeout);
		break;
	case IDLE_STATE_WARNING:
		snprintf(buf, size, "warning: idle since %s · %s at %s unless there is activity",
			 since, idle_action_to_string(c->idle_action), due);
		break;
	case IDLE_STATE_IDLE:
		snprintf(buf, size, "idle: quiet since %s (%s) · action %s%s", since,
			 idle_reason_to_string(m->decision.reason),
			 idle_action_to_string(c->idle_action),
			 c->idle_action == IDLE_ACTION_NONE ? ", nothing done" : "");
		break;
	case IDLE_STATE_ACTING:
		if (delete_seq_step_text(m->delete)) {
			snprintf(buf, size, "acting: %s%s%s", delete_seq_step_text(m->delete),
				 monitor_action_error(m)[0] ? ": " : "", monitor_action_error(m));
			break;
		}
		snprintf(buf, size, "acting: %s%s%s", idle_action_to_string(c->idle_action),
			 monitor_action_error(m)[0] ? " failed: " : " under way",
			 monitor_action_error(m));
		break;
	default:
		snprintf(buf, size, "unknown");
	}
}

int monitor_status_write(struct monitor *m)
{
	cJSON *root = monitor_status_json(m);
	char *text = cJSON_Print(root);
	int r;

	cJSON_Delete(root);
	if (m->status_text && streq(text, m->status_text)) {
		cJSON_free(text);
		if (m->tick.now - m->status_touched < STATUS_HEARTBEAT_USEC)
			return 0;
		m->status_touched = m->tick.now;
		if (utimensat(AT_FDCWD, m->status_path, NULL, 0) == 0)
			return 0;
		if (errno != ENOENT)
			return -errno;
		/* removed by hand: written again at once */
		r = write_file_replace(m->status_path, m->status_text, strlen(m->status_text), 0644);
		return r < 0 ? r : 1;
	}
	r = write_file_replace(m->status_path, text, strlen(text), 0644);
	if (r < 0) {
		cJSON_free(text);
		return r; /* tried again next tick */
	}
	free(m->status_text);
	m->status_text = xstrdup(text);
	cJSON_free(text);
	m->status_touched = m->tick.now;
	return 1;
}
