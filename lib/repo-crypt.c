/* Keys and envelopes of the v2 repository; see repo-crypt.h. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "fileio.h"
#include "macro.h"
#include "repo-crypt.h"

#define KDF_CONTEXT "agentbox"
#define KDF_ENC 1
#define KDF_ID 2
#define KDF_KEY_ID 3

static int sodium_ready(void)
{
	return sodium_init() >= 0 ? 0 : -EIO;
}

int repo_key_load(const char *path, struct repo_key *ret, const char **ret_why)
{
	unsigned char master[32], kid[32];
	char *buf = NULL;
	size_t size = 0;
	int r;

	*ret_why = NULL;
	memset(ret, 0, sizeof(*ret));
	if (!path)
		return 0;
	if (sodium_ready() < 0) {
		*ret_why = "libsodium cannot be initialised";
		return -EIO;
	}
	r = read_secret_bytes(path, &buf, &size, ret_why);
	if (r < 0)
		return r;
	while (size == 65 || size == 66) { /* 64 hex digits and a line end */
		if (buf[size - 1] != '\n' && buf[size - 1] != '\r')
			break;
		size--;
	}
	if (size == 64 && repo_unhex(buf, master, 32) >= 0)
		r = 0;
	else if (size == 32) {
		memcpy(master, buf, 32);
		r = 0;
	} else {
		*ret_why = "does not hold a 32-byte key (32 raw bytes or 64 hex digits)";
		r = -EINVAL;
	}
	sodium_memzero(buf, size);
	free(buf);
	if (r < 0)
		return r;
	crypto_kdf_derive_from_key(ret->enc, 32, KDF_ENC, KDF_CONTEXT, master);
	crypto_kdf_derive_from_key(ret->idkey, 32, KDF_ID, KDF_CONTEXT, master);
	crypto_kdf_derive_from_key(kid, 32, KDF_KEY_ID, KDF_CONTEXT, master);
	memcpy(ret->key_id, kid, REPO_KEY_ID_SIZE);
	sodium_memzero(master, sizeof(master));
	ret->encrypted = 1;
	return 0;
}

void repo_key_done(struct repo_key *k)
{
	sodium_memzero(k, sizeof(*k));
}

void repo_chunk_id(const struct repo_key *k, const void *data, size_t size,
		   unsigned char id[REPO_ID_SIZE])
{
	(void)sodium_ready();
	crypto_generichash(id, REPO_ID_SIZE, data, size, k->encrypted ? k->idkey : NULL,
			   k->encrypted ? sizeof(k->idkey) : 0);
}

void repo_hex(const unsigned char *bin, size_t size, char *hex)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < size; i++) {
		hex[2 * i] = digits[bin[i] >> 4];
		hex[2 * i + 1] = digits[bin[i] & 15];
	}
	hex[2 * size] = '\0';
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int repo_unhex(const char *hex, unsigned char *bin, size_t size)
{
	for (size_t i = 0; i < size; i++) {
		int a = hexval(hex[2 * i]), b = a < 0 ? -1 : hexval(hex[2 * i + 1]);
		if (a < 0 || b < 0)
			return -EINVAL;
		bin[i] = (unsigned char)(a << 4 | b);
	}
	return 0;
}

/* Associated data: key id, then the object's role and name. */
static unsigned char *make_ad(const struct repo_key *k, const char *ad, size_t *ret_size)
{
	size_t n = strlen(ad);
	unsigned char *a = xmalloc(REPO_KEY_ID_SIZE + n);

	memcpy(a, k->key_id, REPO_KEY_ID_SIZE);
	memcpy(a + REPO_KEY_ID_SIZE, ad, n);
	*ret_size = REPO_KEY_ID_SIZE + n;
	return a;
}

void repo_seal(const struct repo_key *k, const char *ad, const void *in, size_t size, void **ret,
	       size_t *ret_size)
{
	unsigned char *out, *nonce;
	_cleanup_free_ unsigned char *a = NULL;
	unsigned long long clen = 0;
	size_t alen;

	if (!k->encrypted) {
		out = xmalloc(4 + size);
		memcpy(out, "AB2P", 4);
		if (size)
			memcpy(out + 4, in, size);
		*ret = out;
		*ret_size = 4 + size;
		return;
	}
	(void)sodium_ready();
	out = xmalloc(REPO_SEAL_OVERHEAD + size);
	memcpy(out, "AB2E", 4);
	memcpy(out + 4, k->key_id, REPO_KEY_ID_SIZE);
	nonce = out + 4 + REPO_KEY_ID_SIZE;
	randombytes_buf(nonce, 24);
	a = make_ad(k, ad, &alen);
	crypto_aead_xchacha20poly1305_ietf_encrypt(out + 4 + REPO_KEY_ID_SIZE + 24, &clen, in, size,
						   a, alen, NULL, nonce, k->enc);
	*ret = out;
	*ret_size = 4 + REPO_KEY_ID_SIZE + 24 + (size_t)clen;
}

int repo_open(const struct repo_key *k, const char *ad, void *in, size_t size, void **ret,
	      size_t *ret_size)
{
	unsigned char *p = in, *nonce, *c;
	_cleanup_free_ unsigned char *a = NULL;
	unsigned long long mlen = 0;
	size_t alen;

	if (size < 4 || memcmp(p, "AB2", 3) != 0)
		return -EBADMSG;
	if (p[3] == 'P') {
		if (k->encrypted)
			return -EPERM;
		*ret = p + 4;
		*ret_size = size - 4;
		return 0;
	}
	if (p[3] != 'E' || size < REPO_SEAL_OVERHEAD)
		return -EBADMSG;
	if (!k->encrypted)
		return -ENOKEY;
	if (sodium_memcmp(p + 4, k->key_id, REPO_KEY_ID_SIZE) != 0)
		return -EKEYREJECTED;
	nonce = p + 4 + REPO_KEY_ID_SIZE;
	c = nonce + 24;
	a = make_ad(k, ad, &alen);
	/* libsodium decrypts in place when m == c */
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(c, &mlen, NULL, c, size - (size_t)(c - p), a,
						       alen, nonce, k->enc) != 0)
		return -EBADMSG;
	*ret = c;
	*ret_size = (size_t)mlen;
	return 0;
}

const char *repo_open_strerror(int r)
{
	switch (r) {
	case -EBADMSG:
		return "fails authentication (damaged, tampered with, or moved from another name)";
	case -ENOKEY:
		return "is encrypted, but no key is configured (set state.encryption.key_file)";
	case -EKEYREJECTED:
		return "is encrypted with another key than state.encryption.key_file";
	case -EPERM:
		return "is not encrypted, although state.encryption.key_file is set; refusing it";
	default:
		return "cannot be read";
	}
}
