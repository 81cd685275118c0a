/* The terminal's WebSocket ↔ exec bridge; see display-terminal.h. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "display-terminal.h"
#include "display-web.h"
#include "display-ws.h"
#include "docker-exec.h"
#include "docker.h"
#include "http.h"
#include "log.h"
#include "macro.h"

#define DTERM_START_TIMEOUT_MS 15000
#define DTERM_READ_CHUNK 65536
#define DTERM_READS_MAX 8

/* What the setup thread and the terminal share; freed by whoever lets go
 * last (a tab closed while the daemon still answers must not make the
 * loop wait for it). */
struct dterm_setup {
	int refs; /* atomic */
	int pipe[2];
	char *host, *container, *user, *session;
	/* results, read after the byte on pipe */
	int r;
	int reached; /* the daemon answered (the failure is the container's) */
	char *error;
	struct docker *d;
	char *exec_id;
	struct docker_stream *s;
	pid_t pid; /* the exec's process (tmux client), 0 if unknown */
};

enum dterm_state { T_CONNECTING, T_ATTACHED, T_DONE };

struct dterm {
	enum dterm_state state;
	struct dterm_setup *setup;
	struct docker *d;
	char *exec_id;
	struct docker_stream *s;
	pid_t pid;
	uint8_t *in; /* keystrokes not yet taken */
	size_t in_len;
	unsigned rows, cols; /* the browser's last size; 0: none yet */
	int size_sent;
	int status_sent;
	char peer[80];
};

/* What the routes share: the config and the page's directory. */
struct dterm_site {
	const struct dterm_config *cfg;
	int dir_fd;
};

static int dterm_count; /* open terminals (the loop's thread only) */

static void dterm_setup_unref(struct dterm_setup *u)
{
	if (!u || __atomic_sub_fetch(&u->refs, 1, __ATOMIC_ACQ_REL) > 0)
		return;
	for (int i = 0; i < 2; i++)
		if (u->pipe[i] >= 0)
			close(u->pipe[i]);
	free(u->host);
	free(u->container);
	free(u->user);
	free(u->session);
	free(u->error);
	free(u->exec_id);
	docker_stream_free(u->s);
	docker_free(u->d);
	free(u);
}

/* The thread: open the daemon, create and start the exec. */
static void *dterm_setup_run(void *arg)
{
	struct dterm_setup *u = arg;
	char *argv[] = {"tmux", "new-session", "-A", "-s", u->session, NULL};
	char byte = 1;

	u->r = docker_open(u->host, &u->d, &u->error);
	u->reached = u->r >= 0;
	if (u->r >= 0)
		u->r = docker_exec_create(u->d,
					  &(struct docker_exec_options){.container = u->container,
									.user = u->user,
									.argv = argv},
					  &u->exec_id, &u->error);
	if (u->r >= 0) {
		free(u->error);
		u->error = NULL;
		u->r =
		    docker_exec_start(u->d, u->exec_id, DTERM_START_TIMEOUT_MS, &u->s, &u->error);
	}
	if (u->r >= 0) {
		_cleanup_free_ char *error = NULL;
		/* for the hangup when the tab closes; without it the client stays */
		docker_exec_pid(u->d, u->exec_id, &u->pid, &error);
	}
	if (write(u->pipe[1], &byte, 1) < 0) {
		/* the reader is gone or the pipe is full: nobody waits */
	}
	dterm_setup_unref(u);
	return NULL;
}

int dterm_new(const struct dterm_config *cfg, const char *peer, struct dterm **ret)
{
	struct dterm *t;
	struct dterm_setup *u;
	pthread_attr_t attr;
	pthread_t th;
	int r;

	if (dterm_count >= DTERM_MAX)
		return -EUSERS;
	/* libcurl's global setup is not thread-safe: done in the loop's
	 * thread, before the first setup thread can make a handle */
	http_global_init();
	u = xcalloc(1, sizeof(*u));
	u->pipe[0] = u->pipe[1] = -1;
	if (pipe2(u->pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
		r = -errno;
		free(u);
		return r;
	}
	u->host = xstrdup(cfg->docker_host);
	u->container = xstrdup(cfg->container);
	u->user = xstrdup(cfg->user);
	u->session = xstrdup(cfg->session);
	u->refs = 2;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	r = -pthread_create(&th, &attr, dterm_setup_run, u);
	pthread_attr_destroy(&attr);
	if (r < 0) {
		u->refs = 1;
		dterm_setup_unref(u);
		return r;
	}
	t = xcalloc(1, sizeof(*t));
	t->setup = u;
	snprintf(t->peer, sizeof(t->peer), "%s", peer);
	dterm_count++;
	*ret = t;
	return 0;
}

struct dterm *dterm_free(struct dterm *t)
{
	if (!t)
		return NULL;
	dterm_setup_unref(t->setup);
	/* dockerd keeps the exec's pty open after its stream closed: hang up
	 * the tmux client as a closed terminal would (it detaches) */
	if (t->pid > 0)
		docker_exec_hangup(t->pid, "tmux");
	docker_stream_free(t->s);
	docker_free(t->d);
	free(t->exec_id);
	free(t->in);
	if (t->state == T_ATTACHED)
		log_info("Terminal of %s detached", t->peer);
	free(t);
	dterm_count--;
	return NULL;
}

int dterm_parse_resize(const char *p, size_t n, unsigned *ret_rows, unsigned *ret_cols)
{
	_cleanup_free_ char *text = NULL;
	cJSON *j;
	const cJSON *type, *rows, *cols;
	int r = -EBADMSG;

	if (n == 0 || n > DTERM_CONTROL_MAX)
		return -EBADMSG;
	text = strndup(p, n);
	j = text ? cJSON_Parse(text) : NULL;
	type = cJSON_GetObjectItemCaseSensitive(j, "type");
	rows = cJSON_GetObjectItemCaseSensitive(j, "rows");
	cols = cJSON_GetObjectItemCaseSensitive(j, "cols");
	if (cJSON_IsString(type) && streq(type->valuestring, "resize") && cJSON_IsNumber(rows) &&
	    cJSON_IsNumber(cols) && rows->valuedouble >= 1 &&
	    rows->valuedouble <= DOCKER_EXEC_MAX_ROWS && cols->valuedouble >= 1 &&
	    cols->valuedouble <= DOCKER_EXEC_MAX_COLS) {
		*ret_rows = (unsigned)rows->valuedouble;
		*ret_cols = (unsigned)cols->valuedouble;
		r = 0;
	}
	cJSON_Delete(j);
	return r;
}

int dterm_message(struct dterm *t, int opcode, const uint8_t *p, size_t n)
{
	if (opcode == WS_OP_TEXT) {
		unsigned rows, cols;

		if (dterm_parse_resize((const char *)p, n, &rows, &cols) < 0)
			return -EBADMSG;
		if (rows != t->rows || cols != t->cols) {
			t->rows = rows;
			t->cols = cols;
			t->size_sent = 0;
		}
		return 0;
	}
	if (t->in_len + n > DTERM_INPUT_MAX)
		return -ENOBUFS;
	t->in = xrealloc(t->in, MAX(t->in_len + n, (size_t)1));
	memcpy(t->in + t->in_len, p, n);
	t->in_len += n;
	return 0;
}

int dterm_poll(struct dterm *t, int out_room, short *ret_events)
{
	*ret_events = 0;
	if (t->state == T_CONNECTING) {
		*ret_events = POLLIN;
		return t->setup->pipe[0];
	}
	if (t->state != T_ATTACHED)
		return -1;
	if (out_room)
		*ret_events |= POLLIN;
	if (t->in_len > 0)
		*ret_events |= POLLOUT;
	return docker_stream_fd(t->s);
}

static void dterm_send_json(struct dweb_conn *c, const char *type, const char *key,
			    const char *value)
{
	_cleanup_free_ char *text = NULL;
	cJSON *j = cJSON_CreateObject();

	cJSON_AddStringToObject(j, "type", type);
	cJSON_AddStringToObject(j, key, value);
	text = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	dweb_ws_send_text(c, text);
}

/* The setup thread is done: take what it made. */
static int dterm_take_setup(struct dterm *t, struct dweb_conn *c)
{
	struct dterm_setup *u = t->setup;
	char byte;

	if (read(u->pipe[0], &byte, 1) != 1)
		return 0; /* not yet */
	if (u->r < 0) {
		_cleanup_free_ char *msg = NULL;

		if (u->reached && (u->r == -ENOENT || u->r == -EBUSY))
			msg = xasprintf("The workspace container %s is not running (%s); retrying.",
					u->container, strempty(u->error));
		else
			msg = xasprintf("Cannot open a terminal in %s: %s", u->container,
					strempty(u->error));
		log_notice("Terminal of %s: %s", t->peer, msg);
		dterm_send_json(c, "error", "message", msg);
		t->state = T_DONE;
		return -EPIPE;
	}
	t->d = TAKE_PTR(u->d);
	t->exec_id = TAKE_PTR(u->exec_id);
	t->s = TAKE_PTR(u->s);
	t->pid = u->pid;
	dterm_setup_unref(TAKE_PTR(t->setup));
	t->state = T_ATTACHED;
	log_info("Terminal of %s attached to tmux in %s", t->peer, t->exec_id);
	dterm_send_json(c, "status", "state", "attached");
	return 0;
}

/* Applies the browser's size (blocking Engine API call: a local socket,
 * about a millisecond). */
static void dterm_apply_size(struct dterm *t)
{
	_cleanup_free_ char *error = NULL;
	int r;

	if (t->size_sent || !t->rows || !t->cols)
		return;
	t->size_sent = 1;
	r = docker_exec_resize(t->d, t->exec_id, t->rows, t->cols, &error);
	if (r < 0)
		log_debug("Terminal of %s: resize to %ux%u failed, ignoring: %s", t->peer, t->cols,
			  t->rows, strempty(error));
}

int dterm_step(struct dterm *t, struct dweb_conn *c, short revents, int out_room)
{
	uint8_t chunk[DTERM_READ_CHUNK];

	if (!t->status_sent) {
		t->status_sent = 1;
		dterm_send_json(c, "status", "state", "connecting");
	}
	if (t->state == T_CONNECTING) {
		if (!(revents & (POLLIN | POLLHUP | POLLERR)))
			return 0;
		if (dterm_take_setup(t, c) < 0)
			return -EPIPE;
		if (t->state != T_ATTACHED)
			return 0;
		revents = POLLIN | POLLOUT;
	}
	if (t->state != T_ATTACHED)
		return -EPIPE;
	dterm_apply_size(t);
	while (t->in_len > 0) {
		ssize_t n = docker_stream_write(t->s, t->in, t->in_len);
		if (n == -EAGAIN)
			break;
		if (n < 0)
			goto ended;
		memmove(t->in, t->in + n, t->in_len - (size_t)n);
		t->in_len -= (size_t)n;
	}
	/* what is there, up to DTERM_READS_MAX chunks (the WebSocket's high
	 * water mark is soft: at most that much above it) */
	if (out_room && ((revents & (POLLIN | POLLHUP | POLLERR)) || docker_stream_pending(t->s))) {
		for (int i = 0; i < DTERM_READS_MAX; i++) {
			ssize_t n = docker_stream_read(t->s, chunk, sizeof(chunk));
			if (n == -EAGAIN)
				break;
			if (n <= 0)
				goto ended;
			dweb_ws_send(c, WS_OP_BINARY, chunk, (size_t)n);
		}
	}
	return 0;
ended:
	/* tmux detached this client or the session ended, or the container stopped */
	dterm_send_json(c, "error", "message",
			"The terminal ended (tmux detached, or the container stopped); "
			"reconnecting.");
	log_info("Terminal of %s ended", t->peer);
	t->state = T_DONE;
	return -EPIPE;
}

int dterm_path(const char *target, char **ret_file)
{
	size_t n = strcspn(target, "?#");

	if (!startswith(target, "/terminal") || (n > 9 && target[9] != '/'))
		return DTERM_PATH_NONE;
	if (n == 12 && startswith(target, "/terminal/ws"))
		return DTERM_PATH_WS;
	if (ret_file)
		*ret_file = n <= 10 ? xstrdup("/terminal.html") : strndup(target + 9, n - 9);
	return DTERM_PATH_FILE;
}

/* The WebSocket ops (display-web.h) of a terminal. */
static int dterm_ws_text(void *userdata, const char *p, size_t n)
{
	return dterm_message(userdata, WS_OP_TEXT, (const uint8_t *)p, n);
}

static int dterm_ws_binary(void *userdata, const uint8_t *p, size_t n)
{
	return dterm_message(userdata, WS_OP_BINARY, p, n);
}

static int dterm_ws_poll(void *userdata, int out_room, short *ret_events)
{
	return dterm_poll(userdata, out_room, ret_events);
}

static int dterm_ws_step(void *userdata, struct dweb_conn *c, short revents, int out_room)
{
	return dterm_step(userdata, c, revents, out_room);
}

static void dterm_ws_closed(void *userdata)
{
	dterm_free(userdata);
}

static const struct dweb_ws_ops dterm_ws_ops = {
    .text = dterm_ws_text,
    .closed = dterm_ws_closed,
    .binary = dterm_ws_binary,
    .poll = dterm_ws_poll,
    .step = dterm_ws_step,
};

/* GET /terminal/ws: a WebSocket bridged to a new tmux client. */
static int dterm_route_ws(struct dweb *w, struct dweb_conn *c, const struct dweb_request *r,
			  void *userdata)
{
	struct dterm_site *site = userdata;
	struct dterm *t;
	int k;

	(void)w;
	k = dterm_new(site->cfg, r->peer, &t);
	if (k < 0) {
		log_notice("Refused a terminal for %s: %s", r->peer,
			   k == -EUSERS ? "too many terminals are open" : strerror(-k));
		dweb_error(c, 503);
		return k;
	}
	return dweb_ws_accept(c, r, -1, NULL, &dterm_ws_ops, t);
}

/* GET /terminal and /terminal/<file>: the page from display.terminal_dir. */
static int dterm_route_file(struct dweb *w, struct dweb_conn *c, const struct dweb_request *r,
			    void *userdata)
{
	struct dterm_site *site = userdata;
	_cleanup_free_ char *file = NULL;

	(void)w;
	if (dterm_path(r->target, &file) != DTERM_PATH_FILE || !file)
		return dweb_error(c, 404);
	return dweb_serve_file(c, r, site->dir_fd, file);
}

int dterm_add_routes(struct dweb *w, const struct dterm_config *cfg, const char *dir,
		     struct dterm_site **ret)
{
	struct dterm_site *site = xcalloc(1, sizeof(*site));
	/* the WebSocket's row first: the prefix row would take its path */
	const struct dweb_route rows[] = {
	    {"GET", "/terminal/ws", DWEB_ROUTE_WEBSOCKET, dterm_route_ws, site},
	    {"GET", "/terminal/", DWEB_ROUTE_PREFIX, dterm_route_file, site},
	    {"GET", "/terminal", 0, dterm_route_file, site},
	};
	int r;

	site->cfg = cfg;
	site->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (site->dir_fd < 0)
		log_warning_errno(errno,
				  "Cannot open display.terminal_dir %s, serving no "
				  "terminal page: %m",
				  dir);
	for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
		r = dweb_add_route(w, &rows[i]);
		if (r < 0) {
			/* rows already in point at site: it stays, unused, until
			 * the caller frees it after w */
			*ret = site;
			return r;
		}
	}
	*ret = site;
	return 0;
}

struct dterm_site *dterm_site_free(struct dterm_site *s)
{
	if (!s)
		return NULL;
	if (s->dir_fd >= 0)
		close(s->dir_fd);
	free(s);
	return NULL;
}
