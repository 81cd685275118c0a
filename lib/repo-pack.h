/* Pack objects of a v2 repository: <prefix>packs/<name>, a few MiB of
 * blobs back to back, so that many small files cost few requests. A blob
 * is one chunk, zstd-compressed, then sealed as "chunk:<id-hex>"; the index
 * (repo-index.h) says where each blob starts and how long it is. */
#ifndef AGENTBOX_REPO_PACK_H
#define AGENTBOX_REPO_PACK_H

#include <stddef.h>

#include <zstd.h>

#include "repo-crypt.h"
#include "repo-index.h"

/* A pack is sent once it reaches this size; a reader refuses larger ones. */
#define REPO_PACK_TARGET (8 * 1024 * 1024)
#define REPO_PACK_MAX (16 * 1024 * 1024)

/* Compresses data with cc at level and seals it: the blob in *ret. */
int repo_blob_encode(const struct repo_key *k, ZSTD_CCtx *cc, int level,
		     const unsigned char *id, const void *data, size_t size, void **ret,
		     size_t *ret_size);

/* Opens blob b (b->length bytes at blob, changed in place), decompresses
 * it into out (b->raw_length bytes) and checks that its content has id
 * b->id. -EBADMSG (or repo_open()'s errors) when any of it fails. */
int repo_blob_decode(const struct repo_key *k, ZSTD_DCtx *dc, const struct repo_blob *b,
		     void *blob, void *out);

/* A fresh random pack name (32 hex digits). */
void repo_pack_name(char name[REPO_PACK_NAME_MAX]);

#endif
