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

#include "display-auth.h"
#include "display-conf.h"
#include "display-rfb.h"
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

struct dweb_conn {
	int fd;
	int pair; /* the fd a WebSocket is bridged to (RFB socketpair, ...); -1 before */
	enum conn_state state;
	gnutls_session_t tls;
	size_t tls_pending; /* bytes of a gnutls_record_send that said EAGAIN */
	struct buf in, out, to_rfb;
	int closing; /* close once out is sent */
	int dead;
	uint64_t serial; /* order of acceptance */
	usec_t since;    /* accepted, or its last HTTP request (CLOCK_MONOTONIC) */
	char peer[80];
	char client[64];  /* its rate-limit key (dauth_client_key) */
	uint64_t session; /* a WebSocket's login session (0: none needed) */
	const struct dweb_ws_ops *ws_ops;
	void *ws_user;
	int msg_text;     /* the message being received is text for ws_ops->text */
	struct buf text;  /* its frames so far */
};

struct dweb {
	struct drfb *rfb;
	int web_fd, rfb_fd;
	int dir_fd;
	char *listen;               /* the web port's address */
	char *const *allowed_hosts; /* the config's */
	struct dauth *auth;         /* NULL: no login */
	gnutls_certificate_credentials_t cred;
	struct dweb_conn *conns[DWEB_MAX_CONNS];
	uint64_t next_serial;
	/* what each pollfd of the last dweb_pollfds() was: conn index, or -1/-2 for
	 * the listeners; and whether it was the pair fd */
	int poll_conn[2 + 2 * DWEB_MAX_CONNS];
	int poll_pair[2 + 2 * DWEB_MAX_CONNS];
	struct dweb_route routes[DWEB_MAX_ROUTES];
	size_t n_routes;
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

static void conn_free(struct dweb_conn *c)
{
	if (!c)
		return;
	if (c->tls)
		gnutls_deinit(c->tls);
	if (c->fd >= 0)
		close(c->fd);
	if (c->pair >= 0)
		close(c->pair);
	if (c->ws_ops && c->ws_ops->closed)
		c->ws_ops->closed(c->ws_user);
	free(c->text.data);
	free(c->in.data);
	free(c->out.data);
	free(c->to_rfb.data);
	free(c);
}

/* Reads what is there into c->in. Returns >0 bytes, 0 nothing now,
 * -EPIPE at end of stream or error. */
static ssize_t conn_read(struct dweb_conn *c)
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
static int conn_write(struct dweb_conn *c)
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

static const char *http_reason(int code)
{
	switch (code) {
	case 200: return "OK";
	case 303: return "See Other";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 426: return "Upgrade Required";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	default: return "Internal Server Error";
	}
}

/* Queues a response head and body. No page of ours may be framed by
 * another (clickjacking a screen that takes clicks). */
static void http_respond(struct dweb_conn *c, int code, const char *type, const void *body,
			 size_t len, int head_only, int keep_alive, const char *extra)
{
	_cleanup_free_ char *h = xasprintf("HTTP/1.1 %d %s\r\n"
					   "Content-Type: %s\r\n"
					   "Content-Length: %zu\r\n"
					   "Cache-Control: no-cache\r\n"
					   "X-Content-Type-Options: nosniff\r\n"
					   "X-Frame-Options: DENY\r\n"
					   "%s"
					   "Connection: %s\r\n\r\n",
					   code, http_reason(code), type, len, strempty(extra),
					   keep_alive ? "keep-alive" : "close");

	buf_append(&c->out, h, strlen(h));
	if (body && !head_only)
		buf_append(&c->out, body, len);
	if (!keep_alive)
		c->closing = 1;
}

void dweb_respond(struct dweb_conn *c, const struct dweb_request *r, int code, const char *type,
		  const void *body, size_t len, const char *extra_headers)
{
	http_respond(c, code, type, body, len, r->head, r->keep_alive, extra_headers);
}

int dweb_error(struct dweb_conn *c, int code)
{
	_cleanup_free_ char *body = xasprintf("%d %s\n", code, http_reason(code));

	http_respond(c, code, "text/plain; charset=utf-8", body, strlen(body), 0, 0, NULL);
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

/* Percent-encodes everything but unreserved characters and '/'. */
static char *url_encode(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	char *out = xmalloc(strlen(s) * 3 + 1), *q = out;

	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr("-._~/", *p))
			*q++ = (char)*p;
		else {
			*q++ = '%';
			*q++ = hex[*p >> 4];
			*q++ = hex[*p & 15];
		}
	}
	*q = 0;
	return out;
}

static int hex_digit(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	ch = (char)(ch | 0x20);
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;
}

char *http_form_value(const char *form, const char *name)
{
	const size_t l = strlen(name);

	for (const char *p = form; p && *p; p = strchr(p, '&') ? strchr(p, '&') + 1 : NULL) {
		size_t n = strcspn(p, "&");
		char *v, *q;

		if (n < l + 1 || strncmp(p, name, l) != 0 || p[l] != '=')
			continue;
		v = q = xmalloc(n - l);
		for (const char *i = p + l + 1; i < p + n; i++) {
			int hi, lo;

			if (*i == '+')
				*q++ = ' ';
			else if (*i != '%')
				*q++ = *i;
			else if (i + 2 < p + n && (hi = hex_digit(i[1])) >= 0 &&
				 (lo = hex_digit(i[2])) >= 0 && (hi || lo)) {
				*q++ = (char)(hi << 4 | lo);
				i += 2;
			} else {
				explicit_bzero(v, n - l);
				free(v);
				return NULL;
			}
		}
		*q = 0;
		return v;
	}
	return NULL;
}

int http_local_path(const char *target)
{
	/* "/x", never "//host" or "/\host" (browsers read both as another site) */
	if (!target || target[0] != '/' || target[1] == '/' || target[1] == '\\' ||
	    strlen(target) > 1024)
		return 0;
	for (const char *p = target; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f || strchr("\"<>\\'", *p))
			return 0;
	return 1;
}

int dweb_ws_accept(struct dweb_conn *c, const struct dweb_request *r, int fd,
		   const char *protocol, const struct dweb_ws_ops *ops, void *userdata)
{
	_cleanup_free_ char *key = http_header(r->headers, "Sec-WebSocket-Key"),
			    *protocols = http_header(r->headers, "Sec-WebSocket-Protocol"),
			    *resp = NULL;
	char accept[WS_ACCEPT_SIZE];

	if (ws_accept_key(key, accept) < 0 ||
	    (protocols && protocol && !has_token(protocols, protocol))) {
		if (fd >= 0)
			close(fd);
		if (ops && ops->closed)
			ops->closed(userdata);
		dweb_error(c, 400);
		return -EINVAL;
	}
	if (fd >= 0)
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	resp = xasprintf("HTTP/1.1 101 Switching Protocols\r\n"
			 "Upgrade: websocket\r\n"
			 "Connection: Upgrade\r\n"
			 "Sec-WebSocket-Accept: %s\r\n"
			 "%s%s%s\r\n",
			 accept, protocols && protocol ? "Sec-WebSocket-Protocol: " : "",
			 protocols && protocol ? protocol : "", protocols && protocol ? "\r\n" : "");
	buf_append(&c->out, resp, strlen(resp));
	c->pair = fd;
	c->state = C_WS;
	c->ws_ops = ops;
	c->ws_user = userdata;
	return 0;
}

/* The noVNC WebSocket: bridged to a new libvncserver client. */
static int route_websockify(struct dweb *w, struct dweb_conn *c, const struct dweb_request *r,
			    void *userdata)
{
	int sv[2], k;

	(void)userdata;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		k = -errno;
		log_warning_errno(k, "socketpair: %m");
		dweb_error(c, 503);
		return k;
	}
	/* noVNC offers "binary" (base64 is not spoken) */
	k = dweb_ws_accept(c, r, sv[0], "binary", NULL, NULL);
	if (k < 0) {
		close(sv[1]);
		return k;
	}
	drfb_add_client(w->rfb, sv[1], c->peer, "websocket");
	return 0;
}

int dweb_serve_file(struct dweb_conn *c, const struct dweb_request *r, int dir_fd,
		    const char *target)
{
	_cleanup_free_ char *rel = http_path(target), *data = NULL;
	_cleanup_close_ int fd = -1;
	struct stat st;
	size_t size = 0;

	if (!rel || dir_fd < 0)
		return dweb_error(c, 404);
	fd = openat(dir_fd, rel, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > HTTP_MAX_FILE)
		return dweb_error(c, 404);
	data = xmalloc((size_t)st.st_size + 1);
	while (size < (size_t)st.st_size) {
		ssize_t n = read(fd, data + size, (size_t)st.st_size - size);
		if (n <= 0)
			return dweb_error(c, 500);
		size += (size_t)n;
	}
	dweb_respond(c, r, 200, content_type(rel), data, size, NULL);
	return 0;
}

/* noVNC's files (display.novnc_dir). */
static int route_file(struct dweb *w, struct dweb_conn *c, const struct dweb_request *r,
		      void *userdata)
{
	(void)userdata;
	return dweb_serve_file(c, r, w->dir_fd, r->target);
}

/* The Content-Length of a request head: 0 without one, -EINVAL when
 * malformed or chunked, -EMSGSIZE over DWEB_MAX_BODY. */
static ssize_t http_body_length(const char *req)
{
	_cleanup_free_ char *te = http_header(req, "Transfer-Encoding"),
			    *cl = http_header(req, "Content-Length");
	size_t n = 0;

	if (te)
		return -EINVAL;
	if (!cl)
		return 0;
	if (!*cl || strspn(cl, "0123456789") != strlen(cl))
		return -EINVAL;
	for (const char *p = cl; *p; p++) {
		n = n * 10 + (size_t)(*p - '0');
		if (n > DWEB_MAX_BODY)
			return -EMSGSIZE;
	}
	return (ssize_t)n;
}

/* The first row of the table whose path and method match; NULL for
 * none, with *ret_other set when a row has the path but another method. */
static const struct dweb_route *dweb_find_route(const struct dweb *w, const char *path,
						const char *method, int *ret_other)
{
	const int head = streq(method, "HEAD");

	*ret_other = 0;
	for (size_t i = 0; i < w->n_routes; i++) {
		const struct dweb_route *rt = &w->routes[i];

		if (!(rt->flags & DWEB_ROUTE_PREFIX ? startswith(path, rt->path)
						    : streq(path, rt->path)))
			continue;
		if (streq(method, rt->method) || (head && streq(rt->method, "GET")))
			return rt;
		*ret_other = 1;
	}
	return NULL;
}

/* A request without a valid session for a route that needs one: a page
 * goes to the login page (which comes back to it), the rest gets 401. */
static int dweb_deny(struct dweb_conn *c, const struct dweb_request *r, int websocket)
{
	_cleanup_free_ char *next = NULL, *location = NULL;

	if (websocket || (!streq(r->method, "GET") && !r->head))
		return dweb_error(c, 401);
	next = url_encode(r->target);
	location = xasprintf("Location: /login?next=%s\r\n", next);
	dweb_respond(c, r, 303, "text/plain; charset=utf-8", "", 0, location);
	return 0;
}

/* Answers one request (head in req, body after it) through the route table. */
static int http_dispatch(struct dweb *w, struct dweb_conn *c, struct dweb_request *r)
{
	_cleanup_free_ char *upgrade = http_header(r->headers, "Upgrade"),
			    *origin = http_header(r->headers, "Origin"),
			    *version = http_header(r->headers, "Sec-WebSocket-Version");
	const int websocket = upgrade && strcasecmp(upgrade, "websocket") == 0;
	const struct dweb_route *rt;
	uint64_t session = 0;
	int other, k;

	rt = dweb_find_route(w, r->path, r->method, &other);
	if (!rt)
		return dweb_error(c, other ? 405 : 404);
	/* before anything else about it: no session, no route */
	if (w->auth && !(rt->flags & DWEB_ROUTE_PUBLIC)) {
		_cleanup_free_ char *cookie = http_header(r->headers, "Cookie");

		session = dauth_session_find(w->auth, cookie, now_usec(CLOCK_MONOTONIC));
		if (!session)
			return dweb_deny(c, r, websocket);
	}
	if (!!(rt->flags & DWEB_ROUTE_WEBSOCKET) != websocket)
		return dweb_error(c, websocket ? 400 : 426);
	if (websocket && (!version || !streq(version, "13")))
		return dweb_error(c, 400);
	/* a page of another site may make the browser send these two */
	if ((websocket || streq(r->method, "POST")) && !origin_ok(origin, r->host)) {
		log_notice("Refused a %s from %s: Origin %s is not %s",
			   websocket ? "WebSocket" : "POST", c->peer, origin, r->host);
		return dweb_error(c, 403);
	}
	k = rt->handle(w, c, r, rt->userdata);
	/* a WebSocket lives as long as the session it came with */
	if (c->state == C_WS)
		c->session = session;
	return k;
}

/* Handles every complete request in c->in. */
static int http_process(struct dweb *w, struct dweb_conn *c)
{
	while (c->state == C_HTTP && !c->closing) {
		uint8_t *end = c->in.len ? memmem(c->in.data, c->in.len, "\r\n\r\n", 4) : NULL;
		_cleanup_free_ char *req = NULL, *connection = NULL, *host = NULL, *path = NULL,
				    *body = NULL;
		char method[8], target[2048], proto[16];
		struct dweb_request r;
		ssize_t body_len;
		size_t hlen;

		if (!end) {
			if (c->in.len > HTTP_MAX_HEADER)
				return dweb_error(c, 431);
			return 0;
		}
		hlen = (size_t)(end - c->in.data) + 4;
		/* the same limit as for a header still coming */
		if (hlen > HTTP_MAX_HEADER)
			return dweb_error(c, 431);
		req = strndup((char *)c->in.data, hlen);
		if (!req || sscanf(req, "%7s %2047s %15s", method, target, proto) != 3 ||
		    !startswith(proto, "HTTP/1."))
			return dweb_error(c, 400);
		body_len = http_body_length(req);
		if (body_len < 0)
			return dweb_error(c, body_len == -EMSGSIZE ? 413 : 411);
		if (c->in.len < hlen + (size_t)body_len)
			return 0; /* the body is still coming (within the deadline) */
		body = strndup((char *)c->in.data + hlen, (size_t)body_len);
		buf_consume(&c->in, hlen + (size_t)body_len);
		c->since = now_usec(CLOCK_MONOTONIC);
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
			return dweb_error(c, 403);
		}
		connection = http_header(req, "Connection");
		path = strndup(target, strcspn(target, "?#"));
		r = (struct dweb_request){
			.method = method,
			.target = target,
			.path = path,
			.headers = req,
			.host = host,
			.peer = c->peer,
			.body = body,
			.body_len = (size_t)body_len,
			.head = streq(method, "HEAD"),
			.keep_alive = streq(proto, "HTTP/1.1") ? !has_token(connection, "close")
							       : has_token(connection, "keep-alive"),
		};
		if (!path || !body)
			return dweb_error(c, 500);
		http_dispatch(w, c, &r);
		/* a login's body holds the password: no copy stays behind */
		explicit_bzero(body, (size_t)body_len);
		if (c->in.data)
			explicit_bzero(c->in.data + c->in.len, MIN(c->in.cap - c->in.len,
								   hlen + (size_t)body_len));
	}
	return 0;
}

/* Queues a server frame. */
static void ws_send(struct dweb_conn *c, int opcode, const void *p, size_t n)
{
	uint8_t h[10];

	buf_append(&c->out, h, ws_build_header(h, opcode, n));
	if (n)
		buf_append(&c->out, p, n);
}

/* Closes c after a handler's -errno: code is the close status. */
static void ws_fail(struct dweb_conn *c, unsigned code)
{
	const char status[2] = {(char)(code >> 8), (char)(code & 0xff)};

	ws_send(c, WS_OP_CLOSE, status, 2);
	c->closing = 1;
}

/* Handles every complete frame in c->in. */
static void ws_process(struct dweb_conn *c)
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
			if (f.opcode != WS_OP_CONT)
				c->msg_text = f.opcode == WS_OP_TEXT && c->ws_ops && c->ws_ops->text;
			if (!c->msg_text && c->ws_ops && c->ws_ops->binary) {
				int k = c->ws_ops->binary(c->ws_user, payload, (size_t)f.length);
				if (k < 0) {
					ws_fail(c, k == -ENOBUFS ? 1009 : 1003);
					return;
				}
				break;
			}
			if (!c->msg_text) {
				buf_append(&c->to_rfb, payload, (size_t)f.length);
				break;
			}
			/* a text message for the handler: whole, and bounded */
			if (c->text.len + f.length > WS_MAX_FRAME) {
				ws_send(c, WS_OP_CLOSE, "\x03\xf1", 2);
				c->closing = 1;
				return;
			}
			buf_append(&c->text, payload, (size_t)f.length);
			if (f.fin) {
				int k;

				buf_append(&c->text, "", 1);
				k = c->ws_ops->text(c->ws_user, (char *)c->text.data, c->text.len - 1);
				c->text.len = 0;
				if (k < 0) {
					ws_fail(c, k == -EBADMSG ? 1003 : 1011);
					return;
				}
			}
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

void dweb_ws_send_text(struct dweb_conn *c, const char *text)
{
	dweb_ws_send(c, WS_OP_TEXT, text, strlen(text));
}

void dweb_ws_send(struct dweb_conn *c, int opcode, const void *p, size_t n)
{
	if (c->state == C_WS && !c->closing)
		ws_send(c, opcode, p, n);
}

/* Is c's bridge pumped by its handler (ops->poll, ->step) instead of an fd? */
static int ws_pumped(const struct dweb_conn *c)
{
	return c->state == C_WS && c->ws_ops && c->ws_ops->step;
}

/* Moves RFB bytes from libvncserver into frames, as long as the client keeps up. */
static void ws_pump_from_rfb(struct dweb_conn *c)
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

static void ws_pump_to_rfb(struct dweb_conn *c)
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
static void tls_handshake(struct dweb_conn *c)
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
static void conn_step(struct dweb *w, struct dweb_conn *c, short ev_fd, short ev_pair)
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
	if (ws_pumped(c)) {
		ws_process(c);
		if (!c->closing &&
		    c->ws_ops->step(c->ws_user, c, ev_pair, c->out.len < OUT_HIGH_WATER) < 0)
			ws_fail(c, 1011);
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
		struct dweb_conn *c = w->conns[i];

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
		struct dweb_conn *c = w->conns[i];

		if (c && c->state == C_WS && c->session &&
		    !dauth_session_alive(w->auth, c->session, now)) {
			log_info("Closing the WebSocket of %s: its session ended", c->peer);
			conn_free(c);
			w->conns[i] = NULL;
			continue;
		}
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
	/* an open WebSocket closes when its session expires, also while
	 * nothing moves: wake up then, not before */
	if (w->auth) {
		usec_t next = USEC_INFINITY, now = now_usec(CLOCK_MONOTONIC);

		for (int i = 0; i < DWEB_MAX_CONNS; i++)
			if (w->conns[i] && w->conns[i]->session)
				next = MIN(next, dauth_session_expiry(w->auth, w->conns[i]->session));
		if (next != USEC_INFINITY)
			return next <= now ? 0 : (int)MIN((next - now) / USEC_PER_MSEC + 1, 3600000);
	}
	return -1;
}

/* Accepts one connection on the web port. */
static void dweb_accept_web(struct dweb *w)
{
	struct sockaddr_storage sa;
	socklen_t len = sizeof(sa);
	struct dweb_conn *c;
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
	dauth_client_key(&sa, c->client, sizeof(c->client));
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
		struct dweb_conn *c = w->conns[i];
		short ev = POLLIN;

		if (!c)
			continue;
		if (c->out.len > 0 ||
		    (c->state == C_TLS_HANDSHAKE && gnutls_record_get_direction(c->tls) == 1))
			ev |= POLLOUT;
		p[n] = (struct pollfd){.fd = c->fd, .events = ev};
		w->poll_conn[n] = i;
		w->poll_pair[n++] = 0;
		if (ws_pumped(c)) {
			int fd = c->ws_ops->poll(c->ws_user,
						 c->out.len < OUT_HIGH_WATER && !c->closing, &ev);
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
		struct dweb_conn *c = w->conns[i];
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

/* A path that passed http_local_path() as an HTML attribute value: only
 * '&' is left to escape (it has no quotes or angle brackets). */
static char *html_attr(const char *path)
{
	char *out = xmalloc(strlen(path) * 5 + 1), *q = out;

	for (const char *p = path; *p; p++) {
		if (*p == '&') {
			memcpy(q, "&amp;", 5);
			q += 5;
		} else
			*q++ = *p;
	}
	*q = 0;
	return out;
}

/* The login page; message (plain text, ours) above the form. */
static int login_page(struct dweb_conn *c, const struct dweb_request *r, int code,
		      const char *message, const char *next_path, const char *extra)
{
	_cleanup_free_ char *body = NULL, *headers = NULL, *next = html_attr(next_path);

	body = xasprintf(
		"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
		"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
		"<title>agentbox: sign in</title>\n<style>\n"
		"body{font-family:sans-serif;background:#1d2330;color:#e8e8e8;margin:0;"
		"display:flex;justify-content:center;align-items:center;min-height:100vh}\n"
		"form{background:#2b3345;padding:1.5em 2em;border-radius:8px;width:18em}\n"
		"input,button{font-size:1.1em;width:100%%;box-sizing:border-box;margin:.4em 0;"
		"padding:.4em}\n#msg{color:#ff9d8a;min-height:1.2em}\n</style></head><body>\n"
		"<form method=\"post\" action=\"/login\">\n<h1>agentbox</h1>\n"
		"<p id=\"msg\">%s</p>\n<label for=\"password\">Password</label>\n"
		"<input type=\"password\" id=\"password\" name=\"password\" "
		"autocomplete=\"current-password\" autofocus required>\n"
		"<input type=\"hidden\" name=\"next\" value=\"%s\">\n"
		"<button type=\"submit\">Sign in</button>\n</form></body></html>\n",
		message, next);
	headers = xasprintf("Content-Security-Policy: default-src 'none'; style-src "
			    "'unsafe-inline'; form-action 'self'; frame-ancestors 'none'\r\n"
			    "Referrer-Policy: same-origin\r\n%s",
			    strempty(extra));
	dweb_respond(c, r, code, "text/html; charset=utf-8", body, strlen(body), headers);
	return 0;
}

/* Where a login goes next: the form's (or query's) next if it is a path
 * of ours, else the screen. */
static char *login_next(const char *form)
{
	_cleanup_free_ char *next = form ? http_form_value(form, "next") : NULL;

	return http_local_path(next) ? TAKE_PTR(next) : xstrdup("/vnc.html");
}

/* GET /login: the form, or a sign-out button for a browser signed in. */
static int route_login_page(struct dweb *w, struct dweb_conn *c, const struct dweb_request *r,
			    void *userdata)
{
	_cleanup_free_ char *cookie = NULL, *next = NULL, *body = NULL, *href = NULL;
	const char *query = strchr(r->target, '?');

	(void)userdata;
	if (!w->auth)
		return dweb_error(c, 404);
	next = login_next(query ? query + 1 : NULL);
	cookie = http_header(r->headers, "Cookie");
	if (!dauth_session_find(w->auth, cookie, now_usec(CLOCK_MONOTONIC)))
		return login_page(c, r, 200, "", next, NULL);
	href = html_attr(next);
	body = xasprintf("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
			 "<title>agentbox</title></head><body>\n<p>Signed in. "
			 "<a href=\"%s\">Open</a></p>\n"
			 "<form method=\"post\" action=\"/logout\"><button type=\"submit\">"
			 "Sign out</button></form>\n</body></html>\n",
			 href);
	dweb_respond(c, r, 200, "text/html; charset=utf-8", body, strlen(body),
		     "Content-Security-Policy: default-src 'none'; form-action 'self'; "
		     "frame-ancestors 'none'\r\n");
	return 0;
}

#define COOKIE_FLAGS "Path=/; HttpOnly; Secure; SameSite=Strict"

/* POST /login (password=...&next=...): a session cookie, or the form again. */
static int route_login(struct dweb *w, struct dweb_conn *c, const struct dweb_request *r,
		       void *userdata)
{
	_cleanup_secret_ char *password = NULL;
	_cleanup_free_ char *next = NULL, *headers = NULL, *message = NULL;
	char token[DAUTH_TOKEN_SIZE];
	uint64_t session = 0;
	usec_t retry = 0;
	unsigned failures = 0;
	int k;

	(void)userdata;
	if (!w->auth)
		return dweb_error(c, 404);
	next = login_next(r->body);
	password = http_form_value(r->body, "password");
	if (!password)
		return login_page(c, r, 400, "Type the password.", next, NULL);
	k = dauth_login(w->auth, c->client, password, strlen(password),
			now_usec(CLOCK_MONOTONIC), token, &session, &retry, &failures);
	if (k == -EBUSY) {
		unsigned s = (unsigned)((retry + USEC_PER_SEC - 1) / USEC_PER_SEC);

		log_notice("Refused a web login from %s without checking it: %u wrong passwords "
			   "from %s, locked for %u s more",
			   c->peer, failures, c->client, s);
		message = xasprintf("Too many wrong passwords: try again in %u s.", s);
		headers = xasprintf("Retry-After: %u\r\n", s);
		return login_page(c, r, 429, message, next, headers);
	}
	if (k < 0) {
		unsigned s = (unsigned)((retry + USEC_PER_SEC - 1) / USEC_PER_SEC);

		if (s)
			log_notice("Wrong web password from %s (%u in a row from %s): locked for "
				   "%u s",
				   c->peer, failures, c->client, s);
		else
			log_notice("Wrong web password from %s (%u in a row from %s)", c->peer,
				   failures, c->client);
		return login_page(c, r, 401, "Wrong password.", next, NULL);
	}
	log_info("Web login from %s (session %llu)", c->peer, (unsigned long long)session);
	headers = xasprintf("Location: %s\r\nSet-Cookie: " DAUTH_COOKIE "=%s; Max-Age=%llu; "
			    COOKIE_FLAGS "\r\n",
			    next, token,
			    (unsigned long long)(DAUTH_SESSION_USEC / USEC_PER_SEC));
	explicit_bzero(token, sizeof(token));
	dweb_respond(c, r, 303, "text/plain; charset=utf-8", "", 0, headers);
	explicit_bzero(headers, strlen(headers));
	return 0;
}

/* POST /logout: ends the session (its WebSockets close) and the cookie. */
static int route_logout(struct dweb *w, struct dweb_conn *c, const struct dweb_request *r,
			void *userdata)
{
	_cleanup_free_ char *cookie = http_header(r->headers, "Cookie");
	uint64_t session;

	(void)userdata;
	if (!w->auth)
		return dweb_error(c, 404);
	session = dauth_session_find(w->auth, cookie, now_usec(CLOCK_MONOTONIC));
	if (session) {
		dauth_session_end(w->auth, session);
		log_info("Web logout from %s (session %llu)", c->peer,
			 (unsigned long long)session);
	}
	dweb_respond(c, r, 303, "text/plain; charset=utf-8", "", 0,
		     "Location: /login\r\nSet-Cookie: " DAUTH_COOKIE "=; Max-Age=0; " COOKIE_FLAGS
		     "\r\n");
	return 0;
}

/* The front's own rows; dweb_add_route() puts others before the last,
 * the static files, which take every other path. */
static const struct dweb_route dweb_builtin_routes[] = {
	{"GET", "/login", DWEB_ROUTE_PUBLIC, route_login_page, NULL},
	{"POST", "/login", DWEB_ROUTE_PUBLIC, route_login, NULL},
	{"POST", "/logout", DWEB_ROUTE_PUBLIC, route_logout, NULL},
	{"GET", "/websockify", DWEB_ROUTE_WEBSOCKET, route_websockify, NULL},
	{"GET", "/", DWEB_ROUTE_PREFIX, route_file, NULL},
};

int dweb_add_route(struct dweb *w, const struct dweb_route *route)
{
	if (w->n_routes >= DWEB_MAX_ROUTES)
		return -ENOSPC;
	w->routes[w->n_routes] = w->routes[w->n_routes - 1];
	w->routes[w->n_routes - 1] = *route;
	w->n_routes++;
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
	w->auth = o->auth;
	memcpy(w->routes, dweb_builtin_routes, sizeof(dweb_builtin_routes));
	w->n_routes = ELEMENTSOF(dweb_builtin_routes);
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
	if (w->cred)
		gnutls_certificate_free_credentials(w->cred);
	dauth_free(w->auth);
	free(w->listen);
	free(w);
	return NULL;
}
