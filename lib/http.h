/* The one HTTP client of agentbox, on libcurl: S3 (lib/s3.c), the Docker
 * Engine API (lib/docker.c, over its unix socket), the cloud providers
 * (lib/provider*.c) and the instance metadata (lib/imds.c) all send their
 * requests through it.
 *
 * - http_send(): one attempt of one request. The answer's body is kept in
 *   memory up to a bound (-EFBIG beyond it), or, for 2xx answers, handed
 *   to a write callback as it arrives; the request body is in memory or
 *   comes from a read callback.
 * - http_send_retry(): the same under a struct http_policy: attempts,
 *   exponential backoff with jitter (half of each wait random), Retry-After
 *   honoured, and which classes of failure are worth another try (enum
 *   http_class, declared once in a table in http.c). A streamed download
 *   resumes with a Range request.
 * - http_errno(): the one libcurl -> -errno mapping.
 *
 * Every function returns 0 or -errno: -ETIMEDOUT, -ECONNREFUSED,
 * -EHOSTUNREACH, -ECONNRESET (cut off), -EPROTO (TLS), -EINVAL (bad URL),
 * -EFBIG (the answer is over the bound), -ECANCELED (a callback stopped
 * the transfer without saying why; a callback's own -errno is returned as
 * it is), -ENOMEM, -EIO (anything else). */
#ifndef AGENTBOX_HTTP_H
#define AGENTBOX_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <curl/curl.h>

#include "time-util.h"

/* The default bound of a body kept in memory. */
#define HTTP_BODY_MAX (1024 * 1024)

/* Consumes a 2xx answer's bytes; 0, or -errno to stop the transfer. */
typedef int (*http_write_fn)(const void *data, size_t size, void *userdata);
/* Fills buf with up to size bytes of the request body: the count (0 at
 * its end), or -errno to stop the transfer. */
typedef ssize_t (*http_read_fn)(void *buf, size_t size, void *userdata);
/* Sees each header of the final answer (name and value trimmed). */
typedef void (*http_header_fn)(const char *name, const char *value, void *userdata);

struct http_request {
	const char *method; /* "GET", "HEAD", "PUT", "POST", "DELETE" */
	const char *url;    /* for unix_socket: "http://docker/v1.43/..." */
	struct curl_slist *headers;
	const char *body;     /* NULL: none */
	usec_t timeout;	      /* the whole request; 0: no limit */
	int metadata;	      /* the link-local metadata service: never through a proxy */
	const char *sigv4;    /* "aws:amz:<region>:<service>" to sign, or NULL */
	const char *username; /* SigV4 access key id */
	const char *password; /* SigV4 secret key (a secret) */

	/* Optional; zero keeps the defaults. */
	size_t body_size;  /* bytes at body (binary); 0: strlen(body) */
	http_read_fn read; /* the body from a callback instead (body_size bytes) */
	void *read_userdata;
	http_write_fn write; /* 2xx bodies go here instead of into memory */
	void *write_userdata;
	http_header_fn header;
	void *header_userdata;
	int resume;		 /* with write: a retry asks for the rest (Range) */
	size_t body_max;	 /* bound of a body kept in memory; 0: HTTP_BODY_MAX */
	const char *unix_socket; /* connect to this socket instead of the URL's host */
	usec_t connect_timeout;	 /* 0: timeout, or 10 s without one */
	usec_t stall_timeout;	 /* fail when under 1 byte/s this long; 0: never */
	CURL *handle;		 /* reused (kept-alive connections); NULL: a new one */
};

struct http_response {
	long status; /* 0 until an answer came */
	char *body;  /* NUL-terminated, possibly empty (not for streamed 2xx bodies) */
	size_t size;

	/* Set alongside; zero when absent. */
	char etag[80];
	char first_etag[80]; /* a resumed answer was of another object (ETag etag now,
				first_etag before): callback_error is -ESTALE */
	uint64_t content_length;
	int have_length;
	usec_t retry_after; /* the answer's Retry-After (seconds form) */
	long cut_status;    /* a transport failure cut short an answer with this status */
	int callback_error; /* the -errno a read or write callback stopped with */
	CURLcode curl_code; /* libcurl's code of a transport failure */
	unsigned attempts;  /* http_send_retry(): the attempts made */
};

/* What went wrong with an attempt, for the retry policy. */
enum http_class {
	HTTP_OK = 0,	       /* an answer that is not a failure class */
	HTTP_TIMEOUT = 1 << 0, /* no answer in time, or a stalled transfer */
	HTTP_REFUSED = 1 << 1, /* nobody listens (yet) */
	HTTP_RESET = 1 << 2,   /* the connection broke, or nothing came back */
	HTTP_DNS = 1 << 3,     /* the name did not resolve */
	HTTP_TLS = 1 << 4,     /* the TLS handshake failed */
	HTTP_5XX = 1 << 5,     /* the server's trouble */
	HTTP_429 = 1 << 6,     /* too many requests (Retry-After honoured) */
	HTTP_408 = 1 << 7,     /* the server timed the request out */
	HTTP_ANSWER = 1 << 8,  /* the policy's answer_retryable() said so */
	HTTP_FATAL = 1 << 9,   /* anything else: never retried */
};

#define HTTP_TRANSIENT (HTTP_TIMEOUT | HTTP_REFUSED | HTTP_RESET | HTTP_DNS | HTTP_TLS)

struct http_policy {
	unsigned attempts; /* in all, >= 1 */
	usec_t base_delay; /* before the second attempt; doubled each time */
	usec_t max_delay;  /* cap of one wait (and of a Retry-After) */
	unsigned retry;	   /* the enum http_class bits worth another attempt */
	/* Optional: an answer whose status is no retry class that still is
	 * (S3's SlowDown or BadDigest in a 400); 1 to retry. */
	int (*answer_retryable)(const struct http_response *r);
};

/* Sends one request (one attempt). 0 when an HTTP answer came (whatever its
 * status; ret->body holds it unless it was a streamed 2xx), else -errno
 * with ret->status 0 and ret->body NULL (nothing to free). *err_text
 * (static or curl's; NULL when fine) says what. *ret is always set;
 * http_response_done() frees it. */
int http_send(const struct http_request *rq, struct http_response *ret, const char **err_text);
/* Sends rq until it succeeds or p says stop: 0 with the last answer (any
 * status, the caller judges it), or the last attempt's -errno. */
int http_send_retry(const struct http_policy *p, const struct http_request *rq,
		    struct http_response *ret, const char **err_text);
void http_response_done(struct http_response *r);

/* The class of an attempt's outcome: r from http_send() and its answer. */
enum http_class http_classify(int r, const struct http_response *resp);
/* The wait before attempt+1 (attempt >= 1): full jitter over
 * base_delay * 2^(attempt-1), capped; a Retry-After wins when it is longer
 * (capped at max_delay too). */
usec_t http_backoff(const struct http_policy *p, unsigned attempt, usec_t retry_after);
/* Sleeps u (restarted after signals). */
void http_sleep(usec_t u);

/* Connects as rq says (url, unix_socket, connect_timeout, metadata; the
 * rest is ignored) and sends nothing (libcurl's CONNECT_ONLY): for a
 * protocol the caller speaks itself with curl_easy_send()/recv() (the
 * Engine API's hijacked exec stream). 0 with the handle in *ret (its
 * curl_easy_cleanup() closes the connection) and the socket in *ret_fd,
 * or -errno with *err_text saying what. */
int http_connect_only(const struct http_request *rq, CURL **ret, int *ret_fd,
		      const char **err_text);

/* The -errno of a libcurl code (the only mapping; see the top). */
int http_errno(CURLcode code);
/* Frees a header list whose entries may hold secrets, zeroing them first. */
void http_headers_free_secret(struct curl_slist *h);
/* Sets up libcurl for the process (thread-safe, once). */
void http_global_init(void);

#endif
