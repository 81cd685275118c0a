/* Screen reading, damage, cursor and clipboard over xcb; see display-xcb.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <rfb/rfb.h>
#include <rfb/rfbregion.h>
#include <xcb/damage.h>
#include <xcb/shm.h>
#include <xcb/xcb.h>
#include <xcb/xfixes.h>
#include <xcb/xtest.h>

#include "display-xcb.h"
#include "log.h"
#include "macro.h"

/* Largest clipboard text we take from X or give to it. */
#define DX_CLIP_MAX (1024 * 1024)

/* Interns one atom; XCB_ATOM_NONE on failure. */
static xcb_atom_t dx_atom(xcb_connection_t *c, const char *name)
{
	xcb_intern_atom_reply_t *r =
		xcb_intern_atom_reply(c, xcb_intern_atom(c, 0, (uint16_t)strlen(name), name), NULL);
	xcb_atom_t a = r ? r->atom : XCB_ATOM_NONE;

	free(r);
	return a;
}

/* Drops the shared segment, if any. */
static void dx_shm_close(struct dx *dx)
{
	if (dx->shm_data) {
		xcb_shm_detach(dx->conn, dx->shmseg);
		munmap(dx->shm_data, dx->shm_size);
		dx->shm_data = NULL;
	}
	dx->shm_ok = 0;
}

/* Sets up a memfd segment of the screen's size shared with the server;
 * leaves shm_ok 0 (plain GetImage) when the server cannot attach it. */
static void dx_shm_open(struct dx *dx)
{
	const xcb_query_extension_reply_t *ext = xcb_get_extension_data(dx->conn, &xcb_shm_id);
	xcb_generic_error_t *err;
	_cleanup_close_ int fd = -1;
	size_t size = (size_t)dx->width * (size_t)dx->height * 4;
	void *p;

	dx_shm_close(dx);
	if (!ext || !ext->present)
		return;
	fd = memfd_create("agentbox-display", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, (off_t)size) < 0)
		return;
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return;
	dx->shmseg = xcb_generate_id(dx->conn);
	/* xcb closes the fd once sent */
	err = xcb_request_check(dx->conn,
				xcb_shm_attach_fd_checked(dx->conn, dx->shmseg, TAKE_FD(fd), 0));
	if (err) {
		free(err);
		munmap(p, size);
		log_info("X server cannot attach a shared memory segment, using plain GetImage");
		return;
	}
	dx->shm_data = p;
	dx->shm_size = size;
	dx->shm_ok = 1;
}

/* Asks for the extensions we need; -ENOTSUP naming the missing one. */
static int dx_check_extensions(struct dx *dx)
{
	const xcb_query_extension_reply_t *e;
	xcb_damage_query_version_reply_t *dv;
	xcb_xfixes_query_version_reply_t *fv;

	e = xcb_get_extension_data(dx->conn, &xcb_damage_id);
	if (!e || !e->present)
		return log_error_errno(-ENOTSUP, "X server lacks the DAMAGE extension");
	dx->damage_event = e->first_event;
	e = xcb_get_extension_data(dx->conn, &xcb_xfixes_id);
	if (!e || !e->present)
		return log_error_errno(-ENOTSUP, "X server lacks the XFIXES extension");
	dx->xfixes_event = e->first_event;
	e = xcb_get_extension_data(dx->conn, &xcb_test_id);
	if (!e || !e->present)
		return log_error_errno(-ENOTSUP, "X server lacks the XTEST extension");
	/* both must be told our version before use */
	fv = xcb_xfixes_query_version_reply(dx->conn, xcb_xfixes_query_version(dx->conn, 5, 0),
					    NULL);
	dv = xcb_damage_query_version_reply(dx->conn, xcb_damage_query_version(dx->conn, 1, 1),
					    NULL);
	free(fv);
	free(dv);
	return 0;
}

int dx_connect(const char *name, usec_t wait, struct dx **ret)
{
	usec_t start = now_usec(CLOCK_MONOTONIC);
	struct dx *dx = xcalloc(1, sizeof(*dx));
	const xcb_setup_t *setup;
	xcb_screen_t *screen;
	int logged = 0, r;

	pthread_mutex_init(&dx->lock, NULL);
	for (;;) {
		dx->conn = xcb_connect(name, NULL);
		if (!xcb_connection_has_error(dx->conn))
			break;
		xcb_disconnect(dx->conn);
		dx->conn = NULL;
		if (wait != USEC_INFINITY && now_usec(CLOCK_MONOTONIC) - start >= wait) {
			dx_free(dx);
			return -ETIMEDOUT;
		}
		if (!logged++)
			log_info("Waiting for X server %s", name);
		usleep(200 * 1000);
	}
	setup = xcb_get_setup(dx->conn);
	screen = xcb_setup_roots_iterator(setup).data;
	dx->root = screen->root;
	dx->width = screen->width_in_pixels;
	dx->height = screen->height_in_pixels;
	if (screen->root_depth != 24 && screen->root_depth != 32) {
		dx_free(dx);
		return log_error_errno(-ENOTSUP, "X screen depth %d unsupported (need 24)",
				       screen->root_depth);
	}
	xcb_prefetch_extension_data(dx->conn, &xcb_damage_id);
	xcb_prefetch_extension_data(dx->conn, &xcb_xfixes_id);
	xcb_prefetch_extension_data(dx->conn, &xcb_test_id);
	xcb_prefetch_extension_data(dx->conn, &xcb_shm_id);
	r = dx_check_extensions(dx);
	if (r < 0) {
		dx_free(dx);
		return r;
	}

	dx->a_clipboard = dx_atom(dx->conn, "CLIPBOARD");
	dx->a_utf8 = dx_atom(dx->conn, "UTF8_STRING");
	dx->a_targets = dx_atom(dx->conn, "TARGETS");
	dx->a_text = dx_atom(dx->conn, "TEXT");
	dx->a_incr = dx_atom(dx->conn, "INCR");
	dx->a_prop = dx_atom(dx->conn, "AGENTBOX_SELECTION");

	/* our window: selection owner and requestor, never mapped */
	dx->win = xcb_generate_id(dx->conn);
	xcb_create_window(dx->conn, XCB_COPY_FROM_PARENT, dx->win, dx->root, 0, 0, 1, 1, 0,
			  XCB_WINDOW_CLASS_INPUT_ONLY, XCB_COPY_FROM_PARENT, 0, NULL);
	xcb_change_window_attributes(dx->conn, dx->root, XCB_CW_EVENT_MASK,
				     (uint32_t[]){XCB_EVENT_MASK_STRUCTURE_NOTIFY});
	xcb_damage_create(dx->conn, xcb_generate_id(dx->conn), dx->root,
			  XCB_DAMAGE_REPORT_LEVEL_RAW_RECTANGLES);
	xcb_xfixes_select_cursor_input(dx->conn, dx->root,
				       XCB_XFIXES_CURSOR_NOTIFY_MASK_DISPLAY_CURSOR);
	xcb_xfixes_select_selection_input(dx->conn, dx->win, dx->a_clipboard,
					  XCB_XFIXES_SELECTION_EVENT_MASK_SET_SELECTION_OWNER);
	dx->damage_region = sraRgnCreate();
	dx_shm_open(dx);
	r = dx_input_init(dx);
	if (r < 0) {
		dx_free(dx);
		return log_error_errno(r, "Cannot read the X keyboard mapping: %m");
	}
	xcb_flush(dx->conn);
	dx->cursor_changed = 1;
	*ret = dx;
	return 0;
}

struct dx *dx_free(struct dx *dx)
{
	if (!dx)
		return NULL;
	if (dx->conn) {
		dx_shm_close(dx);
		xcb_disconnect(dx->conn);
	}
	if (dx->damage_region)
		sraRgnDestroy(dx->damage_region);
	free(dx->queued);
	free(dx->keymap);
	free(dx->clip_in);
	free(dx->clip_out);
	pthread_mutex_destroy(&dx->lock);
	free(dx);
	return NULL;
}

int dx_fd(struct dx *dx)
{
	return xcb_get_file_descriptor(dx->conn);
}

void dx_damage_take(struct dx *dx, void *region)
{
	sraRgnOr(region, dx->damage_region);
	sraRgnMakeEmpty(dx->damage_region);
	dx->damaged = 0;
}

/* Answers another client's request for our selection. */
static void dx_selection_request(struct dx *dx, xcb_selection_request_event_t *e)
{
	xcb_selection_notify_event_t n = {
		.response_type = XCB_SELECTION_NOTIFY,
		.time = e->time,
		.requestor = e->requestor,
		.selection = e->selection,
		.target = e->target,
		.property = XCB_ATOM_NONE,
	};
	xcb_atom_t prop = e->property != XCB_ATOM_NONE ? e->property : e->target;

	pthread_mutex_lock(&dx->lock);
	if (dx->clip_out && e->target == dx->a_targets) {
		xcb_atom_t targets[] = {dx->a_targets, dx->a_utf8, XCB_ATOM_STRING, dx->a_text};
		xcb_change_property(dx->conn, XCB_PROP_MODE_REPLACE, e->requestor, prop,
				    XCB_ATOM_ATOM, 32, ELEMENTSOF(targets), targets);
		n.property = prop;
	} else if (dx->clip_out && (e->target == dx->a_utf8 || e->target == XCB_ATOM_STRING ||
				    e->target == dx->a_text)) {
		xcb_change_property(dx->conn, XCB_PROP_MODE_REPLACE, e->requestor, prop,
				    e->target == dx->a_text ? dx->a_utf8 : e->target, 8,
				    (uint32_t)dx->clip_out_len, dx->clip_out);
		n.property = prop;
	}
	pthread_mutex_unlock(&dx->lock);
	xcb_send_event(dx->conn, 0, e->requestor, XCB_EVENT_MASK_NO_EVENT, (const char *)&n);
}

/* Our ConvertSelection came back: take the text. */
static void dx_selection_notify(struct dx *dx, xcb_selection_notify_event_t *e)
{
	xcb_get_property_reply_t *p;
	int len;

	if (e->property == XCB_ATOM_NONE)
		return;
	p = xcb_get_property_reply(dx->conn,
				   xcb_get_property(dx->conn, 1, dx->win, dx->a_prop,
						    XCB_GET_PROPERTY_TYPE_ANY, 0, DX_CLIP_MAX / 4),
				   NULL);
	if (!p)
		return;
	len = xcb_get_property_value_length(p);
	if (p->type == dx->a_incr)
		log_info("Clipboard text too large for one transfer, ignoring");
	else if (p->format == 8 && len >= 0) {
		free(dx->clip_in);
		dx->clip_in = xmalloc((size_t)len + 1);
		memcpy(dx->clip_in, xcb_get_property_value(p), (size_t)len);
		dx->clip_in[len] = 0;
		dx->clip_in_len = (size_t)len;
	}
	free(p);
}

/* Handles one event; -EPIPE never (errors are only logged). */
static void dx_handle_event(struct dx *dx, xcb_generic_event_t *ev)
{
	uint8_t type = ev->response_type & 0x7f;

	if (type == dx->damage_event + XCB_DAMAGE_NOTIFY) {
		xcb_damage_notify_event_t *d = (xcb_damage_notify_event_t *)ev;
		sraRegion *r = sraRgnCreateRect(d->area.x, d->area.y, d->area.x + d->area.width,
						d->area.y + d->area.height);
		sraRgnOr(dx->damage_region, r);
		sraRgnDestroy(r);
		dx->damaged = 1;
		return;
	}
	if (type == dx->xfixes_event + XCB_XFIXES_CURSOR_NOTIFY) {
		dx->cursor_changed = 1;
		return;
	}
	if (type == dx->xfixes_event + XCB_XFIXES_SELECTION_NOTIFY) {
		xcb_xfixes_selection_notify_event_t *s = (xcb_xfixes_selection_notify_event_t *)ev;
		if (s->owner != dx->win && s->owner != XCB_WINDOW_NONE)
			xcb_convert_selection(dx->conn, dx->win, dx->a_clipboard, dx->a_utf8,
					      dx->a_prop, s->timestamp);
		return;
	}
	switch (type) {
	case 0: {
		xcb_generic_error_t *e = (xcb_generic_error_t *)ev;
		log_debug("X error %d (request %d.%d)", e->error_code, e->major_code,
			  e->minor_code);
		break;
	}
	case XCB_CONFIGURE_NOTIFY: {
		xcb_configure_notify_event_t *c = (xcb_configure_notify_event_t *)ev;
		if (c->window == dx->root && (c->width != dx->width || c->height != dx->height)) {
			dx->width = c->width;
			dx->height = c->height;
			dx->resized = 1;
			dx_shm_open(dx);
		}
		break;
	}
	case XCB_SELECTION_REQUEST:
		dx_selection_request(dx, (xcb_selection_request_event_t *)ev);
		break;
	case XCB_SELECTION_NOTIFY:
		dx_selection_notify(dx, (xcb_selection_notify_event_t *)ev);
		break;
	case XCB_SELECTION_CLEAR:
		break;
	case XCB_MAPPING_NOTIFY:
		dx_refresh_keymap(dx);
		break;
	default:
		break;
	}
}

int dx_has_queued(struct dx *dx)
{
	if (!dx->queued)
		dx->queued = xcb_poll_for_queued_event(dx->conn);
	return dx->queued != NULL;
}

int dx_process_events(struct dx *dx)
{
	xcb_generic_event_t *ev;

	if (dx->queued) {
		dx_handle_event(dx, dx->queued);
		free(dx->queued);
		dx->queued = NULL;
	}
	while ((ev = xcb_poll_for_event(dx->conn))) {
		dx_handle_event(dx, ev);
		free(ev);
	}
	if (xcb_connection_has_error(dx->conn))
		return -EPIPE;
	xcb_flush(dx->conn);
	return 0;
}

int dx_read(struct dx *dx, int x, int y, int w, int h, uint8_t *fb, size_t stride)
{
	const uint8_t *src;
	void *reply;
	int shm_error = -1;

	if (w <= 0 || h <= 0)
		return 0;
	if (dx->shm_ok) {
		xcb_generic_error_t *err = NULL;
		reply = xcb_shm_get_image_reply(
			dx->conn,
			xcb_shm_get_image(dx->conn, dx->root, (int16_t)x, (int16_t)y, (uint16_t)w,
					  (uint16_t)h, ~0u, XCB_IMAGE_FORMAT_Z_PIXMAP, dx->shmseg,
					  0),
			&err);
		if (reply) {
			src = dx->shm_data;
			goto copy;
		}
		shm_error = err ? err->error_code : 0;
		free(err);
	}
	reply = xcb_get_image_reply(dx->conn,
				    xcb_get_image(dx->conn, XCB_IMAGE_FORMAT_Z_PIXMAP, dx->root,
						  (int16_t)x, (int16_t)y, (uint16_t)w, (uint16_t)h,
						  ~0u),
				    NULL);
	if (!reply)
		return -EIO;
	if (xcb_get_image_data_length(reply) < w * h * 4) {
		free(reply);
		return -EIO;
	}
	/* the same rectangle reads without MIT-SHM: the segment is the
	 * problem, and a screen read that silently fails shows stale pixels */
	if (shm_error >= 0) {
		log_info("Shared memory read of the X screen failed (X error %d), using plain "
			 "GetImage",
			 shm_error);
		dx_shm_close(dx);
	}
	src = xcb_get_image_data(reply);
copy:
	for (int row = 0; row < h; row++)
		memcpy(fb + (size_t)(y + row) * stride + (size_t)x * 4, src + (size_t)row * w * 4,
		       (size_t)w * 4);
	free(reply);
	return 0;
}

int dx_cursor(struct dx *dx, int *ret_w, int *ret_h, int *ret_xhot, int *ret_yhot,
	      uint32_t **ret_argb)
{
	xcb_xfixes_get_cursor_image_reply_t *r;
	size_t n;

	r = xcb_xfixes_get_cursor_image_reply(dx->conn, xcb_xfixes_get_cursor_image(dx->conn),
					      NULL);
	if (!r)
		return -EIO;
	n = (size_t)r->width * r->height;
	if (n == 0 || (size_t)xcb_xfixes_get_cursor_image_cursor_image_length(r) < n) {
		free(r);
		return -EIO;
	}
	*ret_argb = xmalloc(n * 4);
	memcpy(*ret_argb, xcb_xfixes_get_cursor_image_cursor_image(r), n * 4);
	*ret_w = r->width;
	*ret_h = r->height;
	*ret_xhot = r->xhot;
	*ret_yhot = r->yhot;
	free(r);
	return 0;
}

void dx_set_clipboard(struct dx *dx, const char *utf8, size_t len)
{
	if (len > DX_CLIP_MAX)
		len = DX_CLIP_MAX;
	pthread_mutex_lock(&dx->lock);
	free(dx->clip_out);
	dx->clip_out = xmalloc(len + 1);
	memcpy(dx->clip_out, utf8, len);
	dx->clip_out[len] = 0;
	dx->clip_out_len = len;
	pthread_mutex_unlock(&dx->lock);
	xcb_set_selection_owner(dx->conn, dx->win, dx->a_clipboard, XCB_CURRENT_TIME);
	xcb_set_selection_owner(dx->conn, dx->win, XCB_ATOM_PRIMARY, XCB_CURRENT_TIME);
	xcb_flush(dx->conn);
}
