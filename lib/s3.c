/* S3 client; see s3.h.
 *
 * Signing is libcurl's (CURLOPT_AWS_SIGV4 "aws:amz:<region>:s3"). What
 * libcurl 7.88 leaves to us, done here: the payload hash header (it would
 * sign an upload as empty), the session-token header, URI-encoding of the
 * key (it signs the path as given) and a canonical query string (sorted,
 * encoded, "name=" for empty values), since it signs the query as given. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <openssl/evp.h>

#include "fileio.h"
#include "http.h"
#include "imds.h"
#include "log.h"
#include "macro.h"
#include "s3-internal.h"
#include "s3.h"
#include "xml.h"

#define S3_RESPONSE_MAX (16 * 1024 * 1024) /* error documents and LIST pages */
#define S3_ERROR_MAX 1024

struct s3_client {
	char *scheme;	/* "https" */
	char *hostport; /* "s3.eu-central-1.amazonaws.com" or "127.0.0.1:9000" */
	char *region;
	char *bucket;
	int path_style;
	char *access_key, *secret_key, *token;
	char *cred_source;   /* for messages: "FILE [profile]" or the instance profile */
	char *imds_url;	     /* credentials came from the instance metadata here ("" default) */
	time_t cred_expires; /* and expire then (refreshed 5 minutes before) */
	char *sigv4;	     /* "aws:amz:<region>:s3" */
	unsigned attempts;
	unsigned base_delay_ms;
	unsigned list_page; /* max-keys of a LIST page; 0: the server's (1000) */
	CURL *curl;	    /* reused, so connections are kept alive */
	char error[S3_ERROR_MAX];
};

struct s3_request {
	const char *op; /* for messages: "PUT", "GET", "LIST", "UPLOAD PART" */
	const char *method;
	const char *key;
	const char *query; /* canonical: sorted, encoded; NULL for none */
	const void *body;
	size_t body_size;
	size_t body_pos;
	const char *body_sha256; /* hex; NULL: computed */
	const char *content_type;
	const char *if_match;	   /* conditional write: only over this ETag */
	const char *if_none_match; /* "*": only when absent */
	char content_md5[32];	   /* base64 MD5 of a PUT body, set by s3_perform() */

	/* streaming download (2xx bodies); NULL: buffer the body */
	s3_write_fn cb;
	void *userdata;
	uint64_t delivered;  /* bytes given to cb, over all attempts */
	char first_etag[80]; /* set when a resumed answer was of another object */
	int cb_error;

	/* response */
	long status;
	long cut_status;	   /* a transport failure cut an answer of this status */
	const char *transport_err; /* what the transport said, or NULL */
	char *resp;
	size_t resp_size;
	char etag[80];
	uint64_t content_length;
	int have_length;
};

/* ---- SHA-256 ---- */

struct sha256_ctx {
	EVP_MD_CTX *md;
};

struct sha256_ctx *sha256_new(void)
{
	struct sha256_ctx *h = xmalloc(sizeof(*h));

	h->md = EVP_MD_CTX_new();
	if (!h->md || EVP_DigestInit_ex(h->md, EVP_sha256(), NULL) != 1) {
		fprintf(stderr, "<2>sha256: OpenSSL cannot initialise SHA-256\n");
		abort();
	}
	return h;
}

void sha256_update(struct sha256_ctx *h, const void *data, size_t size)
{
	if (size > 0)
		EVP_DigestUpdate(h->md, data, size);
}

void sha256_finish_hex(struct sha256_ctx *h, char hex[65])
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned n = 0;

	EVP_DigestFinal_ex(h->md, d, &n);
	for (unsigned i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", d[i]);
	hex[64] = '\0';
	EVP_MD_CTX_free(h->md);
	free(h);
}

void sha256_hex(const void *data, size_t size, char hex[65])
{
	struct sha256_ctx *h = sha256_new();

	sha256_update(h, data, size);
	sha256_finish_hex(h, hex);
}

/* ---- small helpers ---- */

char *s3_uri_encode(const char *s, int keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(s);
	char *out = xmalloc(n * 3 + 1), *o = out;

	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (isalnum(*p) || *p == '-' || *p == '_' || *p == '.' || *p == '~' ||
		    (keep_slash && *p == '/')) {
			*o++ = (char)*p;
			continue;
		}
		*o++ = '%';
		*o++ = hex[*p >> 4];
		*o++ = hex[*p & 15];
	}
	*o = '\0';
	return out;
}

/* ---- client ---- */

struct s3_client *s3_client_new(const char *endpoint, const char *region, const char *bucket,
				int path_style)
{
	struct s3_client *s = xcalloc(1, sizeof(*s));
	_cleanup_free_ char *ep = NULL;
	const char *sep;
	size_t l;

	http_global_init();
	if (!region || !*region)
		region = "us-east-1";
	ep = endpoint && *endpoint ? xstrdup(endpoint)
				   : xasprintf("https://s3.%s.amazonaws.com", region);
	l = strlen(ep);
	while (l > 0 && ep[l - 1] == '/')
		ep[--l] = '\0';
	sep = strstr(ep, "://");
	if (sep) {
		s->scheme = strndup(ep, (size_t)(sep - ep));
		s->hostport = xstrdup(sep + 3);
	} else {
		s->scheme = xstrdup("https");
		s->hostport = xstrdup(ep);
	}
	if (!s->scheme)
		s->scheme = xstrdup("https");
	s->region = xstrdup(region);
	s->bucket = xstrdup(bucket);
	s->path_style = path_style;
	s->sigv4 = xasprintf("aws:amz:%s:s3", region);
	s->attempts = 6;
	s->base_delay_ms = 200;
	s->curl = curl_easy_init();
	if (!s->curl) {
		fprintf(stderr, "<2>s3: curl_easy_init failed\n");
		abort();
	}
	return s;
}

struct s3_client *s3_client_free(struct s3_client *s)
{
	if (!s)
		return NULL;
	curl_easy_cleanup(s->curl);
	free(s->scheme);
	free(s->hostport);
	free(s->region);
	free(s->bucket);
	free(s->sigv4);
	free(s->imds_url);
	free(s->access_key);
	freezero_str(s->secret_key);
	freezero_str(s->token);
	free(s->cred_source);
	free(s);
	return NULL;
}

void s3_client_set_credentials(struct s3_client *s, const char *access_key, const char *secret_key,
			       const char *token)
{
	free(s->access_key);
	freezero_str(s->secret_key);
	freezero_str(s->token);
	s->access_key = xstrdup(access_key);
	s->secret_key = xstrdup(secret_key);
	s->token = token && *token ? xstrdup(token) : NULL;
}

void s3_client_set_retry(struct s3_client *s, unsigned attempts, unsigned base_delay_ms)
{
	s->attempts = attempts ? attempts : 1;
	s->base_delay_ms = base_delay_ms;
}

void s3_client_set_list_page(struct s3_client *s, unsigned max_keys)
{
	s->list_page = max_keys;
}

const char *s3_last_error(const struct s3_client *s)
{
	return s->error;
}

/* Cuts blanks at both ends, in place; returns the start. */
static char *strip(char *s)
{
	size_t l;

	while (*s == ' ' || *s == '\t')
		s++;
	l = strlen(s);
	while (l > 0 && (s[l - 1] == ' ' || s[l - 1] == '\t' || s[l - 1] == '\r'))
		s[--l] = '\0';
	return s;
}

/* Grammar of the AWS shared-credentials file:
 *   file    = *(line "\n")
 *   line    = "[" profile "]" | key "=" value | ("#" | ";") comment | ""
 *   key     = "aws_access_key_id" | "aws_secret_access_key" | "aws_session_token" | other */
int s3_client_load_credentials(struct s3_client *s, const char *path, const char *profile,
			       const char **ret_why)
{
	_cleanup_secret_ char *text = NULL, *key = NULL, *secret = NULL, *token = NULL;
	int in_section = 0, found = 0, r;
	char *line, *next;

	if (!profile)
		profile = getenv("AWS_PROFILE");
	if (!profile || !*profile)
		profile = "default";
	r = read_secret(path, &text, ret_why);
	if (r < 0)
		return r;
	for (line = text; line; line = next) {
		char *eq, *l;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		l = strip(line);
		if (!*l || *l == '#' || *l == ';')
			continue;
		if (*l == '[') {
			char *e = strchr(l, ']');
			if (!e) {
				*ret_why = "has a section line without ']'";
				return -EINVAL;
			}
			*e = '\0';
			l = strip(l + 1);
			if (startswith(l, "profile "))
				l = strip(l + 8);
			in_section = streq(l, profile);
			found |= in_section;
			continue;
		}
		if (!in_section)
			continue;
		eq = strchr(l, '=');
		if (!eq) {
			*ret_why = "has a line that is not \"key = value\"";
			return -EINVAL;
		}
		*eq = '\0';
		l = strip(l);
		if (streq(l, "aws_access_key_id")) {
			freezero_str(key);
			key = xstrdup(strip(eq + 1));
		} else if (streq(l, "aws_secret_access_key")) {
			freezero_str(secret);
			secret = xstrdup(strip(eq + 1));
		} else if (streq(l, "aws_session_token")) {
			freezero_str(token);
			token = xstrdup(strip(eq + 1));
		}
	}
	if (!found) {
		*ret_why = "has no section for the profile (\"[default]\")";
		return -ENOENT;
	}
	if (!key || !*key || !secret || !*secret) {
		*ret_why = "lacks aws_access_key_id or aws_secret_access_key";
		return -EINVAL;
	}
	s3_client_set_credentials(s, key, secret, token);
	free(s->cred_source);
	s->cred_source = xasprintf("%s [%s]", path, profile);
	return 0;
}

/* ---- EC2 instance-profile credentials (lib/imds.c) ---- */

int s3_client_load_imds(struct s3_client *s, const char *base_url, const char **ret_why)
{
	/* static per thread: callers print it after freeing the client */
	static __thread char why[256];
	struct imds_options o = {.base_url = base_url && *base_url ? base_url : S3_IMDS_URL,
				 .timeout = 5 * USEC_PER_SEC,
				 .retries = 2};
	struct ec2_credentials k = {0};
	int r;

	why[0] = '\0';
	r = imds_role_credentials(&o, &k, why, sizeof(why));
	if (r < 0) {
		*ret_why = why;
		ec2_credentials_done(&k);
		return r;
	}
	s3_client_set_credentials(s, k.access_key_id, k.secret_access_key, k.token);
	s->cred_expires = k.expires ? k.expires : time(NULL) + 3600;
	ec2_credentials_done(&k);
	free(s->imds_url);
	s->imds_url = xstrdup(o.base_url);
	free(s->cred_source);
	s->cred_source = xstrdup("the instance profile's role (instance metadata)");
	return 0;
}

char *s3_url(const struct s3_client *s, const char *key, const char *query)
{
	_cleanup_free_ char *ekey = s3_uri_encode(key, 1);
	const char *q = query && *query ? "?" : "";

	if (s->path_style)
		return xasprintf("%s://%s/%s%s%s%s%s", s->scheme, s->hostport, s->bucket,
				 *key ? "/" : "", ekey, q, query ? query : "");
	return xasprintf("%s://%s.%s/%s%s%s", s->scheme, s->bucket, s->hostport, ekey, q,
			 query ? query : "");
}

/* ---- one request ---- */

/* Hands a 2xx body to the consumer (lib/http.c skips what a resumed
 * answer repeats), counting it. */
static int s3_sink(const void *data, size_t size, void *userdata)
{
	struct s3_request *rq = userdata;
	int r = rq->cb(data, size, rq->userdata);

	if (r < 0)
		return r;
	rq->delivered += size;
	return 0;
}

/* An S3 answer that is worth another try although its status is no retry
 * class: throttling or a request damaged on the way. */
static int s3_answer_retryable(const struct http_response *resp)
{
	static const char *const codes[] = {"SlowDown", "RequestTimeout", "BadDigest",
					    "XAmzContentSHA256Mismatch"};
	_cleanup_free_ char *code = NULL;

	if (resp->size == 0)
		return 0;
	code = xml_get(resp->body, resp->body + resp->size, "Code", NULL);
	for (size_t i = 0; code && i < ELEMENTSOF(codes); i++)
		if (streq(code, codes[i]))
			return 1;
	return 0;
}

static struct http_policy s3_policy(const struct s3_client *s)
{
	return (struct http_policy){
	    .attempts = s->attempts,
	    .base_delay = (usec_t)s->base_delay_ms * USEC_PER_MSEC,
	    .max_delay = 10 * USEC_PER_SEC,
	    .retry = HTTP_TRANSIENT | HTTP_5XX | HTTP_429 | HTTP_408 | HTTP_ANSWER,
	    .answer_retryable = s3_answer_retryable,
	};
}

/* rq, signed by libcurl, retried under the client's policy; the outcome is
 * in rq. 0 when an answer came, else the transport's -errno. */
static int s3_send(struct s3_client *s, struct s3_request *rq, const char *payload_hash)
{
	_cleanup_free_ char *url = s3_url(s, rq->key, rq->query);
	struct curl_slist *h = NULL;
	_cleanup_free_ char *hsha = xasprintf("x-amz-content-sha256: %s", payload_hash);
	_cleanup_free_ char *hct = NULL, *hif = NULL, *hifn = NULL, *hmd5 = NULL;
	_cleanup_secret_ char *htok = NULL;
	struct http_policy p = s3_policy(s);
	struct http_response resp = {0};
	int r;

	h = curl_slist_append(h, hsha);
	if (s->token) {
		htok = xasprintf("x-amz-security-token: %s", s->token);
		h = curl_slist_append(h, htok);
	}
	if (rq->content_type) {
		hct = xasprintf("Content-Type: %s", rq->content_type);
		h = curl_slist_append(h, hct);
	}
	if (rq->if_match) {
		hif = xasprintf("If-Match: %s", rq->if_match);
		h = curl_slist_append(h, hif);
	}
	if (rq->if_none_match) {
		hifn = xasprintf("If-None-Match: %s", rq->if_none_match);
		h = curl_slist_append(h, hifn);
	}
	if (rq->content_md5[0]) {
		hmd5 = xasprintf("Content-MD5: %s", rq->content_md5);
		h = curl_slist_append(h, hmd5);
	}
	/* No "Expect:" here to drop 100-continue: libcurl 7.88 would sign the
	 * empty header it never sends, and S3 would refuse the signature. */
	r = http_send_retry(&p,
			    &(struct http_request){
				.method = rq->method,
				.url = url,
				.headers = h,
				.body = rq->body,
				.body_size = rq->body_size,
				.sigv4 = s->sigv4,
				.username = strempty(s->access_key),
				.password = strempty(s->secret_key),
				.write = rq->cb ? s3_sink : NULL,
				.write_userdata = rq,
				.resume = 1,
				.body_max = S3_RESPONSE_MAX,
				.connect_timeout = 10 * USEC_PER_SEC,
				.stall_timeout = 30 * USEC_PER_SEC,
				.handle = s->curl,
			    },
			    &resp, &rq->transport_err);
	http_headers_free_secret(h);
	rq->status = resp.status;
	rq->cut_status = resp.cut_status;
	rq->cb_error = resp.callback_error;
	snprintf(rq->etag, sizeof(rq->etag), "%s", resp.etag);
	snprintf(rq->first_etag, sizeof(rq->first_etag), "%s", resp.first_etag);
	rq->content_length = resp.content_length;
	rq->have_length = resp.have_length;
	free(rq->resp);
	rq->resp_size = resp.size;
	rq->resp = resp.size ? TAKE_PTR(resp.body) : NULL;
	http_response_done(&resp);
	return r;
}

/* What a user must check when the server refused the keys (RGW, like S3,
 * checks every signature; it sends no Message with the code); NULL for
 * other codes. The access key id is not secret: S3 puts it in its answers. */
static char *credentials_hint(const struct s3_client *s, const char *code)
{
	const char *src = s->cred_source ? s->cred_source : "the credentials";

	if (streq(code, "SignatureDoesNotMatch"))
		return xasprintf("the storage rejected the secret key (it does not belong to "
				 "access key %s): check aws_secret_access_key in %s",
				 strempty(s->access_key), src);
	if (streq(code, "InvalidAccessKeyId"))
		return xasprintf("the storage does not know access key %s: check "
				 "aws_access_key_id in %s and state.storage.endpoint",
				 strempty(s->access_key), src);
	return NULL;
}

/* Formats the one-line error of a failed request into s->error. */
static void s3_set_error(struct s3_client *s, const struct s3_request *rq, int failed,
			 const char *code, const char *msg)
{
	char target[300];

	snprintf(target, sizeof(target), "s3://%s/%s", s->bucket, rq->key);
	if (rq->first_etag[0])
		snprintf(s->error, sizeof(s->error),
			 "%s %s: the object changed while it was read (ETag %s, then %s after "
			 "an interrupted transfer)",
			 rq->op, target, rq->first_etag, rq->etag);
	else if (rq->cb_error)
		snprintf(s->error, sizeof(s->error), "%s %s: consumer failed: %s", rq->op, target,
			 strerror(-rq->cb_error));
	else if (failed && !rq->cut_status)
		snprintf(s->error, sizeof(s->error), "%s %s: %s", rq->op, target,
			 strempty(rq->transport_err));
	else if (failed)
		snprintf(s->error, sizeof(s->error), "%s %s: HTTP %ld, then %s", rq->op, target,
			 rq->cut_status, strempty(rq->transport_err));
	else {
		_cleanup_free_ char *hint = credentials_hint(s, code);
		snprintf(s->error, sizeof(s->error), "%s %s: HTTP %ld %s%s%s%s%s", rq->op, target,
			 rq->status, code, msg && *msg ? ": " : "", msg ? msg : "",
			 hint ? ": " : "", strempty(hint));
	}
	for (char *p = s->error; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
}

/* A code for error lines when the answer had no XML body. */
static const char *status_code_name(long status)
{
	switch (status) {
	case 400:
		return "BadRequest";
	case 403:
		return "AccessDenied";
	case 404:
		return "NotFound";
	case 412:
		return "PreconditionFailed";
	default:
		return status >= 500 ? "ServerError" : "Error";
	}
}

/* Maps an HTTP status and S3 error code to -errno. */
static int status_to_errno(long status, const char *code)
{
	if (streq(code, "NoSuchBucket"))
		return -ENXIO;
	if (status == 404 || streq(code, "NoSuchKey") || streq(code, "NoSuchUpload"))
		return -ENOENT;
	if (status == 403 || status == 401)
		return -EACCES;
	if (status == 412)
		return -EEXIST;
	if (status == 400 && streq(code, "EntityTooSmall"))
		return -EMSGSIZE;
	return -EIO;
}

/* The base64 MD5 of data for Content-MD5 (24 characters and a NUL). */
static void md5_base64(const void *data, size_t size, char out[32])
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned n = 0;

	if (EVP_Digest(data, size, d, &n, EVP_md5(), NULL) != 1 || n != 16) {
		out[0] = '\0'; /* no MD5 here (FIPS): the payload hash still guards */
		return;
	}
	EVP_EncodeBlock((unsigned char *)out, d, 16);
}

/* Runs rq with retries; 0 on a 2xx, else -errno with s->error set. */
static int s3_perform(struct s3_client *s, struct s3_request *rq)
{
	_cleanup_free_ char *code = NULL, *msg = NULL;
	char hash[65];
	const char *payload_hash = rq->body_sha256;
	int r;

	/* Content-MD5 on every upload: every S3 store checks it (BadDigest),
	 * also those that do not check x-amz-content-sha256, so damaged bytes
	 * are refused instead of stored. */
	if (streq(rq->method, "PUT"))
		md5_base64(rq->body ? rq->body : "", rq->body_size, rq->content_md5);

	if (!payload_hash) {
		if (rq->body_size > 0) {
			sha256_hex(rq->body, rq->body_size, hash);
			payload_hash = hash;
		} else
			payload_hash = S3_SHA256_HEX_EMPTY;
	}
	s->error[0] = '\0';
	if (s->imds_url && time(NULL) > s->cred_expires - 300) {
		_cleanup_free_ char *url = xstrdup(s->imds_url);
		const char *why = NULL;
		r = s3_client_load_imds(s, url, &why);
		if (r < 0) {
			snprintf(
			    s->error, sizeof(s->error),
			    "%s s3://%s/%s: cannot refresh the instance-profile credentials: %s",
			    rq->op, s->bucket, rq->key, why);
			return r;
		}
	}
	r = s3_send(s, rq, payload_hash);
	if (r < 0) {
		s3_set_error(s, rq, 1, "", NULL);
		return r;
	}
	if (rq->status / 100 == 2)
		return 0;
	if (rq->resp_size > 0) {
		code = xml_get(rq->resp, rq->resp + rq->resp_size, "Code", NULL);
		msg = xml_get(rq->resp, rq->resp + rq->resp_size, "Message", NULL);
	}
	if (!code)
		code = xstrdup(status_code_name(rq->status));
	s3_set_error(s, rq, 0, code, msg);
	return status_to_errno(rq->status, code);
}

/* ---- operations ---- */

/* One PUT; the ETag of the answer into etag (80 bytes) when given. */
static int put_once(struct s3_client *s, const char *key, const void *data, size_t size,
		    const char *content_type, const char *if_match, const char *if_none_match,
		    char *etag)
{
	struct s3_request rq = {.op = "PUT",
				.method = "PUT",
				.key = key,
				.body = data,
				.body_size = size,
				.content_type = content_type,
				.if_match = if_match,
				.if_none_match = if_none_match};
	int r = s3_perform(s, &rq);

	if (r >= 0 && etag)
		snprintf(etag, 80, "%s", rq.etag);
	free(rq.resp);
	return r;
}

/* The form of the ETag in If-Match that an endpoint accepts. AWS S3 takes
 * the quoted one it sends; Ceph RGW 16 answers 412 to it and takes only the
 * bare one. Learnt on a 412 over an unchanged ETag, kept per endpoint for
 * the life of the process (state.c makes a client per operation). */
enum etag_form { ETAG_QUOTED, ETAG_BARE };
#define ETAG_FORM_SLOTS 8
static struct {
	char *endpoint;
	enum etag_form form;
} etag_forms[ETAG_FORM_SLOTS];
static pthread_mutex_t etag_forms_lock = PTHREAD_MUTEX_INITIALIZER;

static char *endpoint_id(const struct s3_client *s)
{
	return xasprintf("%s://%s", s->scheme, s->hostport);
}

static enum etag_form etag_form_get(const struct s3_client *s)
{
	_cleanup_free_ char *id = endpoint_id(s);
	enum etag_form f = ETAG_QUOTED; /* as S3 documents it */

	pthread_mutex_lock(&etag_forms_lock);
	for (unsigned i = 0; i < ETAG_FORM_SLOTS && etag_forms[i].endpoint; i++)
		if (streq(etag_forms[i].endpoint, id))
			f = etag_forms[i].form;
	pthread_mutex_unlock(&etag_forms_lock);
	return f;
}

static void etag_form_set(const struct s3_client *s, enum etag_form f)
{
	_cleanup_free_ char *id = endpoint_id(s);
	unsigned i;

	pthread_mutex_lock(&etag_forms_lock);
	for (i = 0; i < ETAG_FORM_SLOTS && etag_forms[i].endpoint; i++)
		if (streq(etag_forms[i].endpoint, id))
			break;
	if (i < ETAG_FORM_SLOTS) {
		if (!etag_forms[i].endpoint)
			etag_forms[i].endpoint = TAKE_PTR(id);
		etag_forms[i].form = f;
	}
	pthread_mutex_unlock(&etag_forms_lock);
}

/* The ETag without its quotes (and without a weak W/ mark) into bare. */
static void etag_bare(const char *etag, char bare[80])
{
	size_t n;

	if (startswith(etag, "W/"))
		etag += 2;
	if (*etag == '"')
		etag++;
	snprintf(bare, 80, "%s", etag);
	n = strlen(bare);
	if (n > 0 && bare[n - 1] == '"')
		bare[n - 1] = '\0';
}

/* The ETag in form f into out (84 bytes). */
static void etag_in_form(const char *bare, enum etag_form f, char out[84])
{
	snprintf(out, 84, f == ETAG_QUOTED ? "\"%s\"" : "%s", bare);
}

/* 1 when HEAD shows key still at the bare ETag; 0 when it changed, is gone
 * or cannot be read. Keeps s->error. */
static int etag_unchanged(struct s3_client *s, const char *key, const char *bare)
{
	char saved[S3_ERROR_MAX], now[80];
	struct s3_object_info info;
	int r;

	memcpy(saved, s->error, sizeof(saved));
	r = s3_head(s, key, &info);
	memcpy(s->error, saved, sizeof(saved));
	if (r < 0)
		return 0;
	etag_bare(info.etag, now);
	return streq(now, bare);
}

int s3_put_if(struct s3_client *s, const char *key, const void *data, size_t size,
	      const char *content_type, const char *if_match, const char *if_none_match)
{
	char bare[80], cond[84];
	enum etag_form f;
	int r;

	if (!if_match)
		return put_once(s, key, data, size, content_type, NULL, if_none_match, NULL);
	etag_bare(if_match, bare);
	f = etag_form_get(s);
	etag_in_form(bare, f, cond);
	r = put_once(s, key, data, size, content_type, cond, if_none_match, NULL);
	if (r != -EEXIST)
		return r;
	/* A 412 is a conflict only if the object really changed: else the
	 * server did not take our form of the ETag. */
	if (!etag_unchanged(s, key, bare))
		return -EEXIST;
	f = f == ETAG_QUOTED ? ETAG_BARE : ETAG_QUOTED;
	log_debug("%s although the ETag is unchanged; retrying with the %s ETag", s->error,
		  f == ETAG_QUOTED ? "quoted" : "bare");
	etag_in_form(bare, f, cond);
	r = put_once(s, key, data, size, content_type, cond, if_none_match, NULL);
	if (r >= 0)
		etag_form_set(s, f);
	else if (r == -EEXIST && etag_unchanged(s, key, bare))
		/* Not another writer winning meanwhile: the server itself. */
		snprintf(s->error, sizeof(s->error),
			 "PUT s3://%s/%s: HTTP 412: the server refuses If-Match with the "
			 "unchanged ETag %s, quoted and bare: it does not support conditional "
			 "writes",
			 s->bucket, key, bare);
	return r;
}

int s3_put(struct s3_client *s, const char *key, const void *data, size_t size,
	   const char *content_type)
{
	return s3_put_if(s, key, data, size, content_type, NULL, NULL);
}

/* GET into cb; the ETag of the answer into etag (80 bytes) when given. */
static int s3_get_etag(struct s3_client *s, const char *key, s3_write_fn cb, void *userdata,
		       uint64_t *ret_size, char *etag)
{
	struct s3_request rq = {
	    .op = "GET", .method = "GET", .key = key, .cb = cb, .userdata = userdata};
	int r = s3_perform(s, &rq);

	free(rq.resp);
	if (r >= 0 && ret_size)
		*ret_size = rq.delivered;
	if (r >= 0 && etag)
		snprintf(etag, 80, "%s", rq.etag);
	return r;
}

int s3_get(struct s3_client *s, const char *key, s3_write_fn cb, void *userdata, uint64_t *ret_size)
{
	return s3_get_etag(s, key, cb, userdata, ret_size, NULL);
}

struct buffer_sink {
	char *data;
	size_t size, max;
};

/* Appends to a bounded memory buffer (-EFBIG beyond max). */
static int buffer_write(const void *data, size_t size, void *userdata)
{
	struct buffer_sink *b = userdata;

	if (b->size + size > b->max)
		return -EFBIG;
	b->data = xrealloc(b->data, b->size + size + 1);
	memcpy(b->data + b->size, data, size);
	b->size += size;
	b->data[b->size] = '\0';
	return 0;
}

int s3_get_buffer_etag(struct s3_client *s, const char *key, size_t max, char **ret,
		       size_t *ret_size, char etag[80])
{
	struct buffer_sink b = {.max = max};
	int r;

	r = s3_get_etag(s, key, buffer_write, &b, NULL, etag);
	if (r < 0) {
		free(b.data);
		return r;
	}
	if (!b.data)
		b.data = xcalloc(1, 1);
	*ret = b.data;
	if (ret_size)
		*ret_size = b.size;
	return 0;
}

int s3_get_buffer(struct s3_client *s, const char *key, size_t max, char **ret, size_t *ret_size)
{
	return s3_get_buffer_etag(s, key, max, ret, ret_size, NULL);
}

int s3_head(struct s3_client *s, const char *key, struct s3_object_info *ret)
{
	struct s3_request rq = {.op = "HEAD", .method = "HEAD", .key = key};
	int r = s3_perform(s, &rq);

	free(rq.resp);
	if (r < 0)
		return r;
	if (!rq.have_length) {
		snprintf(s->error, sizeof(s->error), "HEAD s3://%s/%s: no Content-Length in answer",
			 s->bucket, key);
		return -EPROTO;
	}
	if (ret) {
		ret->size = rq.content_length;
		snprintf(ret->etag, sizeof(ret->etag), "%s", rq.etag);
	}
	return 0;
}

int s3_delete(struct s3_client *s, const char *key)
{
	struct s3_request rq = {.op = "DELETE", .method = "DELETE", .key = key};
	int r = s3_perform(s, &rq);

	free(rq.resp);
	return r == -ENOENT ? 0 : r;
}

int s3_list(struct s3_client *s, const char *prefix, s3_list_fn cb, void *userdata)
{
	_cleanup_free_ char *token = NULL, *eprefix = s3_uri_encode(prefix, 0);

	for (unsigned page = 0; page < 100000; page++) {
		_cleanup_free_ char *query = NULL, *etoken = NULL, *mk = NULL;
		struct s3_request rq = {.op = "LIST", .method = "GET", .key = ""};
		int r;

		/* canonical order: continuation-token, list-type, max-keys, prefix */
		mk = s->list_page ? xasprintf("&max-keys=%u", s->list_page) : xstrdup("");
		if (token) {
			etoken = s3_uri_encode(token, 0);
			query = xasprintf("continuation-token=%s&list-type=2%s&prefix=%s", etoken,
					  mk, eprefix);
		} else
			query = xasprintf("list-type=2%s&prefix=%s", mk, eprefix);
		rq.query = query;
		r = s3_perform(s, &rq);
		if (r < 0) {
			free(rq.resp);
			return r;
		}
		if (!rq.resp) {
			snprintf(s->error, sizeof(s->error), "LIST s3://%s/%s: answer empty",
				 s->bucket, prefix);
			return -EPROTO;
		}
		free(token);
		token = NULL;
		r = s3_list_parse_page(rq.resp, rq.resp_size, cb, userdata, &token);
		free(rq.resp);
		if (r < 0)
			return r;
		if (!token)
			return 0;
	}
	return -ELOOP;
}

int s3_list_parse_page(const char *xml, size_t size, s3_list_fn cb, void *userdata,
		       char **ret_token)
{
	_cleanup_free_ char *truncated = NULL;
	const char *p = xml, *end = xml + size;
	int r;

	*ret_token = NULL;
	for (;;) {
		_cleanup_free_ char *contents = NULL, *key = NULL, *osize = NULL;
		const char *after;

		contents = xml_get(p, end, "Contents", &after);
		if (!contents)
			break;
		/* Contents holds no entities of its own: decode its fields again
		 * from the raw text between the tags. */
		{
			const char *raw = memmem(p, (size_t)(end - p), "<Contents>", 10);
			const char *rawend = after;
			key = xml_get(raw, rawend, "Key", NULL);
			osize = xml_get(raw, rawend, "Size", NULL);
		}
		p = after;
		if (!key)
			continue;
		r = cb(key, osize ? strtoull(osize, NULL, 10) : 0, userdata);
		if (r < 0)
			return r;
	}
	truncated = xml_get(xml, end, "IsTruncated", NULL);
	*ret_token = truncated && streq(truncated, "true")
			 ? xml_get(xml, end, "NextContinuationToken", NULL)
			 : NULL;
	return 0;
}

/* ---- multipart upload ---- */

/* Parts in flight at once, each on its own connection: the server
 * overlaps them, and compression goes on meanwhile. Memory: one part
 * buffer more than this. */
#define UPLOAD_SLOTS 3

struct s3_upload;

struct part_slot {
	struct s3_upload *u;
	struct s3_client *client; /* its own connection; NULL until first used */
	unsigned char *buf;
	size_t size;
	unsigned partno;
	pthread_t th;
	int running, result;
};

struct s3_upload {
	struct s3_client *s;
	char *key;
	char *upload_id;    /* NULL until the first full part */
	unsigned char *buf; /* the part being filled */
	size_t part_size, fill;
	struct part_slot slots[UPLOAD_SLOTS];
	unsigned next_slot;
	char **etags;	 /* [S3_MAX_PARTS], by part number - 1 */
	unsigned nparts; /* parts handed out so far */
	uint64_t bytes;
	char etag[80]; /* the object's, once done */
	int failed;
	int done;
};

uint64_t s3_part_size_for(uint64_t expected_size)
{
	uint64_t mib = 1024 * 1024, p;

	/* 5% and 1 MiB of headroom, so a growing tree still fits. */
	p = (expected_size + expected_size / 20 + mib) / S3_MAX_PARTS + 1;
	p = (p + mib - 1) / mib * mib;
	return MAX(p, S3_DEFAULT_PART_SIZE);
}

int s3_upload_begin(struct s3_client *s, const char *key, uint64_t part_size,
		    struct s3_upload **ret)
{
	struct s3_upload *u;

	if (part_size < S3_MIN_PART_SIZE || part_size > (uint64_t)5 * 1024 * 1024 * 1024)
		return -EINVAL;
	u = xcalloc(1, sizeof(*u));
	u->s = s;
	u->key = xstrdup(key);
	u->part_size = (size_t)part_size;
	u->buf = xmalloc(u->part_size);
	u->etags = xcalloc(S3_MAX_PARTS, sizeof(char *));
	for (unsigned i = 0; i < UPLOAD_SLOTS; i++)
		u->slots[i].u = u;
	*ret = u;
	return 0;
}

/* A second client for the same bucket and credentials: its own connection. */
static struct s3_client *s3_client_dup(const struct s3_client *s)
{
	struct s3_client *d = xcalloc(1, sizeof(*d));

	d->scheme = xstrdup(s->scheme);
	d->hostport = xstrdup(s->hostport);
	d->region = xstrdup(s->region);
	d->bucket = xstrdup(s->bucket);
	d->path_style = s->path_style;
	d->sigv4 = xstrdup(s->sigv4);
	d->attempts = s->attempts;
	d->base_delay_ms = s->base_delay_ms;
	d->list_page = s->list_page;
	d->imds_url = s->imds_url ? xstrdup(s->imds_url) : NULL;
	d->cred_expires = s->cred_expires;
	if (s->access_key)
		s3_client_set_credentials(d, s->access_key, s->secret_key, s->token);
	d->curl = curl_easy_init();
	if (!d->curl) {
		fprintf(stderr, "<2>s3: curl_easy_init failed\n");
		abort();
	}
	return d;
}

/* Starts the multipart upload: u->upload_id. */
static int upload_initiate(struct s3_upload *u)
{
	struct s3_request rq = {
	    .op = "CREATE MULTIPART UPLOAD", .method = "POST", .key = u->key, .query = "uploads="};
	int r = s3_perform(u->s, &rq);

	if (r >= 0) {
		u->upload_id =
		    rq.resp ? xml_get(rq.resp, rq.resp + rq.resp_size, "UploadId", NULL) : NULL;
		if (!u->upload_id) {
			snprintf(u->s->error, sizeof(u->s->error),
				 "CREATE MULTIPART UPLOAD s3://%s/%s: no UploadId in answer",
				 u->s->bucket, u->key);
			r = -EPROTO;
		}
	}
	free(rq.resp);
	return r;
}

/* Sends data as part partno through client c; records its ETag. */
static int upload_part(struct s3_upload *u, struct s3_client *c, unsigned partno,
		       const unsigned char *data, size_t size)
{
	_cleanup_free_ char *query = NULL, *eid = s3_uri_encode(u->upload_id, 0);
	struct s3_request rq = {
	    .op = "UPLOAD PART", .method = "PUT", .key = u->key, .body = data, .body_size = size};
	int r;

	query = xasprintf("partNumber=%u&uploadId=%s", partno, eid);
	rq.query = query;
	r = s3_perform(c, &rq);
	free(rq.resp);
	if (r < 0)
		return r;
	if (!rq.etag[0]) {
		snprintf(c->error, sizeof(c->error),
			 "UPLOAD PART s3://%s/%s: part %u: no ETag in answer", c->bucket, u->key,
			 partno);
		return -EPROTO;
	}
	u->etags[partno - 1] = xstrdup(rq.etag);
	return 0;
}

/* Sends one part from its slot, on the slot's own connection. */
static void *part_thread(void *userdata)
{
	struct part_slot *p = userdata;

	p->result = upload_part(p->u, p->client, p->partno, p->buf, p->size);
	return NULL;
}

/* Waits for the part in a slot; its error, if any, becomes the client's. */
static int slot_wait(struct part_slot *p)
{
	if (!p->running)
		return 0;
	pthread_join(p->th, NULL);
	p->running = 0;
	if (p->result < 0)
		memcpy(p->u->s->error, p->client->error, sizeof(p->client->error));
	return p->result;
}

/* Waits for every part in flight; the first failure, or 0. */
static int upload_wait_all(struct s3_upload *u)
{
	int r = 0;

	for (unsigned i = 0; i < UPLOAD_SLOTS; i++) {
		int k = slot_wait(&u->slots[i]);
		if (k < 0 && r == 0)
			r = k;
	}
	return r;
}

/* Refuses part 10,001 (-EFBIG). */
static int check_part_count(struct s3_upload *u)
{
	if (u->nparts < S3_MAX_PARTS)
		return 0;
	snprintf(u->s->error, sizeof(u->s->error),
		 "UPLOAD PART s3://%s/%s: more than %d parts of %zu bytes", u->s->bucket, u->key,
		 S3_MAX_PARTS, u->part_size);
	return -EFBIG;
}

/* Hands the full buffer to the next slot (waiting for the part it still
 * sends), and takes that slot's buffer to fill. */
static int upload_dispatch(struct s3_upload *u)
{
	struct part_slot *p = &u->slots[u->next_slot];
	unsigned char *t;
	int r;

	r = check_part_count(u);
	if (r < 0)
		return r;
	if (!u->upload_id) {
		r = upload_initiate(u);
		if (r < 0)
			return r;
	}
	r = slot_wait(p);
	if (r < 0)
		return r;
	if (!p->buf)
		p->buf = xmalloc(u->part_size);
	if (!p->client)
		p->client = s3_client_dup(u->s);
	t = p->buf;
	p->buf = u->buf;
	u->buf = t;
	p->size = u->fill;
	p->partno = ++u->nparts;
	u->fill = 0;
	u->next_slot = (u->next_slot + 1) % UPLOAD_SLOTS;
	if (pthread_create(&p->th, NULL, part_thread, p) != 0) {
		r = upload_part(u, p->client, p->partno, p->buf, p->size);
		if (r < 0)
			memcpy(u->s->error, p->client->error, sizeof(p->client->error));
		return r;
	}
	p->running = 1;
	return 0;
}

int s3_upload_write(struct s3_upload *u, const void *data, size_t size)
{
	const unsigned char *p = data;

	if (u->failed || u->done)
		return -EIO;
	while (size > 0) {
		size_t n = MIN(size, u->part_size - u->fill);
		memcpy(u->buf + u->fill, p, n);
		u->fill += n;
		p += n;
		size -= n;
		u->bytes += n;
		if (u->fill == u->part_size) {
			int r = upload_dispatch(u);
			if (r < 0) {
				u->failed = 1;
				return r;
			}
		}
	}
	return 0;
}

uint64_t s3_upload_bytes(const struct s3_upload *u)
{
	return u->bytes;
}

const char *s3_upload_etag(const struct s3_upload *u)
{
	return u->etag;
}

/* Completes the multipart upload from the recorded ETags. */
static int upload_complete(struct s3_upload *u)
{
	_cleanup_free_ char *query = NULL, *eid = s3_uri_encode(u->upload_id, 0);
	struct s3_request rq = {.op = "COMPLETE MULTIPART UPLOAD",
				.method = "POST",
				.key = u->key,
				.content_type = "application/xml"};
	size_t cap = 64 + (size_t)u->nparts * 160, len = 0;
	_cleanup_free_ char *xml = xmalloc(cap);
	int r;

	len += (size_t)snprintf(xml + len, cap - len, "<CompleteMultipartUpload>");
	for (unsigned i = 0; i < u->nparts; i++) {
		_cleanup_free_ char *etag = xml_escape(strempty(u->etags[i]));
		len += (size_t)snprintf(xml + len, cap - len,
					"<Part><PartNumber>%u</PartNumber><ETag>%s</ETag></Part>",
					i + 1, etag);
	}
	len += (size_t)snprintf(xml + len, cap - len, "</CompleteMultipartUpload>");
	query = xasprintf("uploadId=%s", eid);
	rq.query = query;
	rq.body = xml;
	rq.body_size = len;
	r = s3_perform(u->s, &rq);
	/* S3 may answer 200 and put the error in the body. */
	if (r >= 0 && rq.resp && memmem(rq.resp, rq.resp_size, "<Error>", 7)) {
		_cleanup_free_ char *code = xml_get(rq.resp, rq.resp + rq.resp_size, "Code", NULL);
		s3_set_error(u->s, &rq, 0, strempty(code), "error in a 200 answer");
		r = -EIO;
	}
	if (r >= 0) {
		_cleanup_free_ char *etag =
		    rq.resp ? xml_get(rq.resp, rq.resp + rq.resp_size, "ETag", NULL) : NULL;
		snprintf(u->etag, sizeof(u->etag), "%s", strempty(etag));
	}
	free(rq.resp);
	if (r >= 0 && !u->etag[0]) {
		/* Ceph RGW 16 answers an empty <ETag>; HEAD has the real one. */
		struct s3_object_info info;

		r = s3_head(u->s, u->key, &info);
		if (r >= 0)
			snprintf(u->etag, sizeof(u->etag), "%s", info.etag);
	}
	return r;
}

int s3_upload_finish(struct s3_upload *u)
{
	int r;

	if (u->failed || u->done)
		return -EIO;
	r = upload_wait_all(u);
	if (r >= 0 && u->nparts == 0) {
		/* It all fitted in one part: a single PUT. */
		r = put_once(u->s, u->key, u->buf, u->fill, "application/octet-stream", NULL, NULL,
			     u->etag);
	} else if (r >= 0) {
		if (u->fill > 0) {
			r = check_part_count(u);
			if (r >= 0) {
				u->nparts++;
				r = upload_part(u, u->s, u->nparts, u->buf, u->fill);
			}
		}
		if (r >= 0)
			r = upload_complete(u);
	}
	if (r < 0) {
		u->failed = 1;
		return r;
	}
	u->done = 1;
	return 0;
}

struct s3_upload *s3_upload_free(struct s3_upload *u)
{
	if (!u)
		return NULL;
	(void)upload_wait_all(u);
	if (u->upload_id && !u->done) {
		_cleanup_free_ char *query = NULL, *eid = s3_uri_encode(u->upload_id, 0);
		struct s3_request rq = {
		    .op = "ABORT MULTIPART UPLOAD", .method = "DELETE", .key = u->key};
		char saved[S3_ERROR_MAX];

		/* Keep the error that made us abort, not the abort's own. */
		memcpy(saved, u->s->error, sizeof(saved));
		query = xasprintf("uploadId=%s", eid);
		rq.query = query;
		if (s3_perform(u->s, &rq) < 0)
			log_warning("%s, ignoring", u->s->error);
		free(rq.resp);
		memcpy(u->s->error, saved, sizeof(saved));
	}
	for (unsigned i = 0; i < UPLOAD_SLOTS; i++) {
		free(u->slots[i].buf);
		s3_client_free(u->slots[i].client);
	}
	for (unsigned i = 0; i < u->nparts && i < S3_MAX_PARTS; i++)
		free(u->etags[i]);
	free(u->etags);
	free(u->buf);
	free(u->key);
	free(u->upload_id);
	free(u);
	return NULL;
}
