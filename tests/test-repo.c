/* The v2 state format without a server: content-defined chunking, the
 * sealed envelopes and keys, the index and tree texts, blobs. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zstd.h>

#include "chunker.h"
#include "fileio.h"
#include "macro.h"
#include "repo-crypt.h"
#include "repo-index.h"
#include "repo-pack.h"
#include "repo-tree.h"
#include "tests.h"

/* Deterministic pseudo-random bytes. */
static void fill(unsigned char *p, size_t n, uint64_t seed)
{
	for (size_t i = 0; i < n; i++) {
		seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
		p[i] = (unsigned char)(seed >> 56);
	}
}

/* The cut points of data, into cuts (returns how many). */
static size_t cut_all(const unsigned char *data, size_t size, size_t *cuts, size_t max)
{
	size_t n = 0, at = 0;

	while (at < size && n < max) {
		size_t c = chunker_next(data + at, size - at);
		at += c;
		cuts[n++] = at;
	}
	return n;
}

TEST(chunker_bounds)
{
	size_t size = 64 * 1024 * 1024, cuts[256], n, prev = 0;
	unsigned char *d = xmalloc(size);

	fill(d, size, 1);
	n = cut_all(d, size, cuts, 256);
	ASSERT_TRUE(n > 16 && n < 256);
	for (size_t i = 0; i < n; i++) {
		size_t len = cuts[i] - prev;
		ASSERT_TRUE(len <= CHUNK_MAX);
		if (i + 1 < n)
			ASSERT_TRUE(len >= CHUNK_MIN);
		prev = cuts[i];
	}
	ASSERT_UINT_EQ(cuts[n - 1], size);
	/* the average is near CHUNK_AVG */
	ASSERT_TRUE(size / n > CHUNK_AVG / 2 && size / n < CHUNK_AVG * 2);
	/* small inputs are one chunk; zeros cut at CHUNK_MAX */
	ASSERT_UINT_EQ(chunker_next(d, 1000), 1000);
	memset(d, 0, CHUNK_MAX * 2);
	ASSERT_UINT_EQ(chunker_next(d, CHUNK_MAX * 2), CHUNK_MAX);
	free(d);
}

TEST(chunker_shift)
{
	/* an insert near the start moves only the cuts around it */
	size_t size = 32 * 1024 * 1024, a[128], b[128], na, nb, same = 0;
	unsigned char *d = xmalloc(size + 100);

	fill(d + 100, size, 7);
	fill(d, 100, 9);
	na = cut_all(d + 100, size, a, 128);
	nb = cut_all(d, size + 100, b, 128);
	for (size_t i = 0; i < na; i++)
		for (size_t j = 0; j < nb; j++)
			if (a[i] + 100 == b[j])
				same++;
	ASSERT_TRUE(same + 2 >= na);
	free(d);
}

static char *key_file(const char *dir, const char *name, const void *data, size_t n, mode_t mode)
{
	char *p = xasprintf("%s/%s", dir, name);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, mode);

	if (fd < 0 || write(fd, data, n) != (ssize_t)n)
		abort();
	fchmod(fd, mode);
	close(fd);
	return p;
}

TEST(key_load)
{
	char dir[] = "/tmp/agentbox-test-repo-XXXXXX";
	unsigned char raw[32];
	char hex[66];
	struct repo_key k1, k2, k3;
	const char *why;
	_cleanup_free_ char *p1 = NULL, *p2 = NULL, *p3 = NULL, *p4 = NULL;

	ASSERT_NOT_NULL(mkdtemp(dir));
	fill(raw, 32, 3);
	raw[31] = '\n'; /* a raw key may end in what looks like a line end */
	p1 = key_file(dir, "raw", raw, 32, 0600);
	repo_hex(raw, 32, hex);
	hex[64] = '\n';
	p2 = key_file(dir, "hex", hex, 65, 0600);
	p3 = key_file(dir, "open", raw, 32, 0640);
	p4 = key_file(dir, "short", raw, 20, 0600);
	ASSERT_OK(repo_key_load(p1, &k1, &why));
	ASSERT_OK(repo_key_load(p2, &k2, &why));
	ASSERT_TRUE(k1.encrypted && k2.encrypted);
	ASSERT_TRUE(memcmp(k1.enc, k2.enc, 32) == 0); /* the same key, two spellings */
	ASSERT_TRUE(memcmp(k1.enc, k1.idkey, 32) != 0);
	ASSERT_ERR(repo_key_load(p3, &k3, &why), -EPERM);
	ASSERT_STR_CONTAINS(why, "group or others");
	ASSERT_ERR(repo_key_load(p4, &k3, &why), -EINVAL);
	ASSERT_OK(repo_key_load(NULL, &k3, &why));
	ASSERT_FALSE(k3.encrypted);
	unlink(p1), unlink(p2), unlink(p3), unlink(p4), rmdir(dir);
}

TEST(seal_open)
{
	struct repo_key k = {.encrypted = 1}, other = {.encrypted = 1}, plain = {0};
	const char msg[] = "tree text";
	void *obj, *p;
	size_t n, pn;
	unsigned char *copy;

	fill(k.enc, 32, 1), fill(k.idkey, 32, 2), fill(k.key_id, 8, 3);
	other = k;
	fill(other.enc, 32, 4), fill(other.key_id, 8, 5);
	repo_seal(&k, "tree:g1", msg, sizeof(msg), &obj, &n);
	ASSERT_UINT_EQ(n, sizeof(msg) + REPO_SEAL_OVERHEAD);
	ASSERT_TRUE(memcmp(obj, "AB2E", 4) == 0);
	ASSERT_TRUE(memmem(obj, n, msg, sizeof(msg) - 1) == NULL);
	copy = xmalloc(n);
#define AGAIN() memcpy(copy, obj, n)
	AGAIN();
	ASSERT_OK(repo_open(&k, "tree:g1", copy, n, &p, &pn));
	ASSERT_UINT_EQ(pn, sizeof(msg));
	ASSERT_STR_EQ((char *)p, msg);
	AGAIN();
	ASSERT_ERR(repo_open(&k, "tree:g2", copy, n, &p, &pn), -EBADMSG); /* swapped */
	AGAIN();
	copy[n - 20] ^= 1;
	ASSERT_ERR(repo_open(&k, "tree:g1", copy, n, &p, &pn), -EBADMSG); /* tampered */
	AGAIN();
	ASSERT_ERR(repo_open(&other, "tree:g1", copy, n, &p, &pn), -EKEYREJECTED);
	AGAIN();
	ASSERT_ERR(repo_open(&plain, "tree:g1", copy, n, &p, &pn), -ENOKEY);
	AGAIN();
	ASSERT_ERR(repo_open(&k, "tree:g1", copy, 10, &p, &pn), -EBADMSG); /* cut */
	free(obj);
	free(copy);
	repo_seal(&plain, "latest", msg, sizeof(msg), &obj, &n);
	ASSERT_TRUE(memcmp(obj, "AB2P", 4) == 0);
	ASSERT_ERR(repo_open(&k, "latest", obj, n, &p, &pn), -EPERM); /* downgrade */
	ASSERT_OK(repo_open(&plain, "latest", obj, n, &p, &pn));
	ASSERT_UINT_EQ(pn, sizeof(msg));
	free(obj);
}

TEST(chunk_ids)
{
	struct repo_key k = {.encrypted = 1}, plain = {0};
	unsigned char a[REPO_ID_SIZE], b[REPO_ID_SIZE];

	fill(k.idkey, 32, 9);
	repo_chunk_id(&plain, "abc", 3, a);
	repo_chunk_id(&k, "abc", 3, b);
	ASSERT_TRUE(memcmp(a, b, REPO_ID_SIZE) != 0); /* keyed: unguessable */
	repo_chunk_id(&k, "abc", 3, a);
	ASSERT_TRUE(memcmp(a, b, REPO_ID_SIZE) == 0);
}

TEST(blob_roundtrip)
{
	struct repo_key k = {.encrypted = 1};
	ZSTD_CCtx *cc = ZSTD_createCCtx();
	ZSTD_DCtx *dc = ZSTD_createDCtx();
	size_t size = 300000, n;
	unsigned char *data = xmalloc(size), *out = xmalloc(size);
	struct repo_blob b = {0};
	void *blob;

	fill(k.enc, 32, 1), fill(k.idkey, 32, 2);
	fill(data, size, 5);
	memset(data, 'a', 100000); /* compressible */
	repo_chunk_id(&k, data, size, b.id);
	ASSERT_OK(repo_blob_encode(&k, cc, 3, b.id, data, size, &blob, &n));
	b.length = (uint32_t)n;
	b.raw_length = (uint32_t)size;
	ASSERT_TRUE(n < size);
	ASSERT_OK(repo_blob_decode(&k, dc, &b, blob, out));
	ASSERT_TRUE(memcmp(out, data, size) == 0);
	free(blob);
	/* a blob under another id's name fails */
	ASSERT_OK(repo_blob_encode(&k, cc, 3, b.id, data, size, &blob, &n));
	b.id[0] ^= 1;
	ASSERT_ERR(repo_blob_decode(&k, dc, &b, blob, out), -EBADMSG);
	free(blob);
	/* plain: the id is checked against the content */
	{
		struct repo_key plain = {0};
		repo_chunk_id(&plain, data, size, b.id);
		ASSERT_OK(repo_blob_encode(&plain, cc, 3, b.id, data, size, &blob, &n));
		b.length = (uint32_t)n;
		((unsigned char *)blob)[n - 5] ^= 0xff;
		ASSERT_TRUE(repo_blob_decode(&plain, dc, &b, blob, out) < 0);
		free(blob);
	}
	free(data);
	free(out);
	ZSTD_freeCCtx(cc);
	ZSTD_freeDCtx(dc);
}

TEST(index_text)
{
	struct repo_index x = {0}, y = {0};
	unsigned char id[REPO_ID_SIZE];
	char *text = NULL;
	size_t size = 0;
	int isnew;

	for (int i = 0; i < 3000; i++) {
		struct repo_blob *b;
		fill(id, sizeof(id), (uint64_t)i + 1);
		b = repo_index_add(&x, id, &isnew);
		ASSERT_TRUE(isnew);
		b->pack = repo_index_pack(&x, i % 2 ? "00aa" : "ff01");
		b->offset = (uint64_t)i * 10;
		b->length = 10;
		b->raw_length = 20;
	}
	repo_index_format(&x, NULL, &text, &size);
	ASSERT_OK(repo_index_parse(&y, text, size));
	ASSERT_UINT_EQ(y.n, 3000);
	ASSERT_UINT_EQ(y.n_packs, 2);
	fill(id, sizeof(id), 1234);
	{
		struct repo_blob *b = repo_index_find(&y, id);
		ASSERT_NOT_NULL(b);
		ASSERT_UINT_EQ(b->offset, 12330);
		ASSERT_STR_EQ(y.packs[b->pack], "00aa"); /* 1233 is odd */
	}
	free(text);
	repo_index_done(&y);
	ASSERT_ERR(repo_index_parse(&y, "pack ../x\n", 10), -EBADMSG);
	repo_index_done(&y);
	ASSERT_ERR(repo_index_parse(&y, "abcd 1 2 3\n", 11), -EBADMSG);
	repo_index_done(&y);
	repo_index_done(&x);
}

TEST(tree_text)
{
	unsigned char c[2][REPO_ID_SIZE];
	struct repo_entry e[3] = {
	    {.type = 'd', .mode = 0755, .path = "/home/a/.claude"},
	    {.type = 'f', .mode = 04755, .uid = 1000, .size = 7, .path = "/home/a/.claude/odd name\n%",
	     .chunks = c, .n_chunks = 2, .mtime = {12, 345}},
	    {.type = 'l', .mode = 0777, .path = "/home/a/.claude/ln", .target = "../x y"},
	};
	struct repo_tree t = {0};
	char *text = NULL, *copy;
	size_t size = 0;
	FILE *f = open_memstream(&text, &size);

	fill(c[0], sizeof(c), 3);
	fputs("{\"format\": 2}\n", f);
	for (int i = 0; i < 3; i++)
		repo_tree_write_entry(f, &e[i]);
	fclose(f);
	copy = xstrdup(text);
	ASSERT_OK(repo_tree_parse(copy, size, &t));
	ASSERT_UINT_EQ(t.n, 3);
	ASSERT_STR_EQ(t.v[1].path, "/home/a/.claude/odd name\n%");
	ASSERT_UINT_EQ(t.v[1].mode, 04755);
	ASSERT_UINT_EQ(t.v[1].n_chunks, 2);
	ASSERT_TRUE(memcmp(t.v[1].chunks, c, sizeof(c)) == 0);
	ASSERT_INT_EQ(t.v[1].mtime.tv_nsec, 345);
	ASSERT_STR_EQ(t.v[2].target, "../x y");
	repo_tree_done(&t);
	free(copy);
	/* a cut tree (no final line end) is refused */
	copy = xstrdup(text);
	ASSERT_ERR(repo_tree_parse(copy, size - 1, &t), -EBADMSG);
	free(copy);
	copy = xstrdup("{}\nx 644 0 0 0 0 0 /a\n");
	ASSERT_ERR(repo_tree_parse(copy, strlen(copy), &t), -EBADMSG);
	free(copy);
	copy = xstrdup("{}\nf 644 0 0 0 0 5 /a\n"); /* content without chunks */
	ASSERT_ERR(repo_tree_parse(copy, strlen(copy), &t), -EBADMSG);
	free(copy);
	copy = xstrdup("{}\nf 644 0 0 0 0 0 /a%00b\n"); /* an escaped NUL */
	ASSERT_ERR(repo_tree_parse(copy, strlen(copy), &t), -EBADMSG);
	free(copy);
	free(text);
}
