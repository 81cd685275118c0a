/* The RFB side: libvncserver 0.9.14 as the encoder library only.
 *
 * We never let libvncserver listen, serve HTTP or speak WebSocket: our
 * own code accepts (display-web.c), keeps every fd below FD_SETSIZE (its
 * select() calls abort under _FORTIFY_SOURCE otherwise) and hands each
 * connection — a TCP socket, or one end of a socketpair bridged to a
 * WebSocket — to drfb_add_client(). Each client then runs in
 * libvncserver's threaded mode (one input and one output thread), so a
 * slow client blocks only itself, and libvncserver sends a client an
 * update only while it has a FramebufferUpdateRequest outstanding. */
#ifndef AGENTBOX_DISPLAY_RFB_H
#define AGENTBOX_DISPLAY_RFB_H

#include <stddef.h>
#include <stdint.h>

#include "time-util.h"

struct dx;
struct drfb;

/* Sets up the screen at the X server's size (black until drfb_read_all());
 * password NULL: no auth (the caller only allows that on loopback). Takes
 * over password. */
int drfb_new(struct dx *dx, char *password, struct drfb **ret);
/* Disconnects every client, waits for their threads (bounded), frees. */
struct drfb *drfb_free(struct drfb *r);

/* Hands a connected socket to libvncserver in a thread of its own (the
 * library's WebSocket sniffing waits 100 ms on every new client). peer
 * and transport ("rfb", "websocket") are for the connect/disconnect log
 * lines. The fd is ours no more, whatever happens. */
void drfb_add_client(struct drfb *r, int fd, const char *peer, const char *transport);

/* Readable (an eventfd; read it to clear) when a client connected. */
int drfb_wake_fd(struct drfb *r);

/* Number of clients handed over and not gone (those dropped by
 * drfb_drop_unauthenticated() no longer count). */
int drfb_clients(struct drfb *r);

/* Clients not past authentication yet (not dropped); *ret_oldest (may be
 * NULL): when the oldest of them was handed over, USEC_INFINITY for none. */
int drfb_unauthenticated(struct drfb *r, usec_t *ret_oldest);

/* Shuts down clients not past authentication that were handed over at
 * older_than or before: all of them, or only the oldest one. Logs each
 * with why. Returns how many. */
int drfb_drop_unauthenticated(struct drfb *r, usec_t older_than, int only_oldest,
			      const char *why);

/* Clients past the handshake and authentication (the ones that take
 * updates). */
int drfb_active_clients(struct drfb *r);

/* Non-zero while a client waits for its first frame: the main thread
 * then calls drfb_read_all(), which that client's first update waits for
 * (at most 2 s), so it never sees what the framebuffer held before. */
int drfb_fresh_wanted(struct drfb *r);

/* Reads the whole X screen into the framebuffer, tells the clients and
 * releases the clients waiting for their first frame. Returns 0 or -errno
 * (the framebuffer then keeps what it had). */
int drfb_read_all(struct drfb *r);

/* Reads the damaged parts of the screen (an sraRegion*, emptied) from X
 * into the framebuffer and tells the clients. Returns 0 or -errno. */
int drfb_update(struct drfb *r, void *region);

/* Follows a new X screen size: new framebuffer read whole from X, clients
 * told. Returns 0, or -errno when the read failed (the size still
 * changed). */
int drfb_resize(struct drfb *r);

/* Reads the X cursor and sends its shape to the clients. */
void drfb_update_cursor(struct drfb *r);

/* Sends the X clipboard text (UTF-8) to every client. */
void drfb_send_clipboard(struct drfb *r, const char *utf8, size_t len);

#endif
