/* Periodic backups; see monitor-backup.h.
 *
 * When: every state.backup_interval, if files were written since the
 * last backup started (the files signal tells, so no tree walk is needed
 * to know), or, when nothing changed, once half of state.lease_ttl has
 * passed so the lease stays ours. Failures are retried after 1 minute
 * (or the interval, if shorter), doubling up to the interval. Never while the idle action runs: the
 * delete sequence makes its own final backup. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <systemd/sd-daemon.h>

#include "log.h"
#include "monitor-backup.h"
#include "monitor-child.h"
#include "monitor-daemon.h"
#include "monitor-webhook.h"

#define BACKUP_RETRY_FIRST (60 * USEC_PER_SEC)

void monitor_backup_init(struct monitor *m)
{
	struct monitor_backup *b = &m->backup;
	const struct config *c = m->config;

	memset(b, 0, sizeof(*b));
	child_job_init(&b->job);
	b->enabled = c->state_storage_bucket && c->state_backup_interval;
	if (c->state_storage_bucket)
		b->agentbox = monitor_client_path(); /* final backups need no interval */
	if (!b->enabled)
		return;
	b->next_at = m->started + c->state_backup_interval;
	b->retry_delay = MIN(BACKUP_RETRY_FIRST, c->state_backup_interval);
}

static int backup_spawn(struct monitor *m)
{
	struct monitor_backup *b = &m->backup;
	const char *config = m->config->path ? m->config->path : CONFIG_DEFAULT_PATH;
	char *argv[] = {b->agentbox, (char *)"--config", (char *)config, (char *)"backup",
			(char *)"--json", NULL, NULL};

	if (b->final_reason[0])
		argv[5] = (char *)"--final";
	return child_job_start(&b->job, argv, NULL);
}

static void final_finished(struct monitor *m)
{
	struct monitor_backup *b = &m->backup;
	char took[FORMAT_DURATION_MAX];

	format_duration_exact(took, sizeof(took), now_usec(CLOCK_BOOTTIME) - b->final_asked);
	b->final_state = b->ok ? 2 : -1;
	if (b->ok)
		log_event(LOG_NOTICE, MSGID_BACKUP_DONE,
			  LOG_FIELDS({"AGENTBOX_GENERATION", b->generation},
				     {"AGENTBOX_REASON", b->final_reason}),
			  2,
			  "Final backup verified: generation %s read back as stored, %s after: %s",
			  b->generation, took, b->final_reason);
	else {
		_cleanup_free_ char *msg = xasprintf("Final backup failed (%s) after %s: %s",
						     b->error, took, b->final_reason);
		log_event(LOG_ERR, MSGID_BACKUP_FAILED,
			  LOG_FIELDS({"AGENTBOX_REASON", b->final_reason}), 1, "%s", msg);
		monitor_webhook(m, WEBHOOK_BACKUP_FAILED, msg);
	}
}

/* A whole number member of the child's answer; 0 when absent. */
static uint64_t json_u64(const cJSON *j, const char *name)
{
	const cJSON *v = cJSON_GetObjectItem(j, name);
	return cJSON_IsNumber(v) && v->valuedouble >= 0 ? (uint64_t)v->valuedouble : 0;
}

static void backup_finished(struct monitor *m)
{
	struct monitor_backup *b = &m->backup;
	usec_t interval = m->config->state_backup_interval;
	cJSON *j;

	b->done_at = m->tick.now;
	b->done_started = b->started;
	j = child_job_result(&b->job, "agentbox backup", b->error, sizeof(b->error));
	if (j && cJSON_IsString(cJSON_GetObjectItem(j, "generation"))) {
		b->ok = 1;
		b->skipped = cJSON_IsTrue(cJSON_GetObjectItem(j, "skipped"));
		snprintf(b->generation, sizeof(b->generation), "%s",
			 cJSON_GetObjectItem(j, "generation")->valuestring);
		b->files = json_u64(j, "files");
		b->bytes = json_u64(j, "bytes");
		b->size = json_u64(j, "size");
		b->error[0] = '\0';
		b->next_at = m->tick.now + interval;
		b->retry_delay = MIN(BACKUP_RETRY_FIRST, interval);
	} else {
		b->ok = 0;
		if (j)
			snprintf(b->error, sizeof(b->error), "agentbox backup named no generation");
		/* The child logged the cause with MSGID_BACKUP_FAILED. */
		log_warning("Periodic backup failed, retrying in %llus: %s",
			    (unsigned long long)(b->retry_delay / USEC_PER_SEC), b->error);
		if (!b->final_reason[0]) {
			_cleanup_free_ char *msg =
			    xasprintf("Periodic backup failed, retrying in %llus: %s",
				      (unsigned long long)(b->retry_delay / USEC_PER_SEC), b->error);
			monitor_webhook(m, WEBHOOK_BACKUP_FAILED, msg);
		}
		b->next_at = m->tick.now + b->retry_delay;
		b->retry_delay = MIN(b->retry_delay * 2, MAX(interval, BACKUP_RETRY_FIRST));
	}
	cJSON_Delete(j);
	if (b->final_state == 1)
		final_finished(m);
}

/* Files written since the last backup started (or the files signal cannot tell)? */
static int backup_needed(struct monitor *m)
{
	const struct signal_source *files = NULL;
	struct monitor_backup *b = &m->backup;

	for (size_t i = 0; i < m->n_signals; i++)
		if (streq(m->signals[i].ops->name, "files"))
			files = &m->signals[i];
	if (!b->done_at || !b->ok)
		return 1;
	if (!files || files->state.degraded || files->state.last_active >= b->done_started)
		return 1;
	/* nothing changed: only to keep the lease */
	return m->tick.now - b->done_at >= m->config->state_lease_ttl / 2;
}

void monitor_backup_tick(struct monitor *m)
{
	struct monitor_backup *b = &m->backup;
	int r;

	/* a final backup runs without an interval too */
	if (b->job.pid) {
		if (child_job_poll(&b->job) > 0)
			backup_finished(m);
		return;
	}
	/* after a final backup the box is going away, its lease given back */
	if (!b->enabled || b->final_state)
		return;
	if (m->tick.now < b->next_at || m->state == IDLE_STATE_ACTING)
		return;
	if (!backup_needed(m)) {
		b->next_at = m->tick.now + m->config->state_backup_interval;
		return;
	}
	b->started = m->tick.now;
	r = backup_spawn(m);
	if (r < 0) {
		snprintf(b->error, sizeof(b->error), "cannot run %s: %s", b->agentbox, strerror(-r));
		log_error("Periodic backup: %s", b->error);
		b->ok = 0;
		b->next_at = m->tick.now + b->retry_delay;
	}
}

void monitor_backup_stop(struct monitor *m)
{
	child_job_stop(&m->backup.job);
}

int monitor_backup_fd(const struct monitor *m)
{
	return child_job_fd(&m->backup.job);
}

int monitor_backup_final(struct monitor *m, const char *reason)
{
	struct monitor_backup *b = &m->backup;
	int r;

	if (!b->agentbox)
		return -ENOMEDIUM;
	if (b->final_state == 1 || b->final_state == 2)
		return 0; /* one final backup is enough */
	if (b->job.pid)
		monitor_backup_stop(m); /* a periodic one: the final one replaces it */
	snprintf(b->final_reason, sizeof(b->final_reason), "%s", reason);
	b->final_asked = now_usec(CLOCK_BOOTTIME);
	b->started = b->final_asked;
	r = backup_spawn(m);
	if (r < 0) {
		b->final_state = -1;
		snprintf(b->error, sizeof(b->error), "cannot run %s: %s", b->agentbox,
			 strerror(-r));
		return r;
	}
	b->final_state = 1;
	return 0;
}

void monitor_backup_final_wait(struct monitor *m, usec_t timeout)
{
	struct monitor_backup *b = &m->backup;
	usec_t until = now_usec(CLOCK_BOOTTIME) + timeout;

	while (b->job.pid && now_usec(CLOCK_BOOTTIME) < until) {
		struct pollfd p = {.fd = child_job_fd(&b->job), .events = POLLIN};

		/* the job's output (or its end) wakes us; the watchdog every 0.5 s */
		if (p.fd >= 0 && poll(&p, 1, 500) < 0 && errno != EINTR)
			break;
		if (child_job_poll(&b->job) > 0) {
			m->tick.now = now_usec(CLOCK_BOOTTIME);
			backup_finished(m);
			return;
		}
		sd_notify(0, "WATCHDOG=1");
		if (p.fd < 0)
			usleep(50000); /* output closed, exit not yet seen */
	}
	if (b->job.pid) {
		log_event(LOG_ERR, MSGID_BACKUP_FAILED,
			  LOG_FIELDS({"AGENTBOX_REASON", b->final_reason}), 1,
			  "Final backup not done within %llus, stopped: %s",
			  (unsigned long long)(timeout / USEC_PER_SEC), b->final_reason);
		b->final_state = -1;
	}
}

void monitor_backup_done(struct monitor *m)
{
	monitor_backup_stop(m);
	free(m->backup.agentbox);
	m->backup.agentbox = NULL;
}
