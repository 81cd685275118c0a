/* The web side: noVNC's static files and the WebSocket↔RFB bridge, on one
 * port, in the main thread's poll loop (libvncserver's own HTTP server
 * serves one connection at a time and its WebSocket code leaks a context
 * per disconnect and ignores ping/pong; we use neither).
 *
 * Each WebSocket client gets a socketpair: one end goes to libvncserver
 * as an ordinary RFB client (drfb_add_client), the other is pumped here
 * to and from WebSocket frames. Optional TLS with GnuTLS (https/wss).
 * A WebSocket whose Origin names another host than the one asked for is
 * refused, so a web page elsewhere cannot drive the screen through the
 * user's browser. With display.web_password_file every route but the
 * login page needs the session cookie a login sets (display-auth.h), so
 * nothing past /login, no WebSocket included, is reached without the
 * password. Also accepts plain RFB on the RFB port. */
#ifndef AGENTBOX_DISPLAY_WEB_H
#define AGENTBOX_DISPLAY_WEB_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

#include "time-util.h"

struct dauth;
struct drfb;
struct dweb;

/* At most this many connections (HTTP, WebSocket and RFB together), so
 * that every fd stays far below FD_SETSIZE. */
#define DWEB_MAX_CONNS 96

/* Connections not past RFB authentication (TLS handshakes, HTTP requests,
 * RFB handshakes over WebSocket or plain RFB) are at most this many at
 * once, the oldest making room for a new one, and each gets at most
 * DWEB_HANDSHAKE_USEC (an idle keep-alive HTTP connection: since its last
 * request). Authenticated clients are never dropped for them and always
 * have the rest of DWEB_MAX_CONNS. */
#define DWEB_MAX_UNAUTH 32
#define DWEB_HANDSHAKE_USEC (30 * USEC_PER_SEC)

struct dweb_options {
	const char *web_addr;
	int web_port;
	const char *rfb_addr;
	int rfb_port;
	const char *novnc_dir;
	const char *tls_cert_file; /* NULL: plain http/ws */
	const char *tls_key_file;
	char *const *allowed_hosts; /* display.allowed_hosts; kept, not copied */
	struct dauth *auth;         /* NULL: no login; else taken over by dweb_new */
};

/* The largest request body taken (a login form); more gets 413. */
#define DWEB_MAX_BODY (8 * 1024)

struct dweb_conn;

/* A request as a route's handler sees it: Host (and, for WebSockets and
 * POSTs, Origin) checked, the session verified when the route needs one. */
struct dweb_request {
	const char *method;  /* "GET", "HEAD" or "POST" as sent */
	const char *target;  /* as sent, with its query */
	const char *path;    /* the target up to '?' or '#', not decoded */
	const char *headers; /* the whole request head; read with http_header() */
	const char *host;    /* the Host header (never NULL) */
	const char *peer;    /* "1.2.3.4:5678" of the client */
	const char *body;    /* the body (Content-Length), NUL-terminated; "" if none */
	size_t body_len;
	int head;       /* HEAD: answer without a body */
	int keep_alive; /* the client keeps the connection */
};

/* Handles a request; answers with dweb_respond() or, on a WebSocket
 * route, dweb_ws_accept(). Returns 0, or -errno after answering. */
typedef int (*dweb_handler_t)(struct dweb *w, struct dweb_conn *c, const struct dweb_request *r,
			      void *userdata);

enum {
	DWEB_ROUTE_PUBLIC = 1 << 0,    /* served without a session (the login page) */
	DWEB_ROUTE_WEBSOCKET = 1 << 1, /* an Upgrade: websocket GET; Origin checked */
	DWEB_ROUTE_PREFIX = 1 << 2,    /* path is a prefix ("/" = anything) */
};

/* A row of the front's dispatch table: method ("GET" answers HEAD too)
 * and path to a handler. Rows are tried in order; the first whose path
 * matches decides (405 if its method does not). */
struct dweb_route {
	const char *method;
	const char *path;
	unsigned flags;
	dweb_handler_t handle;
	void *userdata;
};

/* Adds a route in front of the static files (at most DWEB_MAX_ROUTES in
 * all); the strings must outlive w. Returns 0 or -ENOSPC. */
#define DWEB_MAX_ROUTES 16
int dweb_add_route(struct dweb *w, const struct dweb_route *route);

/* Queues a response: code with its reason, Content-Type type, the body
 * (left out for HEAD), extra_headers (each line ending in "\r\n", or
 * NULL). Closes the connection after it unless r->keep_alive. */
void dweb_respond(struct dweb_conn *c, const struct dweb_request *r, int code, const char *type,
		  const void *body, size_t len, const char *extra_headers);

/* Serves the file that target ("/app/ui.js", query ignored; "/" is
 * vnc.html) names under dir_fd: never "..", hidden files or anything but
 * a regular file of at most 16 MiB (404). Returns 0. */
int dweb_serve_file(struct dweb_conn *c, const struct dweb_request *r, int dir_fd,
		    const char *target);

/* A plain-text error response that closes the connection; returns 0. */
int dweb_error(struct dweb_conn *c, int code);

/* What the front does with a WebSocket's messages besides bridging. */
struct dweb_ws_ops {
	/* A complete text message (NULL: text goes to the fd like binary);
	 * < 0 closes the WebSocket (-EBADMSG: 1003, else 1011). */
	int (*text)(void *userdata, const char *p, size_t n);
	/* The WebSocket closed (fd already closed); userdata is not used again. */
	void (*closed)(void *userdata);

	/* A bridge the handler pumps itself (dweb_ws_accept's fd is -1: the
	 * terminal's exec stream, set up later by a thread). All three or none. */
	/* A binary frame's bytes; < 0 closes (-ENOBUFS: 1009, else 1003). */
	int (*binary)(void *userdata, const uint8_t *p, size_t n);
	/* The fd to poll and its events; out_room: the WebSocket takes more
	 * output now (flow control). -1: nothing to poll. */
	int (*poll)(void *userdata, int out_room, short *ret_events);
	/* After poll (revents of that fd, 0 if it had none): queue output with
	 * dweb_ws_send(). < 0 closes the WebSocket (1011). */
	int (*step)(void *userdata, struct dweb_conn *c, short revents, int out_room);
};

/* Answers the upgrade of r (101, with protocol when the client offered
 * any; 400 if it did not offer that one; protocol NULL: none is chosen)
 * and bridges c to fd: binary
 * messages are written to fd, what fd gives goes out as binary messages
 * (fd -1: ops->binary, ->poll and ->step do it). c owns fd and userdata
 * (ops->closed) from here on, also when this fails. Returns 0 or -errno. */
int dweb_ws_accept(struct dweb_conn *c, const struct dweb_request *r, int fd,
		   const char *protocol, const struct dweb_ws_ops *ops, void *userdata);

/* Queues a text message on a WebSocket c (status lines for a page). */
void dweb_ws_send_text(struct dweb_conn *c, const char *text);
/* Queues a message (WS_OP_TEXT or WS_OP_BINARY) on a WebSocket c. */
void dweb_ws_send(struct dweb_conn *c, int opcode, const void *p, size_t n);

/* Opens the listening sockets and loads TLS credentials. */
int dweb_new(const struct dweb_options *o, struct drfb *rfb, struct dweb **ret);
struct dweb *dweb_free(struct dweb *w);

/* Fills up to max pollfds; returns how many. */
size_t dweb_pollfds(struct dweb *w, struct pollfd *p, size_t max);
/* Handles the results for the pollfds dweb_pollfds() filled. */
void dweb_dispatch(struct dweb *w, const struct pollfd *p, size_t n);

/* Closes the connections that did not authenticate in time. */
void dweb_expire(struct dweb *w, usec_t now);

/* The poll timeout (ms) dweb_expire() needs: -1 while no connection
 * waits for authentication and no WebSocket's session will expire. */
int dweb_timeout(struct dweb *w);

#endif
