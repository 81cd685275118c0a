/* Workspace state in object storage: verified generations.
 *
 * Layout under state.storage.prefix (P), v2 (lib/repo.h):
 *   P generations/<YYYYMMDDTHHMMSSZ>-<seq>.tree   a generation's tree
 *   P index/<name>, P packs/<name>                 its chunks, deduplicated
 *   P latest                                       {"generation": ID}, written last
 *   P lease.json                                   which VM holds the state
 * and, from older versions, still read (v1): generations/<id>.tar.zst and
 * <id>.json, trusted when the archive's size and SHA-256 match the JSON.
 * With state.encryption.key_file every object but the lease is encrypted
 * and authenticated (lib/repo-crypt.h). */
#ifndef AGENTBOX_STATE_H
#define AGENTBOX_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "time-util.h"

struct config;

#define STATE_GENERATION_MAX 64

struct state_backup_result {
	int skipped;			       /* nothing changed since the latest generation */
	char generation[STATE_GENERATION_MAX]; /* new one, or the latest when skipped */
	uint64_t size;			       /* bytes stored (compressed, deduplicated) */
	uint64_t uploaded;		       /* bytes this backup sent (new data only) */
	uint64_t bytes;			       /* bytes of file content, uncompressed */
	uint64_t files;
	usec_t duration;
	char sha256[65];
};

struct state_generation {
	char id[STATE_GENERATION_MAX];
	uint64_t size;
	uint64_t files;
	uint64_t bytes;
	char sha256[65];
	char created[32];
	char host[128];
	int latest;
	int valid; /* manifest present and object size matches */
};

struct state_restore_result {
	char generation[STATE_GENERATION_MAX];
	uint64_t size;
	uint64_t files;
	usec_t duration;
};

/* Backs up state.paths now unless nothing changed since the latest
 * generation. The monitor's periodic and final backups call exactly this.
 * -ENOMEDIUM: no state storage configured. Logs what it decides. */
int state_backup(const struct config *c, struct state_backup_result *ret);
/* Same, with force: back up even when nothing changed. */
int state_backup_full(const struct config *c, int force, struct state_backup_result *ret);

/* Reads generation (NULL: the one "latest" names) back from the bucket,
 * streamed and hashed, nothing written to disk, and checks its size and
 * SHA-256 against its manifest, the hashes recorded at upload. A mismatch
 * is read once more (a damaged transfer), then -EBADMSG. What it decided
 * goes to the log and, on failure, to why (one line) when given. */
int state_verify(const struct config *c, const char *generation, char *why, size_t why_size);

/* The generations in the bucket, oldest first (*ret freed by caller). */
int state_list(const struct config *c, struct state_generation **ret, size_t *ret_n);

/* Restores a generation (NULL: the latest trusted one) into the state
 * paths: downloaded, verified and extracted into a staging directory, and
 * only then swapped in. On any failure nothing local has changed.
 * -ENOENT: no generation. */
int state_restore(const struct config *c, const char *generation, struct state_restore_result *ret);
/* Same; take_over: take the lease even from another VM that holds it. */
int state_restore_full(const struct config *c, const char *generation, int take_over,
		       struct state_restore_result *ret);

/* The lease <prefix>lease.json: {"instance", "host", "renewed", "expires"}.
 * Backup and restore take it (a backup renews it); another VM's fresh
 * lease makes them refuse with -EBUSY. The monitor may renew it between
 * backups, and gives it back after the final backup before a self-delete,
 * so that the next VM restores at once. The instance is
 * $AGENTBOX_INSTANCE_ID, cloud-init's instance id, or the host name. */
int state_lease_renew(const struct config *c);
int state_lease_release(const struct config *c);

#endif
