/* DigitalOcean Droplets: identity from http://169.254.169.254/metadata/v1.json
 * and, as the second read, /metadata/v1/id; deletion by
 * "DELETE /v2/droplets/{id}" with a bearer token, answered 204. Volumes,
 * snapshots and reserved IPs are not deleted with the Droplet. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "config.h"
#include "macro.h"
#include "provider-http.h"
#include "provider.h"

#define DIGITALOCEAN_API_URL "https://api.digitalocean.com/v2"

static void cjson_deletep(cJSON **p)
{
	cJSON_Delete(*p);
}

int digitalocean_metadata_parse(const char *text, struct provider_identity *ret, char *why,
				size_t why_size)
{
	_cleanup_(cjson_deletep) cJSON *doc = cJSON_Parse(text);
	struct provider_identity id = {.provider = "digitalocean"};
	const cJSON *v, *pub;

	v = cJSON_GetObjectItemCaseSensitive(doc, "droplet_id");
	if (!cJSON_IsNumber(v) || v->valuedouble < 1 || v->valuedouble > 9e15 ||
	    v->valuedouble != (double)(long long)v->valuedouble) {
		snprintf(why, why_size, "DigitalOcean metadata: no valid droplet_id in the answer");
		return -EBADMSG;
	}
	snprintf(id.instance_id, sizeof(id.instance_id), "%lld", (long long)v->valuedouble);
	v = cJSON_GetObjectItemCaseSensitive(doc, "region");
	if (!cJSON_IsString(v) ||
	    copy_printable(id.region, sizeof(id.region), v->valuestring, strlen(v->valuestring)) <
		0) {
		snprintf(why, why_size, "DigitalOcean metadata: no valid region in the answer");
		return -EBADMSG;
	}
	v = cJSON_GetObjectItemCaseSensitive(doc, "hostname");
	if (cJSON_IsString(v))
		copy_printable(id.hostname, sizeof(id.hostname), v->valuestring,
			       strlen(v->valuestring));
	pub = cJSON_GetArrayItem(
	    cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(doc, "interfaces"),
					     "public"),
	    0);
	v = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(pub, "ipv4"),
					     "ip_address");
	if (cJSON_IsString(v))
		copy_printable(id.public_ipv4, sizeof(id.public_ipv4), v->valuestring,
			       strlen(v->valuestring));
	*ret = id;
	return 0;
}

/* GET of a metadata path: 0 with the body, else -errno with why[] filled. */
static int do_get(const struct config *c, const char *path, struct http_response *resp,
		  char *why, size_t why_size)
{
	const char *err = NULL;
	int r;

	r = metadata_request(c, "GET", path, NULL, resp, &err);
	if (r < 0) {
		snprintf(why, why_size, "DigitalOcean metadata %s: no answer (%s)", path,
			 strempty(err));
		return r;
	}
	if (resp->status != 200 || strlen(resp->body) != resp->size) {
		snprintf(why, why_size, "DigitalOcean metadata %s: %s", path,
			 resp->status != 200 ? "unexpected HTTP status" : "not text");
		if (resp->status != 200)
			snprintf(why, why_size, "DigitalOcean metadata %s: HTTP %ld", path,
				 resp->status);
		http_response_done(resp);
		return -EBADMSG;
	}
	return 0;
}

static int do_identify(const struct config *c, struct provider_identity *ret, char *why,
		       size_t why_size)
{
	struct provider_identity id;
	struct http_response resp = {0};
	char second[64];
	size_t n;
	int r;

	r = do_get(c, "/metadata/v1.json", &resp, why, why_size);
	if (r < 0)
		return r;
	r = digitalocean_metadata_parse(resp.body, &id, why, why_size);
	http_response_done(&resp);
	if (r < 0)
		return r;
	r = do_get(c, "/metadata/v1/id", &resp, why, why_size);
	if (r < 0)
		return r;
	n = resp.size;
	while (n > 0 && isspace((unsigned char)resp.body[n - 1]))
		n--;
	r = copy_printable(second, sizeof(second), resp.body, n);
	http_response_done(&resp);
	if (r < 0) {
		snprintf(why, why_size, "DigitalOcean metadata: malformed or empty id answer");
		return -EBADMSG;
	}
	if (!streq(second, id.instance_id)) {
		snprintf(why, why_size,
			 "DigitalOcean metadata: instance-id changed between two reads (%s, then "
			 "%.40s)",
			 id.instance_id, second);
		return -ESTALE;
	}
	*ret = id;
	return 0;
}

/* /metadata/v1/id answers a number only on DigitalOcean (404 elsewhere). */
static int do_probe(const struct config *c, char *why, size_t why_size)
{
	struct http_response resp = {0};
	const char *err = NULL;
	int r;

	r = metadata_request(c, "GET", "/metadata/v1/id", NULL, &resp, &err);
	if (r < 0) {
		snprintf(why, why_size, "%s", strempty(err));
		return r;
	}
	snprintf(why, why_size, "HTTP %ld", resp.status);
	while (resp.size > 0 && isspace((unsigned char)resp.body[resp.size - 1]))
		resp.body[--resp.size] = '\0';
	r = resp.status == 200 && provider_valid_decimal_id(resp.body);
	http_response_done(&resp);
	return r;
}

static int do_read_token(const struct config *c, char **ret, char *why, size_t why_size)
{
	return provider_read_token(c->provider_token_file, "provider.token_file",
				   "DigitalOcean token", ret, why, why_size);
}

static int do_check_ready(const struct config *c, const struct provider_identity *id, char *why,
			  size_t why_size)
{
	_cleanup_secret_ char *token = NULL;

	(void)id;
	return do_read_token(c, &token, why, why_size);
}

static enum provider_method do_method(const struct config *c)
{
	(void)c;
	return PROVIDER_METHOD_API;
}

static const char *do_api(const struct config *c)
{
	return c->provider_api_url ? c->provider_api_url : DIGITALOCEAN_API_URL;
}

static void do_describe_delete(const struct config *c, const struct provider_identity *id,
			       char *buf, size_t size)
{
	snprintf(buf, size, "DELETE %s/droplets/%s (bearer token from %s)", do_api(c),
		 id->instance_id,
		 c->provider_token_file ? c->provider_token_file : "<provider.token_file unset>");
}

static int do_delete(const struct config *c, const struct provider_identity *id,
		     struct provider_result *ret)
{
	_cleanup_secret_ char *token = NULL;
	_cleanup_free_ char *url = NULL;
	struct http_response resp = {0};
	char text[160];
	int r;

	url = xasprintf("%s/droplets/%s", do_api(c), id->instance_id);
	snprintf(ret->request, sizeof(ret->request), "DELETE %s", url);
	if (!streq(id->provider, "digitalocean") || !provider_valid_decimal_id(id->instance_id)) {
		snprintf(ret->detail, sizeof(ret->detail), "no valid Droplet id");
		return -EINVAL;
	}
	r = do_read_token(c, &token, ret->detail, sizeof(ret->detail));
	if (r < 0)
		return r; /* not retryable: a person must fix the token */
	r = provider_api_send(c, "DigitalOcean", "DELETE", url, "Authorization: Bearer", token,
			      NULL, &resp, ret);
	if (r < 0)
		return r;
	if (resp.status == 204) {
		snprintf(ret->detail, sizeof(ret->detail), "Droplet %s: HTTP 204, deleting",
			 id->instance_id);
		r = 0;
	} else {
		_cleanup_(cjson_deletep) cJSON *e = cJSON_Parse(resp.body);
		const cJSON *eid = cJSON_GetObjectItemCaseSensitive(e, "id");
		const cJSON *msg = cJSON_GetObjectItemCaseSensitive(e, "message");

		if (cJSON_IsString(eid) && cJSON_IsString(msg))
			snprintf(text, sizeof(text), "%s: %s", eid->valuestring, msg->valuestring);
		else
			provider_body_excerpt(&resp, text, sizeof(text));
		r = provider_api_refused(&resp, text,
					 " (the token is wrong or lacks the droplet:delete scope)",
					 " (no such Droplet in the token's team)", ret);
	}
	http_response_done(&resp);
	return r;
}

const struct provider_ops provider_digitalocean = {
    .name = "digitalocean",
    .metadata_host = PROVIDER_METADATA_HOST,
    .probe = do_probe,
    .identify = do_identify,
    .check_ready = do_check_ready,
    .method = do_method,
    .describe_delete = do_describe_delete,
    .delete_once = do_delete,
};
