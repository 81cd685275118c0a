/* The instance metadata client; see imds.h. */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "config.h"
#include "imds.h"
#include "macro.h"
#include "provider-http.h"
#include "provider.h"

/* A token is used only while it has this much of its TTL left. */
#define IMDS_TOKEN_MARGIN (60 * USEC_PER_SEC)
#define IMDS_ANSWER_MAX (64 * 1024)

/* The process's tokens: one per base URL (tests run fakes on several). */
static pthread_mutex_t token_lock = PTHREAD_MUTEX_INITIALIZER;
static struct cached_token {
	char *base_url;
	char *token;	/* secret */
	usec_t expires; /* CLOCK_MONOTONIC */
} tokens[4];

struct imds_options imds_options_from_config(const struct config *c)
{
	return (struct imds_options){.base_url = PROVIDER_METADATA_URL,
				     .timeout = c->provider_metadata_timeout,
				     .retries = (unsigned)c->provider_metadata_retries};
}

struct http_policy imds_policy(const struct imds_options *o)
{
	return (struct http_policy){.attempts = 1 + o->retries,
				    .base_delay = 100 * USEC_PER_MSEC,
				    .max_delay = 2 * USEC_PER_SEC,
				    .retry = HTTP_TRANSIENT | HTTP_5XX | HTTP_429};
}

int imds_request(const struct imds_options *o, const char *method, const char *path,
		 struct curl_slist *headers, struct http_response *ret, const char **err_text)
{
	_cleanup_free_ char *url = xasprintf("%s%s", o->base_url ? o->base_url : IMDS_URL, path);
	struct http_policy p = imds_policy(o);
	struct http_request rq = {
	    .method = method,
	    .url = url,
	    .headers = headers,
	    .timeout = o->timeout ? o->timeout : 2 * USEC_PER_SEC,
	    .metadata = 1,
	    .body_max = IMDS_ANSWER_MAX,
	};

	return http_send_retry(&p, &rq, ret, err_text);
}

int metadata_request(const struct config *c, const char *method, const char *path,
		     struct curl_slist *headers, struct http_response *ret, const char **err_text)
{
	struct imds_options o = imds_options_from_config(c);

	return imds_request(&o, method, path, headers, ret, err_text);
}

static const char *base_of(const struct imds_options *o)
{
	return o->base_url ? o->base_url : IMDS_URL;
}

void imds_token_forget(void)
{
	pthread_mutex_lock(&token_lock);
	for (size_t i = 0; i < ELEMENTSOF(tokens); i++) {
		free(tokens[i].base_url);
		freezero_str(tokens[i].token);
		tokens[i] = (struct cached_token){0};
	}
	pthread_mutex_unlock(&token_lock);
}

static void token_drop(const char *base, const char *token)
{
	pthread_mutex_lock(&token_lock);
	for (size_t i = 0; i < ELEMENTSOF(tokens); i++)
		if (tokens[i].base_url && streq(tokens[i].base_url, base) && tokens[i].token &&
		    streq(tokens[i].token, token)) {
			freezero_str(tokens[i].token);
			tokens[i].token = NULL;
		}
	pthread_mutex_unlock(&token_lock);
}

static char *token_lookup(const char *base)
{
	usec_t now = now_usec(CLOCK_MONOTONIC);
	char *t = NULL;

	pthread_mutex_lock(&token_lock);
	for (size_t i = 0; i < ELEMENTSOF(tokens); i++)
		if (tokens[i].base_url && streq(tokens[i].base_url, base) && tokens[i].token &&
		    now + IMDS_TOKEN_MARGIN < tokens[i].expires)
			t = xstrdup(tokens[i].token);
	pthread_mutex_unlock(&token_lock);
	return t;
}

static void token_store(const char *base, const char *token, usec_t expires)
{
	struct cached_token *slot = &tokens[0];

	pthread_mutex_lock(&token_lock);
	for (size_t i = 0; i < ELEMENTSOF(tokens); i++) {
		if (tokens[i].base_url && streq(tokens[i].base_url, base)) {
			slot = &tokens[i];
			break;
		}
		if (!tokens[i].base_url || tokens[i].expires < slot->expires)
			slot = &tokens[i];
	}
	if (!slot->base_url || !streq(slot->base_url, base)) {
		free(slot->base_url);
		slot->base_url = xstrdup(base);
	}
	freezero_str(slot->token);
	slot->token = xstrdup(token);
	slot->expires = expires;
	pthread_mutex_unlock(&token_lock);
}

int imds_token(const struct imds_options *o, char **ret, long *ret_status, const char **err_text)
{
	_cleanup_free_ char *ttl =
	    xasprintf("X-aws-ec2-metadata-token-ttl-seconds: %d", IMDS_TOKEN_TTL);
	struct curl_slist *h = NULL;
	struct http_response resp = {0};
	usec_t asked = now_usec(CLOCK_MONOTONIC);
	size_t n;
	int r;

	*ret_status = 0;
	*err_text = NULL;
	*ret = token_lookup(base_of(o));
	if (*ret) {
		*ret_status = 200;
		return 0;
	}
	h = curl_slist_append(h, ttl);
	r = imds_request(o, "PUT", "/latest/api/token", h, &resp, err_text);
	curl_slist_free_all(h);
	if (r < 0)
		return r;
	*ret_status = resp.status;
	n = resp.size;
	while (n > 0 && isspace((unsigned char)resp.body[n - 1]))
		n--;
	if (resp.status != 200 || n == 0 || n > 256 || memchr(resp.body, '\n', n) ||
	    strlen(resp.body) < n) {
		*err_text = resp.status != 200 ? "refused" : "malformed answer";
		explicit_bzero(resp.body, resp.size);
		http_response_done(&resp);
		return -EBADMSG;
	}
	resp.body[n] = '\0';
	token_store(base_of(o), resp.body, asked + IMDS_TOKEN_TTL * USEC_PER_SEC);
	*ret = TAKE_PTR(resp.body);
	http_response_done(&resp);
	return 0;
}

int imds_get(const struct imds_options *o, const char *path, struct http_response *ret,
	     const char **err_text)
{
	for (int again = 0;; again++) {
		_cleanup_secret_ char *token = NULL, *hdr = NULL;
		struct curl_slist *h;
		long status;
		int r;

		r = imds_token(o, &token, &status, err_text);
		if (r < 0) {
			*ret = (struct http_response){0};
			return r;
		}
		hdr = xasprintf("X-aws-ec2-metadata-token: %s", token);
		h = curl_slist_append(NULL, hdr);
		r = imds_request(o, "GET", path, h, ret, err_text);
		http_headers_free_secret(h);
		if (r < 0 || ret->status != 401 || again)
			return r;
		/* the token expired early or the service restarted */
		token_drop(base_of(o), token);
		http_response_done(ret);
	}
}

void ec2_credentials_done(struct ec2_credentials *k)
{
	freezero_str(k->access_key_id);
	freezero_str(k->secret_access_key);
	freezero_str(k->token);
	*k = (struct ec2_credentials){0};
}

static void cjson_deletep(cJSON **p)
{
	cJSON_Delete(*p);
}

/* "2026-11-25T19:14:22Z" -> unix time; 0 when unreadable. */
static time_t parse_iso8601(const char *s)
{
	struct tm tm = {0};
	const char *end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);

	return end ? timegm(&tm) : 0;
}

int ec2_credentials_parse(const char *body, const char *role, struct ec2_credentials *ret,
			  char *why, size_t why_size)
{
	_cleanup_(cjson_deletep) cJSON *doc = cJSON_Parse(body);
	const cJSON *akid, *secret, *session, *code, *exp;
	int r;

	code = cJSON_GetObjectItemCaseSensitive(doc, "Code");
	akid = cJSON_GetObjectItemCaseSensitive(doc, "AccessKeyId");
	secret = cJSON_GetObjectItemCaseSensitive(doc, "SecretAccessKey");
	session = cJSON_GetObjectItemCaseSensitive(doc, "Token");
	exp = cJSON_GetObjectItemCaseSensitive(doc, "Expiration");
	if (!cJSON_IsString(akid) || !cJSON_IsString(secret) || !cJSON_IsString(session) ||
	    !*akid->valuestring || !*secret->valuestring ||
	    (cJSON_IsString(code) && !streq(code->valuestring, "Success"))) {
		snprintf(why, why_size, "EC2 metadata: the credentials of role %s are unusable",
			 role);
		r = -EBADMSG;
	} else {
		ret->access_key_id = xstrdup(akid->valuestring);
		ret->secret_access_key = xstrdup(secret->valuestring);
		ret->token = xstrdup(session->valuestring);
		ret->expires = cJSON_IsString(exp) ? parse_iso8601(exp->valuestring) : 0;
		r = 0;
	}
	if (cJSON_IsString(secret))
		explicit_bzero(secret->valuestring, strlen(secret->valuestring));
	if (cJSON_IsString(session))
		explicit_bzero(session->valuestring, strlen(session->valuestring));
	return r;
}

int imds_token_why(const struct imds_options *o, char **ret, long *ret_status, char *why,
		   size_t why_size)
{
	const char *err = NULL;
	int r;

	r = imds_token(o, ret, ret_status, &err);
	if (r < 0 && *ret_status == 200)
		snprintf(why, why_size, "EC2 IMDSv2 token: malformed answer");
	else if (r < 0 && *ret_status)
		snprintf(why, why_size, "EC2 IMDSv2 token: HTTP %ld", *ret_status);
	else if (r < 0)
		snprintf(why, why_size, "EC2 IMDSv2 token: no answer (%s)", strempty(err));
	return r;
}

int imds_get_text(const struct imds_options *o, const char *path, struct http_response *resp,
		  char *why, size_t why_size)
{
	_cleanup_secret_ char *token = NULL;
	const char *err = NULL;
	long status = 0;
	int r;

	*resp = (struct http_response){0};
	/* first alone, so that its failure is told as the token's */
	r = imds_token_why(o, &token, &status, why, why_size);
	if (r < 0)
		return r;
	r = imds_get(o, path, resp, &err);
	if (r < 0) {
		snprintf(why, why_size, "EC2 metadata %s: no answer (%s)", path, strempty(err));
		return r;
	}
	if (resp->status != 200) {
		r = resp->status == 404 ? -ENOENT : -EBADMSG;
		snprintf(why, why_size, "EC2 metadata %s: HTTP %ld", path, resp->status);
		http_response_done(resp);
		return r;
	}
	if (strlen(resp->body) != resp->size) {
		snprintf(why, why_size, "EC2 metadata %s: malformed answer (not text)", path);
		http_response_done(resp);
		return -EBADMSG;
	}
	while (resp->size > 0 && isspace((unsigned char)resp->body[resp->size - 1]))
		resp->body[--resp->size] = '\0';
	if (resp->size == 0) {
		snprintf(why, why_size, "EC2 metadata %s: empty answer", path);
		http_response_done(resp);
		return -EBADMSG;
	}
	return 0;
}

int imds_role_credentials(const struct imds_options *o, struct ec2_credentials *ret, char *why,
			  size_t why_size)
{
	_cleanup_free_ char *path = NULL;
	struct http_response resp = {0};
	char role[128];
	size_t n;
	int r;

	r = imds_get_text(o, "/latest/meta-data/iam/security-credentials/", &resp, why, why_size);
	if (r == -ENOENT) {
		snprintf(why, why_size,
			 "no instance profile (IAM role) is attached to this instance");
		return r;
	}
	if (r < 0)
		return r;
	n = strcspn(resp.body, "\r\n");
	r = copy_printable(role, sizeof(role), resp.body, n);
	http_response_done(&resp);
	if (r < 0 || strchr(role, '/') || strstr(role, "..")) {
		snprintf(why, why_size, "EC2 metadata: malformed IAM role name");
		return -EBADMSG;
	}
	path = xasprintf("/latest/meta-data/iam/security-credentials/%s", role);
	r = imds_get_text(o, path, &resp, why, why_size);
	if (r < 0)
		return r;
	r = ec2_credentials_parse(resp.body, role, ret, why, why_size);
	explicit_bzero(resp.body, resp.size);
	http_response_done(&resp);
	return r;
}
