/* Static files, WebSocket bridge, TLS and accepting; see display-web.h. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gnutls/gnutls.h>

#include "display-conf.h"
#include "display-rfb.h"
#include "display-terminal.h"
#include "display-web-internal.h"
#include "display-web.h"
#include "display-ws.h"
#include "fileio.h"
#include "log.h"
#include "macro.h"

#define HTTP_MAX_HEADER (16 * 1024)
#define HTTP_MAX_FILE (16 * 1024 * 1024)
#define OUT_HIGH_WATER (1024 * 1024)     /* stop reading RFB while more is queued */
#define TO_RFB_MAX (4 * 1024 * 1024)     /* a client sending more than this is dropped */

struct buf {
	uint8_t *data;
	size_t len, cap;
};

enum conn_state { C_TLS_HANDSHAKE, C_HTTP, C_WS };

struct conn {
	int fd;
	int pair; /* our end of the socketpair to libvncserver; -1 before WS */
	struct dterm *term; /* a terminal's WebSocket instead (display-terminal.c) */
	enum conn_state state;
	gnutls_session_t tls;
	size_t tls_pending; /* bytes of a gnutls_record_send that said EAGAIN */
	struct buf in, out, to_rfb;
	int closing; /* close once out is sent */
	int dead;
	uint64_t serial; /* order of acceptance */
	usec_t since;    /* accepted, or its last HTTP request (CLOCK_MONOTONIC) */
	char peer[80];
};

struct dweb {
	struct drfb *rfb;
	int web_fd, rfb_fd;
	int dir_fd;
	char *listen;               /* the web port's address */
	char *const *allowed_hosts; /* the config's */
	const struct dterm_config *term_cfg; /* NULL: no terminal */
	int term_dir_fd;
	gnutls_certificate_credentials_t cred;
	struct conn *conns[DWEB_MAX_CONNS];
	uint64_t next_serial;
	/* what each pollfd of the last dweb_pollfds() was: conn index, or -1/-2 for
	 * the listeners; and whether it was the pair fd */
	int poll_conn[2 + 2 * DWEB_MAX_CONNS];
	int poll_pair[2 + 2 * DWEB_MAX_CONNS];
};

static void buf_append(struct buf *b, const void *p, size_t n)
{
	if (b->len + n > b->cap) {
		b->cap = MAX(b->cap * 2, b->len + n + 4096);
		b->data = xrealloc(b->data, b->cap);
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

static void buf_consume(struct buf *b, size_t n)
{
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
	/* a big buffer once needed is given back when empty */
	if (b->len == 0 && b->cap > 1024 * 1024) {
		free(b->data);
		b->data = NULL;
		b->cap = 0;
	}
}

static void conn_free(struct conn *c)
{
	if (!c)
		return;
	if (c->tls)
		gnutls_deinit(c->tls);
	if (c->fd >= 0)
		close(c->fd);
	if (c->pair >= 0)
		close(c->pair);
	dterm_free(c->term);
	free(c->in.data);
	free(c->out.data);
	free(c->to_rfb.data);
	free(c);
}

/* Reads what is there into c->in. Returns >0 bytes, 0 nothing now,
 * -EPIPE at end of stream or error. */
static ssize_t conn_read(struct conn *c)
{
	uint8_t chunk[65536];
	ssize_t total = 0, n;

	for (;;) {
		if (c->tls) {
			n = gnutls_record_recv(c->tls, chunk, sizeof(chunk));
			if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
				return total;
			if (n < 0 && !gnutls_error_is_fatal((int)n))
				continue;
			if (n <= 0)
				return -EPIPE;
		} else {
			n = recv(c->fd, chunk, sizeof(chunk), 0);
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				return total;
			if (n <= 0)
				return -EPIPE;
		}
		buf_append(&c->in, chunk, (size_t)n);
		total += n;
		if (c->in.len > TO_RFB_MAX)
			return -EPIPE;
	}
}

/* Sends what c->out holds, as far as the socket takes it. Returns 0 or -EPIPE. */
static int conn_write(struct conn *c)
{
	while (c->out.len > 0) {
		ssize_t n;

		if (c->tls) {
			size_t len = c->tls_pending ? c->tls_pending : MIN(c->out.len, 16384);
			n = gnutls_record_send(c->tls, c->out.data, len);
			if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) {
				c->tls_pending = len;
				return 0;
			}
			c->tls_pending = 0;
			if (n < 0)
				return -EPIPE;
		} else {
			n = send(c->fd, c->out.data, c->out.len, MSG_NOSIGNAL);
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				return 0;
			if (n < 0)
				return -EPIPE;
		}
		buf_consume(&c->out, (size_t)n);
	}
	return 0;
}

/* Queues an HTTP response without body, or with the given one. */
static void http_respond(struct conn *c, int code, const char *reason, const char *type,
			 const void *body, size_t len, int head_only, int keep_alive)
{
	_cleanup_free_ char *h = xasprintf("HTTP/1.1 %d %s\r\n"
					   "Content-Type: %s\r\n"
					   "Content-Length: %zu\r\n"
					   "Cache-Control: no-cache\r\n"
					   "X-Content-Type-Options: nosniff\r\n"
					   "Connection: %s\r\n\r\n",
					   code, reason, type, len, keep_alive ? "keep-alive" : "close");

	buf_append(&c->out, h, strlen(h));
	if (body && !head_only)
		buf_append(&c->out, body, len);
	if (!keep_alive)
		c->closing = 1;
}

static int http_error(struct conn *c, int code, const char *reason)
{
	_cleanup_free_ char *body = xasprintf("%d %s\n", code, reason);

	http_respond(c, code, reason, "text/plain; charset=utf-8", body, strlen(body), 0, 0);
	return 0;
}

static const char *content_type(const char *path)
{
	static const struct {
		const char *ext, *type;
	} types[] = {
		{".html", "text/html; charset=utf-8"},
		{".js", "text/javascript; charset=utf-8"},
		{".css", "text/css; charset=utf-8"},
		{".json", "application/json"},
		{".svg", "image/svg+xml"},
		{".png", "image/png"},
		{".ico", "image/x-icon"},
		{".oga", "audio/ogg"},
		{".ogg", "audio/ogg"},
		{".mp3", "audio/mpeg"},
		{".woff", "font/woff"},
		{".woff2", "font/woff2"},
		{".txt", "text/plain; charset=utf-8"},
	};
	const char *dot = strrchr(path, '.');

	for (size_t i = 0; dot && i < ELEMENTSOF(types); i++)
		if (streq(dot, types[i].ext))
			return types[i].type;
	return "application/octet-stream";
}

/* Decodes the path of a request target into a relative file name under
 * the noVNC directory; NULL for anything that could leave it. */
char *http_path(const char *target)
{
	size_t n = strcspn(target, "?#");
	char *p = xmalloc(n + 1), *q = p;
	const char *seg;

	if (target[0] != '/') {
		free(p);
		return NULL;
	}
	for (size_t i = 1; i < n; i++) {
		if (target[i] == '%' && i + 2 < n + 1 && target[i + 1] && target[i + 2]) {
			char hex[3] = {target[i + 1], target[i + 2], 0};
			char *end;
			long v = strtol(hex, &end, 16);
			if (*end || v <= 0) {
				free(p);
				return NULL;
			}
			*q++ = (char)v;
			i += 2;
		} else
			*q++ = target[i];
	}
	*q = 0;
	if (!*p) {
		free(p);
		return xstrdup("vnc.html");
	}
	/* no "..", no hidden files, no empty segments */
	for (seg = p; seg && *seg; seg = strchr(seg, '/') ? strchr(seg, '/') + 1 : NULL)
		if (seg[0] == '.' || seg[0] == '/' || seg[0] == 0) {
			free(p);
			return NULL;
		}
	if (p[strlen(p) - 1] == '/') {
		free(p);
		return NULL;
	}
	return p;
}

/* The value of header name in the header block, or NULL; copied. */
char *http_header(const char *headers, const char *name)
{
	size_t l = strlen(name);

	for (const char *line = strstr(headers, "\r\n"); line && line[2];
	     line = strstr(line + 2, "\r\n")) {
		const char *h = line + 2, *end;
		if (strncasecmp(h, name, l) != 0 || h[l] != ':')
			continue;
		h += l + 1;
		h += strspn(h, " \t");
		end = strstr(h, "\r\n");
		if (!end)
			return NULL;
		while (end > h && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		return strndup(h, (size_t)(end - h));
	}
	return NULL;
}

/* Does the comma-separated list contain token (case-insensitive)? */
int has_token(const char *list, const char *token)
{
	size_t l = strlen(token);

	for (const char *p = list; p && *p;) {
		p += strspn(p, " \t,");
		if (strncasecmp(p, token, l) == 0 && (p[l] == 0 || p[l] == ',' || p[l] == ' '))
			return 1;
		p = strchr(p, ',');
	}
	return 0;
}

/* A browser's Origin must name the host the page came from. */
int origin_ok(const char *origin, const char *host)
{
	if (!origin)
		return 1; /* not a browser */
	if (!host)
		return 0;
	if (startswith(origin, "http://"))
		origin += 7;
	else if (startswith(origin, "https://"))
		origin += 8;
	else
		return 0;
	return strcasecmp(origin, host) == 0;
}

/* Turns c into a WebSocket bridged to a new libvncserver client. */
static int ws_upgrade(struct dweb *w, struct conn *c, const char *key, const char *protocols)
{
	char accept[WS_ACCEPT_SIZE];
	_cleanup_free_ char *resp = NULL;
	int sv[2];

	if (ws_accept_key(key, accept) < 0)
		return http_error(c, 400, "Bad Request");
	if (protocols && !has_token(protocols, "binary"))
		return http_error(c, 400, "Bad Request"); /* base64 is not spoken */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		log_warning_errno(errno, "socketpair: %m");
		return http_error(c, 503, "Service Unavailable");
	}
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	resp = xasprintf("HTTP/1.1 101 Switching Protocols\r\n"
			 "Upgrade: websocket\r\n"
			 "Connection: Upgrade\r\n"
			 "Sec-WebSocket-Accept: %s\r\n"
			 "%s\r\n",
			 accept, protocols ? "Sec-WebSocket-Protocol: binary\r\n" : "");
	buf_append(&c->out, resp, strlen(resp));
	c->pair = sv[0];
	c->state = C_WS;
	drfb_add_client(w->rfb, sv[1], c->peer, "websocket");
	return 0;
}

/* Turns c into a WebSocket bridged to a tmux client in the workspace. */
static int term_upgrade(struct dweb *w, struct conn *c, const char *key)
{
	char accept[WS_ACCEPT_SIZE];
	_cleanup_free_ char *resp = NULL;
	int r;

	if (!w->term_cfg)
		return http_error(c, 404, "Not Found");
	if (ws_accept_key(key, accept) < 0)
		return http_error(c, 400, "Bad Request");
	r = dterm_new(w->term_cfg, c->peer, &c->term);
	if (r < 0) {
		log_notice("Refused a terminal for %s: %s", c->peer,
			   r == -EUSERS ? "too many terminals are open" : strerror(-r));
		return http_error(c, 503, "Service Unavailable");
	}
	resp = xasprintf("HTTP/1.1 101 Switching Protocols\r\n"
			 "Upgrade: websocket\r\n"
			 "Connection: Upgrade\r\n"
			 "Sec-WebSocket-Accept: %s\r\n\r\n",
			 accept);
	buf_append(&c->out, resp, strlen(resp));
	c->state = C_WS;
	return 0;
}

/* Serves one static file. */
static int http_file(int dir_fd, struct conn *c, const char *target, int head, int keep_alive)
{
	_cleanup_free_ char *rel = http_path(target), *data = NULL;
	_cleanup_close_ int fd = -1;
	struct stat st;
	size_t size = 0;

	if (!rel)
		return http_error(c, 404, "Not Found");
	fd = openat(dir_fd, rel, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > HTTP_MAX_FILE)
		return http_error(c, 404, "Not Found");
	data = xmalloc((size_t)st.st_size + 1);
	while (size < (size_t)st.st_size) {
		ssize_t n = read(fd, data + size, (size_t)st.st_size - size);
		if (n <= 0)
			return http_error(c, 500, "Internal Server Error");
		size += (size_t)n;
	}
	http_respond(c, 200, "OK", content_type(rel), data, size, head, keep_alive);
	return 0;
}

/* Handles every complete request in c->in. */
static int http_process(struct dweb *w, struct conn *c)
{
	while (c->state == C_HTTP && !c->closing) {
		uint8_t *end = c->in.len ? memmem(c->in.data, c->in.len, "\r\n\r\n", 4) : NULL;
		_cleanup_free_ char *req = NULL, *upgrade = NULL, *connection = NULL,
				    *key = NULL, *version = NULL, *protocols = NULL,
				    *origin = NULL, *host = NULL;
		char method[8], target[2048], proto[16];
		size_t hlen;
		int keep_alive;

		if (!end) {
			if (c->in.len > HTTP_MAX_HEADER)
				return http_error(c, 431, "Request Header Fields Too Large");
			return 0;
		}
		hlen = (size_t)(end - c->in.data) + 4;
		/* the same limit as for a header still coming */
		if (hlen > HTTP_MAX_HEADER)
			return http_error(c, 431, "Request Header Fields Too Large");
		c->since = now_usec(CLOCK_MONOTONIC);
		req = strndup((char *)c->in.data, hlen);
		buf_consume(&c->in, hlen);
		if (!req || sscanf(req, "%7s %2047s %15s", method, target, proto) != 3 ||
		    !startswith(proto, "HTTP/1."))
			return http_error(c, 400, "Bad Request");
		/* a DNS-rebinding page sends its own name: serve only ours */
		host = http_header(req, "Host");
		if (!display_host_allowed(host, w->listen, w->allowed_hosts)) {
			char shown[81];

			/* the client's bytes: printable ones only into the log */
			snprintf(shown, sizeof(shown), "%s", strempty(host));
			for (char *q = shown; *q; q++)
				if ((unsigned char)*q < 0x20 || (unsigned char)*q >= 0x7f)
					*q = '?';
			log_notice("Refused a request from %s for Host \"%s\": not a name of this "
				   "display (add it to display.allowed_hosts if it is)",
				   c->peer, shown);
			return http_error(c, 403, "Forbidden");
		}
		connection = http_header(req, "Connection");
		keep_alive = streq(proto, "HTTP/1.1") ? !has_token(connection, "close")
						      : has_token(connection, "keep-alive");
		upgrade = http_header(req, "Upgrade");
		if (upgrade && strcasecmp(upgrade, "websocket") == 0) {
			key = http_header(req, "Sec-WebSocket-Key");
			version = http_header(req, "Sec-WebSocket-Version");
			protocols = http_header(req, "Sec-WebSocket-Protocol");
			origin = http_header(req, "Origin");
			if (!streq(method, "GET") || !key || !version || !streq(version, "13"))
				return http_error(c, 400, "Bad Request");
			if (!origin_ok(origin, host)) {
				log_notice("Refused a WebSocket from %s: Origin %s is not %s",
					   c->peer, origin, strempty(host));
				return http_error(c, 403, "Forbidden");
			}
			if (dterm_path(target, NULL) == DTERM_PATH_WS)
				return term_upgrade(w, c, key);
			return ws_upgrade(w, c, key, protocols);
		}
		if ((streq(method, "GET") || streq(method, "HEAD")) &&
		    dterm_path(target, NULL) == DTERM_PATH_FILE) {
			_cleanup_free_ char *file = NULL;
			dterm_path(target, &file);
			if (!w->term_cfg)
				http_error(c, 404, "Not Found");
			else
				http_file(w->term_dir_fd, c, file, streq(method, "HEAD"), keep_alive);
		} else if (streq(method, "GET") || streq(method, "HEAD"))
			http_file(w->dir_fd, c, target, streq(method, "HEAD"), keep_alive);
		else
			http_error(c, 405, "Method Not Allowed");
	}
	return 0;
}

/* Queues a server frame. */
static void ws_send(struct conn *c, int opcode, const void *p, size_t n)
{
	uint8_t h[10];

	buf_append(&c->out, h, ws_build_header(h, opcode, n));
	if (n)
		buf_append(&c->out, p, n);
}

/* The terminal's way to queue frames (dterm_send_fn). */
static void term_send(void *userdata, int opcode, const void *p, size_t n)
{
	ws_send(userdata, opcode, p, n);
}

/* Handles every complete frame in c->in. */
static void ws_process(struct conn *c)
{
	while (!c->closing) {
		struct ws_frame f;
		int r = ws_parse_header(c->in.data, c->in.len, &f);
		uint8_t *payload;

		if (r == 0)
			return;
		if (r < 0 || !f.masked) {
			ws_send(c, WS_OP_CLOSE, r == -EMSGSIZE ? "\x03\xf1" : "\x03\xea", 2);
			c->closing = 1;
			return;
		}
		if (c->in.len < f.header_size + f.length)
			return;
		payload = c->in.data + f.header_size;
		ws_unmask(payload, (size_t)f.length, f.mask, 0);
		switch (f.opcode) {
		case WS_OP_CONT:
		case WS_OP_TEXT:
		case WS_OP_BINARY:
			if (c->term) {
				/* a control message comes whole; continuations are keystrokes */
				int k = f.opcode == WS_OP_TEXT && !f.fin
						? -EBADMSG
						: dterm_message(c->term, f.opcode, payload,
								(size_t)f.length);
				if (k < 0) {
					ws_send(c, WS_OP_CLOSE, k == -ENOBUFS ? "\x03\xf1" : "\x03\xeb", 2);
					c->closing = 1;
				}
			} else
				buf_append(&c->to_rfb, payload, (size_t)f.length);
			break;
		case WS_OP_CLOSE:
			ws_send(c, WS_OP_CLOSE, payload, MIN((size_t)f.length, 2));
			c->closing = 1;
			break;
		case WS_OP_PING:
			ws_send(c, WS_OP_PONG, payload, (size_t)f.length);
			break;
		default: /* pong */
			break;
		}
		buf_consume(&c->in, f.header_size + (size_t)f.length);
	}
}

/* Moves RFB bytes from libvncserver into frames, as long as the client keeps up. */
static void ws_pump_from_rfb(struct conn *c)
{
	uint8_t chunk[65536];

	while (c->out.len < OUT_HIGH_WATER && c->pair >= 0) {
		ssize_t n = recv(c->pair, chunk, sizeof(chunk), 0);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			/* libvncserver closed it (auth failed, shut down) */
			ws_send(c, WS_OP_CLOSE, "\x03\xe8", 2);
			c->closing = 1;
			close(c->pair);
			c->pair = -1;
			return;
		}
		ws_send(c, WS_OP_BINARY, chunk, (size_t)n);
	}
}

static void ws_pump_to_rfb(struct conn *c)
{
	while (c->to_rfb.len > 0 && c->pair >= 0) {
		ssize_t n = send(c->pair, c->to_rfb.data, c->to_rfb.len, MSG_NOSIGNAL);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			c->dead = 1;
			return;
		}
		buf_consume(&c->to_rfb, (size_t)n);
	}
	if (c->to_rfb.len > TO_RFB_MAX)
		c->dead = 1;
}

/* Advances the TLS handshake. */
static void tls_handshake(struct conn *c)
{
	int r = gnutls_handshake(c->tls);

	if (r == GNUTLS_E_SUCCESS) {
		c->state = C_HTTP;
		return;
	}
	if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED || !gnutls_error_is_fatal(r))
		return;
	log_info("TLS handshake with %s failed: %s", c->peer, gnutls_strerror(r));
	c->dead = 1;
}

/* Everything to do for c after poll said something. */
static void conn_step(struct dweb *w, struct conn *c, short ev_fd, short ev_pair)
{
	if (c->state == C_TLS_HANDSHAKE && (ev_fd & (POLLIN | POLLOUT | POLLHUP | POLLERR)))
		tls_handshake(c);
	if (c->dead || c->state == C_TLS_HANDSHAKE)
		return;
	if (ev_fd & (POLLIN | POLLHUP | POLLERR)) {
		if (conn_read(c) < 0) {
			c->dead = 1;
			return;
		}
	}
	if (c->state == C_HTTP)
		http_process(w, c);
	if (c->state == C_WS && c->term) {
		ws_process(c);
		if (!c->closing &&
		    dterm_step(c->term, ev_pair, c->out.len < OUT_HIGH_WATER, term_send, c) < 0) {
			ws_send(c, WS_OP_CLOSE, "\x03\xf3", 2);
			c->closing = 1;
		}
	} else if (c->state == C_WS) {
		ws_process(c);
		if (ev_pair & POLLOUT || c->to_rfb.len)
			ws_pump_to_rfb(c);
		if (ev_pair & (POLLIN | POLLHUP | POLLERR))
			ws_pump_from_rfb(c);
	}
	if (c->dead)
		return;
	if (conn_write(c) < 0 || (c->closing && c->out.len == 0))
		c->dead = 1;
}

/* Counts the web connections not bridged to RFB yet (TLS handshake,
 * HTTP); the oldest one's slot and time in *ret_slot, *ret_since. */
static int dweb_unauthenticated(struct dweb *w, int *ret_slot, usec_t *ret_since)
{
	int n = 0;

	*ret_slot = -1;
	*ret_since = USEC_INFINITY;
	for (int i = 0; i < DWEB_MAX_CONNS; i++) {
		struct conn *c = w->conns[i];

		if (!c || c->state == C_WS)
			continue;
		n++;
		if (c->since < *ret_since) {
			*ret_since = c->since;
			*ret_slot = i;
		}
	}
	return n;
}

/* Before a new connection: while DWEB_MAX_UNAUTH connections wait for
 * authentication, the oldest of them (web or RFB) goes, so a flood of
 * idle connections cannot lock a user out. */
static void dweb_make_room(struct dweb *w)
{
	for (int i = 0; i <= DWEB_MAX_UNAUTH; i++) {
		usec_t web_since, rfb_since;
		int slot, n;

		n = dweb_unauthenticated(w, &slot, &web_since) +
		    drfb_unauthenticated(w->rfb, &rfb_since);
		if (n < DWEB_MAX_UNAUTH)
			return;
		if (slot >= 0 && web_since <= rfb_since) {
			log_debug("Dropping web connection from %s to make room", w->conns[slot]->peer);
			conn_free(w->conns[slot]);
			w->conns[slot] = NULL;
		} else if (drfb_drop_unauthenticated(w->rfb, USEC_INFINITY, 1,
						     "too many connections wait for it") == 0)
			return; /* only clients still being set up: they are new */
	}
}

void dweb_expire(struct dweb *w, usec_t now)
{
	if (now < DWEB_HANDSHAKE_USEC)
		return;
	for (int i = 0; i < DWEB_MAX_CONNS; i++) {
		struct conn *c = w->conns[i];

		if (!c || c->state == C_WS || c->since > now - DWEB_HANDSHAKE_USEC)
			continue;
		log_debug("Closing web connection from %s: no request for %d s", c->peer,
			  (int)(DWEB_HANDSHAKE_USEC / USEC_PER_SEC));
		conn_free(c);
		w->conns[i] = NULL;
	}
	drfb_drop_unauthenticated(w->rfb, now - DWEB_HANDSHAKE_USEC, 0,
				  "no authentication within 30 s");
}

int dweb_timeout(struct dweb *w)
{
	usec_t since;
	int slot;

	/* a look once a second while anything waits: cheap, and no
	 * bookkeeping of the exact next deadline */
	if (dweb_unauthenticated(w, &slot, &since) > 0 || drfb_unauthenticated(w->rfb, NULL) > 0)
		return 1000;
	return -1;
}

/* Accepts one connection on the web port. */
static void dweb_accept_web(struct dweb *w)
{
	struct sockaddr_storage sa;
	socklen_t len = sizeof(sa);
	struct conn *c;
	int fd, slot = -1, one = 1;

	fd = accept4(w->web_fd, (struct sockaddr *)&sa, &len, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return;
	dweb_make_room(w);
	for (int i = 0; i < DWEB_MAX_CONNS && slot < 0; i++)
		if (!w->conns[i])
			slot = i;
	/* full: the oldest connection that is not a WebSocket makes room, so
	 * idle HTTP connections cannot keep the screen from its users */
	if (slot < 0) {
		int oldest = -1;
		for (int i = 0; i < DWEB_MAX_CONNS; i++)
			if (w->conns[i]->state != C_WS &&
			    (oldest < 0 || w->conns[i]->serial < w->conns[oldest]->serial))
				oldest = i;
		slot = oldest;
	}
	if (slot >= 0 && w->conns[slot]) {
		log_debug("Dropping idle web connection from %s", w->conns[slot]->peer);
		conn_free(w->conns[slot]);
		w->conns[slot] = NULL;
	}
	if (slot < 0 || drfb_clients(w->rfb) >= DWEB_MAX_CONNS) {
		log_notice("Too many connections, refusing one");
		close(fd);
		return;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c = xcalloc(1, sizeof(*c));
	c->fd = fd;
	c->pair = -1;
	c->state = C_HTTP;
	c->serial = w->next_serial++;
	c->since = now_usec(CLOCK_MONOTONIC);
	display_format_peer(&sa, c->peer, sizeof(c->peer));
	if (w->cred) {
		if (gnutls_init(&c->tls, GNUTLS_SERVER | GNUTLS_NONBLOCK) < 0 ||
		    gnutls_set_default_priority(c->tls) < 0 ||
		    gnutls_credentials_set(c->tls, GNUTLS_CRD_CERTIFICATE, w->cred) < 0) {
			conn_free(c);
			return;
		}
		gnutls_transport_set_int(c->tls, fd);
		c->state = C_TLS_HANDSHAKE;
	}
	log_debug("Web connection from %s", c->peer);
	w->conns[slot] = c;
}

/* Accepts one plain RFB connection. */
static void dweb_accept_rfb(struct dweb *w)
{
	struct sockaddr_storage sa;
	socklen_t len = sizeof(sa);
	char peer[80];
	int fd;

	fd = accept4(w->rfb_fd, (struct sockaddr *)&sa, &len, SOCK_CLOEXEC);
	if (fd < 0)
		return;
	dweb_make_room(w);
	if (drfb_clients(w->rfb) >= DWEB_MAX_CONNS) {
		log_notice("Too many connections, refusing one");
		close(fd);
		return;
	}
	display_format_peer(&sa, peer, sizeof(peer));
	drfb_add_client(w->rfb, fd, peer, "rfb");
}

size_t dweb_pollfds(struct dweb *w, struct pollfd *p, size_t max)
{
	size_t n = 0;

	if (max < 2 + 2 * DWEB_MAX_CONNS)
		return 0;
	p[n] = (struct pollfd){.fd = w->web_fd, .events = POLLIN};
	w->poll_conn[n++] = -1;
	p[n] = (struct pollfd){.fd = w->rfb_fd, .events = POLLIN};
	w->poll_conn[n++] = -2;
	for (int i = 0; i < DWEB_MAX_CONNS; i++) {
		struct conn *c = w->conns[i];
		short ev = POLLIN;

		if (!c)
			continue;
		if (c->out.len > 0 ||
		    (c->state == C_TLS_HANDSHAKE && gnutls_record_get_direction(c->tls) == 1))
			ev |= POLLOUT;
		p[n] = (struct pollfd){.fd = c->fd, .events = ev};
		w->poll_conn[n] = i;
		w->poll_pair[n++] = 0;
		if (c->term) {
			int fd = dterm_poll(c->term, c->out.len < OUT_HIGH_WATER && !c->closing, &ev);
			if (fd >= 0) {
				p[n] = (struct pollfd){.fd = fd, .events = ev};
				w->poll_conn[n] = i;
				w->poll_pair[n++] = 1;
			}
		} else if (c->pair >= 0) {
			ev = 0;
			if (c->out.len < OUT_HIGH_WATER)
				ev |= POLLIN;
			if (c->to_rfb.len > 0)
				ev |= POLLOUT;
			p[n] = (struct pollfd){.fd = c->pair, .events = ev};
			w->poll_conn[n] = i;
			w->poll_pair[n++] = 1;
		}
	}
	return n;
}

void dweb_dispatch(struct dweb *w, const struct pollfd *p, size_t n)
{
	short ev_fd[DWEB_MAX_CONNS] = {0}, ev_pair[DWEB_MAX_CONNS] = {0};

	for (size_t i = 0; i < n; i++) {
		if (!p[i].revents)
			continue;
		if (w->poll_conn[i] == -1)
			dweb_accept_web(w);
		else if (w->poll_conn[i] == -2)
			dweb_accept_rfb(w);
		else if (w->poll_pair[i])
			ev_pair[w->poll_conn[i]] = p[i].revents;
		else
			ev_fd[w->poll_conn[i]] = p[i].revents;
	}
	for (int i = 0; i < DWEB_MAX_CONNS; i++) {
		struct conn *c = w->conns[i];
		if (!c || (!ev_fd[i] && !ev_pair[i]))
			continue;
		conn_step(w, c, ev_fd[i], ev_pair[i]);
		if (c->dead) {
			log_debug("Web connection from %s closed", c->peer);
			conn_free(c);
			w->conns[i] = NULL;
		}
	}
}

/* Loads the certificate chain and key (the key through read_secret). */
static int dweb_load_tls(struct dweb *w, const char *cert_file, const char *key_file)
{
	_cleanup_free_ char *cert = NULL;
	_cleanup_secret_ char *key = NULL;
	const char *why = NULL;
	size_t cert_size;
	int r;

	r = read_file(cert_file, 1024 * 1024, &cert, &cert_size);
	if (r < 0)
		return log_error_errno(r, "Cannot read display.tls_cert_file %s: %m", cert_file);
	r = read_secret(key_file, &key, &why);
	if (r < 0)
		return log_error_errno(r, "Cannot read display.tls_key_file %s: %s", key_file,
				       strempty(why));
	if (gnutls_certificate_allocate_credentials(&w->cred) < 0)
		return -ENOMEM;
	r = gnutls_certificate_set_x509_key_mem2(
		w->cred, &(gnutls_datum_t){(unsigned char *)cert, (unsigned)cert_size},
		&(gnutls_datum_t){(unsigned char *)key, (unsigned)strlen(key)},
		GNUTLS_X509_FMT_PEM, NULL, 0);
	if (r < 0) {
		log_error("Cannot use display.tls_cert_file/tls_key_file: %s",
			  gnutls_strerror(r));
		return -EINVAL;
	}
	return 0;
}

int dweb_new(const struct dweb_options *o, struct drfb *rfb, struct dweb **ret)
{
	struct dweb *w = xcalloc(1, sizeof(*w));
	int r;

	w->rfb = rfb;
	w->web_fd = w->rfb_fd = w->dir_fd = -1;
	w->listen = xstrdup(o->web_addr);
	w->allowed_hosts = o->allowed_hosts;
	w->term_cfg = o->terminal;
	w->term_dir_fd = -1;
	if (o->terminal) {
		w->term_dir_fd = open(o->terminal_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (w->term_dir_fd < 0)
			log_warning_errno(errno, "Cannot open display.terminal_dir %s, serving no "
						 "terminal page: %m",
					  o->terminal_dir);
	}
	w->dir_fd = open(o->novnc_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (w->dir_fd < 0)
		log_warning_errno(errno, "Cannot open display.novnc_dir %s, serving no files: %m",
				  o->novnc_dir);
	if (o->tls_cert_file) {
		r = dweb_load_tls(w, o->tls_cert_file, o->tls_key_file);
		if (r < 0)
			goto fail;
	}
	w->web_fd = display_listen(o->web_addr, o->web_port);
	if (w->web_fd < 0) {
		r = log_error_errno(w->web_fd, "Cannot listen on %s port %d: %m", o->web_addr,
				    o->web_port);
		goto fail;
	}
	w->rfb_fd = display_listen(o->rfb_addr, o->rfb_port);
	if (w->rfb_fd < 0) {
		r = log_error_errno(w->rfb_fd, "Cannot listen on %s port %d: %m", o->rfb_addr,
				    o->rfb_port);
		goto fail;
	}
	*ret = w;
	return 0;
fail:
	dweb_free(w);
	return r;
}

struct dweb *dweb_free(struct dweb *w)
{
	if (!w)
		return NULL;
	for (int i = 0; i < DWEB_MAX_CONNS; i++)
		conn_free(w->conns[i]);
	if (w->web_fd >= 0)
		close(w->web_fd);
	if (w->rfb_fd >= 0)
		close(w->rfb_fd);
	if (w->dir_fd >= 0)
		close(w->dir_fd);
	if (w->term_dir_fd >= 0)
		close(w->term_dir_fd);
	if (w->cred)
		gnutls_certificate_free_credentials(w->cred);
	free(w->listen);
	free(w);
	return NULL;
}
