/* AWS EC2: identity from IMDSv2 (lib/imds.c: a session token from "PUT
 * /latest/api/token", then instance-id, placement/region and the signed
 * instance-identity document, which must agree), and TerminateInstances /
 * DescribeInstanceAttribute through the EC2 Query API, signed with SigV4
 * (libcurl's CURLOPT_AWS_SIGV4, service "ec2") using the instance
 * profile's temporary credentials, whose session token goes in the
 * x-amz-security-token header. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "config.h"
#include "macro.h"
#include "provider-http.h"
#include "provider.h"

#define EC2_API_VERSION "2016-11-15"

static void cjson_deletep(cJSON **p)
{
	cJSON_Delete(*p);
}

int ec2_imds_token(const struct config *c, char **ret, long *ret_status, char *why, size_t why_size)
{
	struct imds_options o = imds_options_from_config(c);

	return imds_token_why(&o, ret, ret_status, why, why_size);
}

/* GET of an IMDSv2 path; 0 with a trimmed non-empty body, else -errno. */
static int ec2_get(const struct config *c, const char *path, struct http_response *resp,
		   char *why, size_t why_size)
{
	struct imds_options o = imds_options_from_config(c);

	return imds_get_text(&o, path, resp, why, why_size);
}

static int valid_region(const char *s)
{
	if (!*s || strlen(s) > 40)
		return 0;
	for (; *s; s++)
		if (!islower((unsigned char)*s) && !isdigit((unsigned char)*s) && *s != '-')
			return 0;
	return 1;
}

static int ec2_identity(const struct config *c, struct provider_identity *ret, char *why,
			size_t why_size)
{
	struct provider_identity id = {.provider = "ec2"};
	struct http_response resp = {0};
	int r;

	r = ec2_get(c, "/latest/meta-data/instance-id", &resp, why, why_size);
	if (r < 0)
		return r;
	if (copy_printable(id.instance_id, sizeof(id.instance_id), resp.body, resp.size) < 0 ||
	    !provider_valid_ec2_id(id.instance_id)) {
		snprintf(why, why_size, "EC2 metadata: malformed instance-id '%.40s'", resp.body);
		http_response_done(&resp);
		return -EBADMSG;
	}
	http_response_done(&resp);

	r = ec2_get(c, "/latest/meta-data/placement/region", &resp, why, why_size);
	if (r < 0)
		return r;
	if (copy_printable(id.region, sizeof(id.region), resp.body, resp.size) < 0 ||
	    !valid_region(id.region)) {
		snprintf(why, why_size, "EC2 metadata: malformed region '%.40s'", resp.body);
		http_response_done(&resp);
		return -EBADMSG;
	}
	http_response_done(&resp);

	r = ec2_get(c, "/latest/dynamic/instance-identity/document", &resp, why, why_size);
	if (r < 0)
		return r;
	r = ec2_identity_document_check(resp.body, &id, why, why_size);
	http_response_done(&resp);
	if (r < 0)
		return r;
	*ret = id;
	return 0;
}

int ec2_identity_document_check(const char *body, struct provider_identity *id, char *why,
				size_t why_size)
{
	_cleanup_(cjson_deletep) cJSON *doc = cJSON_Parse(body);
	const cJSON *v;

	v = cJSON_GetObjectItemCaseSensitive(doc, "instanceId");
	if (!cJSON_IsString(v)) {
		snprintf(why, why_size,
			 "EC2 instance-identity document: malformed (no instanceId)");
		return -EBADMSG;
	}
	if (!streq(v->valuestring, id->instance_id)) {
		snprintf(why, why_size,
			 "EC2 metadata: instance-id changed between two reads (%s, then %.40s)",
			 id->instance_id, v->valuestring);
		return -ESTALE;
	}
	v = cJSON_GetObjectItemCaseSensitive(doc, "region");
	if (!cJSON_IsString(v) || !streq(v->valuestring, id->region)) {
		snprintf(why, why_size,
			 "EC2 metadata: the region of the identity document differs from "
			 "placement/region (%s)",
			 id->region);
		return -ESTALE;
	}
	v = cJSON_GetObjectItemCaseSensitive(doc, "availabilityZone");
	if (cJSON_IsString(v))
		copy_printable(id->zone, sizeof(id->zone), v->valuestring, strlen(v->valuestring));
	v = cJSON_GetObjectItemCaseSensitive(doc, "accountId");
	if (cJSON_IsString(v))
		copy_printable(id->account, sizeof(id->account), v->valuestring,
			       strlen(v->valuestring));
	return 0;
}

/* The instance profile's temporary credentials. */
static int ec2_get_credentials(const struct config *c, struct ec2_credentials *ret, char *why,
			       size_t why_size)
{
	struct imds_options o = imds_options_from_config(c);

	return imds_role_credentials(&o, ret, why, why_size);
}

static int ec2_check_credentials(const struct config *c, const struct provider_identity *id,
				 char *why, size_t why_size)
{
	struct ec2_credentials k = {0};
	int r;

	(void)id;
	if (c->provider_ec2_terminate != EC2_TERMINATE_API)
		return 0; /* poweroff needs no credentials */
	r = ec2_get_credentials(c, &k, why, why_size);
	ec2_credentials_done(&k);
	return r;
}

/* One signed Query API call; the answer (any status) in *resp. */
static int ec2_query(const struct config *c, const struct provider_identity *id, const char *params,
		     struct http_response *resp, struct provider_result *ret)
{
	_cleanup_free_ char *url = ec2_endpoint(c, id), *sigv4 = NULL;
	_cleanup_secret_ char *tok_hdr = NULL;
	struct ec2_credentials k = {0};
	struct curl_slist *h = NULL;
	const char *err = NULL;
	int r;

	snprintf(ret->request, sizeof(ret->request), "POST %s %s", url, params);
	r = ec2_get_credentials(c, &k, ret->detail, sizeof(ret->detail));
	if (r < 0) {
		ret->retryable = r != -ENOENT;
		return r;
	}
	sigv4 = xasprintf("aws:amz:%s:ec2", id->region);
	tok_hdr = xasprintf("x-amz-security-token: %s", k.token);
	h = curl_slist_append(h, "Content-Type: application/x-www-form-urlencoded; charset=utf-8");
	h = curl_slist_append(h, tok_hdr);
	r = http_send(&(struct http_request){.method = "POST",
					     .url = url,
					     .headers = h,
					     .body = params,
					     .timeout = c->provider_api_timeout,
					     .sigv4 = sigv4,
					     .username = k.access_key_id,
					     .password = k.secret_access_key},
		      resp, &err);
	http_headers_free_secret(h);
	ec2_credentials_done(&k);
	ret->http_status = resp->status;
	if (r < 0) {
		snprintf(ret->detail, sizeof(ret->detail), "no answer from the EC2 API: %s",
			 strempty(err));
		ret->retryable = 1;
		return r;
	}
	if (resp->status != 200) {
		char code[96] = "", msg[256] = "";
		xml_tag_text(resp->body, "Code", code, sizeof(code));
		xml_tag_text(resp->body, "Message", msg, sizeof(msg));
		snprintf(ret->detail, sizeof(ret->detail), "HTTP %ld: %s: %s", resp->status,
			 code[0] ? code : "unknown error", msg);
		ret->retryable = resp->status >= 500 || streq(code, "RequestLimitExceeded") ||
				 streq(code, "Throttling");
		return resp->status == 401 || resp->status == 403 ? -EACCES : -EIO;
	}
	return 0;
}

static int ec2_terminate(const struct config *c, const struct provider_identity *id,
		  struct provider_result *ret)
{
	_cleanup_free_ char *params = NULL;
	struct http_response resp = {0};
	char got[64] = "", state[64] = "";
	int r;

	if (!streq(id->provider, "ec2") || !provider_valid_ec2_id(id->instance_id)) {
		snprintf(ret->detail, sizeof(ret->detail), "no valid EC2 instance id");
		return -EINVAL;
	}
	params = xasprintf("Action=TerminateInstances&InstanceId.1=%s&Version=" EC2_API_VERSION,
			   id->instance_id);
	r = ec2_query(c, id, params, &resp, ret);
	if (r < 0)
		goto out;
	xml_tag_text(resp.body, "instanceId", got, sizeof(got));
	if (xml_tag_text(resp.body, "currentState", state, sizeof(state)) >= 0)
		xml_tag_text(state, "name", state, sizeof(state));
	if (!streq(got, id->instance_id) ||
	    !(streq(state, "shutting-down") || streq(state, "terminated"))) {
		snprintf(ret->detail, sizeof(ret->detail),
			 "unexpected TerminateInstances answer (instance '%s', state '%s')", got,
			 state);
		r = -EBADMSG;
		goto out;
	}
	snprintf(ret->detail, sizeof(ret->detail), "instance %s is %s", got, state);
out:
	http_response_done(&resp);
	return r;
}

/* InstanceInitiatedShutdownBehavior, asked with DescribeInstanceAttribute:
 * 1 terminate, 0 stop, -errno unknown. */
static int ec2_shutdown_terminates(const struct config *c, const struct provider_identity *id,
				   char *why, size_t why_size)
{
	_cleanup_free_ char *params = NULL;
	struct provider_result res = {0};
	struct http_response resp = {0};
	char value[64] = "", block[256] = "";
	int r;

	params =
	    xasprintf("Action=DescribeInstanceAttribute&Attribute="
		      "instanceInitiatedShutdownBehavior&InstanceId=%s&Version=" EC2_API_VERSION,
		      id->instance_id);
	r = ec2_query(c, id, params, &resp, &res);
	if (r < 0) {
		snprintf(why, why_size, "%s", res.detail);
		http_response_done(&resp);
		return r;
	}
	if (xml_tag_text(resp.body, "instanceInitiatedShutdownBehavior", block, sizeof(block)) <
		0 ||
	    xml_tag_text(block, "value", value, sizeof(value)) < 0) {
		snprintf(why, why_size, "unexpected DescribeInstanceAttribute answer");
		http_response_done(&resp);
		return -EBADMSG;
	}
	http_response_done(&resp);
	snprintf(why, why_size, "InstanceInitiatedShutdownBehavior is %s", value);
	return streq(value, "terminate");
}

static int ec2_poweroff_deletes(const struct config *c, const struct provider_identity *id,
				char *why, size_t why_size)
{
	char text[PROVIDER_TEXT_MAX];
	int r;

	r = ec2_shutdown_terminates(c, id, text, sizeof(text));
	if (r < 0)
		snprintf(why, why_size,
			 "Cannot confirm InstanceInitiatedShutdownBehavior=terminate (%s): launch "
			 "the instance with it, or a poweroff only stops it",
			 text);
	else if (r == 0)
		snprintf(why, why_size,
			 "%s (relaunch it with InstanceInitiatedShutdownBehavior=terminate or use "
			 "provider.ec2.terminate \"api\")",
			 text);
	else
		snprintf(why, why_size, "%s", text);
	return r;
}

/* The token PUT is IMDSv2's own: Hetzner and DigitalOcean do not take it. */
static int ec2_probe(const struct config *c, char *why, size_t why_size)
{
	_cleanup_secret_ char *token = NULL;
	long status = 0;
	int r;

	r = ec2_imds_token(c, &token, &status, why, why_size);
	if (r >= 0 || status == 200)
		return 1;
	if (status)
		return 0; /* it answered, as something else */
	return r;
}

static enum provider_method ec2_method(const struct config *c)
{
	return c->provider_ec2_terminate == EC2_TERMINATE_API ? PROVIDER_METHOD_API
							      : PROVIDER_METHOD_POWEROFF;
}

char *ec2_endpoint(const struct config *c, const struct provider_identity *id)
{
	if (c->provider_ec2_api_url)
		return xstrdup(c->provider_ec2_api_url);
	return xasprintf("https://ec2.%s.amazonaws.com/", id->region);
}

static void ec2_describe_delete(const struct config *c, const struct provider_identity *id,
				char *buf, size_t size)
{
	_cleanup_free_ char *ep = NULL;

	if (c->provider_ec2_terminate == EC2_TERMINATE_SHUTDOWN) {
		snprintf(buf, size,
			 "systemctl poweroff, which terminates %s when it was launched with "
			 "InstanceInitiatedShutdownBehavior=terminate",
			 id->instance_id);
		return;
	}
	ep = ec2_endpoint(c, id);
	snprintf(buf, size,
		 "POST %s Action=TerminateInstances InstanceId.1=%s (SigV4 ec2/%s, "
		 "instance-profile credentials)",
		 ep, id->instance_id, id->region);
}

/* One notice path: 1 with what[] filled when it holds a notice, 0 when
 * IMDS says 404 (none), -errno when it could not be asked. */
static int ec2_notice(const struct config *c, const char *path,
		      const char *key, const char *label, char *what, size_t what_size)
{
	_cleanup_(cjson_deletep) cJSON *doc = NULL;
	struct http_response resp = {0};
	char why[PROVIDER_TEXT_MAX];
	const cJSON *v, *t;
	int r;

	r = ec2_get(c, path, &resp, why, sizeof(why));
	if (r == -ENOENT)
		return 0;
	if (r < 0) {
		snprintf(what, what_size, "%s", why);
		return r;
	}
	doc = cJSON_Parse(resp.body);
	http_response_done(&resp);
	v = cJSON_GetObjectItemCaseSensitive(doc, "action");
	t = cJSON_GetObjectItemCaseSensitive(doc, key);
	/* A notice we cannot read is still a notice: act on it. */
	snprintf(what, what_size, "%s%s%s at %s", label, cJSON_IsString(v) ? " " : "",
		 cJSON_IsString(v) ? v->valuestring : "",
		 cJSON_IsString(t) ? t->valuestring : "an unreadable time");
	return 1;
}

static int ec2_interruption(const struct config *c, char *what, size_t what_size)
{
	int r;

	/* lib/imds.c caches the session token: a check every 2 s asks for
	 * one only when it is about to expire. */
	r = ec2_notice(c, "/latest/meta-data/spot/instance-action", "time",
		       "spot interruption notice:", what, what_size);
	if (r != 0)
		return r;
	return ec2_notice(c, "/latest/meta-data/events/recommendations/rebalance", "noticeTime",
			  "rebalance recommendation", what, what_size);
}

const struct provider_ops provider_ec2 = {
    .name = "ec2",
    .metadata_host = PROVIDER_METADATA_HOST,
    .probe = ec2_probe,
    .identify = ec2_identity,
    .check_ready = ec2_check_credentials,
    .method = ec2_method,
    .describe_delete = ec2_describe_delete,
    .delete_once = ec2_terminate,
    .poweroff_deletes = ec2_poweroff_deletes,
    .interruption = ec2_interruption,
};
