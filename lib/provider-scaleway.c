/* Scaleway Instances: identity from http://169.254.42.42/conf?format=json
 * (read twice, the ids must agree), and deletion by the server action
 * "terminate" (POST /instance/v1/zones/{zone}/servers/{id}/action), which
 * removes the server with its local and block volumes. The API key's
 * secret goes in the X-Auth-Token header; the returned task is checked. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "config.h"
#include "macro.h"
#include "provider-http.h"
#include "provider.h"

#define SCALEWAY_METADATA_HOST "169.254.42.42"
#define SCALEWAY_METADATA_URL "http://" SCALEWAY_METADATA_HOST
#define SCALEWAY_METADATA_PATH "/conf?format=json"
#define SCALEWAY_API_URL "https://api.scaleway.com/instance/v1"

static void cjson_deletep(cJSON **p)
{
	cJSON_Delete(*p);
}

/* A server id is a UUID: 8-4-4-4-12 lower-case hex digits. */
static int scaleway_valid_id(const char *s)
{
	if (strlen(s) != 36)
		return 0;
	for (int i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return 0;
		} else if (!isdigit((unsigned char)s[i]) && !(s[i] >= 'a' && s[i] <= 'f'))
			return 0;
	}
	return 1;
}

/* A zone is "fr-par-1": lower-case letters, digits and dashes. */
static int scaleway_valid_zone(const char *s)
{
	size_t n = strlen(s);

	if (n < 3 || n > 20 || !isdigit((unsigned char)s[n - 1]))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!islower((unsigned char)s[i]) && !isdigit((unsigned char)s[i]) && s[i] != '-')
			return 0;
	return 1;
}

static const char *json_string(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

int scaleway_metadata_parse(const char *text, struct provider_identity *ret, char *why,
			    size_t why_size)
{
	_cleanup_(cjson_deletep) cJSON *doc = cJSON_Parse(text);
	struct provider_identity id = {.provider = "scaleway"};
	const char *sid, *zone, *v;
	char *dash;

	if (!cJSON_IsObject(doc)) {
		snprintf(why, why_size, "Scaleway metadata: malformed answer (not a JSON object)");
		return -EBADMSG;
	}
	sid = json_string(doc, "id");
	if (!sid || copy_printable(id.instance_id, sizeof(id.instance_id), sid, strlen(sid)) < 0 ||
	    !scaleway_valid_id(id.instance_id)) {
		snprintf(why, why_size, "Scaleway metadata: no valid server id in the answer");
		return -EBADMSG;
	}
	zone = json_string(cJSON_GetObjectItemCaseSensitive(doc, "location"), "zone_id");
	if (!zone)
		zone = json_string(doc, "zone");
	if (!zone || copy_printable(id.zone, sizeof(id.zone), zone, strlen(zone)) < 0 ||
	    !scaleway_valid_zone(id.zone)) {
		snprintf(why, why_size, "Scaleway metadata: no valid zone in the answer");
		return -EBADMSG;
	}
	/* the region is the zone without its number: fr-par-1 -> fr-par */
	snprintf(id.region, sizeof(id.region), "%s", id.zone);
	dash = strrchr(id.region, '-');
	if (dash)
		*dash = '\0';
	v = json_string(doc, "hostname");
	if (v)
		copy_printable(id.hostname, sizeof(id.hostname), v, strlen(v));
	v = json_string(cJSON_GetObjectItemCaseSensitive(doc, "public_ip"), "address");
	if (v)
		copy_printable(id.public_ipv4, sizeof(id.public_ipv4), v, strlen(v));
	*ret = id;
	return 0;
}

/* Scaleway's metadata lives at its own link-local address. */
static int scaleway_metadata_get(const struct config *c, struct http_response *resp,
				 const char **err)
{
	struct imds_options o = imds_options_from_config(c);

	o.base_url = SCALEWAY_METADATA_URL;
	return imds_request(&o, "GET", SCALEWAY_METADATA_PATH, NULL, resp, err);
}

static int scaleway_read(const struct config *c, struct provider_identity *ret, char *why,
			 size_t why_size)
{
	struct http_response resp = {0};
	const char *err = NULL;
	int r;

	r = scaleway_metadata_get(c, &resp, &err);
	if (r < 0) {
		snprintf(why, why_size, "Scaleway metadata at %s: no answer (%s)",
			 SCALEWAY_METADATA_HOST, strempty(err));
		return r;
	}
	if (resp.status != 200) {
		snprintf(why, why_size, "Scaleway metadata %s: HTTP %ld", SCALEWAY_METADATA_PATH,
			 resp.status);
		http_response_done(&resp);
		return -EBADMSG;
	}
	r = strlen(resp.body) == resp.size ? scaleway_metadata_parse(resp.body, ret, why, why_size)
					   : -EBADMSG;
	if (r == -EBADMSG && !why[0])
		snprintf(why, why_size, "Scaleway metadata: malformed answer (not text)");
	http_response_done(&resp);
	return r;
}

static int scaleway_identify(const struct config *c, struct provider_identity *ret, char *why,
			     size_t why_size)
{
	struct provider_identity first, second;
	int r;

	why[0] = '\0';
	r = scaleway_read(c, &first, why, why_size);
	if (r < 0)
		return r;
	r = scaleway_read(c, &second, why, why_size);
	if (r < 0)
		return r;
	if (!provider_identity_equal(&first, &second)) {
		snprintf(why, why_size,
			 "Scaleway metadata: instance-id changed between two reads (%s, then %s)",
			 first.instance_id, second.instance_id);
		return -ESTALE;
	}
	*ret = first;
	return 0;
}

/* Only Scaleway answers at 169.254.42.42, with a document naming a server. */
static int scaleway_probe(const struct config *c, char *why, size_t why_size)
{
	struct provider_identity id;
	struct http_response resp = {0};
	const char *err = NULL;
	int r;

	r = scaleway_metadata_get(c, &resp, &err);
	if (r < 0) {
		snprintf(why, why_size, "%s", strempty(err));
		return r;
	}
	snprintf(why, why_size, "HTTP %ld", resp.status);
	r = resp.status == 200 && scaleway_metadata_parse(resp.body, &id, why, why_size) == 0;
	http_response_done(&resp);
	return r;
}

static int scaleway_read_token(const struct config *c, char **ret, char *why, size_t why_size)
{
	return provider_read_token(c->provider_token_file, "provider.token_file",
				   "Scaleway secret key", ret, why, why_size);
}

static int scaleway_check_ready(const struct config *c, const struct provider_identity *id,
				char *why, size_t why_size)
{
	_cleanup_secret_ char *token = NULL;

	(void)id;
	return scaleway_read_token(c, &token, why, why_size);
}

static enum provider_method scaleway_method(const struct config *c)
{
	(void)c;
	return PROVIDER_METHOD_API;
}

static const char *scaleway_api(const struct config *c)
{
	return c->provider_api_url ? c->provider_api_url : SCALEWAY_API_URL;
}

static void scaleway_describe_delete(const struct config *c, const struct provider_identity *id,
				     char *buf, size_t size)
{
	snprintf(buf, size,
		 "POST %s/zones/%s/servers/%s/action {\"action\":\"terminate\"} (removes its "
		 "volumes; secret key from %s)",
		 scaleway_api(c), id->zone, id->instance_id,
		 c->provider_token_file ? c->provider_token_file : "<provider.token_file unset>");
}

/* Reads the task of a terminate answer: 0 pending/started/success, -EIO
 * failure, -EBADMSG anything else; detail[] says which. */
static int scaleway_task_state(const char *body, char *id_buf, size_t id_size, char *detail,
			       size_t detail_size)
{
	_cleanup_(cjson_deletep) cJSON *root = cJSON_Parse(body);
	const cJSON *task = cJSON_GetObjectItemCaseSensitive(root, "task");
	const char *tid = json_string(task, "id"), *status = json_string(task, "status");

	if (!tid || !status) {
		snprintf(detail, detail_size, "the answer holds no task (%.80s)", body);
		return -EBADMSG;
	}
	snprintf(id_buf, id_size, "%s", tid);
	if (streq(status, "failure")) {
		snprintf(detail, detail_size, "task %s failed", id_buf);
		return -EIO;
	}
	if (!streq(status, "pending") && !streq(status, "started") && !streq(status, "success")) {
		snprintf(detail, detail_size, "task %s has status '%.40s'", id_buf, status);
		return -EBADMSG;
	}
	snprintf(detail, detail_size, "task %s %s", id_buf, status);
	return 0;
}

static int scaleway_delete(const struct config *c, const struct provider_identity *id,
			   struct provider_result *ret)
{
	_cleanup_secret_ char *token = NULL;
	_cleanup_free_ char *url = NULL;
	struct http_response resp = {0};
	char text[160];
	int r;

	url = xasprintf("%s/zones/%s/servers/%s/action", scaleway_api(c), id->zone,
			id->instance_id);
	snprintf(ret->request, sizeof(ret->request), "POST %s terminate", url);
	if (!streq(id->provider, "scaleway") || !scaleway_valid_id(id->instance_id) ||
	    !scaleway_valid_zone(id->zone)) {
		snprintf(ret->detail, sizeof(ret->detail), "no valid Scaleway server id and zone");
		return -EINVAL;
	}
	r = scaleway_read_token(c, &token, ret->detail, sizeof(ret->detail));
	if (r < 0)
		return r; /* not retryable: a person must fix the key */
	r = provider_api_send(c, "Scaleway", "POST", url, "X-Auth-Token:", token,
			      "{\"action\":\"terminate\"}", &resp, ret);
	if (r < 0)
		return r;
	if (resp.status < 200 || resp.status >= 300) {
		_cleanup_(cjson_deletep) cJSON *e = cJSON_Parse(resp.body);
		const char *msg = json_string(e, "message"), *type = json_string(e, "type");

		if (msg)
			snprintf(text, sizeof(text), "%s: %s", strempty(type), msg);
		else
			provider_body_excerpt(&resp, text, sizeof(text));
		r = provider_api_refused(
		    &resp, text, " (the secret key is wrong or its policy lacks InstancesFullAccess)",
		    " (no such server in the key's project and zone)", ret);
	} else
		r = scaleway_task_state(resp.body, ret->action_id, sizeof(ret->action_id),
					ret->detail, sizeof(ret->detail));
	http_response_done(&resp);
	return r;
}

const struct provider_ops provider_scaleway = {
    .name = "scaleway",
    .metadata_host = SCALEWAY_METADATA_HOST,
    .probe = scaleway_probe,
    .identify = scaleway_identify,
    .check_ready = scaleway_check_ready,
    .method = scaleway_method,
    .describe_delete = scaleway_describe_delete,
    .delete_once = scaleway_delete,
};
