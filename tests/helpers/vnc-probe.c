/* vnc-probe: a libvncclient client for tests and benchmarks.
 *
 *   vnc-probe check HOST PORT RRGGBB [X Y]   exit 0 when the pixel (default:
 *                                             the centre) shows that colour
 *                                             within 10 s
 *   vnc-probe first HOST PORT RRGGBB [X Y]   exit 0 when the pixel shows that
 *                                             colour in the first update with
 *                                             pixels the server sends (no
 *                                             later ones)
 *   vnc-probe latency HOST PORT DISPLAY N    N colour changes drawn on X (in
 *                                             a 256x256 window of its own in
 *                                             the centre);
 *                                             prints p50/p95/mean ms
 *   vnc-probe fps HOST PORT SECONDS          updates/s and bytes/update
 *   vnc-probe idle HOST PORT SECONDS         stays connected, taking updates
 *   vnc-probe keys HOST PORT KEYSYM...       presses and releases each keysym
 *                                             (hex, e.g. fc for udiaeresis)
 *
 * $VNC_PASSWORD_FILE names a file holding the password; $VNC_ENCODINGS
 * overrides the encodings ("tight copyrect" by default, quality 6, as
 * noVNC asks). Exit 0 ok, 1 check failed, 2 usage or connection error. */
#include <errno.h>
#include <netinet/in.h>
#include <linux/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rfb/rfbclient.h>
#include <xcb/xcb.h>

static int updates;
static int pixel_updates; /* updates that carried pixels */
static int got_pixels;

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static char *get_password(rfbClient *cl)
{
	const char *f = getenv("VNC_PASSWORD_FILE");
	char buf[128] = "";
	FILE *fp;

	(void)cl;
	if (!f || !(fp = fopen(f, "re")))
		return strdup("");
	if (!fgets(buf, sizeof(buf), fp))
		buf[0] = 0;
	fclose(fp);
	buf[strcspn(buf, "\r\n")] = 0;
	return strdup(buf);
}

static void got_update(rfbClient *cl, int x, int y, int w, int h)
{
	(void)cl, (void)x, (void)y, (void)w, (void)h;
	got_pixels = 1;
}

static void finished_update(rfbClient *cl)
{
	(void)cl;
	updates++;
	pixel_updates += got_pixels;
	got_pixels = 0;
}

/* The pixel at x,y as 0xRRGGBB (the client asks for 32 bpp, little endian). */
static uint32_t pixel(rfbClient *cl, int x, int y)
{
	uint32_t p;

	memcpy(&p, cl->frameBuffer + ((size_t)y * cl->width + x) * 4, 4);
	return ((p >> cl->format.redShift) & 0xff) << 16 |
	       ((p >> cl->format.greenShift) & 0xff) << 8 | ((p >> cl->format.blueShift) & 0xff);
}

static rfbClient *connect_to(const char *host, const char *port)
{
	rfbClient *cl = rfbGetClient(8, 3, 4);
	const char *enc = getenv("VNC_ENCODINGS");
	char *end;
	long p = strtol(port, &end, 10);

	if (*end || p <= 0 || p > 65535)
		return NULL;
	free(cl->serverHost);
	cl->serverHost = strdup(host);
	cl->serverPort = (int)p;
	cl->GetPassword = get_password;
	cl->FinishedFrameBufferUpdate = finished_update;
	cl->GotFrameBufferUpdate = got_update;
	cl->appData.encodingsString = enc ? enc : "tight copyrect";
	cl->appData.compressLevel = 2;
	cl->appData.qualityLevel = 6;
	cl->appData.useRemoteCursor = TRUE;
	/* $VNC_NO_RESIZE: a client without the desktop-size encodings, whose
	 * first update carries pixels at once */
	cl->canHandleNewFBSize = getenv("VNC_NO_RESIZE") ? FALSE : TRUE;
	if (!rfbInitClient(cl, NULL, NULL))
		return NULL; /* rfbInitClient frees cl */
	return cl;
}

/* Takes messages for up to ms; returns -1 on a dead connection. */
static int pump(rfbClient *cl, int ms)
{
	/* WaitForMessage() only select()s on the socket: a message already
	 * read into libvncclient's buffer (e.g. with the ServerInit) would
	 * wait there for the next bytes the server sends */
	int n = cl->buffered > 0 ? 1 : WaitForMessage(cl, (unsigned)ms * 1000);

	if (n < 0)
		return -1;
	if (n > 0 && !HandleRFBServerMessage(cl))
		return -1;
	return 0;
}

static uint64_t bytes_received(rfbClient *cl)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	if (getsockopt(cl->sock, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0)
		return 0;
	return ti.tcpi_bytes_received;
}

static void quiet(const char *fmt, ...)
{
	(void)fmt;
}

static int num(const char *s)
{
	return (int)strtol(s, NULL, 10);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Fills our 256x256 window in the centre of the screen with colour (a
 * PolyFillRectangle, as a toolkit repainting a widget would). */
static void x_paint(xcb_connection_t *x, xcb_window_t win, xcb_gcontext_t gc, uint32_t colour)
{
	xcb_rectangle_t r = {0, 0, 256, 256};

	xcb_change_gc(x, gc, XCB_GC_FOREGROUND, &colour);
	xcb_poly_fill_rectangle(x, win, gc, 1, &r);
	xcb_flush(x);
}

static int cmd_latency(rfbClient *cl, const char *display, int n)
{
	xcb_connection_t *x = xcb_connect(display, NULL);
	xcb_window_t root, win;
	xcb_gcontext_t gc;
	double *lat;
	int cx = cl->width / 2, cy = cl->height / 2;
	uint64_t bytes0;
	int upd0;

	if (xcb_connection_has_error(x)) {
		fprintf(stderr, "vnc-probe: cannot open display %s\n", display);
		return 2;
	}
	root = xcb_setup_roots_iterator(xcb_get_setup(x)).data->root;
	win = xcb_generate_id(x);
	xcb_create_window(x, XCB_COPY_FROM_PARENT, win, root, (int16_t)(cx - 128),
			  (int16_t)(cy - 128), 256, 256, 0, XCB_WINDOW_CLASS_INPUT_OUTPUT,
			  XCB_COPY_FROM_PARENT, XCB_CW_OVERRIDE_REDIRECT, (uint32_t[]){1});
	xcb_map_window(x, win);
	gc = xcb_generate_id(x);
	xcb_create_gc(x, gc, win, 0, NULL);
	xcb_flush(x);
	lat = calloc((size_t)n, sizeof(double));
	/* settle: first full update */
	for (double end = now_ms() + 1000; now_ms() < end;)
		if (pump(cl, 50) < 0)
			return 2;
	bytes0 = bytes_received(cl);
	upd0 = updates;
	for (int i = 0; i < n; i++) {
		uint32_t colour = (i & 1) ? 0x2040c0u + (uint32_t)(i % 50) : 0xc04020u + (uint32_t)(i % 50) * 256;
		double t0 = now_ms(), deadline = t0 + 5000;

		x_paint(x, win, gc, colour);
		while (pixel(cl, cx, cy) != colour) {
			if (now_ms() > deadline) {
				fprintf(stderr, "vnc-probe: change %d to %06x not seen in 5 s (%06x)\n", i,
					colour, pixel(cl, cx, cy));
				return 1;
			}
			if (pump(cl, 100) < 0)
				return 2;
		}
		lat[i] = now_ms() - t0;
		/* a pause between changes, as a person would make them */
		for (double end = now_ms() + 20; now_ms() < end;)
			if (pump(cl, 5) < 0)
				return 2;
	}
	qsort(lat, (size_t)n, sizeof(double), cmp_double);
	{
		double sum = 0;
		for (int i = 0; i < n; i++)
			sum += lat[i];
		printf("latency_ms p50=%.2f p95=%.2f mean=%.2f n=%d bytes_per_update=%.0f\n",
		       lat[n / 2], lat[(n * 95) / 100], sum / n, n,
		       updates > upd0 ? (double)(bytes_received(cl) - bytes0) / (updates - upd0)
				      : 0.0);
	}
	free(lat);
	xcb_disconnect(x);
	return 0;
}

int main(int argc, char **argv)
{
	rfbClient *cl;
	int r = 2;

	if (argc < 4) {
		fprintf(stderr, "usage: see the comment at the top of vnc-probe.c\n");
		return 2;
	}
	if (!getenv("VNC_PROBE_DEBUG"))
		rfbClientLog = quiet;
	cl = connect_to(argv[2], argv[3]);
	if (!cl) {
		fprintf(stderr, "vnc-probe: cannot connect to %s:%s\n", argv[2], argv[3]);
		return 2;
	}
	if ((strcmp(argv[1], "check") == 0 || strcmp(argv[1], "first") == 0) && argc >= 5) {
		uint32_t want = (uint32_t)strtoul(argv[4], NULL, 16);
		int x = argc >= 7 ? num(argv[5]) : cl->width / 2;
		int y = argc >= 7 ? num(argv[6]) : cl->height / 2;
		int first_only = strcmp(argv[1], "first") == 0;
		double deadline = now_ms() + 10000;

		r = 1;
		while (now_ms() < deadline) {
			if (pump(cl, 100) < 0) {
				r = 2;
				break;
			}
			if (updates > 0 && pixel(cl, x, y) == want) {
				r = 0;
				break;
			}
			if (pixel_updates > 0 && first_only)
				break;
		}
		if (r)
			fprintf(stderr, "vnc-probe: pixel %d,%d is %06x, not %06x\n", x, y,
				pixel(cl, x, y), want);
		else
			printf("pixel %d,%d is %06x (%dx%d)\n", x, y, want, cl->width, cl->height);
	} else if (strcmp(argv[1], "latency") == 0 && argc >= 6) {
		r = cmd_latency(cl, argv[4], num(argv[5]));
	} else if ((strcmp(argv[1], "fps") == 0 || strcmp(argv[1], "idle") == 0) && argc >= 5) {
		double secs = atof(argv[4]), t0, t1;
		uint64_t b0;
		int u0;

		for (double end = now_ms() + 1000; now_ms() < end;)
			if (pump(cl, 50) < 0)
				return 2;
		b0 = bytes_received(cl);
		u0 = updates;
		t0 = now_ms();
		r = 0;
		while ((t1 = now_ms()) < t0 + secs * 1000)
			if (pump(cl, 100) < 0) {
				r = 2;
				break;
			}
		printf("updates=%d seconds=%.1f fps=%.1f bytes=%llu bytes_per_update=%.0f\n",
		       updates - u0, (t1 - t0) / 1000, (updates - u0) * 1000.0 / (t1 - t0),
		       (unsigned long long)(bytes_received(cl) - b0),
		       updates > u0 ? (double)(bytes_received(cl) - b0) / (updates - u0) : 0.0);
	} else if (strcmp(argv[1], "keys") == 0) {
		r = 0;
		for (int i = 4; i < argc && r == 0; i++) {
			uint32_t k = (uint32_t)strtoul(argv[i], NULL, 16);
			if (!SendKeyEvent(cl, k, TRUE) || !SendKeyEvent(cl, k, FALSE))
				r = 2;
			for (double end = now_ms() + 50; now_ms() < end;)
				if (pump(cl, 10) < 0)
					r = 2;
		}
	} else
		fprintf(stderr, "usage: see the comment at the top of vnc-probe.c\n");
	/* libvncclient leaves these to the application */
	free(cl->frameBuffer);
	free(cl->rcSource);
	free(cl->rcMask);
	rfbClientCleanup(cl);
	return r;
}
