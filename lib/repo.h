/* The v2 state repository (chunked, deduplicated, optionally encrypted)
 * under state.storage.prefix (P):
 *   P generations/<id>.tree   a generation: its tree (repo-tree.h)
 *   P index/<name>            where chunks live (repo-index.h)
 *   P packs/<name>            blobs (repo-pack.h)
 *   P latest                  {"generation": ID}, sealed as "latest"
 * lib/state.c orchestrates (lease, generations, retention, the swap);
 * this is what reads and writes the repository's objects. Functions log
 * what they decide, and return -errno. */
#ifndef AGENTBOX_REPO_H
#define AGENTBOX_REPO_H

#include <stddef.h>
#include <stdint.h>

#include "repo-crypt.h"
#include "repo-index.h"
#include "repo-tree.h"

struct config;
struct s3_client;
struct tarball_owner;

/* A new S3 client for a worker thread (the caller's is not shared). */
typedef int (*repo_client_fn)(const struct config *c, struct s3_client **ret);

struct repo {
	struct s3_client *s;
	const struct config *c;
	repo_client_fn new_client;
	struct repo_key key;
	struct repo_index index;
	int index_loaded;
	size_t loaded_packs; /* packs the bucket's index named when loaded */
	unsigned workers;
};

struct repo_stats {
	uint64_t files;	   /* entries */
	uint64_t bytes;	   /* file content, uncompressed */
	uint64_t skipped;  /* sockets, fifos, devices */
	uint64_t stored;   /* bytes of the blobs the generation uses */
	uint64_t uploaded; /* bytes sent: new packs, index, tree */
	uint64_t chunks_new, chunks;
};

/* Sets up r (loads state.encryption.key_file); logs why not. */
int repo_init(struct repo *r, struct s3_client *s, const struct config *c, repo_client_fn fn);
void repo_done(struct repo *r);
static inline void repo_donep(struct repo *r)
{
	repo_done(r);
}

/* The key of an object: P<dir><name>. */
char *repo_object_key(const struct repo *r, const char *dir, const char *name);

/* Reads every index object into r->index (once). Objects that do not open
 * with our key are skipped when skip_foreign (a backup over a bucket of
 * another key or a plain one), else refused. */
int repo_load_index(struct repo *r, int skip_foreign);

/* Reads and opens generation id's tree; *ret_text owns what t points into. */
int repo_read_tree(struct repo *r, const char *id, struct repo_tree *t, char **ret_text);

/* The sealed text of the latest pointer: the generation, and its tree
 * digest and sizes (so that the skip check reads no tree); and its reader. */
void repo_latest_seal(const struct repo *r, const char *id, const char *tree_digest,
		      const struct repo_stats *st, void **ret, size_t *ret_size);
/* Opens a latest pointer read from the bucket: plain JSON (v1 or a plain
 * repository) or an envelope. Returns the envelope's errors, or -EBADMSG. */
int repo_latest_open(const struct repo *r, char *obj, size_t size, char **ret_json);

/* Backs the state paths up as generation id: chunks the index lacks are
 * compressed, sealed, packed and uploaded in parallel, then the index of
 * the new packs, then the tree. -EAGAIN: a file kept changing while read
 * (*ret_error_path names it). tree_digest goes into the tree's header. */
int repo_backup(struct repo *r, const char *id, const char *tree_digest,
		struct repo_stats *ret, char **ret_error_path);

/* Restores generation id into staging (entries at staging/<path>), each
 * file created through openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS),
 * packs downloaded in parallel, every blob authenticated and its id
 * checked. staging NULL: verify only (read everything back, write
 * nothing). -EPERM (hostile) or -EBADMSG (corrupt) with *ret_error. */
int repo_restore(struct repo *r, const char *id, const char *staging, char *const *allowed,
		 const struct tarball_owner *owner, struct repo_stats *ret, char **ret_error);

/* Mark and sweep: deletes packs no tree of keep (the ids of the v2
 * generations kept) uses, and rewrites the index without them. Partly
 * used packs are kept whole (no repacking). Refuses (does nothing) when
 * any kept tree cannot be read. */
int repo_prune(struct repo *r, char *const *keep, size_t n_keep);

#endif
