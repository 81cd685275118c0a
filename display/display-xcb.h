/* The X side of agentbox-display: one xcb connection that reads the screen
 * (MIT-SHM GetImage into a memfd segment, plain GetImage as fallback),
 * learns what changed from DAMAGE, follows the cursor shape (XFIXES), the
 * root window's size and the CLIPBOARD selection, and injects input with
 * XTEST (display-input.c).
 *
 * Threads: the main thread owns events and reads; the libvncserver client
 * threads call dx_key(), dx_pointer() and dx_set_clipboard(), which only
 * send requests (libxcb is thread-safe) and take dx->lock for shared state. */
#ifndef AGENTBOX_DISPLAY_XCB_H
#define AGENTBOX_DISPLAY_XCB_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <xcb/xcb.h>

#include "time-util.h"

struct dx {
	xcb_connection_t *conn;
	xcb_window_t root;
	xcb_window_t win; /* ours: selection owner and requestor */
	int width, height;
	uint8_t damage_event, xfixes_event;

	/* screen reading */
	int shm_ok;
	uint32_t shmseg;
	uint8_t *shm_data;
	size_t shm_size;

	/* atoms */
	xcb_atom_t a_clipboard, a_utf8, a_targets, a_prop, a_text, a_incr;

	/* set by dx_process_events(), cleared by the caller */
	int damaged; /* dx_damage_take() has something */
	int cursor_changed;
	int resized;
	char *clip_in; /* text the X clipboard now holds, for the clients */
	size_t clip_in_len;

	void *damage_region; /* sraRegion*; main thread only */
	xcb_generic_event_t *queued; /* taken by dx_has_queued(), not yet handled */

	pthread_mutex_t lock; /* guards what follows */
	char *clip_out;      /* text a client gave us; we own CLIPBOARD */
	size_t clip_out_len;
	xcb_keycode_t min_keycode, max_keycode;
	uint8_t keysyms_per_keycode;
	uint32_t *keymap; /* (max - min + 1) * keysyms_per_keycode */
	uint8_t keys_down[32]; /* bit per keycode we pressed */
	int spare_next; /* round-robin among keycodes we remap */
	int buttons;    /* last RFB button mask */
};

/* Connects to display name; while the server is not there yet, retries
 * every 200 ms for at most wait (USEC_INFINITY: forever). Returns 0 or
 * -errno (-ETIMEDOUT, -ENOTSUP when an extension is missing). */
int dx_connect(const char *name, usec_t wait, struct dx **ret);
struct dx *dx_free(struct dx *dx);

/* The fd to poll for X events. */
int dx_fd(struct dx *dx);

/* Handles every queued event. Returns 0, or -EPIPE when the server went. */
int dx_process_events(struct dx *dx);

/* Non-zero when xcb already holds an event (read while waiting for a
 * reply): poll() on dx_fd() would not wake for it. */
int dx_has_queued(struct dx *dx);

/* Moves the accumulated damage into *region (an sraRegion*, or-ed in). */
void dx_damage_take(struct dx *dx, void *region);

/* Copies rectangle x,y,w,h of the screen into fb (stride bytes a row,
 * 4 bytes a pixel); when a shared memory read fails, drops MIT-SHM and
 * reads with plain GetImage from then on. Returns 0 or -errno. */
int dx_read(struct dx *dx, int x, int y, int w, int h, uint8_t *fb, size_t stride);

/* Reads the cursor image: ARGB, premultiplied, w*h pixels. */
int dx_cursor(struct dx *dx, int *ret_w, int *ret_h, int *ret_xhot, int *ret_yhot,
	      uint32_t **ret_argb);

/* Takes the CLIPBOARD (and PRIMARY) selection with this UTF-8 text. */
void dx_set_clipboard(struct dx *dx, const char *utf8, size_t len);

/* Input (display-input.c). */
int dx_input_init(struct dx *dx);
void dx_key(struct dx *dx, int down, uint32_t keysym);
void dx_pointer(struct dx *dx, int mask, int x, int y);
/* Releases every key we hold down (when a client goes). */
void dx_release_keys(struct dx *dx);
/* Re-reads the keyboard mapping (on MappingNotify). */
int dx_refresh_keymap(struct dx *dx);

#endif
