/* The one HTTP client; see http.h. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include <curl/curl.h>

#include "http.h"
#include "log.h"
#include "macro.h"

/* libcurl's codes: their -errno and their retry class, in one place. Codes
 * not listed are -EIO and never retried. CURLE_WRITE_ERROR and
 * CURLE_READ_ERROR only mean "a callback stopped the transfer": the
 * callback's own reason (its -errno, or the body bound: -EFBIG) is known
 * here and returned instead; -ECANCELED is what is left without one. */
static const struct {
	CURLcode code;
	int err;
	enum http_class cls;
} curl_codes[] = {
    {CURLE_OK, 0, HTTP_OK},
    {CURLE_OPERATION_TIMEDOUT, -ETIMEDOUT, HTTP_TIMEOUT},
    {CURLE_COULDNT_CONNECT, -ECONNREFUSED, HTTP_REFUSED},
    {CURLE_COULDNT_RESOLVE_HOST, -EHOSTUNREACH, HTTP_DNS},
    {CURLE_COULDNT_RESOLVE_PROXY, -EHOSTUNREACH, HTTP_DNS},
    {CURLE_SEND_ERROR, -ECONNRESET, HTTP_RESET},
    {CURLE_RECV_ERROR, -ECONNRESET, HTTP_RESET},
    {CURLE_GOT_NOTHING, -ECONNRESET, HTTP_RESET},
    {CURLE_PARTIAL_FILE, -ECONNRESET, HTTP_RESET},
    {CURLE_HTTP2, -ECONNRESET, HTTP_RESET},
    {CURLE_HTTP2_STREAM, -ECONNRESET, HTTP_RESET},
    {CURLE_BAD_CONTENT_ENCODING, -ECONNRESET, HTTP_RESET},
    {CURLE_SSL_CONNECT_ERROR, -EPROTO, HTTP_TLS},
    {CURLE_PEER_FAILED_VERIFICATION, -EPROTO, HTTP_FATAL},
    {CURLE_OUT_OF_MEMORY, -ENOMEM, HTTP_FATAL},
    {CURLE_URL_MALFORMAT, -EINVAL, HTTP_FATAL},
    {CURLE_UNSUPPORTED_PROTOCOL, -EINVAL, HTTP_FATAL},
    {CURLE_BAD_FUNCTION_ARGUMENT, -EINVAL, HTTP_FATAL},
    {CURLE_WRITE_ERROR, -ECANCELED, HTTP_FATAL},
    {CURLE_READ_ERROR, -ECANCELED, HTTP_FATAL},
    {CURLE_ABORTED_BY_CALLBACK, -ECANCELED, HTTP_FATAL},
};

int http_errno(CURLcode code)
{
	for (size_t i = 0; i < ELEMENTSOF(curl_codes); i++)
		if (curl_codes[i].code == code)
			return curl_codes[i].err;
	return -EIO;
}

static enum http_class curl_code_class(CURLcode code)
{
	for (size_t i = 0; i < ELEMENTSOF(curl_codes); i++)
		if (curl_codes[i].code == code)
			return curl_codes[i].cls;
	return HTTP_FATAL;
}

static pthread_once_t http_once = PTHREAD_ONCE_INIT;

static void http_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

void http_global_init(void)
{
	pthread_once(&http_once, http_init_once);
}

void http_response_done(struct http_response *r)
{
	free(r->body);
	*r = (struct http_response){0};
}

void http_headers_free_secret(struct curl_slist *h)
{
	for (struct curl_slist *p = h; p; p = p->next)
		if (p->data)
			explicit_bzero(p->data, strlen(p->data));
	curl_slist_free_all(h);
}

/* One attempt's state, seen by libcurl's callbacks. */
struct transfer {
	const struct http_request *rq;
	struct http_response *resp;
	size_t max;
	uint64_t *delivered; /* bytes handed to rq->write, over all attempts */
	char *first_etag;    /* [80]: ETag of the answer whose bytes rq->write got first */
	uint64_t pos;	     /* the object offset of the answer's next byte */
	uint64_t range_start;
	int body_seen;
	int too_big;
	size_t body_pos; /* of a request body in memory */
	size_t body_size;
};

static char *trim(char *s)
{
	size_t l;

	while (*s == ' ' || *s == '\t')
		s++;
	l = strlen(s);
	while (l > 0 &&
	       (s[l - 1] == ' ' || s[l - 1] == '\t' || s[l - 1] == '\r' || s[l - 1] == '\n'))
		s[--l] = '\0';
	return s;
}

/* Retry-After: delay-seconds or an HTTP-date; 0 when unreadable. */
static usec_t parse_retry_after(const char *v)
{
	struct tm tm = {0};
	char *end = NULL;
	unsigned long long n;
	time_t t, now;

	errno = 0;
	n = strtoull(v, &end, 10);
	if (errno == 0 && end != v && *end == '\0')
		return n > 86400 ? 86400 * USEC_PER_SEC : (usec_t)n * USEC_PER_SEC;
	end = strptime(v, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	if (!end)
		return 0;
	t = timegm(&tm);
	now = time(NULL);
	return t > now ? (usec_t)(t - now) * USEC_PER_SEC : 0;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct transfer *t = userdata;
	struct http_response *resp = t->resp;
	size_t n = size * nmemb;
	_cleanup_free_ char *line = strndup(data, n);
	char *name, *v;

	if (!line)
		return n;
	if (startswith(line, "HTTP/")) { /* a new answer (after 100 Continue too) */
		char *sp = strchr(line, ' ');
		resp->status = sp ? strtol(sp + 1, NULL, 10) : 0;
		resp->etag[0] = '\0';
		resp->content_length = 0;
		resp->have_length = 0;
		resp->retry_after = 0;
		t->range_start = 0;
		t->body_seen = 0;
		return n;
	}
	v = strchr(line, ':');
	if (!v)
		return n;
	*v++ = '\0';
	name = trim(line);
	v = trim(v);
	if (strcasecmp(name, "ETag") == 0)
		snprintf(resp->etag, sizeof(resp->etag), "%s", v);
	else if (strcasecmp(name, "Content-Length") == 0) {
		resp->content_length = strtoull(v, NULL, 10);
		resp->have_length = 1;
	} else if (strcasecmp(name, "Content-Range") == 0 && startswith(v, "bytes "))
		t->range_start = strtoull(v + 6, NULL, 10);
	else if (strcasecmp(name, "Retry-After") == 0)
		resp->retry_after = parse_retry_after(v);
	if (t->rq->header)
		t->rq->header(name, v, t->rq->header_userdata);
	return n;
}

static size_t keep_body(struct transfer *t, const char *data, size_t n)
{
	struct http_response *resp = t->resp;

	if (resp->size + n > t->max) {
		t->too_big = 1;
		return 0; /* CURLE_WRITE_ERROR, reported as -EFBIG */
	}
	resp->body = xrealloc(resp->body, resp->size + n + 1);
	memcpy(resp->body + resp->size, data, n);
	resp->size += n;
	resp->body[resp->size] = '\0';
	return n;
}

/* 2xx bodies go to the consumer (when there is one), others are kept. */
static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct transfer *t = userdata;
	size_t n = size * nmemb, left = n;
	const char *p = data;
	int r;

	if (!t->rq->write || t->resp->status / 100 != 2)
		return keep_body(t, data, n);
	if (!t->body_seen) {
		/* A 206 starts where Content-Range says; a 200 at the start. */
		t->body_seen = 1;
		t->pos = t->resp->status == 206 ? t->range_start : 0;
		/* A resumed answer must be of the same object: bytes of a
		 * replaced one would be spliced onto the old ones unnoticed. */
		if (*t->delivered == 0)
			snprintf(t->first_etag, sizeof(t->resp->etag), "%s", t->resp->etag);
		else if (!streq(t->resp->etag, t->first_etag)) {
			snprintf(t->resp->first_etag, sizeof(t->resp->first_etag), "%s",
				 t->first_etag);
			t->resp->callback_error = -ESTALE;
			return 0;
		}
	}
	/* A resumed answer may start before what the consumer has. */
	if (t->pos < *t->delivered) {
		uint64_t skip = MIN((uint64_t)left, *t->delivered - t->pos);
		p += skip;
		left -= skip;
		t->pos += skip;
	}
	if (left == 0)
		return n;
	r = t->rq->write(p, left, t->rq->write_userdata);
	if (r < 0) {
		t->resp->callback_error = r;
		return 0;
	}
	t->pos += left;
	*t->delivered += left;
	return n;
}

static size_t on_read(char *buf, size_t size, size_t nmemb, void *userdata)
{
	struct transfer *t = userdata;
	size_t n = size * nmemb;
	ssize_t got;

	if (t->rq->read) {
		got = t->rq->read(buf, n, t->rq->read_userdata);
		if (got < 0) {
			t->resp->callback_error = (int)got;
			return CURL_READFUNC_ABORT;
		}
		return (size_t)got;
	}
	n = MIN(n, t->body_size - t->body_pos);
	if (n == 0)
		return 0; /* also a PUT without a body (body NULL) */
	memcpy(buf, t->rq->body + t->body_pos, n);
	t->body_pos += n;
	return n;
}

/* Rewinds a body in memory for a resend (libcurl asks after a 100 or an
 * auth negotiation); a callback's body cannot be. */
static int on_seek(void *userdata, curl_off_t offset, int origin)
{
	struct transfer *t = userdata;

	if (t->rq->read || origin != SEEK_SET || offset < 0 || (size_t)offset > t->body_size)
		return CURL_SEEKFUNC_CANTSEEK;
	t->body_pos = (size_t)offset;
	return CURL_SEEKFUNC_OK;
}

static long ms_of(usec_t u)
{
	return (long)MAX((u + USEC_PER_MSEC - 1) / USEC_PER_MSEC, 1);
}

/* Where and how to connect: the part of a handle's setup that
 * http_send() and http_connect_only() share. */
static void http_setopt_connection(CURL *h, const struct http_request *rq, usec_t connect)
{
	curl_easy_setopt(h, CURLOPT_URL, rq->url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(h, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, ms_of(connect));
	if (rq->unix_socket)
		curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, rq->unix_socket);
	if (rq->metadata) /* link-local: never through a proxy */
		curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
}

static int send_attempt(const struct http_request *rq, struct http_response *ret,
			const char **err_text, uint64_t *delivered, char *first_etag)
{
	struct transfer t = {.rq = rq,
			     .resp = ret,
			     .max = rq->body_max ? rq->body_max : HTTP_BODY_MAX,
			     .delivered = delivered,
			     .first_etag = first_etag};
	struct curl_slist *headers = rq->headers, *copy = NULL;
	_cleanup_free_ char *range = NULL;
	usec_t connect = rq->connect_timeout ? rq->connect_timeout
			 : rq->timeout	     ? rq->timeout
					     : 10 * USEC_PER_SEC;
	CURLcode cc;
	CURL *h;

	*ret = (struct http_response){.body = xstrdup("")};
	*err_text = NULL;
	http_global_init();
	h = rq->handle;
	if (h)
		curl_easy_reset(h);
	else
		h = curl_easy_init();
	if (!h) {
		*err_text = "cannot set up libcurl";
		return -ENOMEM;
	}
	t.body_size = rq->body_size ? rq->body_size : rq->body ? strlen(rq->body) : 0;
	if (rq->write && rq->resume && *delivered > 0) {
		/* the caller's list may hold secrets: copied, freed zeroed */
		for (struct curl_slist *p = rq->headers; p; p = p->next)
			copy = curl_slist_append(copy, p->data);
		range = xasprintf("Range: bytes=%" PRIu64 "-", *delivered);
		copy = curl_slist_append(copy, range);
		headers = copy;
	}

	http_setopt_connection(h, rq, connect);
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "agentbox/" AGENTBOX_VERSION);
	if (rq->timeout)
		curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, ms_of(rq->timeout));
	if (rq->stall_timeout) {
		curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
		curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME,
				 (long)MAX(rq->stall_timeout / USEC_PER_SEC, 1));
	}
	if (headers)
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &t);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &t);

	if (streq(rq->method, "GET"))
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	else if (streq(rq->method, "HEAD"))
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	else if (streq(rq->method, "PUT")) {
		curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(h, CURLOPT_READDATA, &t);
		curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, on_seek);
		curl_easy_setopt(h, CURLOPT_SEEKDATA, &t);
		curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)t.body_size);
	} else {
		if (!streq(rq->method, "POST"))
			curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, rq->method);
		if (rq->read) {
			curl_easy_setopt(h, CURLOPT_POST, 1L);
			curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
			curl_easy_setopt(h, CURLOPT_READDATA, &t);
			curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)t.body_size);
		} else if (rq->body || streq(rq->method, "POST")) {
			curl_easy_setopt(h, CURLOPT_POSTFIELDS, rq->body ? rq->body : "");
			curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)t.body_size);
		}
	}
	if (rq->sigv4) {
		curl_easy_setopt(h, CURLOPT_AWS_SIGV4, rq->sigv4);
		curl_easy_setopt(h, CURLOPT_USERNAME, strempty(rq->username));
		curl_easy_setopt(h, CURLOPT_PASSWORD, strempty(rq->password));
	}

	cc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &ret->status);
	if (ret->status < 200)
		ret->status = 0; /* only a "100 Continue" came: no answer */
	if (rq->handle)
		curl_easy_reset(h); /* drops the pointers into this frame */
	else
		curl_easy_cleanup(h);
	http_headers_free_secret(copy);
	if (cc == CURLE_OK)
		return 0;

	/* no answer: nothing for the caller to free */
	free(ret->body);
	ret->body = NULL;
	ret->size = 0;
	ret->cut_status = ret->status;
	ret->status = 0;
	ret->curl_code = cc;
	if (t.too_big) {
		*err_text = "the answer is larger than expected";
		return -EFBIG;
	}
	if (ret->callback_error < 0) {
		*err_text = "the transfer was stopped by its consumer";
		return ret->callback_error;
	}
	*err_text = curl_easy_strerror(cc);
	return http_errno(cc);
}

int http_send(const struct http_request *rq, struct http_response *ret, const char **err_text)
{
	uint64_t delivered = 0;
	char first_etag[sizeof(ret->etag)] = "";

	return send_attempt(rq, ret, err_text, &delivered, first_etag);
}

enum http_class http_classify(int r, const struct http_response *resp)
{
	if (r < 0) {
		if (resp->callback_error < 0 || r == -EFBIG || resp->curl_code == CURLE_OK)
			return HTTP_FATAL;
		return curl_code_class(resp->curl_code);
	}
	if (resp->status >= 500)
		return HTTP_5XX;
	if (resp->status == 429)
		return HTTP_429;
	if (resp->status == 408)
		return HTTP_408;
	return HTTP_OK;
}

usec_t http_backoff(const struct http_policy *p, unsigned attempt, usec_t retry_after)
{
	usec_t cap = p->max_delay ? p->max_delay : 30 * USEC_PER_SEC;
	usec_t d = p->base_delay << MIN(attempt > 0 ? attempt - 1 : 0, 20u);
	uint64_t rnd = 0;

	d = MIN(d, cap);
	/* "equal jitter": half fixed, half random, so clients that failed
	 * together spread out and none retries at once */
	if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != sizeof(rnd))
		rnd = (uint64_t)now_usec(CLOCK_MONOTONIC);
	d = d / 2 + (d / 2 ? rnd % (d / 2 + 1) : 0);
	if (retry_after > d)
		d = MIN(retry_after, cap);
	return d;
}

void http_sleep(usec_t u)
{
	struct timespec ts = {.tv_sec = (time_t)(u / USEC_PER_SEC),
			      .tv_nsec = (long)(u % USEC_PER_SEC) * 1000};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int http_send_retry(const struct http_policy *p, const struct http_request *rq,
		    struct http_response *ret, const char **err_text)
{
	unsigned attempts = MAX(p->attempts, 1u);
	uint64_t delivered = 0;
	char first_etag[sizeof(ret->etag)] = "";

	for (unsigned attempt = 1;; attempt++) {
		enum http_class cls;
		uint64_t before = delivered;
		usec_t wait;
		int r;

		r = send_attempt(rq, ret, err_text, &delivered, first_etag);
		ret->attempts = attempt;
		cls = http_classify(r, ret);
		if (cls == HTTP_OK && r == 0 && ret->status / 100 != 2 && p->answer_retryable &&
		    p->answer_retryable(ret))
			cls = HTTP_ANSWER;
		/* a consumer that got bytes cannot take them again unless the
		 * rest is asked for */
		if (rq->write && !rq->resume && delivered > before)
			cls = HTTP_FATAL;
		if (cls == HTTP_OK || !(p->retry & cls) || attempt >= attempts)
			return r;
		wait = http_backoff(p, attempt, ret->retry_after);
		/* not the URL: a webhook's is a secret */
		log_debug("%s request failed (%s, HTTP %ld), attempt %u of %u, next in %llums",
			  rq->method, r < 0 ? strempty(*err_text) : "an answer", ret->status,
			  attempt, attempts, (unsigned long long)(wait / USEC_PER_MSEC));
		http_response_done(ret);
		http_sleep(wait);
	}
}

int http_connect_only(const struct http_request *rq, CURL **ret, int *ret_fd, const char **err_text)
{
	curl_socket_t sock = CURL_SOCKET_BAD;
	CURLcode cc;
	CURL *h;

	*err_text = NULL;
	http_global_init();
	h = curl_easy_init();
	if (!h) {
		*err_text = "cannot set up libcurl";
		return -ENOMEM;
	}
	http_setopt_connection(h, rq,
			       rq->connect_timeout ? rq->connect_timeout : 10 * USEC_PER_SEC);
	curl_easy_setopt(h, CURLOPT_CONNECT_ONLY, 1L);
	cc = curl_easy_perform(h);
	if (cc == CURLE_OK)
		cc = curl_easy_getinfo(h, CURLINFO_ACTIVESOCKET, &sock);
	if (cc != CURLE_OK || sock == CURL_SOCKET_BAD) {
		*err_text = cc != CURLE_OK ? curl_easy_strerror(cc) : "no connection";
		curl_easy_cleanup(h);
		return cc != CURLE_OK ? http_errno(cc) : -ECONNREFUSED;
	}
	*ret = h;
	*ret_fd = (int)sock;
	return 0;
}
