/* Content-defined chunking (a gear hash, FastCDC's normalized cut points):
 * a cut depends only on the bytes just before it, so an insert or a change
 * in a large file moves the chunk boundaries around it only, and a backup
 * after a small change finds every other chunk already in the bucket. */
#ifndef AGENTBOX_CHUNKER_H
#define AGENTBOX_CHUNKER_H

#include <stddef.h>

#define CHUNK_MIN (256 * 1024)
#define CHUNK_AVG (1024 * 1024)
#define CHUNK_MAX (4 * 1024 * 1024)

/* The length of the first chunk of data[0..size): at most CHUNK_MAX, at
 * least CHUNK_MIN unless size is smaller; when size < CHUNK_MAX and no cut
 * point is found, size (the caller passes the file's end as the end). */
size_t chunker_next(const unsigned char *data, size_t size);

#endif
