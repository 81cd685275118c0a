/* A push-fed zstd encoder; see zstd-stream.h. */
#include <errno.h>
#include <stdlib.h>

#include <zstd.h>

#include "log.h"
#include "macro.h"
#include "zstd-stream.h"

struct zstd_encoder {
	ZSTD_CCtx *c;
	void *out;
	size_t out_size;
};

int zstd_encoder_new(int level, int workers, struct zstd_encoder **ret)
{
	struct zstd_encoder *e = xcalloc(1, sizeof(*e));
	size_t k;

	e->c = ZSTD_createCCtx();
	if (!e->c)
		abort(); /* out of memory, as xmalloc */
	e->out_size = ZSTD_CStreamOutSize();
	e->out = xmalloc(e->out_size);
	k = ZSTD_CCtx_setParameter(e->c, ZSTD_c_compressionLevel, level);
	if (ZSTD_isError(k)) {
		zstd_encoder_free(e);
		return -EINVAL;
	}
	/* Threads are an optimisation: a libzstd without them still works. */
	if (workers > 0)
		(void)ZSTD_CCtx_setParameter(e->c, ZSTD_c_nbWorkers, workers);
	*ret = e;
	return 0;
}

void zstd_encoder_free(struct zstd_encoder *e)
{
	if (!e)
		return;
	ZSTD_freeCCtx(e->c);
	free(e->out);
	free(e);
}

/* One ZSTD_compressStream2() loop: until the input is taken and, for
 * flushes, until libzstd says nothing is left to write. */
static int encode(struct zstd_encoder *e, ZSTD_inBuffer *in, ZSTD_EndDirective mode,
		  tarball_sink_fn sink, void *userdata)
{
	for (;;) {
		ZSTD_outBuffer out = {e->out, e->out_size, 0};
		size_t left = ZSTD_compressStream2(e->c, &out, in, mode);

		if (ZSTD_isError(left)) {
			log_error("zstd: %s", ZSTD_getErrorName(left));
			return -EIO;
		}
		if (out.pos > 0) {
			int r = sink(e->out, out.pos, userdata);
			if (r < 0)
				return r;
		}
		if (mode == ZSTD_e_continue ? in->pos == in->size : left == 0)
			return 0;
	}
}

int zstd_encoder_feed(struct zstd_encoder *e, const void *data, size_t size,
		      tarball_sink_fn sink, void *userdata)
{
	ZSTD_inBuffer in = {data, size, 0};

	return encode(e, &in, ZSTD_e_continue, sink, userdata);
}

int zstd_encoder_end(struct zstd_encoder *e, tarball_sink_fn sink, void *userdata)
{
	ZSTD_inBuffer in = {NULL, 0, 0};

	return encode(e, &in, ZSTD_e_end, sink, userdata);
}
