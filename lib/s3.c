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
#include "log.h"
#include "macro.h"
#include "s3-internal.h"
#include "s3.h"

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
	char *imds_url;	     /* credentials came from the instance metadata here */
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
	uint64_t delivered;  /* bytes given to cb so far, over all attempts */
	uint64_t pos;	     /* position in the object of this response's next byte */
	char first_etag[80]; /* ETag of the answer whose bytes cb got first */
	int etag_changed;    /* a resumed answer was of another object */
	int body_seen;
	int cb_error;

	/* response */
	long status;
	char *resp;
	size_t resp_size, resp_cap;
	int resp_truncated;
	char etag[80];
	uint64_t content_length;
	int have_length;
	uint64_t range_start; /* from Content-Range of a 206 */
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

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

/* libcurl's global state, set up once per process. */
static void curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

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

/* Maps a CURLcode to -errno, once, here. */
static int curl_code_to_errno(CURLcode cc)
{
	switch (cc) {
	case CURLE_OK:
		return 0;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return -EHOSTUNREACH;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
		return -EINVAL;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
		return -EPROTO;
	default:
		return -EIO;
	}
}

/* Is this transport failure worth another attempt? */
static int curl_code_retryable(CURLcode cc)
{
	switch (cc) {
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_BAD_CONTENT_ENCODING:
		return 1;
	default:
		return 0;
	}
}

/* Decodes the five XML entities and numeric references (ASCII) in place. */
static void xml_unescape(char *s)
{
	static const struct {
		const char *ent;
		char c;
	} ents[] = {
	    {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
	char *o = s;

	while (*s) {
		size_t i;

		if (*s != '&') {
			*o++ = *s++;
			continue;
		}
		for (i = 0; i < ELEMENTSOF(ents); i++)
			if (startswith(s, ents[i].ent)) {
				*o++ = ents[i].c;
				s += strlen(ents[i].ent);
				break;
			}
		if (i < ELEMENTSOF(ents))
			continue;
		if (s[1] == '#') {
			char *end;
			unsigned long v =
			    s[2] == 'x' ? strtoul(s + 3, &end, 16) : strtoul(s + 2, &end, 10);
			if (*end == ';' && v > 0 && v < 128) {
				*o++ = (char)v;
				s = end + 1;
				continue;
			}
		}
		*o++ = *s++;
	}
	*o = '\0';
}

char *xml_get(const char *xml, const char *end, const char *tag, const char **ret_after)
{
	_cleanup_free_ char *open = xasprintf("<%s>", tag), *close = xasprintf("</%s>", tag);
	const char *a, *b;
	char *v;

	a = memmem(xml, (size_t)(end - xml), open, strlen(open));
	if (!a)
		return NULL;
	a += strlen(open);
	b = memmem(a, (size_t)(end - a), close, strlen(close));
	if (!b)
		return NULL;
	v = strndup(a, (size_t)(b - a));
	if (!v)
		return NULL;
	xml_unescape(v);
	if (ret_after)
		*ret_after = b + strlen(close);
	return v;
}

/* Escapes &, <, > and " for an XML text node. */
static char *xml_escape(const char *s)
{
	size_t n = strlen(s);
	char *out = xmalloc(n * 6 + 1), *o = out;

	for (; *s; s++) {
		const char *rep = NULL;
		switch (*s) {
		case '&':
			rep = "&amp;";
			break;
		case '<':
			rep = "&lt;";
			break;
		case '>':
			rep = "&gt;";
			break;
		case '"':
			rep = "&quot;";
			break;
		}
		if (rep) {
			memcpy(o, rep, strlen(rep));
			o += strlen(rep);
		} else
			*o++ = *s;
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

	pthread_once(&curl_once, curl_init_once);
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

/* ---- EC2 instance-profile credentials (IMDSv2) ---- */

static void rq_append(struct s3_request *rq, const char *data, size_t n);

/* Collects a metadata answer (at most 64 KiB). */
static size_t imds_body(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct s3_request *rq = userdata;

	if (rq->resp_size + size * nmemb > 64 * 1024)
		return 0;
	rq_append(rq, data, size * nmemb);
	return size * nmemb;
}

/* One request to the metadata service; the body (NUL-terminated) in *ret. */
static int imds_request(const char *url, const char *method, const char *header, char **ret)
{
	struct s3_request rq = {0};
	struct curl_slist *h = NULL;
	CURL *c = curl_easy_init();
	CURLcode cc = CURLE_OK;
	long status = 0;

	if (!c)
		return -ENOMEM;
	for (int attempt = 0; attempt < 3; attempt++) {
		rq.resp_size = 0;
		curl_easy_setopt(c, CURLOPT_URL, url);
		/* The metadata address is link-local: never through a proxy. */
		curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
		curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
		curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
		curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http");
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, imds_body);
		curl_easy_setopt(c, CURLOPT_WRITEDATA, &rq);
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
		if (!h)
			h = curl_slist_append(h, header);
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
		cc = curl_easy_perform(c);
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
		if (cc == CURLE_OK && status < 500)
			break;
	}
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	if (cc != CURLE_OK || status != 200) {
		if (rq.resp)
			explicit_bzero(rq.resp, rq.resp_cap);
		free(rq.resp);
		return cc != CURLE_OK ? curl_code_to_errno(cc) : -EACCES;
	}
	*ret = rq.resp ? rq.resp : xcalloc(1, 1);
	return 0;
}

/* "2026-11-25T19:14:22Z" -> unix time; 0 when unreadable. */
static time_t parse_iso8601(const char *s)
{
	struct tm tm = {0};
	const char *end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);

	return end ? timegm(&tm) : 0;
}

int s3_client_load_imds(struct s3_client *s, const char *base_url, const char **ret_why)
{
	_cleanup_secret_ char *token = NULL, *doc = NULL, *thdr = NULL;
	_cleanup_free_ char *url = NULL, *role = NULL, *base = NULL;
	cJSON *root;
	const cJSON *k, *sk, *tok, *exp;
	int r;

	base = xstrdup(base_url && *base_url ? base_url : S3_IMDS_URL);
	url = xasprintf("%s/latest/api/token", base);
	r = imds_request(url, "PUT", "X-aws-ec2-metadata-token-ttl-seconds: 21600", &token);
	if (r < 0) {
		*ret_why = "the instance metadata service (IMDSv2) gave no token";
		return r;
	}
	token[strcspn(token, "\r\n")] = '\0';
	thdr = xasprintf("X-aws-ec2-metadata-token: %s", token);
	free(url);
	url = xasprintf("%s/latest/meta-data/iam/security-credentials/", base);
	r = imds_request(url, "GET", thdr, &role);
	if (r < 0 || !*role) {
		*ret_why = "the instance has no IAM role (instance profile)";
		return r < 0 ? r : -ENOENT;
	}
	role[strcspn(role, "\r\n")] = '\0';
	if (strchr(role, '/') || strstr(role, "..")) {
		*ret_why = "the instance metadata named an odd role";
		return -EINVAL;
	}
	free(url);
	url = xasprintf("%s/latest/meta-data/iam/security-credentials/%s", base, role);
	r = imds_request(url, "GET", thdr, &doc);
	if (r < 0) {
		*ret_why = "the instance metadata gave no credentials for the role";
		return r;
	}
	root = cJSON_Parse(doc);
	k = cJSON_GetObjectItemCaseSensitive(root, "AccessKeyId");
	sk = cJSON_GetObjectItemCaseSensitive(root, "SecretAccessKey");
	tok = cJSON_GetObjectItemCaseSensitive(root, "Token");
	exp = cJSON_GetObjectItemCaseSensitive(root, "Expiration");
	if (!cJSON_IsString(k) || !cJSON_IsString(sk) || !*k->valuestring || !*sk->valuestring) {
		cJSON_Delete(root);
		*ret_why = "the instance metadata credentials lack AccessKeyId or SecretAccessKey";
		return -EBADMSG;
	}
	s3_client_set_credentials(s, k->valuestring, sk->valuestring,
				  cJSON_IsString(tok) ? tok->valuestring : NULL);
	explicit_bzero(sk->valuestring, strlen(sk->valuestring));
	if (cJSON_IsString(tok))
		explicit_bzero(tok->valuestring, strlen(tok->valuestring));
	s->cred_expires = cJSON_IsString(exp) ? parse_iso8601(exp->valuestring) : 0;
	if (s->cred_expires == 0)
		s->cred_expires = time(NULL) + 3600;
	cJSON_Delete(root);
	free(s->imds_url);
	s->imds_url = TAKE_PTR(base);
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

static void rq_append(struct s3_request *rq, const char *data, size_t n)
{
	if (rq->resp_size + n > S3_RESPONSE_MAX) {
		rq->resp_truncated = 1;
		return;
	}
	if (rq->resp_size + n + 1 > rq->resp_cap) {
		rq->resp_cap = MAX(rq->resp_cap * 2, rq->resp_size + n + 1);
		rq->resp = xrealloc(rq->resp, rq->resp_cap);
	}
	memcpy(rq->resp + rq->resp_size, data, n);
	rq->resp_size += n;
	rq->resp[rq->resp_size] = '\0';
}

/* libcurl body callback: 2xx bodies go to the consumer, others are kept. */
static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct s3_request *rq = userdata;
	size_t n = size * nmemb;
	const char *p = data;
	size_t left = n;

	if (!rq->cb || rq->status / 100 != 2) {
		rq_append(rq, data, n);
		return n;
	}
	if (!rq->body_seen) {
		/* A 206 starts where Content-Range says; a 200 at the start. */
		rq->body_seen = 1;
		rq->pos = rq->status == 206 ? rq->range_start : 0;
		/* A resumed download must continue the same object: bytes of a
		 * replaced one would be spliced onto the old ones unnoticed. */
		if (rq->delivered == 0)
			snprintf(rq->first_etag, sizeof(rq->first_etag), "%s", rq->etag);
		else if (!streq(rq->etag, rq->first_etag)) {
			rq->etag_changed = 1;
			rq->cb_error = -ESTALE;
			return 0;
		}
	}
	/* A retry may start before what cb already has: skip that part. */
	if (rq->pos < rq->delivered) {
		uint64_t skip = MIN((uint64_t)left, rq->delivered - rq->pos);
		p += skip;
		left -= skip;
		rq->pos += skip;
	}
	if (left > 0) {
		int r = rq->cb(p, left, rq->userdata);
		if (r < 0) {
			rq->cb_error = r;
			return 0; /* CURLE_WRITE_ERROR */
		}
		rq->pos += left;
		rq->delivered += left;
	}
	return n;
}

/* libcurl header callback: status, ETag, Content-Length, Content-Range. */
static size_t on_header(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct s3_request *rq = userdata;
	size_t n = size * nmemb;
	_cleanup_free_ char *line = strndup(data, n);
	char *v;

	if (!line)
		return n;
	if (startswith(line, "HTTP/")) { /* a new response (after 100 Continue too) */
		char *sp = strchr(line, ' ');
		rq->status = sp ? strtol(sp + 1, NULL, 10) : 0;
		rq->etag[0] = '\0';
		rq->have_length = 0;
		rq->range_start = 0;
		rq->body_seen = 0;
		return n;
	}
	v = strchr(line, ':');
	if (!v)
		return n;
	*v++ = '\0';
	v = strip(v);
	v[strcspn(v, "\r\n")] = '\0';
	if (strcasecmp(line, "ETag") == 0)
		snprintf(rq->etag, sizeof(rq->etag), "%s", v);
	else if (strcasecmp(line, "Content-Length") == 0) {
		rq->content_length = strtoull(v, NULL, 10);
		rq->have_length = 1;
	} else if (strcasecmp(line, "Content-Range") == 0 && startswith(v, "bytes "))
		rq->range_start = strtoull(v + 6, NULL, 10);
	return n;
}

/* libcurl read callback: the request body from memory. */
static size_t on_read(char *buf, size_t size, size_t nmemb, void *userdata)
{
	struct s3_request *rq = userdata;
	size_t n = MIN(size * nmemb, rq->body_size - rq->body_pos);

	memcpy(buf, (const char *)rq->body + rq->body_pos, n);
	rq->body_pos += n;
	return n;
}

/* libcurl seek callback: rewinds the body for a resend. */
static int on_seek(void *userdata, curl_off_t offset, int origin)
{
	struct s3_request *rq = userdata;

	if (origin != SEEK_SET || offset < 0 || (size_t)offset > rq->body_size)
		return CURL_SEEKFUNC_CANTSEEK;
	rq->body_pos = (size_t)offset;
	return CURL_SEEKFUNC_OK;
}

/* One attempt of rq, signed by libcurl; the outcome is in rq and *ret_cc. */
static int s3_perform_once(struct s3_client *s, struct s3_request *rq, const char *payload_hash,
			   CURLcode *ret_cc)
{
	_cleanup_free_ char *url = s3_url(s, rq->key, rq->query);
	struct curl_slist *h = NULL;
	_cleanup_free_ char *hsha = xasprintf("x-amz-content-sha256: %s", payload_hash);
	_cleanup_free_ char *htok = NULL, *hct = NULL, *hrange = NULL, *hif = NULL, *hifn = NULL;
	_cleanup_free_ char *hmd5 = NULL;
	CURL *c = s->curl;
	CURLcode cc;

	rq->status = 0;
	rq->resp_size = 0;
	rq->resp_truncated = 0;
	if (rq->resp)
		rq->resp[0] = '\0';
	rq->etag[0] = '\0';
	rq->have_length = 0;
	rq->range_start = 0;
	rq->body_pos = 0;
	rq->pos = 0;
	rq->body_seen = 0;

	curl_easy_reset(c);
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
	if (rq->cb && rq->delivered > 0) {
		hrange = xasprintf("Range: bytes=%" PRIu64 "-", rq->delivered);
		h = curl_slist_append(h, hrange);
	}
	/* No "Expect:" here to drop 100-continue: libcurl 7.88 would sign the
	 * empty header it never sends, and S3 would refuse the signature. */

	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_AWS_SIGV4, s->sigv4);
	curl_easy_setopt(c, CURLOPT_USERNAME, strempty(s->access_key));
	curl_easy_setopt(c, CURLOPT_PASSWORD, strempty(s->secret_key));
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 30L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, rq);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, rq);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_USERAGENT, "agentbox/" AGENTBOX_VERSION);

	if (streq(rq->method, "HEAD"))
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	else if (streq(rq->method, "PUT")) {
		curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(c, CURLOPT_READDATA, rq);
		curl_easy_setopt(c, CURLOPT_SEEKFUNCTION, on_seek);
		curl_easy_setopt(c, CURLOPT_SEEKDATA, rq);
		curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)rq->body_size);
	} else if (streq(rq->method, "POST")) {
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, rq->body ? (const char *)rq->body : "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body_size);
	} else if (!streq(rq->method, "GET"))
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, rq->method);

	cc = curl_easy_perform(c);
	curl_slist_free_all(h);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &rq->status);
	if (rq->status < 200)
		rq->status = 0; /* only a "100 Continue" came: a transport failure */
	*ret_cc = cc;
	return 0;
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
static void s3_set_error(struct s3_client *s, const struct s3_request *rq, CURLcode cc,
			 const char *code, const char *msg)
{
	char target[300];

	snprintf(target, sizeof(target), "s3://%s/%s", s->bucket, rq->key);
	if (rq->etag_changed)
		snprintf(s->error, sizeof(s->error),
			 "%s %s: the object changed while it was read (ETag %s, then %s after "
			 "an interrupted transfer)",
			 rq->op, target, rq->first_etag, rq->etag);
	else if (cc != CURLE_OK && !rq->status)
		snprintf(s->error, sizeof(s->error), "%s %s: %s", rq->op, target,
			 curl_easy_strerror(cc));
	else if (cc != CURLE_OK && rq->status / 100 == 2)
		snprintf(s->error, sizeof(s->error), "%s %s: HTTP %ld, then %s", rq->op, target,
			 rq->status, curl_easy_strerror(cc));
	else if (rq->cb_error)
		snprintf(s->error, sizeof(s->error), "%s %s: consumer failed: %s", rq->op, target,
			 strerror(-rq->cb_error));
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

/* Sleeps base * 2^attempt ms (capped at 10 s), half of it random. */
static void backoff_sleep(const struct s3_client *s, unsigned attempt)
{
	uint64_t d = (uint64_t)s->base_delay_ms << MIN(attempt, 16u), jitter;
	unsigned rnd = 0;
	struct timespec ts;

	d = MIN(d, (uint64_t)10000);
	if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != sizeof(rnd))
		rnd = (unsigned)time(NULL);
	jitter = d / 2 ? rnd % (d / 2 + 1) : 0;
	d = d / 2 + jitter;
	ts.tv_sec = (time_t)(d / 1000);
	ts.tv_nsec = (long)(d % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
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
	char hash[65];
	const char *payload_hash = rq->body_sha256;

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
		int r = s3_client_load_imds(s, url, &why);
		if (r < 0) {
			snprintf(
			    s->error, sizeof(s->error),
			    "%s s3://%s/%s: cannot refresh the instance-profile credentials: %s",
			    rq->op, s->bucket, rq->key, why);
			return r;
		}
	}
	for (unsigned attempt = 1;; attempt++) {
		_cleanup_free_ char *code = NULL, *msg = NULL;
		CURLcode cc = CURLE_OK;
		int retry = 0, r;

		rq->cb_error = 0;
		s3_perform_once(s, rq, payload_hash, &cc);
		if (rq->cb_error) {
			s3_set_error(s, rq, cc, "", NULL);
			return rq->cb_error;
		}
		if (cc == CURLE_OK && rq->status / 100 == 2)
			return 0;
		if (rq->resp_size > 0) {
			code = xml_get(rq->resp, rq->resp + rq->resp_size, "Code", NULL);
			msg = xml_get(rq->resp, rq->resp + rq->resp_size, "Message", NULL);
		}
		if (!code)
			code = xstrdup(rq->status ? status_code_name(rq->status) : "");
		if (cc != CURLE_OK && (!rq->status || rq->status / 100 == 2))
			retry = curl_code_retryable(cc);
		else
			retry = rq->status >= 500 || rq->status == 429 || rq->status == 408 ||
				streq(code, "SlowDown") || streq(code, "RequestTimeout") ||
				/* bytes damaged on the way: a resend may arrive whole */
				streq(code, "BadDigest") ||
				streq(code, "XAmzContentSHA256Mismatch");
		s3_set_error(s, rq, cc, code, msg);
		if (!retry || attempt >= s->attempts) {
			if (cc != CURLE_OK && (!rq->status || rq->status / 100 == 2))
				r = curl_code_to_errno(cc);
			else
				r = status_to_errno(rq->status, code);
			return r;
		}
		log_debug("%s, retrying (%u of %u)", s->error, attempt, s->attempts - 1);
		backoff_sleep(s, attempt - 1);
	}
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
		if (rq.resp_truncated || !rq.resp) {
			free(rq.resp);
			snprintf(s->error, sizeof(s->error), "LIST s3://%s/%s: answer %s",
				 s->bucket, prefix, rq.resp ? "too large" : "empty");
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
		s3_set_error(u->s, &rq, CURLE_OK, strempty(code), "error in a 200 answer");
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
