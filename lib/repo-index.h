/* Where each chunk of a v2 repository lives: <prefix>index/<name> objects,
 * each listing packs and the blobs inside them. The text (zstd-compressed,
 * then sealed as "index:<name>") is, line by line:
 *   pack <pack-name>
 *   <chunk-id-hex> <offset> <length> <raw-length>     (blobs of that pack)
 * In memory: a hash table from chunk id to its pack and place. */
#ifndef AGENTBOX_REPO_INDEX_H
#define AGENTBOX_REPO_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "repo-crypt.h"

#define REPO_PACK_NAME_MAX 65

struct repo_blob {
	unsigned char id[REPO_ID_SIZE];
	uint32_t pack; /* index into repo_index.packs; UINT32_MAX: pending (this backup) */
	uint32_t length;
	uint32_t raw_length;
	uint64_t offset;
	int live; /* retention's mark */
};

struct repo_index {
	struct repo_blob *slots; /* open addressing; id all-zero: empty */
	size_t n_slots, n;
	char (*packs)[REPO_PACK_NAME_MAX];
	size_t n_packs;
};

void repo_index_done(struct repo_index *x);
/* The blob of id, or NULL. */
struct repo_blob *repo_index_find(const struct repo_index *x, const unsigned char *id);
/* Adds (or returns the existing) entry for id; *ret_new says which. */
struct repo_blob *repo_index_add(struct repo_index *x, const unsigned char *id, int *ret_new);
/* The number of a pack name, added when new. */
uint32_t repo_index_pack(struct repo_index *x, const char *name);

/* Parses an index object's text into x; -EBADMSG when malformed. */
int repo_index_parse(struct repo_index *x, const char *text, size_t size);
/* Appends the text of the blobs of x whose pack is in the set keep (NULL:
 * all), grouped by pack, to *buf (malloc'ed, *size its length). */
void repo_index_format(const struct repo_index *x, const unsigned char *keep_packs, char **buf,
		       size_t *size);

#endif
