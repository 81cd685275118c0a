/* Hetzner Cloud: identity from http://169.254.169.254/hetzner/v1/metadata,
 * and "DELETE /v1/servers/{id}" with a bearer token, whose returned
 * action is then read back with "GET /v1/actions/{id}".
 *
 * The metadata document is YAML; only its top-level scalar lines are read:
 *   line  := key ":" SP value
 *   value := plain | "'" text "'" | '"' text '"'
 * Nested lines (leading spaces) and lists are ignored. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "config.h"
#include "fileio.h"
#include "macro.h"
#include "provider-http.h"
#include "provider.h"

static void cjson_deletep(cJSON **p)
{
	cJSON_Delete(*p);
}

/* Sets one identity field from a metadata line; unknown keys are ignored. */
static int hetzner_set_field(struct provider_identity *id, const char *key, size_t klen,
			     const char *v, size_t vlen)
{
	static const struct {
		const char *key;
		size_t offset, size;
	} fields[] = {
	    {"instance-id", offsetof(struct provider_identity, instance_id), 64},
	    {"hostname", offsetof(struct provider_identity, hostname), 256},
	    {"region", offsetof(struct provider_identity, region), 64},
	    {"availability-zone", offsetof(struct provider_identity, zone), 64},
	    {"public-ipv4", offsetof(struct provider_identity, public_ipv4), 64},
	};

	if (vlen >= 2 && (v[0] == '\'' || v[0] == '"') && v[vlen - 1] == v[0]) {
		v++;
		vlen -= 2;
	}
	for (size_t i = 0; i < ELEMENTSOF(fields); i++)
		if (strlen(fields[i].key) == klen && strncmp(fields[i].key, key, klen) == 0) {
			if (vlen == 0)
				return 0; /* empty values (e.g. no public IPv4) stay empty */
			return copy_printable((char *)id + fields[i].offset, fields[i].size, v,
					      vlen);
		}
	return 0;
}

int hetzner_metadata_parse(const char *text, struct provider_identity *ret, char *why,
			   size_t why_size)
{
	struct provider_identity id = {.provider = "hetzner"};
	const char *p = text;

	if (!text || !*text) {
		snprintf(why, why_size, "Hetzner metadata: empty answer");
		return -EBADMSG;
	}
	while (*p) {
		const char *eol = strchrnul(p, '\n'), *colon;
		const char *v;
		size_t vlen;

		colon = memchr(p, ':', (size_t)(eol - p));
		if (p[0] != ' ' && p[0] != '-' && p[0] != '#' && colon && colon > p) {
			v = colon + 1;
			while (v < eol && *v == ' ')
				v++;
			vlen = (size_t)(eol - v);
			while (vlen > 0 && (v[vlen - 1] == '\r' || v[vlen - 1] == ' '))
				vlen--;
			if (hetzner_set_field(&id, p, (size_t)(colon - p), v, vlen) < 0) {
				snprintf(why, why_size,
					 "Hetzner metadata: malformed value for '%.*s'",
					 (int)MIN(colon - p, 40), p);
				return -EBADMSG;
			}
		}
		p = *eol ? eol + 1 : eol;
	}
	if (!id.instance_id[0]) {
		snprintf(why, why_size, "Hetzner metadata: no instance-id in the answer");
		return -EBADMSG;
	}
	if (!provider_valid_hetzner_id(id.instance_id)) {
		snprintf(why, why_size, "Hetzner metadata: malformed instance-id '%.40s'",
			 id.instance_id);
		return -EBADMSG;
	}
	*ret = id;
	return 0;
}

static int hetzner_get(const struct config *c, const char *path, struct http_response *resp,
		       char *why, size_t why_size)
{
	const char *err = NULL;
	int r;

	r = metadata_request(c, "GET", path, NULL, resp, &err);
	if (r < 0) {
		snprintf(why, why_size, "Hetzner metadata %s: no answer (%s)", path, strempty(err));
		return r;
	}
	if (resp->status != 200) {
		snprintf(why, why_size, "Hetzner metadata %s: HTTP %ld", path, resp->status);
		http_response_done(resp);
		return -EBADMSG;
	}
	return 0;
}

static int hetzner_identity(const struct config *c, struct provider_identity *ret, char *why,
		     size_t why_size)
{
	struct http_response resp = {0};
	struct provider_identity id;
	char second[64];
	size_t n;
	int r;

	r = hetzner_get(c, "/hetzner/v1/metadata", &resp, why, why_size);
	if (r < 0)
		return r;
	if (strlen(resp.body) != resp.size) {
		snprintf(why, why_size, "Hetzner metadata: malformed answer (not text)");
		http_response_done(&resp);
		return -EBADMSG;
	}
	r = hetzner_metadata_parse(resp.body, &id, why, why_size);
	http_response_done(&resp);
	if (r < 0)
		return r;

	/* The second read must name the same server. */
	r = hetzner_get(c, "/hetzner/v1/metadata/instance-id", &resp, why, why_size);
	if (r < 0)
		return r;
	n = resp.size;
	while (n > 0 && isspace((unsigned char)resp.body[n - 1]))
		n--;
	if (copy_printable(second, sizeof(second), resp.body, n) < 0) {
		snprintf(why, why_size, "Hetzner metadata: malformed or empty instance-id answer");
		http_response_done(&resp);
		return -EBADMSG;
	}
	http_response_done(&resp);
	if (!streq(second, id.instance_id)) {
		snprintf(why, why_size,
			 "Hetzner metadata: instance-id changed between two reads (%s, then %.40s)",
			 id.instance_id, second);
		return -ESTALE;
	}
	*ret = id;
	return 0;
}

static int hetzner_read_token(const struct config *c, char **ret, char *why, size_t why_size)
{
	/* its own key first; provider.token_file as for the other clouds */
	if (!c->provider_hetzner_token_file && c->provider_token_file)
		return provider_read_token(c->provider_token_file, "provider.token_file",
					   "Hetzner token", ret, why, why_size);
	return provider_read_token(c->provider_hetzner_token_file, "provider.hetzner.token_file",
				   "Hetzner token", ret, why, why_size);
}

static int hetzner_check_token(const struct config *c, const struct provider_identity *id,
			       char *why, size_t why_size)
{
	_cleanup_secret_ char *token = NULL;

	(void)id;
	return hetzner_read_token(c, &token, why, why_size);
}

/* "code: message" of a Hetzner error answer, or the start of the body. */
static void hetzner_error_text(const struct http_response *resp, char *buf, size_t size)
{
	_cleanup_(cjson_deletep) cJSON *root = cJSON_Parse(resp->body);
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(root, "error");
	const cJSON *code = cJSON_GetObjectItemCaseSensitive(e, "code");
	const cJSON *msg = cJSON_GetObjectItemCaseSensitive(e, "message");

	if (cJSON_IsString(code))
		snprintf(buf, size, "%s: %s", code->valuestring,
			 cJSON_IsString(msg) ? msg->valuestring : "");
	else
		snprintf(buf, size, "%.120s", resp->size ? resp->body : "(empty answer)");
}

int hetzner_action_state(const char *body, char *id_buf, size_t id_size, char *detail,
			 size_t detail_size)
{
	_cleanup_(cjson_deletep) cJSON *root = cJSON_Parse(body);
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(root, "action");
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(a, "id");
	const cJSON *status = cJSON_GetObjectItemCaseSensitive(a, "status");
	const cJSON *err = cJSON_GetObjectItemCaseSensitive(a, "error");

	if (!cJSON_IsNumber(id) || !cJSON_IsString(status)) {
		snprintf(detail, detail_size, "the answer holds no action (%.80s)", body);
		return -EBADMSG;
	}
	snprintf(id_buf, id_size, "%.0f", id->valuedouble);
	if (streq(status->valuestring, "running") || streq(status->valuestring, "success")) {
		snprintf(detail, detail_size, "action %s %s", id_buf, status->valuestring);
		return 0;
	}
	if (streq(status->valuestring, "error")) {
		const cJSON *code = cJSON_GetObjectItemCaseSensitive(err, "code");
		const cJSON *msg = cJSON_GetObjectItemCaseSensitive(err, "message");
		snprintf(detail, detail_size, "action %s failed: %s: %s", id_buf,
			 cJSON_IsString(code) ? code->valuestring : "unknown",
			 cJSON_IsString(msg) ? msg->valuestring : "");
		return -EIO;
	}
	snprintf(detail, detail_size, "action %s has status '%.40s'", id_buf, status->valuestring);
	return -EBADMSG;
}

static int hetzner_delete(const struct config *c, const struct provider_identity *id,
			  struct provider_result *ret)
{
	_cleanup_secret_ char *token = NULL;
	_cleanup_free_ char *url = NULL, *action_url = NULL;
	struct http_response resp = {0};
	struct provider_result readback = {0};
	char text[256];
	int r;

	url = xasprintf("%s/servers/%s", c->provider_hetzner_api_url, id->instance_id);
	snprintf(ret->request, sizeof(ret->request), "DELETE %s", url);
	if (!streq(id->provider, "hetzner") || !provider_valid_hetzner_id(id->instance_id)) {
		snprintf(ret->detail, sizeof(ret->detail), "no valid Hetzner instance id");
		return -EINVAL;
	}
	r = hetzner_read_token(c, &token, ret->detail, sizeof(ret->detail));
	if (r < 0)
		return r; /* not retryable: a person must fix the token */
	r = provider_api_send(c, "Hetzner", "DELETE", url, "Authorization: Bearer", token, NULL,
			      &resp, ret);
	if (r < 0)
		return r;
	if (resp.status < 200 || resp.status >= 300) {
		hetzner_error_text(&resp, text, sizeof(text));
		r = provider_api_refused(&resp, text, " (the token is wrong or lacks write access)",
					 " (no such server in the token's project)", ret);
		goto out;
	}
	r = hetzner_action_state(resp.body, ret->action_id, sizeof(ret->action_id), ret->detail,
				 sizeof(ret->detail));
	if (r < 0)
		goto out;

	/* Read the action back: it must exist and not have failed. */
	http_response_done(&resp);
	action_url = xasprintf("%s/actions/%s", c->provider_hetzner_api_url, ret->action_id);
	r = provider_api_send(c, "Hetzner", "GET", action_url, "Authorization: Bearer", token,
			      NULL, &resp, &readback);
	if (r < 0 || resp.status != 200) {
		/* The delete was accepted; an unreadable action does not undo it. */
		snprintf(ret->detail + strlen(ret->detail),
			 sizeof(ret->detail) - strlen(ret->detail), " (reading it back failed: %s)",
			 r < 0 ? readback.detail : "unexpected HTTP status");
		r = 0;
		goto out;
	}
	r = hetzner_action_state(resp.body, ret->action_id, sizeof(ret->action_id), ret->detail,
				 sizeof(ret->detail));
out:
	http_response_done(&resp);
	return r;
}

/* Hetzner's own path answers 200 only on Hetzner (404 on the others). */
static int hetzner_probe(const struct config *c, char *why, size_t why_size)
{
	struct http_response resp = {0};
	const char *err = NULL;
	long status;
	int r;

	r = metadata_request(c, "GET", "/hetzner/v1/metadata/instance-id", NULL, &resp, &err);
	status = resp.status;
	http_response_done(&resp);
	if (r < 0) {
		snprintf(why, why_size, "%s", strempty(err));
		return r;
	}
	snprintf(why, why_size, "HTTP %ld", status);
	return status == 200;
}

static enum provider_method hetzner_method(const struct config *c)
{
	(void)c;
	return PROVIDER_METHOD_API;
}

static void hetzner_describe_delete(const struct config *c, const struct provider_identity *id,
				    char *buf, size_t size)
{
	snprintf(buf, size, "DELETE %s/servers/%s (bearer token from %s)",
		 c->provider_hetzner_api_url, id->instance_id,
		 c->provider_hetzner_token_file ? c->provider_hetzner_token_file
		 : c->provider_token_file	? c->provider_token_file
						: "<provider.hetzner.token_file unset>");
}

const struct provider_ops provider_hetzner = {
    .name = "hetzner",
    .metadata_host = PROVIDER_METADATA_HOST,
    .probe = hetzner_probe,
    .identify = hetzner_identity,
    .check_ready = hetzner_check_token,
    .method = hetzner_method,
    .describe_delete = hetzner_describe_delete,
    .delete_once = hetzner_delete,
};
