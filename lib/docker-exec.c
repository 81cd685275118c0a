/* Exec with a terminal through the Engine API; see docker-exec.h.
 *
 * The start request, on a connection of its own:
 *   POST /v1.43/exec/<id>/start HTTP/1.1
 *   Host: docker
 *   Connection: Upgrade
 *   Upgrade: tcp
 *   Content-Type: application/json
 *   Content-Length: 27
 *
 *   {"Detach":false,"Tty":true}
 * answered "HTTP/1.1 101 UPGRADED" and a header block; from then on the
 * connection is the terminal (with Tty, no stream multiplexing headers). */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "docker-exec.h"
#include "docker.h"
#include "http.h"
#include "macro.h"
#include "time-util.h"

#define EXEC_MAX_ARGS 64
#define EXEC_MAX_HEADER (16 * 1024)
#define EXEC_PID_TRIES 50 /* 20 ms apart */

struct docker_stream {
	CURL *e;
	int fd;
	/* bytes after the 101 header that came in the same read */
	char *early;
	size_t early_len, early_off;
};

DEFINE_TRIVIAL_CLEANUP_FUNC(cJSON *, cJSON_Delete)

/* Names the daemon accepts for containers (and ids): no '/', '?', '%'
 * or anything else that would change the request's path. */
static int name_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > 128 || !isalnum((unsigned char)s[0]))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("_.-", s[i]))
			return 0;
	return 1;
}

int docker_exec_create(struct docker *d, const struct docker_exec_options *o, char **ret_id,
		       char **ret_error)
{
	_cleanup_(cJSON_Deletep) cJSON *spec = cJSON_CreateObject(), *answer = NULL;
	_cleanup_free_ char *path = NULL;
	cJSON *cmd, *env;
	const cJSON *id;
	size_t n = 0;
	int r;

	*ret_error = NULL;
	if (!name_ok(o->container)) {
		*ret_error = xstrdup("not a container name");
		return -EINVAL;
	}
	while (o->argv && o->argv[n])
		n++;
	if (n == 0 || n > EXEC_MAX_ARGS) {
		*ret_error = xstrdup("the command must have 1 to 64 arguments");
		return -EINVAL;
	}
	cJSON_AddTrueToObject(spec, "AttachStdin");
	cJSON_AddTrueToObject(spec, "AttachStdout");
	cJSON_AddTrueToObject(spec, "AttachStderr");
	cJSON_AddTrueToObject(spec, "Tty");
	if (o->user && *o->user)
		cJSON_AddStringToObject(spec, "User", o->user);
	if (o->workdir && *o->workdir)
		cJSON_AddStringToObject(spec, "WorkingDir", o->workdir);
	env = cJSON_AddArrayToObject(spec, "Env");
	cJSON_AddItemToArray(env, cJSON_CreateString("TERM=xterm-256color"));
	cmd = cJSON_AddArrayToObject(spec, "Cmd");
	for (size_t i = 0; i < n; i++)
		cJSON_AddItemToArray(cmd, cJSON_CreateString(o->argv[i]));
	if (o->rows > 0 && o->cols > 0 && o->rows <= DOCKER_EXEC_MAX_ROWS &&
	    o->cols <= DOCKER_EXEC_MAX_COLS) {
		/* API 1.42+; older daemons ignore it and the resize after start sets it */
		cJSON *size = cJSON_AddArrayToObject(spec, "ConsoleSize");
		cJSON_AddItemToArray(size, cJSON_CreateNumber(o->rows));
		cJSON_AddItemToArray(size, cJSON_CreateNumber(o->cols));
	}
	path = xasprintf("/containers/%s/exec", o->container);
	r = docker_request(d, "POST", path, spec, &answer, ret_error);
	if (r < 0)
		return r;
	id = cJSON_GetObjectItemCaseSensitive(answer, "Id");
	if (!cJSON_IsString(id) || !name_ok(id->valuestring)) {
		*ret_error = xstrdup("the daemon's answer has no exec Id");
		return -EBADMSG;
	}
	*ret_id = xstrdup(id->valuestring);
	return 0;
}

int docker_exec_resize(struct docker *d, const char *id, unsigned rows, unsigned cols,
		       char **ret_error)
{
	_cleanup_free_ char *path = NULL;

	*ret_error = NULL;
	if (!name_ok(id) || rows == 0 || cols == 0 || rows > DOCKER_EXEC_MAX_ROWS ||
	    cols > DOCKER_EXEC_MAX_COLS) {
		*ret_error = xstrdup("bad exec id or terminal size");
		return -EINVAL;
	}
	path = xasprintf("/exec/%s/resize?h=%u&w=%u", id, rows, cols);
	return docker_request(d, "POST", path, NULL, NULL, ret_error);
}

ssize_t docker_exec_parse_upgrade(const char *buf, size_t len, char **ret_error)
{
	const char *end = memmem(buf, len, "\r\n\r\n", 4);
	unsigned code = 0;

	*ret_error = NULL;
	if (!end)
		return len > EXEC_MAX_HEADER ? -EPROTO : 0;
	if (sscanf(buf, "HTTP/1.%*1[01] %3u", &code) != 1 || (code != 101 && code != 200)) {
		size_t l = strcspn(buf, "\r\n");
		*ret_error = strndup(buf, MIN(l, (size_t)200));
		for (char *p = *ret_error; p && *p; p++)
			if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
				*p = '?';
		return -EPROTO;
	}
	return (ssize_t)(end - buf) + 4;
}

/* Waits for events on fd until the deadline; -ETIMEDOUT after it. */
static int wait_fd(int fd, short events, usec_t deadline)
{
	for (;;) {
		usec_t now = now_usec(CLOCK_MONOTONIC);
		struct pollfd p = {.fd = fd, .events = events};
		int r;

		if (now >= deadline)
			return -ETIMEDOUT;
		r = poll(&p, 1, (int)((deadline - now) / USEC_PER_MSEC) + 1);
		if (r < 0 && errno != EINTR)
			return -errno;
		if (r > 0)
			return 0;
	}
}

int docker_exec_start(struct docker *d, const char *id, int timeout_ms, struct docker_stream **ret,
		      char **ret_error)
{
	static const char body[] = "{\"Detach\":false,\"Tty\":true}";
	_cleanup_(docker_stream_freep) struct docker_stream *s = NULL;
	_cleanup_free_ char *req = NULL, *head = NULL;
	usec_t deadline = now_usec(CLOCK_MONOTONIC) + (usec_t)timeout_ms * USEC_PER_MSEC;
	size_t sent = 0, got = 0;
	const char *err = NULL;
	CURLcode cc;
	ssize_t hlen = 0;
	int r, fd = -1;

	*ret_error = NULL;
	if (!name_ok(id)) {
		*ret_error = xstrdup("not an exec id");
		return -EINVAL;
	}
	s = xcalloc(1, sizeof(*s));
	s->fd = -1;
	/* lib/http.c makes the connection; the hijacked protocol is ours */
	r = http_connect_only(
	    &(struct http_request){.url = "http://docker/",
				   .unix_socket = docker_host(d),
				   .connect_timeout = (usec_t)timeout_ms * USEC_PER_MSEC},
	    &s->e, &fd, &err);
	if (r < 0) {
		*ret_error = xasprintf("Cannot connect to the Docker daemon at %s: %s",
				       docker_host(d), strempty(err));
		return r;
	}
	s->fd = fd;
	req = xasprintf("POST /v%s/exec/%s/start HTTP/1.1\r\n"
			"Host: docker\r\n"
			"Connection: Upgrade\r\n"
			"Upgrade: tcp\r\n"
			"Content-Type: application/json\r\n"
			"Content-Length: %zu\r\n\r\n%s",
			docker_api_version(d), id, strlen(body), body);
	while (sent < strlen(req)) {
		size_t n = 0;

		cc = curl_easy_send(s->e, req + sent, strlen(req) - sent, &n);
		if (cc == CURLE_AGAIN) {
			r = wait_fd(s->fd, POLLOUT, deadline);
			if (r < 0)
				goto fail;
			continue;
		}
		if (cc != CURLE_OK) {
			r = http_errno(cc);
			goto fail;
		}
		sent += n;
	}
	head = xmalloc(EXEC_MAX_HEADER + 1);
	while (hlen == 0) {
		size_t n = 0;

		if (got >= EXEC_MAX_HEADER) {
			r = -EPROTO;
			goto fail;
		}
		cc = curl_easy_recv(s->e, head + got, EXEC_MAX_HEADER - got, &n);
		if (cc == CURLE_AGAIN) {
			r = wait_fd(s->fd, POLLIN, deadline);
			if (r < 0)
				goto fail;
			continue;
		}
		if (cc != CURLE_OK || n == 0) {
			r = -ECONNRESET;
			goto fail;
		}
		got += n;
		head[got] = 0;
		hlen = docker_exec_parse_upgrade(head, got, ret_error);
		if (hlen < 0) {
			_cleanup_free_ char *line = TAKE_PTR(*ret_error);
			/* the body says why (no such exec, container stopped) */
			const char *b = strstr(head, "\r\n\r\n");
			*ret_error =
			    xasprintf("The Docker daemon refused to start the exec: %s%s%.200s",
				      strempty(line), b ? ": " : "", b ? b + 4 : "");
			for (char *p = *ret_error; *p; p++)
				if (*p == '\n' || *p == '\r')
					*p = ' ';
			return strstr(line ? line : "", " 404")	  ? -ENOENT
			       : strstr(line ? line : "", " 409") ? -EBUSY
								  : -EPROTO;
		}
	}
	if ((size_t)hlen < got) {
		s->early_len = got - (size_t)hlen;
		s->early = xmalloc(s->early_len);
		memcpy(s->early, head + hlen, s->early_len);
	}
	*ret = TAKE_PTR(s);
	return 0;
fail:
	*ret_error = xasprintf("The Docker daemon did not start the exec: %s", strerror(-r));
	return r;
}

int docker_stream_fd(const struct docker_stream *s)
{
	return s->fd;
}

int docker_stream_pending(const struct docker_stream *s)
{
	return s->early_off < s->early_len;
}

ssize_t docker_stream_read(struct docker_stream *s, void *buf, size_t n)
{
	size_t got = 0;
	CURLcode cc;

	if (s->early_off < s->early_len) {
		size_t k = MIN(n, s->early_len - s->early_off);
		memcpy(buf, s->early + s->early_off, k);
		s->early_off += k;
		return (ssize_t)k;
	}
	cc = curl_easy_recv(s->e, buf, n, &got);
	if (cc == CURLE_AGAIN)
		return -EAGAIN;
	if (cc != CURLE_OK)
		return -ECONNRESET;
	return (ssize_t)got;
}

ssize_t docker_stream_write(struct docker_stream *s, const void *buf, size_t n)
{
	size_t sent = 0;
	CURLcode cc = curl_easy_send(s->e, buf, n, &sent);

	if (cc == CURLE_AGAIN)
		return -EAGAIN;
	if (cc != CURLE_OK)
		return -EPIPE;
	return (ssize_t)sent;
}

struct docker_stream *docker_stream_free(struct docker_stream *s)
{
	if (!s)
		return NULL;
	if (s->e)
		curl_easy_cleanup(s->e); /* closes the socket */
	free(s->early);
	free(s);
	return NULL;
}

int docker_exec_pid(struct docker *d, const char *id, pid_t *ret_pid, char **ret_error)
{
	_cleanup_(cJSON_Deletep) cJSON *j = NULL;
	_cleanup_free_ char *path = NULL;
	const cJSON *pid, *running;
	int r;

	*ret_error = NULL;
	if (!name_ok(id)) {
		*ret_error = xstrdup("not an exec id");
		return -EINVAL;
	}
	path = xasprintf("/exec/%s/json", id);
	/* the daemon answers the start before the process runs: a moment */
	for (int i = 0; i < EXEC_PID_TRIES; i++) {
		cJSON_Delete(j);
		j = NULL;
		r = docker_request(d, "GET", path, NULL, &j, ret_error);
		if (r < 0)
			return r;
		pid = cJSON_GetObjectItemCaseSensitive(j, "Pid");
		running = cJSON_GetObjectItemCaseSensitive(j, "Running");
		if (cJSON_IsTrue(running) && cJSON_IsNumber(pid) && pid->valuedouble >= 2 &&
		    pid->valuedouble <= 4194304) {
			*ret_pid = (pid_t)pid->valuedouble;
			return 0;
		}
		usleep(20 * 1000);
	}
	*ret_error = xstrdup("the exec is not running");
	return -ESRCH;
}

int docker_exec_hangup(pid_t pid, const char *comm)
{
	_cleanup_free_ char *path = xasprintf("/proc/%d/comm", (int)pid);
	char buf[64];
	ssize_t n;
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return -ESRCH;
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	/* the pid may have been reused since: only the program we started
	 * (whose name may carry a title: tmux's client is "tmux: client") */
	if (!startswith(buf, comm))
		return -ESRCH;
	return kill(pid, SIGHUP) < 0 ? -errno : 0;
}
