/* Parts of lib/state.c exposed for tests/fuzz (not part of its interface). */
#ifndef AGENTBOX_STATE_INTERNAL_H
#define AGENTBOX_STATE_INTERNAL_H

#include <stdint.h>

#include "state.h"

/* A generation's manifest <prefix><id>.json, as read back from the bucket. */
struct manifest {
	char id[STATE_GENERATION_MAX];
	uint64_t size, files, bytes;
	char sha256[65];
	char tree_digest[65];
	char created[32];
	char host[128];
	char **paths;
	int v2;		 /* a v2 generation: <id>.tree (no sha256; size is what it stores) */
	int encrypted;
};

/* Parses and checks the text of generation id's manifest (which the
 * bucket's owner, or anyone who can write to it, wrote); -EBADMSG when it
 * is not one for id. *ret is freed with manifest_done(). */
int manifest_parse(const char *text, const char *id, struct manifest *ret);

/* Frees what a manifest owns. */
void manifest_done(struct manifest *m);

struct s3_client;
/* A client for state.storage with its credentials; logs why not. */
int state_client(const struct config *c, struct s3_client **ret);

#endif
