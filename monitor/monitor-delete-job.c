/* The delete jobs' requests and results as JSON; see monitor-delete-job.h. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "config.h"
#include "macro.h"
#include "monitor-child.h"
#include "monitor-delete-job.h"

static const char *const kind_names[] = {"none", "identify", "backup", "delete"};

const char *delete_job_kind_to_string(enum job_kind kind)
{
	return kind <= JOB_DELETE ? kind_names[kind] : "unknown";
}

static void get_text(const cJSON *o, const char *key, char *buf, size_t size)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	snprintf(buf, size, "%s", cJSON_IsString(v) ? v->valuestring : "");
}

static double get_number(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

cJSON *delete_job_identity_json(const struct provider_identity *id)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "provider", id->provider);
	cJSON_AddStringToObject(o, "instance_id", id->instance_id);
	cJSON_AddStringToObject(o, "region", id->region);
	cJSON_AddStringToObject(o, "zone", id->zone);
	cJSON_AddStringToObject(o, "hostname", id->hostname);
	cJSON_AddStringToObject(o, "public_ipv4", id->public_ipv4);
	cJSON_AddStringToObject(o, "account", id->account);
	return o;
}

void delete_job_identity_parse(const cJSON *o, struct provider_identity *ret)
{
	memset(ret, 0, sizeof(*ret));
	get_text(o, "provider", ret->provider, sizeof(ret->provider));
	get_text(o, "instance_id", ret->instance_id, sizeof(ret->instance_id));
	get_text(o, "region", ret->region, sizeof(ret->region));
	get_text(o, "zone", ret->zone, sizeof(ret->zone));
	get_text(o, "hostname", ret->hostname, sizeof(ret->hostname));
	get_text(o, "public_ipv4", ret->public_ipv4, sizeof(ret->public_ipv4));
	get_text(o, "account", ret->account, sizeof(ret->account));
}

cJSON *delete_job_out_json(const struct delete_job_out *o)
{
	cJSON *j = cJSON_CreateObject(), *res;

	cJSON_AddNumberToObject(j, "r", o->r);
	cJSON_AddStringToObject(j, "why", o->why);
	cJSON_AddItemToObject(j, "identity", delete_job_identity_json(&o->id));
	cJSON_AddNumberToObject(j, "ready_r", o->ready_r);
	cJSON_AddStringToObject(j, "ready_why", o->ready_why);
	cJSON_AddNumberToObject(j, "shutdown_terminates", o->shutdown_terminates);
	cJSON_AddStringToObject(j, "shutdown_why", o->shutdown_why);
	cJSON_AddStringToObject(j, "generation", o->generation);
	cJSON_AddBoolToObject(j, "verify_failed", o->verify_failed);
	cJSON_AddNumberToObject(j, "duration_usec", (double)o->duration);
	cJSON_AddBoolToObject(j, "poweroff", o->poweroff);
	cJSON_AddNumberToObject(j, "method", o->method);
	cJSON_AddStringToObject(j, "plan", o->plan);
	res = cJSON_AddObjectToObject(j, "result");
	cJSON_AddBoolToObject(res, "retryable", o->result.retryable);
	cJSON_AddNumberToObject(res, "http_status", (double)o->result.http_status);
	cJSON_AddStringToObject(res, "request", o->result.request);
	cJSON_AddStringToObject(res, "detail", o->result.detail);
	cJSON_AddStringToObject(res, "action_id", o->result.action_id);
	cJSON_AddNumberToObject(res, "attempts", o->result.attempts);
	return j;
}

static void out_parse(const cJSON *j, struct delete_job_out *o)
{
	const cJSON *res = cJSON_GetObjectItemCaseSensitive(j, "result");

	o->r = (int)get_number(j, "r");
	get_text(j, "why", o->why, sizeof(o->why));
	delete_job_identity_parse(cJSON_GetObjectItemCaseSensitive(j, "identity"), &o->id);
	o->ready_r = (int)get_number(j, "ready_r");
	get_text(j, "ready_why", o->ready_why, sizeof(o->ready_why));
	o->shutdown_terminates = (int)get_number(j, "shutdown_terminates");
	get_text(j, "shutdown_why", o->shutdown_why, sizeof(o->shutdown_why));
	get_text(j, "generation", o->generation, sizeof(o->generation));
	o->verify_failed = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "verify_failed"));
	o->duration = (usec_t)get_number(j, "duration_usec");
	o->poweroff = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "poweroff"));
	o->method = (int)get_number(j, "method");
	get_text(j, "plan", o->plan, sizeof(o->plan));
	o->result.retryable = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(res, "retryable"));
	o->result.http_status = (long)get_number(res, "http_status");
	get_text(res, "request", o->result.request, sizeof(o->result.request));
	get_text(res, "detail", o->result.detail, sizeof(o->result.detail));
	get_text(res, "action_id", o->result.action_id, sizeof(o->result.action_id));
	o->result.attempts = (int)get_number(res, "attempts");
}

int delete_job_start(struct child_job *j, const struct config *c, enum job_kind kind,
		     const struct provider_identity *expect)
{
	_cleanup_free_ char *client = monitor_client_path();
	const char *config = c->path ? c->path : CONFIG_DEFAULT_PATH;
	char *argv[] = {client, (char *)"--config", (char *)config, (char *)"internal-delete-job",
			(char *)delete_job_kind_to_string(kind), NULL};
	cJSON *req = cJSON_CreateObject();
	char *text;
	int r;

	cJSON_AddItemToObject(req, "expect", delete_job_identity_json(expect));
	text = cJSON_PrintUnformatted(req);
	cJSON_Delete(req);
	r = child_job_start(j, argv, text);
	cJSON_free(text);
	return r;
}

int delete_job_result(const struct child_job *j, enum job_kind kind, struct delete_job_out *ret)
{
	char what[64];
	cJSON *o;

	memset(ret, 0, sizeof(*ret));
	snprintf(what, sizeof(what), "agentbox %s job", delete_job_kind_to_string(kind));
	o = child_job_result(j, what, ret->why, sizeof(ret->why));
	if (!o)
		return -EIO;
	out_parse(o, ret);
	cJSON_Delete(o);
	return 0;
}
