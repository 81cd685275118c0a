/* idle.action "delete"; see monitor-delete.h for the steps.
 *
 * Safety rules kept here, each with a log line when it stops a delete:
 *  - the instance id comes only from the metadata service, read at start,
 *    again when the sequence starts and again right before the request;
 *    any difference or doubt stops the sequence;
 *  - no delete unless the final backup succeeded and was verified, and
 *    nothing happened after it started (idle.delete_without_backup and
 *    idle.delete_without_storage are the only, explicit, exceptions);
 *  - a failed delete falls back to poweroff only where poweroff
 *    terminates (EC2 with InstanceInitiatedShutdownBehavior=terminate,
 *    confirmed); otherwise the box stays up, acting, and says why. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "fileio.h"
#include "log.h"
#include "monitor-daemon.h"
#include "monitor-delete.h"
#include "monitor-delete-job.h"
#include "monitor-webhook.h"
#include "provider.h"


/* After a failed sequence, when to try again (activity cancels it). */
#define DELETE_RETRY_USEC (5 * USEC_PER_MINUTE)
#define DELETE_TEXT_MAX 512

enum delete_step {
	DELETE_STEP_NONE,
	DELETE_STEP_IDENTIFY,
	DELETE_STEP_BACKUP,
	DELETE_STEP_VERIFY,
	DELETE_STEP_DELETING,
	DELETE_STEP_POWEROFF,
	DELETE_STEP_DELETED,
	DELETE_STEP_FAILED,
	DELETE_STEP_DRY_RUN,
	_DELETE_STEP_MAX,
};

static const char *const step_names[_DELETE_STEP_MAX] = {
    [DELETE_STEP_NONE] = "none",
    [DELETE_STEP_IDENTIFY] = "identify",
    [DELETE_STEP_BACKUP] = "backup",
    [DELETE_STEP_VERIFY] = "verify",
    [DELETE_STEP_DELETING] = "deleting",
    [DELETE_STEP_POWEROFF] = "poweroff",
    [DELETE_STEP_DELETED] = "deleted",
    [DELETE_STEP_FAILED] = "failed",
    [DELETE_STEP_DRY_RUN] = "dry-run-done",
};

static const char *const step_texts[_DELETE_STEP_MAX] = {
    [DELETE_STEP_NONE] = NULL,
    [DELETE_STEP_IDENTIFY] = "delete: reading the instance identity",
    [DELETE_STEP_BACKUP] = "delete: final backup",
    [DELETE_STEP_VERIFY] = "delete: verifying no activity since the backup",
    [DELETE_STEP_DELETING] = "delete: deleting the instance",
    [DELETE_STEP_POWEROFF] = "delete: powering off (terminates the instance)",
    [DELETE_STEP_DELETED] = "delete: the provider accepted the delete",
    [DELETE_STEP_FAILED] = "delete failed, nothing deleted",
    [DELETE_STEP_DRY_RUN] = "delete: dry run done, nothing deleted",
};


/* One background job. The worker writes the outputs, then 'finished';
 * the main thread reads them only after pthread_join(). */
struct delete_job {
	enum job_kind kind;
	pthread_t thread;
	pid_t pid; /* the child doing the work, set by delete_job_spawn() */
	int running;
	int finished;
	const struct config *config;
	int wake_fd;			 /* eventfd written when finished */
	struct provider_identity expect; /* JOB_DELETE: the identity checked before */

	int r;
	char why[DELETE_TEXT_MAX];
	struct provider_identity id;
	int ready_r;
	char ready_why[DELETE_TEXT_MAX];
	int shutdown_terminates; /* 1, 0, or -errno: unknown */
	char shutdown_why[DELETE_TEXT_MAX];
	char generation[64];
	int verify_failed; /* JOB_BACKUP: stored, but not read back as stored */
	usec_t duration;
	struct provider_result result;
	int poweroff; /* JOB_DELETE: identity confirmed, poweroff is the delete */
	int method;   /* JOB_IDENTIFY: enum provider_method */
	char plan[DELETE_TEXT_MAX];
};

struct delete_seq {
	enum delete_step step;
	usec_t step_since;     /* CLOCK_BOOTTIME */
	usec_t step_since_rt;  /* unix usec */
	usec_t started_rt;     /* unix usec of the sequence's start */
	usec_t backup_started; /* CLOCK_BOOTTIME */
	usec_t retry_at;       /* CLOCK_BOOTTIME, in step failed */
	int rounds;

	int identity_known;
	int identity_logged;
	struct provider_identity identity;
	char identity_why[DELETE_TEXT_MAX];
	int method; /* enum provider_method, from the identify job */
	int shutdown_terminates;
	char shutdown_why[DELETE_TEXT_MAX];

	char generation[64];
	char plan[DELETE_TEXT_MAX];
	char request[DELETE_TEXT_MAX];
	char detail[DELETE_TEXT_MAX];
	int attempts;
	int poweroff_started;
	char *path; /* <state_dir>/delete.json */
	int wake_fd;

	struct delete_job job;
};

static int arg_dry_run;

void monitor_delete_set_dry_run(int on)
{
	arg_dry_run = on;
}

int monitor_delete_dry_run(void)
{
	return arg_dry_run;
}

static void cjson_deletep(cJSON **p)
{
	cJSON_Delete(*p);
}

static cJSON *identity_json(const struct provider_identity *id)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "provider", id->provider);
	cJSON_AddStringToObject(o, "instance_id", id->instance_id);
	cJSON_AddStringToObject(o, "region", id->region);
	cJSON_AddStringToObject(o, "zone", id->zone);
	cJSON_AddStringToObject(o, "hostname", id->hostname);
	cJSON_AddStringToObject(o, "public_ipv4", id->public_ipv4);
	return o;
}

static cJSON *seq_json(const struct delete_seq *s)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "step", step_names[s->step]);
	cJSON_AddNumberToObject(o, "since", (double)(s->step_since_rt / USEC_PER_SEC));
	if (s->started_rt)
		cJSON_AddNumberToObject(o, "started", (double)(s->started_rt / USEC_PER_SEC));
	else
		cJSON_AddNullToObject(o, "started");
	cJSON_AddBoolToObject(o, "dry_run", arg_dry_run);
	cJSON_AddNumberToObject(o, "rounds", s->rounds);
	cJSON_AddStringToObject(o, "plan", s->plan);
	cJSON_AddStringToObject(o, "generation", s->generation);
	cJSON_AddStringToObject(o, "request", s->request);
	cJSON_AddStringToObject(o, "detail", s->detail);
	cJSON_AddNumberToObject(o, "attempts", s->attempts);
	if (s->identity_known)
		cJSON_AddItemToObject(o, "identity", identity_json(&s->identity));
	return o;
}

/* Writes delete.json; a failure is logged (the sequence goes on). */
static void seq_save(const struct delete_seq *s)
{
	_cleanup_(cjson_deletep) cJSON *o = seq_json(s);
	char *text = cJSON_Print(o);
	int r;

	r = write_file_atomic(s->path, text, strlen(text), 0600);
	cJSON_free(text);
	if (r < 0)
		log_warning_errno(r, "Cannot write %s, continuing: %m", s->path);
}

static void seq_set_step(struct monitor *m, enum delete_step step)
{
	struct delete_seq *s = m->delete;

	s->step = step;
	s->step_since = m->tick.now;
	s->step_since_rt = now_usec(CLOCK_REALTIME);
	seq_save(s);
}

/* Runs one job in a child process, "agentbox internal-delete-job": the
 * network and backup code (libcurl, libarchive, OpenSSL) stays out of the
 * daemon, which keeps it small, and a crash in it cannot take the monitor
 * down. The expected identity goes to the child's stdin and its results
 * come back on stdout, both as the fixed-size records of
 * monitor-delete-job.h. */
static void *job_main(void *userdata)
{
	struct delete_job *j = userdata;
	struct delete_job_out out;
	int r;

	r = delete_job_spawn(j->config, j->kind, &j->expect, &j->pid, &out);
	if (r < 0) {
		j->r = r;
		snprintf(j->why, sizeof(j->why), "%s", out.why[0] ? out.why : strerror(-r));
	} else {
		j->r = out.r;
		memcpy(j->why, out.why, sizeof(j->why));
		j->id = out.id;
		j->ready_r = out.ready_r;
		memcpy(j->ready_why, out.ready_why, sizeof(j->ready_why));
		j->shutdown_terminates = out.shutdown_terminates;
		memcpy(j->shutdown_why, out.shutdown_why, sizeof(j->shutdown_why));
		memcpy(j->generation, out.generation, sizeof(j->generation));
		j->verify_failed = out.verify_failed;
		j->duration = out.duration;
		j->result = out.result;
		j->poweroff = out.poweroff;
		j->method = out.method;
		memcpy(j->plan, out.plan, sizeof(j->plan));
	}
	__atomic_store_n(&j->finished, 1, __ATOMIC_RELEASE);
	if (j->wake_fd >= 0 && eventfd_write(j->wake_fd, 1) < 0) {
		/* the next tick collects it anyway */
	}
	return NULL;
}

static int job_start(struct monitor *m, enum job_kind kind)
{
	struct delete_job *j = &m->delete->job;
	int r;

	*j = (struct delete_job){.kind = kind,
				 .config = m->config,
				 .wake_fd = m->delete->wake_fd,
				 .expect = m->delete->identity};
	r = pthread_create(&j->thread, NULL, job_main, j);
	if (r != 0) {
		j->kind = JOB_NONE;
		return -r;
	}
	j->running = 1;
	return 0;
}

static void seq_fail(struct monitor *m, const char *fmt, ...) _printf_(2, 3);
static void seq_fail(struct monitor *m, const char *fmt, ...)
{
	struct delete_seq *s = m->delete;
	char text[DELETE_TEXT_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap); /* the arguments may be s->detail */
	va_end(ap);
	snprintf(s->detail, sizeof(s->detail), "%s", text);
	snprintf(m->action_error, sizeof(m->action_error), "%s", s->detail);
	s->retry_at = m->tick.now + DELETE_RETRY_USEC;
	seq_set_step(m, DELETE_STEP_FAILED);
	log_event(LOG_ERR, MSGID_ACTION_FAILED,
		  LOG_FIELDS({"AGENTBOX_ACTION", "delete"},
			     {"AGENTBOX_INSTANCE_ID", s->identity.instance_id},
			     {"AGENTBOX_PROVIDER", s->identity.provider}),
		  3,
		  "Delete stopped, nothing deleted, the box stays up (retry in 5m unless there "
		  "is activity): %s",
		  s->detail);
	{
		_cleanup_free_ char *msg = xasprintf(
		    "Delete refused, nothing deleted, the box stays up: %s", s->detail);
		monitor_webhook(m, WEBHOOK_DELETE_REFUSED, msg);
	}
}

static void log_identity(struct delete_seq *s)
{
	char text[DELETE_TEXT_MAX];

	if (s->identity_logged)
		return;
	s->identity_logged = 1;
	provider_identity_describe(&s->identity, text, sizeof(text));
	log_event(LOG_INFO, MSGID_INSTANCE_IDENTITY,
		  LOG_FIELDS({"AGENTBOX_PROVIDER", s->identity.provider},
			     {"AGENTBOX_INSTANCE_ID", s->identity.instance_id},
			     {"AGENTBOX_REGION", s->identity.region}),
		  3, "This is %s", text);
	/* what a poweroff would do, where it may delete (the provider's words) */
	if (s->shutdown_terminates == -EOPNOTSUPP)
		return;
	if (s->shutdown_terminates < 0)
		log_warning("%s", s->shutdown_why);
	else
		log_info("%s: %s", s->identity.provider, s->shutdown_why);
}

/* The start-up lookup: remembered for status and for the sequence. */
static void identify_finished(struct monitor *m, struct delete_job *j)
{
	struct delete_seq *s = m->delete;

	if (j->r < 0) {
		if (!streq(s->identity_why, j->why))
			log_event(LOG_WARNING, MSGID_INSTANCE_IDENTITY,
				  LOG_FIELDS({"AGENTBOX_PROVIDER",
					      m->config->provider_name}),
				  1, "Instance identity unknown, so nothing will be deleted: %s",
				  j->why);
		snprintf(s->identity_why, sizeof(s->identity_why), "%s", j->why);
		return;
	}
	if (s->identity_known && !provider_identity_equal(&s->identity, &j->id)) {
		snprintf(s->identity_why, sizeof(s->identity_why),
			 "the instance identity changed since start (%s, now %s)",
			 s->identity.instance_id, j->id.instance_id);
		return;
	}
	s->identity = j->id;
	s->identity_known = 1;
	s->identity_why[0] = '\0';
	s->method = j->method;
	s->shutdown_terminates = j->shutdown_terminates;
	snprintf(s->shutdown_why, sizeof(s->shutdown_why), "%s", j->shutdown_why);
	log_identity(s);
}

static void seq_begin_backup(struct monitor *m)
{
	const struct config *c = m->config;
	struct delete_seq *s = m->delete;
	int r;

	s->backup_started = m->tick.now;
	if (c->idle_delete_without_backup) {
		log_event(LOG_WARNING, MSGID_BACKUP_SKIPPED,
			  LOG_FIELDS({"AGENTBOX_ACTION", "delete"}), 1,
			  "No final backup: idle.delete_without_backup is true; the workspace's "
			  "files go with the instance");
		seq_set_step(m, DELETE_STEP_VERIFY);
		return;
	}
	if (arg_dry_run) {
		log_notice("Dry run: would run the final backup now (as 'agentbox backup' does)");
		seq_set_step(m, DELETE_STEP_VERIFY);
		return;
	}
	seq_set_step(m, DELETE_STEP_BACKUP);
	r = job_start(m, JOB_BACKUP);
	if (r < 0)
		seq_fail(m, "cannot start the final backup: %s", strerror(-r));
}

static void seq_identified(struct monitor *m, struct delete_job *j)
{
	struct delete_seq *s = m->delete;

	if (j->r < 0) {
		snprintf(s->identity_why, sizeof(s->identity_why), "%s", j->why);
		seq_fail(m, "instance identity unknown: %s", j->why);
		return;
	}
	if (s->identity_known && !provider_identity_equal(&s->identity, &j->id)) {
		seq_fail(m, "the instance identity changed since start: %s %s then, %s %s now",
			 s->identity.provider, s->identity.instance_id,
			 j->id.provider, j->id.instance_id);
		return;
	}
	s->identity = j->id;
	s->identity_known = 1;
	s->method = j->method;
	s->shutdown_terminates = j->shutdown_terminates;
	snprintf(s->shutdown_why, sizeof(s->shutdown_why), "%s", j->shutdown_why);
	log_identity(s);
	snprintf(s->plan, sizeof(s->plan), "%s", j->plan);
	if (j->ready_r < 0) {
		seq_fail(m, "cannot delete: %s", j->ready_why);
		return;
	}
	if (s->method == PROVIDER_METHOD_POWEROFF && s->shutdown_terminates == 0) {
		seq_fail(m,
			 "a poweroff would only stop the instance (still billed for its "
			 "volumes): %s",
			 s->shutdown_why);
		return;
	}
	seq_begin_backup(m);
}

static void seq_backed_up(struct monitor *m, struct delete_job *j)
{
	const struct config *c = m->config;
	struct delete_seq *s = m->delete;
	char took[FORMAT_DURATION_MAX];

	format_duration_exact(took, sizeof(took), j->duration);
	if (j->r == -ENOMEDIUM && c->idle_delete_without_storage) {
		log_event(LOG_WARNING, MSGID_BACKUP_SKIPPED,
			  LOG_FIELDS({"AGENTBOX_ACTION", "delete"}), 1,
			  "No final backup: %s, and idle.delete_without_storage is true; the "
			  "workspace's files go with the instance",
			  j->why);
		seq_set_step(m, DELETE_STEP_VERIFY);
		return;
	}
	if (j->r == -ENOMEDIUM) {
		seq_fail(m,
			 "no final backup: %s; configure state.storage, or set "
			 "idle.delete_without_storage to delete without one",
			 j->why);
		return;
	}
	if (j->r < 0 && j->verify_failed) {
		seq_fail(m,
			 j->r == -EBADMSG
			     ? "the final backup %s does not read back as it was stored: %s"
			     : "the final backup %s could not be read back to verify it: %s",
			 j->generation, j->why);
		return;
	}
	if (j->r < 0) {
		seq_fail(m, "the final backup failed after %s: %s", took, j->why);
		return;
	}
	snprintf(s->generation, sizeof(s->generation), "%s", j->generation);
	log_event(LOG_NOTICE, MSGID_BACKUP_DONE,
		  LOG_FIELDS({"AGENTBOX_GENERATION", s->generation}, {"AGENTBOX_ACTION", "delete"}),
		  2, "Final backup verified: generation %s read back as stored (%s)", s->generation,
		  took);
	seq_set_step(m, DELETE_STEP_VERIFY);
}

static void seq_deleted(struct monitor *m, struct delete_job *j)
{
	struct delete_seq *s = m->delete;

	snprintf(s->request, sizeof(s->request), "%s", j->result.request);
	snprintf(s->detail, sizeof(s->detail), "%s", j->result.detail);
	s->attempts = j->result.attempts;
	if (j->r >= 0 && j->poweroff) {
		seq_set_step(m, DELETE_STEP_POWEROFF);
		return;
	}
	if (j->r >= 0) {
		m->action_error[0] = '\0';
		seq_set_step(m, DELETE_STEP_DELETED);
		log_event(
		    LOG_NOTICE, MSGID_INSTANCE_DELETING,
		    LOG_FIELDS({"AGENTBOX_PROVIDER", s->identity.provider},
			       {"AGENTBOX_INSTANCE_ID", s->identity.instance_id},
			       {"AGENTBOX_STEP", "accepted"}),
		    3, "The provider accepted the delete of %s: %s", s->identity.instance_id,
		    s->detail);
		return;
	}
	if (j->r == -ESTALE || !s->request[0]) {
		seq_fail(m, "%s", j->result.detail);
		return;
	}
	if (s->shutdown_terminates == 1) {
		snprintf(m->action_error, sizeof(m->action_error), "%s", s->detail);
		log_event(LOG_ERR, MSGID_ACTION_FAILED, LOG_FIELDS({"AGENTBOX_ACTION", "delete"}),
			  1,
			  "%s failed after %d attempts (%s); falling back to poweroff, which "
			  "terminates this instance (%s)",
			  s->request, s->attempts, s->detail, s->shutdown_why);
		seq_set_step(m, DELETE_STEP_POWEROFF);
		return;
	}
	seq_fail(m, "%s failed after %d attempt%s: %s", s->request, s->attempts,
		 s->attempts == 1 ? "" : "s", s->detail);
}

/* Collects a finished job and moves the sequence on. */
static void seq_collect(struct monitor *m)
{
	struct delete_seq *s = m->delete;
	struct delete_job done, *j = &done;

	if (!s->job.running || !__atomic_load_n(&s->job.finished, __ATOMIC_ACQUIRE))
		return;
	pthread_join(s->job.thread, NULL);
	/* The handlers may start the next job in s->job. */
	done = s->job;
	s->job.running = 0;
	s->job.kind = JOB_NONE;
	switch (j->kind) {
	case JOB_IDENTIFY:
		if (s->step == DELETE_STEP_IDENTIFY)
			seq_identified(m, j);
		else
			identify_finished(m, j);
		break;
	case JOB_BACKUP:
		if (s->step == DELETE_STEP_BACKUP)
			seq_backed_up(m, j);
		break;
	case JOB_DELETE:
		if (s->step == DELETE_STEP_DELETING)
			seq_deleted(m, j);
		break;
	case JOB_NONE:
		break;
	}
}

static void seq_back_to_active(struct monitor *m, const char *why)
{
	struct delete_seq *s = m->delete;

	log_event(LOG_NOTICE, MSGID_IDLE_CANCELLED,
		  LOG_FIELDS({"AGENTBOX_SIGNAL", strempty(m->kept_alive_by)},
			     {"AGENTBOX_ACTION", "delete"}),
		  2, "Delete aborted, nothing deleted, back to active: %s (%s: %s)", why,
		  strempty(m->kept_alive_by), m->kept_alive_detail);
	snprintf(s->detail, sizeof(s->detail), "aborted: %s", why);
	seq_set_step(m, DELETE_STEP_NONE);
	m->state = IDLE_STATE_ACTIVE;
	m->action_started = 0;
	m->action_error[0] = '\0';
}

static void seq_start(struct monitor *m)
{
	struct delete_seq *s = m->delete;
	int r;

	m->state = IDLE_STATE_ACTING;
	if (!m->action_started)
		m->action_started = m->tick.now;
	s->rounds++;
	s->started_rt = now_usec(CLOCK_REALTIME);
	s->generation[0] = s->request[0] = s->detail[0] = '\0';
	s->attempts = 0;
	log_event(LOG_NOTICE, MSGID_ACTION,
		  LOG_FIELDS({"AGENTBOX_ACTION", "delete"},
			     {"AGENTBOX_DRY_RUN", arg_dry_run ? "1" : "0"}),
		  2, "Idle: %sdeleting this instance: identity, final backup, verify, delete",
		  arg_dry_run ? "dry run, not " : "");
	monitor_webhook(m, WEBHOOK_ACTION,
			arg_dry_run ? "Idle: dry run of the delete (nothing is deleted)"
				    : "Idle: deleting this instance after a verified final backup");
	seq_set_step(m, DELETE_STEP_IDENTIFY);
	/* agentbox-init leaves this marker when the state restore at boot
	 * failed: the bucket may then hold newer state than this box, and a
	 * final backup would bury it. */
	{
		_cleanup_free_ char *marker = xasprintf("%s/restore-failed", m->config->state_dir);
		if (access(marker, F_OK) == 0) {
			seq_fail(m,
				 "the state restore at boot failed (%s): this box may not hold the "
				 "latest state, so it is not deleted; restore with 'agentbox "
				 "restore', then remove that file",
				 marker);
			return;
		}
	}
	if (s->job.running)
		return; /* the start-up lookup is still running: collected as this step's */
	r = job_start(m, JOB_IDENTIFY);
	if (r < 0)
		seq_fail(m, "cannot start the identity lookup: %s", strerror(-r));
}

static void seq_verify(struct monitor *m)
{
	struct delete_seq *s = m->delete;
	char text[DELETE_TEXT_MAX];
	int r;

	/* Anything since the backup started, even a degraded signal or a
	 * keepalive, aborts. */
	if (m->last_activity > s->backup_started) {
		seq_back_to_active(m, "activity since the final backup started");
		return;
	}
	if (m->decision.state != IDLE_STATE_IDLE || m->keepalive_ended > s->backup_started) {
		seq_back_to_active(m, m->decision.state == IDLE_STATE_HELD ||
					      m->keepalive_ended > s->backup_started
					  ? "a keepalive since the final backup started"
					  : "no longer idle");
		return;
	}
	provider_identity_describe(&s->identity, text, sizeof(text));
	if (arg_dry_run) {
		log_event(
		    LOG_NOTICE, MSGID_INSTANCE_DELETING,
		    LOG_FIELDS({"AGENTBOX_PROVIDER", s->identity.provider},
			       {"AGENTBOX_INSTANCE_ID", s->identity.instance_id},
			       {"AGENTBOX_DRY_RUN", "1"}),
		    3, "Dry run: would now delete %s: %s", text, s->plan);
		seq_set_step(m, DELETE_STEP_DRY_RUN);
		return;
	}
	switch ((enum provider_method)s->method) {
	case PROVIDER_METHOD_NOTHING:
		log_event(LOG_NOTICE, MSGID_INSTANCE_DELETING,
			  LOG_FIELDS({"AGENTBOX_PROVIDER", "none"}), 1,
			  "provider.name is none: nothing deleted, the box stays up");
		snprintf(s->detail, sizeof(s->detail), "provider none: nothing deleted");
		seq_set_step(m, DELETE_STEP_DELETED);
		return;
	case PROVIDER_METHOD_POWEROFF: /* the identity is checked once more first */
	case PROVIDER_METHOD_API:
		break;
	}
	log_event(LOG_NOTICE, MSGID_INSTANCE_DELETING,
		  LOG_FIELDS({"AGENTBOX_PROVIDER", s->identity.provider},
			     {"AGENTBOX_INSTANCE_ID", s->identity.instance_id}),
		  2, "Deleting %s: %s", text, s->plan);
	seq_set_step(m, DELETE_STEP_DELETING);
	r = job_start(m, JOB_DELETE);
	if (r < 0)
		seq_fail(m, "cannot start the delete: %s", strerror(-r));
}

static void seq_poweroff(struct monitor *m)
{
	struct delete_seq *s = m->delete;
	int r;

	/* Once: a failure (reaped by the core) sets action_retry_at. */
	if (m->action_pid || (s->poweroff_started && !m->action_retry_at) ||
	    (m->action_retry_at && m->tick.now < m->action_retry_at))
		return;
	s->poweroff_started = 1;
	m->action_retry_at = 0;
	log_event(LOG_NOTICE, MSGID_ACTION, LOG_FIELDS({"AGENTBOX_ACTION", "delete"}), 1,
		  "Powering off; the instance terminates with it");
	r = monitor_spawn_poweroff(m);
	if (r < 0) {
		snprintf(m->action_error, sizeof(m->action_error), "cannot run systemctl: %s",
			 strerror(-r));
		m->action_retry_at = m->tick.now + 60 * USEC_PER_SEC;
		log_event(LOG_ERR, MSGID_ACTION_FAILED, LOG_FIELDS({"AGENTBOX_ACTION", "delete"}),
			  1, "Poweroff failed, retrying in 1m: %s", m->action_error);
	}
}

void monitor_delete_act(struct monitor *m)
{
	struct delete_seq *s = m->delete;

	if (!s)
		return;
	seq_collect(m);
	switch (s->step) {
	case DELETE_STEP_NONE:
		seq_start(m);
		break;
	case DELETE_STEP_VERIFY:
		seq_verify(m);
		break;
	case DELETE_STEP_POWEROFF:
		seq_poweroff(m);
		break;
	case DELETE_STEP_FAILED:
		if (m->last_activity > s->step_since || m->decision.state == IDLE_STATE_HELD)
			seq_back_to_active(m, "activity after the failure");
		else if (m->tick.now >= s->retry_at) {
			log_notice("Trying the delete sequence again, from the final backup");
			seq_set_step(m, DELETE_STEP_NONE);
			seq_start(m);
		}
		break;
	case DELETE_STEP_DRY_RUN:
		if (m->last_activity > s->step_since)
			seq_back_to_active(m, "activity after the dry run");
		break;
	case DELETE_STEP_IDENTIFY:
	case DELETE_STEP_BACKUP:
	case DELETE_STEP_DELETING:
	case DELETE_STEP_DELETED:
	case _DELETE_STEP_MAX:
		break;
	}
	if (s->step != DELETE_STEP_NONE)
		m->state = IDLE_STATE_ACTING;
}

void monitor_delete_poll(struct monitor *m)
{
	if (m->delete &&m->delete->step == DELETE_STEP_NONE)
		seq_collect(m);
}

/* An earlier sequence that did not finish is reported, and not resumed. */
static void seq_load_previous(struct delete_seq *s)
{
	_cleanup_free_ char *text = NULL;
	_cleanup_(cjson_deletep) cJSON *o = NULL;
	const cJSON *step, *since;
	char when[FORMAT_UTC_MAX] = "?";
	int r;

	r = read_file(s->path, 64 * 1024, &text, NULL);
	if (r == -ENOENT)
		return;
	if (r < 0) {
		log_warning_errno(r, "Cannot read %s, ignoring: %m", s->path);
		return;
	}
	o = cJSON_Parse(text);
	step = cJSON_GetObjectItemCaseSensitive(o, "step");
	since = cJSON_GetObjectItemCaseSensitive(o, "since");
	if (cJSON_IsNumber(since))
		format_utc(when, sizeof(when), (time_t)since->valuedouble);
	if (!cJSON_IsString(step)) {
		log_warning("%s is malformed, ignoring it", s->path);
		return;
	}
	if (streq(step->valuestring, "none"))
		return;
	log_event(LOG_NOTICE, MSGID_ACTION, LOG_FIELDS({"AGENTBOX_ACTION", "delete"}), 1,
		  "A delete sequence was interrupted at step '%s' (%s); starting over from idle: "
		  "nothing is deleted without a new final backup",
		  step->valuestring, when);
	snprintf(s->detail, sizeof(s->detail), "previous sequence interrupted at step %s (%s)",
		 step->valuestring, when);
}

int monitor_delete_prepare(struct monitor *m)
{
	const struct config *c = m->config;
	struct delete_seq *s;
	int r;

	r = mkdir_p(c->state_dir, 0755);
	if (r < 0)
		return log_error_errno(r, "Cannot create state_dir %s: %m", c->state_dir);
	s = xcalloc(1, sizeof(*s));
	s->path = xasprintf("%s/delete.json", c->state_dir);
	s->shutdown_terminates = -ENODATA;
	s->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	m->delete = s;
	seq_load_previous(s);
	s->step_since = now_usec(CLOCK_BOOTTIME);
	s->step_since_rt = now_usec(CLOCK_REALTIME);
	seq_save(s);
	if (arg_dry_run)
		log_notice("Dry run: the idle action is shown step by step, and nothing is backed "
			   "up, deleted or powered off");
	r = job_start(m, JOB_IDENTIFY);
	if (r < 0)
		log_warning_errno(r, "Cannot start the identity lookup, will retry when idle: %m");
	return 0;
}

void monitor_delete_status(const struct monitor *m, cJSON *root)
{
	const struct delete_seq *s = m->delete;

	if (!s)
		return;
	if (s->identity_known)
		cJSON_AddItemToObject(root, "identity", identity_json(&s->identity));
	else
		cJSON_AddNullToObject(root, "identity");
	if (s->identity_why[0])
		cJSON_AddStringToObject(root, "identity_error", s->identity_why);
	else
		cJSON_AddNullToObject(root, "identity_error");
	cJSON_AddItemToObject(root, "delete", seq_json(s));
}

int monitor_delete_fd(const struct monitor *m)
{
	return m->delete ? m->delete->wake_fd : -1;
}

int monitor_delete_wake(struct monitor *m)
{
	eventfd_t v;

	return m->delete &&eventfd_read(m->delete->wake_fd, &v) == 0;
}

const char *monitor_delete_step_text(const struct monitor *m)
{
	return m->delete ? step_texts[m->delete->step] : NULL;
}

void monitor_delete_done(struct monitor *m)
{
	struct delete_seq *s = m->delete;

	if (!s)
		return;
	if (s->job.running) {
		if (__atomic_load_n(&s->job.finished, __ATOMIC_ACQUIRE))
			pthread_join(s->job.thread, NULL);
		else {
			/* A backup or a request under way is stopped (a backup cut
			 * short is never trusted); the next start begins the sequence
			 * again. The worker then ends by itself. */
			pid_t pid = __atomic_load_n(&s->job.pid, __ATOMIC_ACQUIRE);
			if (pid > 0)
				kill(pid, SIGTERM);
			pthread_detach(s->job.thread);
			return;
		}
	}
	if (s->wake_fd >= 0)
		close(s->wake_fd);
	free(s->path);
	free(s);
	m->delete = NULL;
}
