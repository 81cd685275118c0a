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
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "config.h"
#include "fileio.h"
#include "log.h"
#include "monitor-child.h"
#include "monitor-delete-job.h"
#include "monitor-delete.h"
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


/* One job at a time, a child process (monitor-child.h). */
struct delete_job {
	enum job_kind kind; /* JOB_NONE: none running */
	struct child_job child;
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
	char error[DELETE_TEXT_MAX]; /* the last failure, for status; "" when none */
	char *path;                  /* <state_dir>/delete.json */
	const struct config *config;
	usec_t now; /* CLOCK_BOOTTIME of the tick being handled */
	delete_notify_fn notify;
	void *notify_userdata;

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

/* The identity as the delete job passes it, less the cloud account,
 * which status.json (readable by the workspace's users) does not show. */
static cJSON *identity_json(const struct provider_identity *id)
{
	cJSON *o = delete_job_identity_json(id);

	cJSON_DeleteItemFromObject(o, "account");
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

static void seq_set_step(struct delete_seq *s, enum delete_step step)
{
	s->step = step;
	s->step_since = s->now;
	s->step_since_rt = now_usec(CLOCK_REALTIME);
	seq_save(s);
}

/* Runs one job in a child process, "agentbox internal-delete-job": the
 * network and backup code (libcurl, libarchive, OpenSSL) stays out of the
 * daemon, which keeps it small, and a crash in it cannot take the monitor
 * down. The daemon's loop polls its output (delete_seq_fd()) and the next
 * tick collects the result. */
static int job_start(struct delete_seq *s, enum job_kind kind)
{
	int r;

	r = delete_job_start(&s->job.child, s->config, kind, &s->identity);
	if (r < 0)
		return r;
	s->job.kind = kind;
	return 0;
}

static void seq_notify(struct delete_seq *s, const char *event, const char *message)
{
	if (s->notify)
		s->notify(s->notify_userdata, event, message);
}

static void seq_fail(struct delete_seq *s, const char *fmt, ...) _printf_(2, 3);
static void seq_fail(struct delete_seq *s, const char *fmt, ...)
{
	char text[DELETE_TEXT_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap); /* the arguments may be s->detail */
	va_end(ap);
	snprintf(s->detail, sizeof(s->detail), "%s", text);
	snprintf(s->error, sizeof(s->error), "%s", s->detail);
	s->retry_at = s->now + DELETE_RETRY_USEC;
	seq_set_step(s, DELETE_STEP_FAILED);
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
		seq_notify(s, WEBHOOK_DELETE_REFUSED, msg);
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
static void identify_finished(struct delete_seq *s, const struct delete_job_out *j)
{
	if (j->r < 0) {
		if (!streq(s->identity_why, j->why))
			log_event(LOG_WARNING, MSGID_INSTANCE_IDENTITY,
				  LOG_FIELDS({"AGENTBOX_PROVIDER",
					      s->config->provider_name}),
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

static void seq_begin_backup(struct delete_seq *s)
{
	const struct config *c = s->config;
	int r;

	s->backup_started = s->now;
	if (c->idle_delete_without_backup) {
		log_event(LOG_WARNING, MSGID_BACKUP_SKIPPED,
			  LOG_FIELDS({"AGENTBOX_ACTION", "delete"}), 1,
			  "No final backup: idle.delete_without_backup is true; the workspace's "
			  "files go with the instance");
		seq_set_step(s, DELETE_STEP_VERIFY);
		return;
	}
	if (arg_dry_run) {
		log_notice("Dry run: would run the final backup now (as 'agentbox backup' does)");
		seq_set_step(s, DELETE_STEP_VERIFY);
		return;
	}
	seq_set_step(s, DELETE_STEP_BACKUP);
	r = job_start(s, JOB_BACKUP);
	if (r < 0)
		seq_fail(s, "cannot start the final backup: %s", strerror(-r));
}

static void seq_identified(struct delete_seq *s, const struct delete_job_out *j)
{

	if (j->r < 0) {
		snprintf(s->identity_why, sizeof(s->identity_why), "%s", j->why);
		seq_fail(s, "instance identity unknown: %s", j->why);
		return;
	}
	if (s->identity_known && !provider_identity_equal(&s->identity, &j->id)) {
		seq_fail(s, "the instance identity changed since start: %s %s then, %s %s now",
			 s->identity.provider, s->identity.instance_id, j->id.provider,
			 j->id.instance_id);
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
		seq_fail(s, "cannot delete: %s", j->ready_why);
		return;
	}
	if (s->method == PROVIDER_METHOD_POWEROFF && s->shutdown_terminates == 0) {
		seq_fail(s,
			 "a poweroff would only stop the instance (still billed for its "
			 "volumes): %s",
			 s->shutdown_why);
		return;
	}
	seq_begin_backup(s);
}

static void seq_backed_up(struct delete_seq *s, const struct delete_job_out *j)
{
	const struct config *c = s->config;
	char took[FORMAT_DURATION_MAX];

	format_duration_exact(took, sizeof(took), j->duration);
	if (j->r == -ENOMEDIUM && c->idle_delete_without_storage) {
		log_event(LOG_WARNING, MSGID_BACKUP_SKIPPED,
			  LOG_FIELDS({"AGENTBOX_ACTION", "delete"}), 1,
			  "No final backup: %s, and idle.delete_without_storage is true; the "
			  "workspace's files go with the instance",
			  j->why);
		seq_set_step(s, DELETE_STEP_VERIFY);
		return;
	}
	if (j->r == -ENOMEDIUM) {
		seq_fail(s,
			 "no final backup: %s; configure state.storage, or set "
			 "idle.delete_without_storage to delete without one",
			 j->why);
		return;
	}
	if (j->r < 0 && j->verify_failed) {
		seq_fail(s,
			 j->r == -EBADMSG
			     ? "the final backup %s does not read back as it was stored: %s"
			     : "the final backup %s could not be read back to verify it: %s",
			 j->generation, j->why);
		return;
	}
	if (j->r < 0) {
		seq_fail(s, "the final backup failed after %s: %s", took, j->why);
		return;
	}
	snprintf(s->generation, sizeof(s->generation), "%s", j->generation);
	log_event(LOG_NOTICE, MSGID_BACKUP_DONE,
		  LOG_FIELDS({"AGENTBOX_GENERATION", s->generation}, {"AGENTBOX_ACTION", "delete"}),
		  2, "Final backup verified: generation %s read back as stored (%s)", s->generation,
		  took);
	seq_set_step(s, DELETE_STEP_VERIFY);
}

static void seq_deleted(struct delete_seq *s, const struct delete_job_out *j)
{

	snprintf(s->request, sizeof(s->request), "%s", j->result.request);
	snprintf(s->detail, sizeof(s->detail), "%s", j->result.detail);
	s->attempts = j->result.attempts;
	if (j->r >= 0 && j->poweroff) {
		seq_set_step(s, DELETE_STEP_POWEROFF);
		return;
	}
	if (j->r >= 0) {
		s->error[0] = '\0';
		seq_set_step(s, DELETE_STEP_DELETED);
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
		seq_fail(s, "%s", j->result.detail);
		return;
	}
	if (s->shutdown_terminates == 1) {
		snprintf(s->error, sizeof(s->error), "%s", s->detail);
		log_event(LOG_ERR, MSGID_ACTION_FAILED, LOG_FIELDS({"AGENTBOX_ACTION", "delete"}),
			  1,
			  "%s failed after %d attempts (%s); falling back to poweroff, which "
			  "terminates this instance (%s)",
			  s->request, s->attempts, s->detail, s->shutdown_why);
		seq_set_step(s, DELETE_STEP_POWEROFF);
		return;
	}
	seq_fail(s, "%s failed after %d attempt%s: %s", s->request, s->attempts,
		 s->attempts == 1 ? "" : "s", s->detail);
}

/* Collects a finished job and moves the sequence on. */
static void seq_collect(struct delete_seq *s)
{
	struct delete_job_out out;
	enum job_kind kind = s->job.kind;
	int r;

	if (kind == JOB_NONE || child_job_poll(&s->job.child) <= 0)
		return;
	/* The handlers may start the next job. */
	s->job.kind = JOB_NONE;
	r = delete_job_result(&s->job.child, kind, &out);
	if (r < 0)
		out.r = r; /* out.why says what went wrong with the child */
	switch (kind) {
	case JOB_IDENTIFY:
		if (s->step == DELETE_STEP_IDENTIFY)
			seq_identified(s, &out);
		else
			identify_finished(s, &out);
		break;
	case JOB_BACKUP:
		if (s->step == DELETE_STEP_BACKUP)
			seq_backed_up(s, &out);
		break;
	case JOB_DELETE:
		if (s->step == DELETE_STEP_DELETING)
			seq_deleted(s, &out);
		break;
	case JOB_NONE:
		break;
	}
}

/* Returns what the daemon is to do: go back to active. */
static enum delete_want seq_back_to_active(struct delete_seq *s, const struct delete_tick *t,
					   const char *why)
{
	log_event(LOG_NOTICE, MSGID_IDLE_CANCELLED,
		  LOG_FIELDS({"AGENTBOX_SIGNAL", strempty(t->kept_alive_by)},
			     {"AGENTBOX_ACTION", "delete"}),
		  2, "Delete aborted, nothing deleted, back to active: %s (%s: %s)", why,
		  strempty(t->kept_alive_by), strempty(t->kept_alive_detail));
	snprintf(s->detail, sizeof(s->detail), "aborted: %s", why);
	seq_set_step(s, DELETE_STEP_NONE);
	s->error[0] = '\0';
	return DELETE_WANT_ACTIVE;
}

static void seq_start(struct delete_seq *s)
{
	int r;

	s->rounds++;
	s->started_rt = now_usec(CLOCK_REALTIME);
	s->generation[0] = s->request[0] = s->detail[0] = '\0';
	s->attempts = 0;
	log_event(LOG_NOTICE, MSGID_ACTION,
		  LOG_FIELDS({"AGENTBOX_ACTION", "delete"},
			     {"AGENTBOX_DRY_RUN", arg_dry_run ? "1" : "0"}),
		  2, "Idle: %sdeleting this instance: identity, final backup, verify, delete",
		  arg_dry_run ? "dry run, not " : "");
	seq_notify(s, WEBHOOK_ACTION,
		   arg_dry_run ? "Idle: dry run of the delete (nothing is deleted)"
			       : "Idle: deleting this instance after a verified final backup");
	seq_set_step(s, DELETE_STEP_IDENTIFY);
	/* agentbox-init leaves this marker when the state restore at boot
	 * failed: the bucket may then hold newer state than this box, and a
	 * final backup would bury it. */
	{
		_cleanup_free_ char *marker = xasprintf("%s/restore-failed", s->config->state_dir);
		if (access(marker, F_OK) == 0) {
			seq_fail(s,
				 "the state restore at boot failed (%s): this box may not hold the "
				 "latest state, so it is not deleted; restore with 'agentbox "
				 "restore', then remove that file",
				 marker);
			return;
		}
	}
	if (s->job.kind != JOB_NONE)
		return; /* the start-up lookup is still running: collected as this step's */
	r = job_start(s, JOB_IDENTIFY);
	if (r < 0)
		seq_fail(s, "cannot start the identity lookup: %s", strerror(-r));
}

static enum delete_want seq_verify(struct delete_seq *s, const struct delete_tick *t)
{
	char text[DELETE_TEXT_MAX];
	int r;

	/* Anything since the backup started, even a degraded signal or a
	 * keepalive, aborts. */
	if (t->last_activity > s->backup_started)
		return seq_back_to_active(s, t, "activity since the final backup started");
	if (t->decision != IDLE_STATE_IDLE || t->keepalive_ended > s->backup_started)
		return seq_back_to_active(s, t,
					  t->decision == IDLE_STATE_HELD ||
						  t->keepalive_ended > s->backup_started
					      ? "a keepalive since the final backup started"
					      : "no longer idle");
	provider_identity_describe(&s->identity, text, sizeof(text));
	if (arg_dry_run) {
		log_event(
		    LOG_NOTICE, MSGID_INSTANCE_DELETING,
		    LOG_FIELDS({"AGENTBOX_PROVIDER", s->identity.provider},
			       {"AGENTBOX_INSTANCE_ID", s->identity.instance_id},
			       {"AGENTBOX_DRY_RUN", "1"}),
		    3, "Dry run: would now delete %s: %s", text, s->plan);
		seq_set_step(s, DELETE_STEP_DRY_RUN);
		return DELETE_WANT_ACT;
	}
	switch ((enum provider_method)s->method) {
	case PROVIDER_METHOD_NOTHING:
		log_event(LOG_NOTICE, MSGID_INSTANCE_DELETING,
			  LOG_FIELDS({"AGENTBOX_PROVIDER", "none"}), 1,
			  "provider.name is none: nothing deleted, the box stays up");
		snprintf(s->detail, sizeof(s->detail), "provider none: nothing deleted");
		seq_set_step(s, DELETE_STEP_DELETED);
		return DELETE_WANT_ACT;
	case PROVIDER_METHOD_POWEROFF: /* the identity is checked once more first */
	case PROVIDER_METHOD_API:
		break;
	}
	log_event(LOG_NOTICE, MSGID_INSTANCE_DELETING,
		  LOG_FIELDS({"AGENTBOX_PROVIDER", s->identity.provider},
			     {"AGENTBOX_INSTANCE_ID", s->identity.instance_id}),
		  2, "Deleting %s: %s", text, s->plan);
	seq_set_step(s, DELETE_STEP_DELETING);
	r = job_start(s, JOB_DELETE);
	if (r < 0)
		seq_fail(s, "cannot start the delete: %s", strerror(-r));
	return DELETE_WANT_ACT;
}

enum delete_want delete_seq_act(struct delete_seq *s, const struct delete_tick *t)
{
	if (!s)
		return DELETE_WANT_ACT;
	s->now = t->now;
	seq_collect(s);
	switch (s->step) {
	case DELETE_STEP_NONE:
		seq_start(s);
		break;
	case DELETE_STEP_VERIFY:
		return seq_verify(s, t);
	case DELETE_STEP_POWEROFF:
		return DELETE_WANT_POWEROFF;
	case DELETE_STEP_FAILED:
		if (t->last_activity > s->step_since || t->decision == IDLE_STATE_HELD)
			return seq_back_to_active(s, t, "activity after the failure");
		if (s->now >= s->retry_at) {
			log_notice("Trying the delete sequence again, from the final backup");
			seq_set_step(s, DELETE_STEP_NONE);
			seq_start(s);
		}
		break;
	case DELETE_STEP_DRY_RUN:
		if (t->last_activity > s->step_since)
			return seq_back_to_active(s, t, "activity after the dry run");
		break;
	case DELETE_STEP_IDENTIFY:
	case DELETE_STEP_BACKUP:
	case DELETE_STEP_DELETING:
	case DELETE_STEP_DELETED:
	case _DELETE_STEP_MAX:
		break;
	}
	return s->step == DELETE_STEP_POWEROFF ? DELETE_WANT_POWEROFF : DELETE_WANT_ACT;
}

void delete_seq_poll(struct delete_seq *s, usec_t now)
{
	if (!s || s->step != DELETE_STEP_NONE)
		return;
	s->now = now;
	seq_collect(s);
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

int delete_seq_new(const struct config *c, usec_t now, delete_notify_fn notify, void *userdata,
		   struct delete_seq **ret)
{
	struct delete_seq *s;
	int r;

	r = mkdir_p(c->state_dir, 0755);
	if (r < 0)
		return log_error_errno(r, "Cannot create state_dir %s: %m", c->state_dir);
	s = xcalloc(1, sizeof(*s));
	s->config = c;
	s->now = now;
	s->notify = notify;
	s->notify_userdata = userdata;
	s->path = xasprintf("%s/delete.json", c->state_dir);
	s->shutdown_terminates = -ENODATA;
	child_job_init(&s->job.child);
	seq_load_previous(s);
	s->step_since = now;
	s->step_since_rt = now_usec(CLOCK_REALTIME);
	seq_save(s);
	if (arg_dry_run)
		log_notice("Dry run: the idle action is shown step by step, and nothing is backed "
			   "up, deleted or powered off");
	r = job_start(s, JOB_IDENTIFY);
	if (r < 0)
		log_warning_errno(r, "Cannot start the identity lookup, will retry when idle: %m");
	*ret = s;
	return 0;
}

void delete_seq_status(const struct delete_seq *s, cJSON *root)
{
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

int delete_seq_fd(const struct delete_seq *s)
{
	return s && s->job.kind != JOB_NONE ? child_job_fd(&s->job.child) : -1;
}

const char *delete_seq_error(const struct delete_seq *s)
{
	return s ? s->error : "";
}

const char *delete_seq_step_text(const struct delete_seq *s)
{
	return s ? step_texts[s->step] : NULL;
}

struct delete_seq *delete_seq_free(struct delete_seq *s)
{
	if (!s)
		return NULL;
	/* A backup or a request under way is stopped (a backup cut short is
	 * never trusted); the next start begins the sequence again. */
	child_job_stop(&s->job.child);
	free(s->path);
	free(s);
	return NULL;
}
