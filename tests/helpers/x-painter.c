/* x-painter: an X client that repaints the whole screen, like a video or
 * the Android emulator: each frame is a shifted colour pattern with
 * noise, sent with PutImage, then a round trip so frames do not queue.
 *
 *   x-painter DISPLAY SECONDS [FPS]   (FPS 0 or absent: as fast as it can)
 *
 * Prints "frames=N seconds=S fps=F". Exit 2 on a usage or X error. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <xcb/xcb.h>

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	xcb_connection_t *c;
	xcb_screen_t *s;
	xcb_gcontext_t gc;
	uint32_t *img, seed = 1;
	double secs, fps = 0, t0, next;
	int w, h, frames = 0, rows;
	uint32_t max_req;

	if (argc < 3) {
		fprintf(stderr, "usage: x-painter DISPLAY SECONDS [FPS]\n");
		return 2;
	}
	secs = strtod(argv[2], NULL);
	if (argc > 3)
		fps = strtod(argv[3], NULL);
	c = xcb_connect(argv[1], NULL);
	if (xcb_connection_has_error(c)) {
		fprintf(stderr, "x-painter: cannot open display %s\n", argv[1]);
		return 2;
	}
	s = xcb_setup_roots_iterator(xcb_get_setup(c)).data;
	w = s->width_in_pixels;
	h = s->height_in_pixels;
	gc = xcb_generate_id(c);
	xcb_create_gc(c, gc, s->root, 0, NULL);
	/* a pattern twice as tall as the screen, scrolled one band per frame */
	img = malloc((size_t)w * h * 2 * 4);
	for (int y = 0; y < 2 * h; y++)
		for (int x = 0; x < w; x++) {
			seed = seed * 1103515245u + 12345u;
			img[(size_t)y * w + x] = ((uint32_t)(x * 255 / w) << 16) |
						 ((uint32_t)((y % h) * 255 / h) << 8) |
						 ((seed >> 16) & 0x3f);
		}
	/* PutImage requests are bounded: send the screen in strips */
	max_req = xcb_get_maximum_request_length(c) * 4;
	rows = (int)((max_req - 64) / ((uint32_t)w * 4));
	if (rows > h)
		rows = h;
	t0 = now_s();
	next = t0;
	while (now_s() - t0 < secs) {
		int off = (frames * 16) % h;
		xcb_get_input_focus_reply_t *r;

		for (int y = 0; y < h; y += rows) {
			int n = y + rows > h ? h - y : rows;
			xcb_put_image(c, XCB_IMAGE_FORMAT_Z_PIXMAP, s->root, gc, (uint16_t)w,
				      (uint16_t)n, 0, (int16_t)y, 0, 24, (uint32_t)w * n * 4,
				      (const uint8_t *)(img + (size_t)(y + off) * w));
		}
		r = xcb_get_input_focus_reply(c, xcb_get_input_focus(c), NULL);
		free(r);
		if (xcb_connection_has_error(c))
			return 2;
		frames++;
		if (fps > 0) {
			next += 1.0 / fps;
			double d = next - now_s();
			if (d > 0)
				usleep((useconds_t)(d * 1e6));
		}
	}
	printf("frames=%d seconds=%.1f fps=%.1f\n", frames, now_s() - t0,
	       frames / (now_s() - t0));
	free(img);
	xcb_disconnect(c);
	return 0;
}
