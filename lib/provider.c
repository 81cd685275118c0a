/* Providers: the shared HTTP client, detection, and the delete retries;
 * see provider.h. Hetzner's and EC2's own parts are in provider-hetzner.c
 * and provider-ec2.c. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "config.h"
#include "log.h"
#include "macro.h"
#include "provider-http.h"
#include "provider.h"



void provider_global_init(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

static size_t http_write(char *data, size_t size, size_t n, void *userdata)
{
	struct http_response *r = userdata;
	size_t len = size * n;

	if (r->size + len > HTTP_BODY_MAX)
		return 0; /* curl fails the transfer with CURLE_WRITE_ERROR */
	r->body = xrealloc(r->body, r->size + len + 1);
	memcpy(r->body + r->size, data, len);
	r->size += len;
	r->body[r->size] = '\0';
	return len;
}

static int curl_code_to_errno(CURLcode code)
{
	switch (code) {
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return -EHOSTUNREACH;
	case CURLE_WRITE_ERROR:
		return -EFBIG;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	default:
		return -EIO;
	}
}

void http_response_done(struct http_response *r)
{
	free(r->body);
	*r = (struct http_response){0};
}

int http_send(const struct http_request *rq, struct http_response *ret, const char **err_text)
{
	long ms = (long)MAX(rq->timeout / USEC_PER_MSEC, 1);
	CURLcode code;
	CURL *h;

	*ret = (struct http_response){.body = xstrdup("")};
	*err_text = NULL;
	h = curl_easy_init();
	if (!h) {
		*err_text = "cannot set up libcurl";
		return -ENOMEM;
	}
	curl_easy_setopt(h, CURLOPT_URL, rq->url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, ms);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, ms);
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(h, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	curl_easy_setopt(h, CURLOPT_USERAGENT, "agentbox/" AGENTBOX_VERSION);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, http_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, ret);
	if (rq->metadata)
		curl_easy_setopt(h, CURLOPT_NOPROXY, PROVIDER_METADATA_HOST);
	if (rq->headers)
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, rq->headers);
	if (streq(rq->method, "GET"))
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	else {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, rq->method);
		if (rq->body || !streq(rq->method, "DELETE")) {
			curl_easy_setopt(h, CURLOPT_POSTFIELDS, rq->body ? rq->body : "");
			curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE,
					 (long)(rq->body ? strlen(rq->body) : 0));
		}
	}
	if (rq->sigv4) {
		curl_easy_setopt(h, CURLOPT_AWS_SIGV4, rq->sigv4);
		curl_easy_setopt(h, CURLOPT_USERNAME, rq->username);
		curl_easy_setopt(h, CURLOPT_PASSWORD, rq->password);
	}
	code = curl_easy_perform(h);
	if (code == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &ret->status);
	curl_easy_cleanup(h);
	if (code != CURLE_OK) {
		*err_text = curl_easy_strerror(code);
		ret->status = 0;
		return curl_code_to_errno(code);
	}
	return 0;
}

void http_headers_free_secret(struct curl_slist *h)
{
	for (struct curl_slist *p = h; p; p = p->next)
		if (p->data)
			explicit_bzero(p->data, strlen(p->data));
	curl_slist_free_all(h);
}

static void sleep_usec(usec_t u)
{
	struct timespec ts = {.tv_sec = (time_t)(u / USEC_PER_SEC),
			      .tv_nsec = (long)(u % USEC_PER_SEC) * 1000};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int metadata_request(const struct config *c, const char *method, const char *path,
		     struct curl_slist *headers, struct http_response *ret, const char **err_text)
{
	_cleanup_free_ char *url = xasprintf("%s%s", PROVIDER_METADATA_URL, path);
	struct http_request rq = {
	    .method = method,
	    .url = url,
	    .headers = headers,
	    .timeout = c->provider_metadata_timeout,
	    .metadata = 1,
	};
	int tries = 1 + (int)c->provider_metadata_retries, r = -EIO;

	for (int i = 0; i < tries; i++) {
		if (i > 0)
			sleep_usec(100 * USEC_PER_MSEC << (i - 1));
		r = http_send(&rq, ret, err_text);
		if (r == 0 && ret->status < 500)
			return 0;
		if (r == 0 && i + 1 == tries)
			return 0; /* the caller reports the 5xx */
		http_response_done(ret);
		if (r == -EFBIG)
			break;
	}
	/* nothing to free on failure: callers return at once */
	*ret = (struct http_response){0};
	return r;
}

int copy_printable(char *dst, size_t size, const char *src, size_t len)
{
	if (len == 0 || len >= size)
		return -EINVAL;
	for (size_t i = 0; i < len; i++)
		if (!isprint((unsigned char)src[i]))
			return -EINVAL;
	memcpy(dst, src, len);
	dst[len] = '\0';
	return 0;
}

int provider_valid_hetzner_id(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 19 || s[0] == '0')
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return 0;
	return 1;
}

int provider_valid_ec2_id(const char *s)
{
	size_t n;

	if (!startswith(s, "i-"))
		return 0;
	n = strlen(s + 2);
	if (n != 8 && n != 17)
		return 0;
	for (size_t i = 2; s[i]; i++)
		if (!isdigit((unsigned char)s[i]) && !(s[i] >= 'a' && s[i] <= 'f'))
			return 0;
	return 1;
}

int provider_detect(const struct config *c, struct provider_identity *ret, char *why,
		    size_t why_size)
{
	_cleanup_secret_ char *token = NULL;
	struct http_response resp = {0};
	const char *err = NULL;
	long status = 0;
	int r;

	*ret = (struct provider_identity){.kind = c->provider_name};
	why[0] = '\0';
	switch (c->provider_name) {
	case PROVIDER_NONE:
		return 0;
	case PROVIDER_HETZNER:
		return hetzner_identity(c, ret, why, why_size);
	case PROVIDER_EC2:
		return ec2_identity(c, ret, why, why_size);
	}

	/* auto: Hetzner's path answers 404 on EC2, and EC2's token PUT is
	 * not Hetzner's; a service that answers neither is not trusted. */
	r = metadata_request(c, "GET", "/hetzner/v1/metadata/instance-id", NULL, &resp, &err);
	status = resp.status;
	http_response_done(&resp);
	if (r < 0) {
		snprintf(why, why_size,
			 "no metadata service answered at %s (%s after %d tries of %llums)",
			 PROVIDER_METADATA_HOST, strempty(err),
			 1 + (int)c->provider_metadata_retries,
			 (unsigned long long)(c->provider_metadata_timeout / USEC_PER_MSEC));
		return r;
	}
	if (status == 200)
		return hetzner_identity(c, ret, why, why_size);
	r = ec2_imds_token(c, &token, &status, why, why_size);
	if (r >= 0 || status == 200)
		return ec2_identity(c, ret, why, why_size);
	if (status)
		snprintf(why, why_size,
			 "the metadata service at %s is neither Hetzner's nor EC2's "
			 "(HTTP %ld for both)",
			 PROVIDER_METADATA_HOST, status);
	return -ENXIO;
}






int provider_check_ready(const struct config *c, const struct provider_identity *id, char *why,
			 size_t why_size)
{
	why[0] = '\0';
	if (id->kind == PROVIDER_HETZNER)
		return hetzner_check_token(c, why, why_size);
	if (id->kind == PROVIDER_EC2 && c->provider_ec2_terminate == EC2_TERMINATE_API)
		return ec2_check_credentials(c, why, why_size);
	return 0;
}

int provider_delete_once(const struct config *c, const struct provider_identity *id,
			 struct provider_result *ret)
{
	*ret = (struct provider_result){0};
	if (id->kind == PROVIDER_HETZNER)
		return hetzner_delete(c, id, ret);
	if (id->kind == PROVIDER_EC2 && c->provider_ec2_terminate == EC2_TERMINATE_API)
		return ec2_terminate(c, id, ret);
	snprintf(ret->detail, sizeof(ret->detail), "no delete API for %s",
		 provider_kind_to_string(id->kind));
	return -EOPNOTSUPP;
}

int provider_delete(const struct config *c, const struct provider_identity *id,
		    struct provider_result *ret)
{
	int tries = 1 + (int)c->provider_delete_retries, r = -EIO;
	usec_t wait = USEC_PER_SEC;

	for (int i = 0; i < tries; i++) {
		r = provider_delete_once(c, id, ret);
		ret->attempts = i + 1;
		if (r >= 0 || !ret->retryable)
			return r;
		if (i + 1 == tries)
			break;
		log_warning("Delete attempt %d of %d failed (%s), retrying in %llus: %s", i + 1,
			    tries, ret->request, (unsigned long long)(wait / USEC_PER_SEC),
			    ret->detail);
		sleep_usec(wait);
		wait = MIN(wait * 2, 30 * USEC_PER_SEC);
	}
	return r;
}

int xml_tag_text(const char *xml, const char *tag, char *buf, size_t size)
{
	_cleanup_free_ char *open = xasprintf("<%s>", tag), *close = xasprintf("</%s>", tag);
	const char *a = strstr(xml, open), *b;
	size_t len;

	if (!a)
		return -ENOENT;
	a += strlen(open);
	b = strstr(a, close);
	if (!b)
		return -EINVAL;
	len = (size_t)(b - a);
	if (len >= size)
		len = size - 1;
	memmove(buf, a, len); /* buf may be xml itself */
	buf[len] = '\0';
	return 0;
}
