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
 * user's browser. Also accepts plain RFB on the RFB port. */
#ifndef AGENTBOX_DISPLAY_WEB_H
#define AGENTBOX_DISPLAY_WEB_H

#include <poll.h>
#include <stddef.h>

#include "time-util.h"

struct drfb;
struct dterm_config;
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
	const struct dterm_config *terminal; /* NULL: no /terminal; kept, not copied */
	const char *terminal_dir;	     /* the terminal page's files */
};

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
 * waits for authentication. */
int dweb_timeout(struct dweb *w);

#endif
