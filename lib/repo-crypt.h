/* The keys of a v2 state repository and the envelope of its objects.
 *
 * Every object (pack blobs, index, tree, "latest") is one envelope:
 *   "AB2P" payload                                  plain (no key configured)
 *   "AB2E" key-id[8] nonce[24] ciphertext+tag[16]    encrypted
 * Encryption is libsodium's XChaCha20-Poly1305 (IETF) with a random nonce
 * and, as associated data, the key id and the object's role and name
 * ("tree:<generation>", "index:<name>", "chunk:<id>", "latest"), so an
 * object moved to another name or role fails authentication. Subkeys come
 * from the 32-byte master key through crypto_kdf (context "agentbox"). */
#ifndef AGENTBOX_REPO_CRYPT_H
#define AGENTBOX_REPO_CRYPT_H

#include <stddef.h>
#include <stdint.h>

#define REPO_ID_SIZE 32
#define REPO_ID_HEX (2 * REPO_ID_SIZE + 1)
#define REPO_KEY_ID_SIZE 8
#define REPO_SEAL_OVERHEAD (4 + REPO_KEY_ID_SIZE + 24 + 16)

struct repo_key {
	int encrypted;
	unsigned char enc[32];			 /* XChaCha20-Poly1305 key */
	unsigned char idkey[32];		 /* BLAKE2b key of chunk ids */
	unsigned char key_id[REPO_KEY_ID_SIZE]; /* names the key, reveals nothing */
};

/* Loads state.encryption.key_file: a path (0600, ours or root's) or a
 * systemd credential name, holding 32 raw bytes or 64 hex digits. NULL
 * path: a plain repository. On failure *ret_why (static text) says why. */
int repo_key_load(const char *path, struct repo_key *ret, const char **ret_why);
/* Wipes the key material. */
void repo_key_done(struct repo_key *k);

/* A chunk's id: BLAKE2b-256 of its bytes, keyed when encrypted (so that an
 * id reveals nothing about content one could guess). */
void repo_chunk_id(const struct repo_key *k, const void *data, size_t size,
		   unsigned char id[REPO_ID_SIZE]);
void repo_hex(const unsigned char *bin, size_t size, char *hex);
/* Parses 2*size hex digits; -EINVAL when not. */
int repo_unhex(const char *hex, unsigned char *bin, size_t size);

/* Wraps in into an envelope bound to ad (malloc'ed into *ret). */
void repo_seal(const struct repo_key *k, const char *ad, const void *in, size_t size, void **ret,
	       size_t *ret_size);
/* Opens an envelope: the payload is returned in place (a pointer into in,
 * which is decrypted in place), its size in *ret_size. -EBADMSG: not an
 * envelope, or authentication failed (tampered, swapped); -ENOKEY:
 * encrypted but no key configured; -EKEYREJECTED: encrypted with another
 * key; -EPERM: plain although a key is configured (a bucket writer must
 * not be able to put plain objects in). */
int repo_open(const struct repo_key *k, const char *ad, void *in, size_t size, void **ret,
	      size_t *ret_size);
/* The message for repo_open()'s error r about object what. */
const char *repo_open_strerror(int r);

#endif
