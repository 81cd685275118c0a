/* A zstd encoder fed by pushes, handing its output to a sink: it compresses
 * in libzstd's worker threads, beside the thread that walks the tree and
 * frames the tar. The output is one standard zstd frame, as any zstd reads. */
#ifndef AGENTBOX_ZSTD_STREAM_H
#define AGENTBOX_ZSTD_STREAM_H

#include <stddef.h>

#include "tarball.h"

struct zstd_encoder;

/* workers: libzstd's compression threads (0: in the caller's; a libzstd
 * built without threads also compresses in the caller's). -EINVAL when
 * libzstd refuses the level. */
int zstd_encoder_new(int level, int workers, struct zstd_encoder **ret);
void zstd_encoder_free(struct zstd_encoder *e);

/* Compresses data into sink; 0, the sink's error, or -EIO (libzstd failed,
 * logged). */
int zstd_encoder_feed(struct zstd_encoder *e, const void *data, size_t size,
		      tarball_sink_fn sink, void *userdata);

/* Ends the frame and flushes the rest into sink. */
int zstd_encoder_end(struct zstd_encoder *e, tarball_sink_fn sink, void *userdata);

#endif
