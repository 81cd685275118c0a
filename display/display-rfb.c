/* libvncserver screen, clients and hooks; see display-rfb.h. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <rfb/rfb.h>
#include <rfb/rfbregion.h>

#include "display-rfb.h"
#include "display-xcb.h"
#include "log.h"
#include "macro.h"
#include "time-util.h"

struct drfb {
	rfbScreenInfoPtr screen;
	struct dx *dx;
	char *password;
	char *passwords[2];
	uint8_t **old_fbs; /* framebuffers replaced by a resize; clients may still read */
	size_t n_old_fbs;
	atomic_int n_clients; /* in libvncserver's client list */
	atomic_int n_setup;   /* handed over, not yet in the list (drfb_client_setup) */
	atomic_int n_dropped; /* in the list, shut down by us, not yet gone */
	int wake_fd; /* eventfd: a client connected or wants a fresh frame */

	/* A client's first frame: its input thread asks (fresh_wanted++) and
	 * waits until the main thread has read the whole screen (fresh_done
	 * catches up), so nothing stale from before it came is ever sent. */
	pthread_mutex_t fresh_lock;
	pthread_cond_t fresh_cond;
	uint64_t fresh_wanted, fresh_done;
	int stopping;
};

struct drfb_peer {
	struct drfb *rfb;
	int fd;
	int asked; /* sent its first FramebufferUpdateRequest */
	usec_t since; /* handed to us (CLOCK_MONOTONIC) */
	atomic_int dropped; /* shut down before authentication by the main thread */
	char peer[80];
	char transport[16];
};

/* How long a client's first frame waits for the main thread's read. */
#define DRFB_FRESH_WAIT_USEC (2 * USEC_PER_SEC)

/* libvncserver's log lines, at debug level: it is chatty per client. */
static void drfb_log(const char *fmt, ...) _printf_(1, 2);
static void drfb_log(const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	if (log_get_max_level() < LOG_DEBUG)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	buf[strcspn(buf, "\n")] = 0;
	log_debug("libvncserver: %s", buf);
}

static void drfb_err(const char *fmt, ...) _printf_(1, 2);
static void drfb_err(const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	buf[strcspn(buf, "\n")] = 0;
	/* expected for our socketpair clients */
	if (strstr(buf, "TCP_NODELAY"))
		log_debug("libvncserver: %s", buf);
	else
		log_info("libvncserver: %s", buf);
}

static void drfb_kbd(rfbBool down, rfbKeySym keysym, rfbClientPtr cl)
{
	struct drfb *r = cl->screen->screenData;

	dx_key(r->dx, down, keysym);
}

static void drfb_ptr(int mask, int x, int y, rfbClientPtr cl)
{
	struct drfb *r = cl->screen->screenData;

	dx_pointer(r->dx, mask, x, y);
	rfbDefaultPtrAddEvent(mask, x, y, cl);
}

static void drfb_cut_utf8(char *str, int len, rfbClientPtr cl)
{
	struct drfb *r = cl->screen->screenData;

	if (len >= 0)
		dx_set_clipboard(r->dx, str, (size_t)len);
}

/* Plain ClientCutText is Latin-1 by the protocol: convert to UTF-8. */
static void drfb_cut_latin1(char *str, int len, rfbClientPtr cl)
{
	struct drfb *r = cl->screen->screenData;
	_cleanup_free_ char *u = NULL;
	size_t n = 0;

	if (len < 0)
		return;
	u = xmalloc((size_t)len * 2 + 1);
	for (int i = 0; i < len; i++) {
		unsigned char c = (unsigned char)str[i];
		if (c < 0x80)
			u[n++] = (char)c;
		else {
			u[n++] = (char)(0xc0 | (c >> 6));
			u[n++] = (char)(0x80 | (c & 0x3f));
		}
	}
	dx_set_clipboard(r->dx, u, n);
}

static void drfb_client_gone(rfbClientPtr cl)
{
	struct drfb_peer *p = cl->clientData;
	char n[16];

	if (!p)
		return;
	atomic_fetch_sub(&p->rfb->n_clients, 1);
	if (atomic_load(&p->dropped))
		atomic_fetch_sub(&p->rfb->n_dropped, 1);
	snprintf(n, sizeof(n), "%d", atomic_load(&p->rfb->n_clients));
	log_event(LOG_INFO, MSGID_DISPLAY_CLIENT,
		  LOG_FIELDS({"AGENTBOX_EVENT", "disconnect"}, {"AGENTBOX_PEER", p->peer},
			     {"AGENTBOX_TRANSPORT", p->transport}, {"AGENTBOX_CLIENTS", n}),
		  4, "Display client %s (%s) disconnected", p->peer, p->transport);
	if (atomic_load(&p->rfb->n_clients) == 0)
		dx_release_keys(p->rfb->dx);
	free(p);
	cl->clientData = NULL;
}

/* Client input thread, before libvncserver takes a FramebufferUpdateRequest:
 * the first one waits (bounded) for a whole-screen read by the main thread.
 * Damage is read only while someone watches, so without this a client's
 * first frame would be whatever the framebuffer held when the last client
 * left (black at start). */
static void drfb_first_request(rfbClientPtr cl, rfbFramebufferUpdateRequestMsg *m)
{
	struct drfb_peer *p = cl->clientData;
	struct drfb *r;
	struct timespec deadline;
	uint64_t want;
	usec_t until;

	(void)m;
	if (!p || p->asked)
		return;
	p->asked = 1;
	r = p->rfb;
	until = now_usec(CLOCK_MONOTONIC) + DRFB_FRESH_WAIT_USEC;
	deadline.tv_sec = (time_t)(until / USEC_PER_SEC);
	deadline.tv_nsec = (long)(until % USEC_PER_SEC) * 1000;
	pthread_mutex_lock(&r->fresh_lock);
	want = ++r->fresh_wanted;
	eventfd_write(r->wake_fd, 1);
	while (r->fresh_done < want && !r->stopping)
		if (pthread_cond_timedwait(&r->fresh_cond, &r->fresh_lock, &deadline) == ETIMEDOUT)
			break;
	pthread_mutex_unlock(&r->fresh_lock);
}

static enum rfbNewClientAction drfb_new_client(rfbClientPtr cl)
{
	(void)cl;
	return RFB_CLIENT_ACCEPT;
}

/* Thread: the blocking part of taking a client on. */
static void *drfb_client_setup(void *data)
{
	struct drfb_peer *p = data;
	struct drfb *r = p->rfb;
	rfbClientPtr cl;
	char n[16];

	cl = rfbNewClient(r->screen, p->fd);
	if (!cl) {
		log_info("Display client %s (%s) dropped during the handshake", p->peer,
			 p->transport);
		atomic_fetch_sub(&r->n_setup, 1);
		free(p);
		return NULL;
	}
	/* its threads start below; the main thread may already see it in
	 * the list, with its peer, counted in the list before it leaves the
	 * setup count */
	cl->clientData = p;
	cl->clientGoneHook = drfb_client_gone;
	cl->clientFramebufferUpdateRequestHook = drfb_first_request;
	atomic_fetch_add(&r->n_clients, 1);
	atomic_fetch_sub(&r->n_setup, 1);
	snprintf(n, sizeof(n), "%d", atomic_load(&r->n_clients));
	log_event(LOG_INFO, MSGID_DISPLAY_CLIENT,
		  LOG_FIELDS({"AGENTBOX_EVENT", "connect"}, {"AGENTBOX_PEER", p->peer},
			     {"AGENTBOX_TRANSPORT", p->transport}, {"AGENTBOX_CLIENTS", n}),
		  4, "Display client %s (%s) connected", p->peer, p->transport);
	eventfd_write(r->wake_fd, 1);
	/* the reference keeps cl alive until its thread is detached */
	rfbIncrClientRef(cl);
	rfbStartOnHoldClient(cl);
	pthread_detach(cl->client_thread);
	rfbDecrClientRef(cl);
	return NULL;
}

void drfb_add_client(struct drfb *r, int fd, const char *peer, const char *transport)
{
	struct drfb_peer *p = xcalloc(1, sizeof(*p));
	pthread_attr_t attr;
	pthread_t t;

	p->rfb = r;
	p->fd = fd;
	p->since = now_usec(CLOCK_MONOTONIC);
	atomic_fetch_add(&r->n_setup, 1);
	snprintf(p->peer, sizeof(p->peer), "%s", peer);
	snprintf(p->transport, sizeof(p->transport), "%s", transport);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	if (pthread_create(&t, &attr, drfb_client_setup, p) != 0) {
		log_warning("Cannot start a thread for client %s, dropping it", peer);
		atomic_fetch_sub(&r->n_setup, 1);
		close(fd);
		free(p);
	}
	pthread_attr_destroy(&attr);
}

int drfb_wake_fd(struct drfb *r)
{
	return r->wake_fd;
}

int drfb_clients(struct drfb *r)
{
	return atomic_load(&r->n_clients) + atomic_load(&r->n_setup) -
	       atomic_load(&r->n_dropped);
}

int drfb_unauthenticated(struct drfb *r, usec_t *ret_oldest)
{
	rfbClientIteratorPtr it = rfbGetClientIterator(r->screen);
	rfbClientPtr cl;
	usec_t oldest = USEC_INFINITY;
	/* still in drfb_client_setup: just handed over, the newest of all */
	int n = atomic_load(&r->n_setup);

	if (n > 0)
		oldest = now_usec(CLOCK_MONOTONIC);
	while ((cl = rfbClientIteratorNext(it))) {
		struct drfb_peer *p = cl->clientData;

		if (!p || cl->state == RFB_NORMAL || atomic_load(&p->dropped))
			continue;
		n++;
		oldest = MIN(oldest, p->since);
	}
	rfbReleaseClientIterator(it);
	if (ret_oldest)
		*ret_oldest = oldest;
	return n;
}

/* Shuts a client down: shutdown, not close, so that its own threads see
 * the end and close the fd, and its number is never reused under them. */
static void drfb_drop(struct drfb *r, rfbClientPtr cl, const char *why)
{
	struct drfb_peer *p = cl->clientData;

	atomic_store(&p->dropped, 1);
	atomic_fetch_add(&r->n_dropped, 1);
	shutdown(cl->sock, SHUT_RDWR);
	log_info("Display client %s (%s) dropped before authentication: %s", p->peer,
		 p->transport, why);
}

/* Can the main thread drop cl (not authenticated, handed over by
 * older_than at the latest, not dropped yet)? */
static int drfb_droppable(rfbClientPtr cl, usec_t older_than)
{
	struct drfb_peer *p = cl->clientData;

	return p && cl->state != RFB_NORMAL && !atomic_load(&p->dropped) && cl->sock >= 0 &&
	       p->since <= older_than;
}

int drfb_drop_unauthenticated(struct drfb *r, usec_t older_than, int only_oldest,
			      const char *why)
{
	rfbClientIteratorPtr it = rfbGetClientIterator(r->screen);
	rfbClientPtr cl, oldest = NULL;
	int n = 0;

	while ((cl = rfbClientIteratorNext(it))) {
		if (!drfb_droppable(cl, older_than))
			continue;
		if (!only_oldest) {
			drfb_drop(r, cl, why);
			n++;
		} else if (!oldest || ((struct drfb_peer *)cl->clientData)->since <
					      ((struct drfb_peer *)oldest->clientData)->since) {
			/* the iterator holds only the current client: keep our own
			 * reference, so oldest and its peer stay while we look on */
			rfbIncrClientRef(cl);
			if (oldest)
				rfbDecrClientRef(oldest);
			oldest = cl;
		}
	}
	rfbReleaseClientIterator(it);
	if (oldest) {
		if (oldest->sock >= 0) {
			drfb_drop(r, oldest, why);
			n++;
		}
		rfbDecrClientRef(oldest);
	}
	return n;
}

int drfb_fresh_wanted(struct drfb *r)
{
	int wanted;

	pthread_mutex_lock(&r->fresh_lock);
	wanted = r->fresh_done < r->fresh_wanted;
	pthread_mutex_unlock(&r->fresh_lock);
	return wanted;
}

int drfb_read_all(struct drfb *r)
{
	rfbScreenInfoPtr s = r->screen;
	uint64_t want;
	int k;

	/* requests that come during the read get the next one */
	pthread_mutex_lock(&r->fresh_lock);
	want = r->fresh_wanted;
	pthread_mutex_unlock(&r->fresh_lock);
	k = dx_read(r->dx, 0, 0, s->width, s->height, (uint8_t *)s->frameBuffer,
		    (size_t)s->paddedWidthInBytes);
	if (k >= 0)
		rfbMarkRectAsModified(s, 0, 0, s->width, s->height);
	pthread_mutex_lock(&r->fresh_lock);
	if (r->fresh_done < want)
		r->fresh_done = want;
	pthread_cond_broadcast(&r->fresh_cond);
	pthread_mutex_unlock(&r->fresh_lock);
	return k;
}

int drfb_active_clients(struct drfb *r)
{
	rfbClientIteratorPtr it = rfbGetClientIterator(r->screen);
	rfbClientPtr cl;
	int n = 0;

	while ((cl = rfbClientIteratorNext(it)))
		if (cl->state == RFB_NORMAL)
			n++;
	rfbReleaseClientIterator(it);
	return n;
}

/* Sets the pixel format to X's 24-bit TrueColor: 0x00RRGGBB in memory order. */
static void drfb_set_format(rfbScreenInfoPtr s)
{
	s->serverFormat.redShift = 16;
	s->serverFormat.greenShift = 8;
	s->serverFormat.blueShift = 0;
	s->serverFormat.redMax = s->serverFormat.greenMax = s->serverFormat.blueMax = 255;
}

int drfb_new(struct dx *dx, char *password, struct drfb **ret)
{
	struct drfb *r;
	rfbScreenInfoPtr s;
	pthread_condattr_t ca;
	int argc = 0, wake_fd;
	uint8_t *fb;

	rfbLog = drfb_log;
	rfbErr = drfb_err;
	wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (wake_fd < 0)
		return negative_errno();
	s = rfbGetScreen(&argc, NULL, dx->width, dx->height, 8, 3, 4);
	if (!s) {
		close(wake_fd);
		return -ENOMEM;
	}
	r = xcalloc(1, sizeof(*r));
	r->dx = dx;
	r->wake_fd = wake_fd;
	pthread_mutex_init(&r->fresh_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r->fresh_cond, &ca);
	pthread_condattr_destroy(&ca);
	r->screen = s;
	s->screenData = r;
	drfb_set_format(s);
	fb = xcalloc((size_t)dx->width * (size_t)dx->height, 4);
	s->frameBuffer = (char *)fb;
	s->desktopName = "agentbox";
	s->alwaysShared = TRUE;
	/* we accept connections ourselves: no listening, no HTTP */
	s->socketState = RFB_SOCKET_READY;
	s->autoPort = FALSE;
	s->port = s->ipv6port = -1;
	s->httpDir = NULL;
	/* each client in its own threads (rfbStartOnHoldClient) */
	s->backgroundLoop = TRUE;
	/* the output thread polls at this period until a client is past
	 * authentication; afterwards it sleeps on a condition */
	s->deferUpdateTime = 2;
	s->kbdAddEvent = drfb_kbd;
	s->ptrAddEvent = drfb_ptr;
	s->setXCutText = drfb_cut_latin1;
	s->setXCutTextUTF8 = drfb_cut_utf8;
	s->newClientHook = drfb_new_client;
	if (password) {
		r->password = password;
		r->passwords[0] = password;
		s->authPasswdData = r->passwords;
		s->passwordCheck = rfbCheckPasswordByList;
	}
	rfbInitServer(s);
	*ret = r;
	return 0;
}

struct drfb *drfb_free(struct drfb *r)
{
	rfbClientIteratorPtr it;
	rfbClientPtr cl;

	if (!r)
		return NULL;
	/* a client waiting for its first frame gives up now */
	pthread_mutex_lock(&r->fresh_lock);
	r->stopping = 1;
	pthread_cond_broadcast(&r->fresh_cond);
	pthread_mutex_unlock(&r->fresh_lock);
	it = rfbGetClientIterator(r->screen);
	while ((cl = rfbClientIteratorNext(it)))
		rfbCloseClient(cl);
	rfbReleaseClientIterator(it);
	/* each client's thread ends and unlinks it; wait at most 3 s */
	for (int i = 0; i < 300 && r->screen->clientHead; i++)
		usleep(10 * 1000);
	if (!r->screen->clientHead) {
		free(r->screen->frameBuffer);
		rfbScreenCleanup(r->screen);
		pthread_cond_destroy(&r->fresh_cond);
		pthread_mutex_destroy(&r->fresh_lock);
	}
	for (size_t i = 0; i < r->n_old_fbs; i++)
		free(r->old_fbs[i]);
	free(r->old_fbs);
	freezero_str(r->password);
	close(r->wake_fd);
	free(r);
	return NULL;
}

int drfb_update(struct drfb *r, void *region)
{
	rfbScreenInfoPtr s = r->screen;
	sraRectangleIterator *it;
	sraRect rect;
	int n = 0, area = 0, r_ok = 0;
	sraRegion *clip = sraRgnCreateRect(0, 0, s->width, s->height);

	sraRgnAnd(region, clip);
	sraRgnDestroy(clip);
	if (sraRgnEmpty(region))
		return 0;
	it = sraRgnGetIterator(region);
	while (sraRgnIteratorNext(it, &rect)) {
		n++;
		area += (rect.x2 - rect.x1) * (rect.y2 - rect.y1);
	}
	sraRgnReleaseIterator(it);
	/* many small pieces: one GetImage of their bounding box is cheaper
	 * than a round trip each */
	if (n > 16) {
		sraRegion *bb = sraRgnBBox(region);
		int bb_area = 0;

		it = sraRgnGetIterator(bb);
		while (sraRgnIteratorNext(it, &rect))
			bb_area += (rect.x2 - rect.x1) * (rect.y2 - rect.y1);
		sraRgnReleaseIterator(it);
		if (bb_area <= area * 4 || n > 64) {
			sraRgnMakeEmpty(region);
			sraRgnOr(region, bb);
		}
		sraRgnDestroy(bb);
	}
	it = sraRgnGetIterator(region);
	while (sraRgnIteratorNext(it, &rect)) {
		int k = dx_read(r->dx, rect.x1, rect.y1, rect.x2 - rect.x1, rect.y2 - rect.y1,
				(uint8_t *)s->frameBuffer, (size_t)s->paddedWidthInBytes);
		if (k < 0)
			r_ok = k;
	}
	sraRgnReleaseIterator(it);
	rfbMarkRegionAsModified(s, region);
	sraRgnMakeEmpty(region);
	return r_ok;
}

int drfb_resize(struct drfb *r)
{
	rfbScreenInfoPtr s = r->screen;
	uint8_t *fb = xcalloc((size_t)r->dx->width * (size_t)r->dx->height, 4);
	int k;

	/* client threads may still encode from the old buffer: keep it */
	r->old_fbs = xrealloc(r->old_fbs, (r->n_old_fbs + 1) * sizeof(uint8_t *));
	r->old_fbs[r->n_old_fbs++] = (uint8_t *)s->frameBuffer;
	/* the whole new screen, before any client is told its size */
	k = dx_read(r->dx, 0, 0, r->dx->width, r->dx->height, fb, (size_t)r->dx->width * 4);
	rfbNewFramebuffer(s, (char *)fb, r->dx->width, r->dx->height, 8, 3, 4);
	drfb_set_format(s);
	log_info("Screen is now %dx%d", r->dx->width, r->dx->height);
	return k;
}

void drfb_update_cursor(struct drfb *r)
{
	_cleanup_free_ uint32_t *argb = NULL;
	int w, h, xhot, yhot, bw;
	rfbCursorPtr c;

	if (dx_cursor(r->dx, &w, &h, &xhot, &yhot, &argb) < 0)
		return;
	bw = (w + 7) / 8;
	c = xcalloc(1, sizeof(*c));
	c->cleanup = c->cleanupSource = c->cleanupMask = c->cleanupRichSource = TRUE;
	c->width = (unsigned short)w;
	c->height = (unsigned short)h;
	c->xhot = (unsigned short)xhot;
	c->yhot = (unsigned short)yhot;
	c->foreRed = c->foreGreen = c->foreBlue = 0;
	c->backRed = c->backGreen = c->backBlue = 0xffff;
	c->source = xcalloc((size_t)bw * h, 1);
	c->mask = xcalloc((size_t)bw * h, 1);
	c->richSource = xmalloc((size_t)w * h * 4);
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++) {
			uint32_t p = argb[y * w + x], a = p >> 24;
			uint32_t lum = ((p >> 16) & 0xff) + ((p >> 8) & 0xff) + (p & 0xff);
			/* richSource: the pixel over black, as the premultiplied value is */
			memcpy(c->richSource + ((size_t)y * w + x) * 4, &(uint32_t){p & 0xffffff},
			       4);
			if (a > 0x7f)
				c->mask[y * bw + x / 8] |= (unsigned char)(0x80 >> (x % 8));
			/* source bit: the foreground (black) colour */
			if (a > 0x7f && lum < 3 * 0x80)
				c->source[y * bw + x / 8] |= (unsigned char)(0x80 >> (x % 8));
		}
	rfbSetCursor(r->screen, c);
}

void drfb_send_clipboard(struct drfb *r, const char *utf8, size_t len)
{
	_cleanup_free_ char *latin1 = xmalloc(len + 1);
	size_t n = 0;

	/* Latin-1 for clients without the extended clipboard */
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)utf8[i];
		if (c < 0x80)
			latin1[n++] = (char)c;
		else if ((c & 0xe0) == 0xc0 && i + 1 < len && c <= 0xc3) {
			latin1[n++] = (char)(((c & 0x1f) << 6) | (utf8[i + 1] & 0x3f));
			i++;
		} else if ((c & 0xc0) != 0x80)
			latin1[n++] = '?';
	}
	latin1[n] = 0;
	rfbSendServerCutTextUTF8(r->screen, (char *)utf8, (int)len, latin1, (int)n);
}
