/* Blobs and packs of the v2 repository; see repo-pack.h. */
#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "chunker.h"
#include "macro.h"
#include "repo-pack.h"

int repo_blob_encode(const struct repo_key *k, ZSTD_CCtx *cc, int level,
		     const unsigned char *id, const void *data, size_t size, void **ret,
		     size_t *ret_size)
{
	size_t bound = ZSTD_compressBound(size), n;
	_cleanup_free_ void *z = xmalloc(bound);
	char ad[6 + REPO_ID_HEX];

	n = ZSTD_compressCCtx(cc, z, bound, data, size, level);
	if (ZSTD_isError(n))
		return -EIO;
	memcpy(ad, "chunk:", 6);
	repo_hex(id, REPO_ID_SIZE, ad + 6);
	repo_seal(k, ad, z, n, ret, ret_size);
	return 0;
}

int repo_blob_decode(const struct repo_key *k, ZSTD_DCtx *dc, const struct repo_blob *b,
		     void *blob, void *out)
{
	unsigned char id[REPO_ID_SIZE];
	char ad[6 + REPO_ID_HEX];
	void *z;
	size_t zn, n;
	int r;

	if (b->raw_length > CHUNK_MAX)
		return -EBADMSG;
	memcpy(ad, "chunk:", 6);
	repo_hex(b->id, REPO_ID_SIZE, ad + 6);
	r = repo_open(k, ad, blob, b->length, &z, &zn);
	if (r < 0)
		return r;
	n = ZSTD_decompressDCtx(dc, out, b->raw_length, z, zn);
	if (ZSTD_isError(n) || n != b->raw_length)
		return -EBADMSG;
	repo_chunk_id(k, out, n, id);
	if (memcmp(id, b->id, REPO_ID_SIZE) != 0)
		return -EBADMSG;
	return 0;
}

void repo_pack_name(char name[REPO_PACK_NAME_MAX])
{
	unsigned char r[16];

	if (sodium_init() < 0)
		abort();
	randombytes_buf(r, sizeof(r));
	repo_hex(r, sizeof(r), name);
}
