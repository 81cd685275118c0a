/* Unit tests of lib/http.c (errno mapping, retry policy, bounded bodies,
 * streaming, resume, unix sockets) and lib/imds.c (the token cache),
 * against a tiny scripted server on 127.0.0.1 (ports 23000-23499) or a
 * unix socket, run in a thread. */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "http.h"
#include "imds.h"
#include "macro.h"
#include "tests.h"

#define MAX_CONNS 8

/* The server answers the n-th connection with answers[n] (raw bytes, then
 * it closes), or, for HOLD, reads the request and keeps the connection
 * open until the client goes (at most 5 s). An answer "IMDS" plays a
 * metadata service: a token for PUT /latest/api/token, "role-doc" for a
 * GET carrying the valid token, 401 for a GET with another. */
#define HOLD "HOLD"
#define IMDS "IMDS"

struct server {
	int fd;
	int port; /* 0: a unix socket */
	char path[108];
	const char *answers[MAX_CONNS];
	char requests[MAX_CONNS][4096]; /* the heads, cut */
	int n;
	const char *valid_token; /* IMDS: the token it accepts now */
	int tokens_issued;
	pthread_t thread;
};

static void read_head(int c, char buf[4096])
{
	size_t n = 0;

	buf[0] = '\0';
	while (n < 4095 && !strstr(buf, "\r\n\r\n")) {
		struct pollfd p = {.fd = c, .events = POLLIN};
		ssize_t k;
		if (poll(&p, 1, 5000) <= 0)
			break;
		k = read(c, buf + n, 4095 - n);
		if (k <= 0)
			break;
		n += (size_t)k;
		buf[n] = '\0';
	}
}

static void write_all(int c, const char *s, size_t n)
{
	while (n > 0) {
		ssize_t k = write(c, s, n);
		if (k <= 0)
			return;
		s += k;
		n -= (size_t)k;
	}
}

static void imds_answer(struct server *s, int c, const char *head)
{
	char tokhdr[128];
	_cleanup_free_ char *out = NULL;

	if (startswith(head, "PUT /latest/api/token")) {
		s->tokens_issued++;
		s->valid_token = s->tokens_issued == 1 ? "tok-1" : "tok-2";
		out = xasprintf(
		    "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
		    strlen(s->valid_token), s->valid_token);
	} else {
		snprintf(tokhdr, sizeof(tokhdr), "X-aws-ec2-metadata-token: %s",
			 strempty(s->valid_token));
		if (strcasestr(head, tokhdr))
			out = xstrdup("HTTP/1.1 200 OK\r\nContent-Length: 8\r\nConnection: "
				      "close\r\n\r\nrole-doc");
		else
			out =
			    xstrdup("HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: "
				    "close\r\n\r\n");
	}
	write_all(c, out, strlen(out));
}

static void *server_run(void *userdata)
{
	struct server *s = userdata;

	for (int i = 0; i < MAX_CONNS; i++) {
		struct pollfd p = {.fd = s->fd, .events = POLLIN};
		const char *a;
		int c;

		if (poll(&p, 1, 5000) <= 0)
			break;
		c = accept(s->fd, NULL, NULL);
		if (c < 0)
			break;
		read_head(c, s->requests[s->n]);
		a = s->answers[s->n] ? s->answers[s->n] : s->answers[0];
		s->n++;
		if (a && streq(a, HOLD)) {
			char b[256];
			struct pollfd q = {.fd = c, .events = POLLIN};
			while (poll(&q, 1, 5000) > 0 && read(c, b, sizeof(b)) > 0)
				;
		} else if (a && streq(a, IMDS))
			imds_answer(s, c, s->requests[s->n - 1]);
		else if (a)
			write_all(c, a, strlen(a));
		close(c);
	}
	return NULL;
}

/* Listens on the first free port of ours (or on a unix socket). */
static int server_start(struct server *s, int unix_socket)
{
	int one = 1;

	if (unix_socket) {
		struct sockaddr_un a = {.sun_family = AF_UNIX};
		snprintf(s->path, sizeof(s->path), "/tmp/http-test-%d.sock", getpid());
		unlink(s->path);
		snprintf(a.sun_path, sizeof(a.sun_path), "%s", s->path);
		s->fd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (s->fd < 0 || bind(s->fd, (struct sockaddr *)&a, sizeof(a)) < 0)
			return -errno;
	} else {
		s->fd = socket(AF_INET, SOCK_STREAM, 0);
		if (s->fd < 0)
			return -errno;
		setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		for (s->port = 23000 + getpid() % 400; s->port < 23500; s->port++) {
			struct sockaddr_in a = {.sin_family = AF_INET,
						.sin_port = htons((uint16_t)s->port),
						.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
			if (bind(s->fd, (struct sockaddr *)&a, sizeof(a)) == 0)
				break;
		}
		if (s->port >= 23500)
			return -EADDRINUSE;
	}
	if (listen(s->fd, 8) < 0)
		return -errno;
	return -pthread_create(&s->thread, NULL, server_run, s);
}

static void server_stop(struct server *s)
{
	shutdown(s->fd, SHUT_RDWR);
	pthread_join(s->thread, NULL);
	close(s->fd);
	if (s->path[0])
		unlink(s->path);
}

static char *url_of(const struct server *s, const char *path)
{
	return xasprintf("http://127.0.0.1:%d%s", s->port, path);
}

struct sink {
	char data[256];
	size_t size;
	int fail_with;
};

static int sink_write(const void *data, size_t size, void *userdata)
{
	struct sink *k = userdata;

	if (k->fail_with)
		return k->fail_with;
	if (k->size + size >= sizeof(k->data))
		return -ENOBUFS;
	memcpy(k->data + k->size, data, size);
	k->size += size;
	return 0;
}

static const struct http_policy fast = {.attempts = 3,
					.base_delay = USEC_PER_MSEC,
					.max_delay = 10 * USEC_PER_MSEC,
					.retry = HTTP_TRANSIENT | HTTP_5XX | HTTP_429 | HTTP_408};

/* method on s's /x under the fast policy; a 2xx body streamed into k when
 * given (with resume when asked), else kept in *resp. */
static int ask(const struct server *s, const char *method, struct sink *k, int resume,
	       struct http_response *resp)
{
	_cleanup_free_ char *url = url_of(s, "/x");
	const char *err;

	return http_send_retry(&fast,
			       &(struct http_request){.method = method,
						      .url = url,
						      .write = k ? sink_write : NULL,
						      .write_userdata = k,
						      .resume = resume},
			       resp, &err);
}

TEST(errno_mapping)
{
	ASSERT_OK(http_errno(CURLE_OK));
	ASSERT_ERR(http_errno(CURLE_OPERATION_TIMEDOUT), -ETIMEDOUT);
	ASSERT_ERR(http_errno(CURLE_COULDNT_CONNECT), -ECONNREFUSED);
	ASSERT_ERR(http_errno(CURLE_COULDNT_RESOLVE_HOST), -EHOSTUNREACH);
	ASSERT_ERR(http_errno(CURLE_RECV_ERROR), -ECONNRESET);
	ASSERT_ERR(http_errno(CURLE_PARTIAL_FILE), -ECONNRESET);
	ASSERT_ERR(http_errno(CURLE_SSL_CONNECT_ERROR), -EPROTO);
	ASSERT_ERR(http_errno(CURLE_URL_MALFORMAT), -EINVAL);
	/* a callback stopped it: one meaning, never "too big" */
	ASSERT_ERR(http_errno(CURLE_WRITE_ERROR), -ECANCELED);
	ASSERT_ERR(http_errno(CURLE_ABORTED_BY_CALLBACK), -ECANCELED);
	ASSERT_ERR(http_errno(CURLE_READ_ERROR), -ECANCELED);
	ASSERT_ERR(http_errno(CURLE_LDAP_CANNOT_BIND), -EIO);
}

TEST(classify)
{
	struct http_response r = {0};

	r.status = 200;
	ASSERT_INT_EQ(http_classify(0, &r), HTTP_OK);
	r.status = 404;
	ASSERT_INT_EQ(http_classify(0, &r), HTTP_OK);
	r.status = 503;
	ASSERT_INT_EQ(http_classify(0, &r), HTTP_5XX);
	r.status = 429;
	ASSERT_INT_EQ(http_classify(0, &r), HTTP_429);
	r.status = 408;
	ASSERT_INT_EQ(http_classify(0, &r), HTTP_408);
	r = (struct http_response){.curl_code = CURLE_OPERATION_TIMEDOUT};
	ASSERT_INT_EQ(http_classify(-ETIMEDOUT, &r), HTTP_TIMEOUT);
	r.curl_code = CURLE_COULDNT_CONNECT;
	ASSERT_INT_EQ(http_classify(-ECONNREFUSED, &r), HTTP_REFUSED);
	r.curl_code = CURLE_GOT_NOTHING;
	ASSERT_INT_EQ(http_classify(-ECONNRESET, &r), HTTP_RESET);
	r.curl_code = CURLE_PEER_FAILED_VERIFICATION;
	ASSERT_INT_EQ(http_classify(-EPROTO, &r), HTTP_FATAL);
	/* a callback's own error or the bound: never retried */
	r = (struct http_response){.curl_code = CURLE_WRITE_ERROR, .callback_error = -ENOSPC};
	ASSERT_INT_EQ(http_classify(-ENOSPC, &r), HTTP_FATAL);
	r = (struct http_response){.curl_code = CURLE_WRITE_ERROR};
	ASSERT_INT_EQ(http_classify(-EFBIG, &r), HTTP_FATAL);
}

TEST(backoff_bounds)
{
	struct http_policy p = {
	    .attempts = 5, .base_delay = 100 * USEC_PER_MSEC, .max_delay = 1 * USEC_PER_SEC};

	for (int i = 0; i < 50; i++) {
		usec_t d1 = http_backoff(&p, 1, 0), d3 = http_backoff(&p, 3, 0),
		       d9 = http_backoff(&p, 9, 0);
		ASSERT_TRUE(d1 >= 50 * USEC_PER_MSEC && d1 <= 100 * USEC_PER_MSEC);
		ASSERT_TRUE(d3 >= 200 * USEC_PER_MSEC && d3 <= 400 * USEC_PER_MSEC);
		ASSERT_TRUE(d9 >= 500 * USEC_PER_MSEC && d9 <= 1 * USEC_PER_SEC);
	}
	/* Retry-After wins when longer, within the cap */
	ASSERT_UINT_EQ(http_backoff(&p, 1, 700 * USEC_PER_MSEC), 700 * USEC_PER_MSEC);
	ASSERT_UINT_EQ(http_backoff(&p, 1, 60 * USEC_PER_SEC), 1 * USEC_PER_SEC);
}

TEST(retry_5xx_then_ok)
{
	struct server s = {
	    .answers = {"HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n",
			"HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n",
			"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nETag: \"e1\"\r\n\r\nok"}};
	struct http_response resp;

	ASSERT_OK(server_start(&s, 0));
	ASSERT_OK(ask(&s, "GET", NULL, 0, &resp));
	ASSERT_INT_EQ(resp.status, 200);
	ASSERT_STR_EQ(resp.body, "ok");
	ASSERT_STR_EQ(resp.etag, "\"e1\"");
	ASSERT_INT_EQ(resp.attempts, 3);
	http_response_done(&resp);
	server_stop(&s);
	ASSERT_INT_EQ(s.n, 3);
}

TEST(no_retry_on_4xx_and_last_5xx_returned)
{
	struct server s = {.answers = {"HTTP/1.1 404 No\r\nContent-Length: 2\r\n\r\nno"}};
	struct http_response resp;

	ASSERT_OK(server_start(&s, 0));
	ASSERT_OK(ask(&s, "DELETE", NULL, 0, &resp));
	ASSERT_INT_EQ(resp.status, 404);
	ASSERT_STR_EQ(resp.body, "no");
	http_response_done(&resp);
	server_stop(&s);
	ASSERT_INT_EQ(s.n, 1);
	ASSERT_TRUE(startswith(s.requests[0], "DELETE /x HTTP/1.1"));

	/* 5xx every time: the last answer comes back after all attempts */
	s = (struct server){.answers = {"HTTP/1.1 502 Bad\r\nContent-Length: 0\r\n\r\n",
					"HTTP/1.1 502 Bad\r\nContent-Length: 0\r\n\r\n",
					"HTTP/1.1 502 Bad\r\nContent-Length: 0\r\n\r\n"}};
	ASSERT_OK(server_start(&s, 0));
	ASSERT_OK(ask(&s, "GET", NULL, 0, &resp));
	ASSERT_INT_EQ(resp.status, 502);
	ASSERT_INT_EQ(resp.attempts, 3);
	http_response_done(&resp);
	server_stop(&s);
	ASSERT_INT_EQ(s.n, 3);
}

static int says_slow_down(const struct http_response *r)
{
	return strstr(r->body, "SlowDown") != NULL;
}

TEST(answer_retryable_and_retry_after)
{
	struct server s = {
	    .answers = {"HTTP/1.1 400 Bad\r\nContent-Length: 8\r\n\r\nSlowDown",
			"HTTP/1.1 429 Many\r\nRetry-After: 1\r\nContent-Length: 0\r\n\r\n",
			"HTTP/1.1 204 Done\r\n\r\n"}};
	struct http_policy p = fast;
	struct http_response resp;
	_cleanup_free_ char *url = NULL;
	const char *err;
	usec_t start;

	p.retry |= HTTP_ANSWER;
	p.answer_retryable = says_slow_down;
	p.max_delay = 3 * USEC_PER_SEC;
	ASSERT_OK(server_start(&s, 0));
	url = url_of(&s, "/x");
	start = now_usec(CLOCK_MONOTONIC);
	ASSERT_OK(http_send_retry(
	    &p, &(struct http_request){.method = "POST", .url = url, .body = "a=1"}, &resp, &err));
	ASSERT_INT_EQ(resp.status, 204);
	/* the 429's Retry-After: 1 was waited for */
	ASSERT_TRUE(now_usec(CLOCK_MONOTONIC) - start >= USEC_PER_SEC);
	http_response_done(&resp);
	server_stop(&s);
	ASSERT_INT_EQ(s.n, 3);
}

TEST(refused_retried_then_errno)
{
	struct server s = {0};
	struct http_response resp;

	/* a port of ours that nobody listens on: bind, learn it, close */
	ASSERT_OK(server_start(&s, 0));
	server_stop(&s);
	ASSERT_ERR(ask(&s, "GET", NULL, 0, &resp), -ECONNREFUSED);
	ASSERT_INT_EQ(resp.attempts, 3);
	ASSERT_INT_EQ(resp.status, 0);
	ASSERT_INT_EQ(resp.curl_code, CURLE_COULDNT_CONNECT);
	ASSERT_TRUE(resp.body == NULL); /* nothing to free after a failure */
	http_response_done(&resp);
}

TEST(timeout)
{
	struct server s = {.answers = {HOLD}};
	struct http_response resp;
	_cleanup_free_ char *url = NULL;
	const char *err;

	ASSERT_OK(server_start(&s, 0));
	url = url_of(&s, "/slow");
	ASSERT_ERR(
	    http_send(
		&(struct http_request){.method = "GET", .url = url, .timeout = 200 * USEC_PER_MSEC},
		&resp, &err),
	    -ETIMEDOUT);
	ASSERT_INT_EQ(http_classify(-ETIMEDOUT, &resp), HTTP_TIMEOUT);
	http_response_done(&resp);
	server_stop(&s);
}

TEST(too_big_versus_callback_abort)
{
	struct server s = {.answers = {"HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\n"
				       "0123456789012345678901234567890123456789",
				       "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nabcd"}};
	struct sink k = {.fail_with = -ENOSPC};
	struct http_response resp;
	_cleanup_free_ char *url = NULL;
	const char *err;

	ASSERT_OK(server_start(&s, 0));
	url = url_of(&s, "/x");
	ASSERT_ERR(http_send_retry(
		       &fast, &(struct http_request){.method = "GET", .url = url, .body_max = 10},
		       &resp, &err),
		   -EFBIG);
	ASSERT_INT_EQ(resp.attempts, 1);
	ASSERT_INT_EQ(resp.callback_error, 0);
	http_response_done(&resp);
	ASSERT_ERR(ask(&s, "GET", &k, 0, &resp), -ENOSPC);
	ASSERT_INT_EQ(resp.callback_error, -ENOSPC);
	ASSERT_INT_EQ(resp.attempts, 1);
	http_response_done(&resp);
	server_stop(&s);
	ASSERT_INT_EQ(s.n, 2);
}

TEST(streamed_download_resumes)
{
	struct server s = {.answers = {/* cut off after 5 of 10 bytes */
				       "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello",
				       "HTTP/1.1 206 Partial\r\nContent-Range: bytes 5-9/10\r\n"
				       "Content-Length: 5\r\n\r\nworld"}};
	struct sink k = {0};
	struct http_response resp;

	ASSERT_OK(server_start(&s, 0));
	ASSERT_OK(ask(&s, "GET", &k, 1, &resp));
	ASSERT_INT_EQ(resp.status, 206);
	ASSERT_INT_EQ(k.size, 10);
	ASSERT_TRUE(memcmp(k.data, "helloworld", 10) == 0);
	http_response_done(&resp);
	server_stop(&s);
	ASSERT_INT_EQ(s.n, 2);
	ASSERT_TRUE(strcasestr(s.requests[0], "Range:") == NULL);
	ASSERT_TRUE(strcasestr(s.requests[1], "Range: bytes=5-") != NULL);
}

TEST(streamed_without_resume_is_not_repeated)
{
	struct server s = {.answers = {"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello"}};
	struct sink k = {0};
	struct http_response resp;

	ASSERT_OK(server_start(&s, 0));
	ASSERT_ERR(ask(&s, "GET", &k, 0, &resp), -ECONNRESET);
	ASSERT_INT_EQ(resp.cut_status, 200);
	ASSERT_INT_EQ(resp.attempts, 1);
	ASSERT_INT_EQ(k.size, 5);
	http_response_done(&resp);
	server_stop(&s);
}

struct source {
	const char *data;
	size_t pos;
};

static ssize_t source_read(void *buf, size_t size, void *userdata)
{
	struct source *src = userdata;
	size_t n = MIN(size, strlen(src->data) - src->pos);

	memcpy(buf, src->data + src->pos, n);
	src->pos += n;
	return (ssize_t)n;
}

TEST(unix_socket_and_read_callback)
{
	struct server s = {.answers = {"HTTP/1.1 201 Created\r\nApi-Version: 1.43\r\n"
				       "Content-Length: 0\r\n\r\n"}};
	struct source src = {.data = "{\"a\":1}"};
	struct http_response resp;
	const char *err;

	ASSERT_OK(server_start(&s, 1));
	ASSERT_OK(http_send(&(struct http_request){.method = "PUT",
						   .url = "http://docker/v1.43/x",
						   .unix_socket = s.path,
						   .read = source_read,
						   .read_userdata = &src,
						   .body_size = strlen(src.data)},
			    &resp, &err));
	ASSERT_INT_EQ(resp.status, 201);
	http_response_done(&resp);
	server_stop(&s);
	ASSERT_TRUE(startswith(s.requests[0], "PUT /v1.43/x HTTP/1.1"));
	ASSERT_TRUE(strcasestr(s.requests[0], "Content-Length: 7") != NULL);
}

/* The hijack's connection (lib/docker-exec.c): connected, nothing sent
 * by libcurl, the protocol the caller's; a socket nobody listens on fails. */
TEST(connect_only_unix_socket)
{
	static const char req[] = "POST /v1.43/exec/x/start HTTP/1.1\r\nHost: docker\r\n\r\n";
	struct server s = {.answers = {"HTTP/1.1 101 UPGRADED\r\n\r\nhello"}};
	char got[128] = "";
	size_t n, have = 0, sent = 0;
	const char *err = NULL;
	CURL *h = NULL;
	int fd = -1;

	ASSERT_OK(server_start(&s, 1));
	ASSERT_OK(http_connect_only(&(struct http_request){.url = "http://docker/",
							    .unix_socket = s.path},
				    &h, &fd, &err));
	ASSERT_TRUE(fd >= 0);
	while (sent < strlen(req)) {
		CURLcode cc = curl_easy_send(h, req + sent, strlen(req) - sent, &n);
		ASSERT_TRUE(cc == CURLE_OK || cc == CURLE_AGAIN);
		sent += cc == CURLE_OK ? n : 0;
	}
	for (int i = 0; i < 50 && !strstr(got, "hello"); i++) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		CURLcode cc;

		ASSERT_TRUE(poll(&p, 1, 5000) > 0);
		cc = curl_easy_recv(h, got + have, sizeof(got) - 1 - have, &n);
		if (cc == CURLE_AGAIN)
			continue;
		ASSERT_TRUE(cc == CURLE_OK && n > 0);
		have += n;
		got[have] = 0;
	}
	ASSERT_STR_CONTAINS(got, "HTTP/1.1 101 UPGRADED\r\n\r\nhello");
	curl_easy_cleanup(h);
	server_stop(&s);
	ASSERT_TRUE(startswith(s.requests[0], "POST /v1.43/exec/x/start HTTP/1.1"));

	h = NULL;
	ASSERT_TRUE(http_connect_only(&(struct http_request){.url = "http://docker/",
							      .unix_socket = "/nonexistent/docker.sock",
							      .connect_timeout = USEC_PER_SEC},
				      &h, &fd, &err) < 0);
	ASSERT_NOT_NULL(err);
	ASSERT_TRUE(h == NULL);
}

TEST(imds_token_cached_and_renewed_after_401)
{
	struct server s = {.answers = {IMDS}};
	struct http_response resp;
	_cleanup_free_ char *base = NULL;
	struct imds_options o;
	const char *err;
	int puts = 0;

	imds_token_forget();
	ASSERT_OK(server_start(&s, 0));
	base = url_of(&s, "");
	o = (struct imds_options){.base_url = base, .timeout = 2 * USEC_PER_SEC, .retries = 1};
	ASSERT_OK(imds_get(&o, "/latest/meta-data/iam/security-credentials/", &resp, &err));
	ASSERT_INT_EQ(resp.status, 200);
	ASSERT_STR_EQ(resp.body, "role-doc");
	http_response_done(&resp);
	/* the second GET reuses the token */
	ASSERT_OK(imds_get(&o, "/latest/meta-data/instance-id", &resp, &err));
	ASSERT_INT_EQ(resp.status, 200);
	http_response_done(&resp);
	/* the service forgets it: a 401, a new token, the GET again */
	s.valid_token = "rotated";
	s.tokens_issued = 1;
	ASSERT_OK(imds_get(&o, "/latest/meta-data/instance-id", &resp, &err));
	ASSERT_INT_EQ(resp.status, 200);
	http_response_done(&resp);
	server_stop(&s);
	for (int i = 0; i < s.n; i++)
		puts += startswith(s.requests[i], "PUT /latest/api/token");
	ASSERT_INT_EQ(puts, 2);
	ASSERT_INT_EQ(s.n, 6); /* PUT GET GET GET(401) PUT GET */
	ASSERT_TRUE(strcasestr(s.requests[0], "X-aws-ec2-metadata-token-ttl-seconds: 300") != NULL);
	imds_token_forget();
}
