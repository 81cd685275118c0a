/* The tree of a v2 generation: <prefix>generations/<id>.tree, its text
 * zstd-compressed and sealed as "tree:<id>". The first line is a JSON
 * object (format 2, generation, created, host, files, bytes, stored,
 * tree_digest, paths); each further line is one entry:
 *   <type> <mode> <uid> <gid> <mtime-s> <mtime-ns> <size> <path> [<target> | <chunk-id>...]
 * type d, f or l; mode octal; path and target percent-escaped (bytes up to
 * space, '%' and DEL); a file's chunk ids in order. */
#ifndef AGENTBOX_REPO_TREE_H
#define AGENTBOX_REPO_TREE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <time.h>

#include "repo-crypt.h"

/* A reader refuses larger trees (text, uncompressed). */
#define REPO_TREE_MAX (96 * 1024 * 1024)

struct repo_entry {
	char type; /* 'd', 'f', 'l' */
	mode_t mode;
	uid_t uid;
	gid_t gid;
	struct timespec mtime;
	uint64_t size;
	char *path;
	char *target;
	unsigned char (*chunks)[REPO_ID_SIZE];
	size_t n_chunks;
};

struct repo_tree {
	char *header; /* the JSON line */
	struct repo_entry *v;
	size_t n;
};

/* Writes one entry line to f. */
void repo_tree_write_entry(FILE *f, const struct repo_entry *e);

/* Parses the text of a tree (NUL-terminated; changed in place). -EBADMSG:
 * malformed. */
int repo_tree_parse(char *text, size_t size, struct repo_tree *ret);
void repo_tree_done(struct repo_tree *t);

/* Compresses and seals a tree's text for generation id. */
int repo_tree_seal(const struct repo_key *k, const char *id, const char *text, size_t size,
		   void **ret, size_t *ret_size);
/* Opens and decompresses a tree object (changed in place) into text
 * (malloc'ed, NUL-terminated); repo_open()'s errors or -EBADMSG. */
int repo_tree_open(const struct repo_key *k, const char *id, void *obj, size_t size, char **ret,
		   size_t *ret_size);

#endif
