/* The v2 state format's readers (lib/repo-tree.c, lib/repo-index.c,
 * lib/repo-crypt.c): any bytes as a tree text, an index text or an
 * envelope, as read back from a bucket that others may write to. The
 * first byte picks the reader. */
#include "fuzz.h"
#include "repo-crypt.h"
#include "repo-index.h"
#include "repo-tree.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_free_ char *text = NULL;
	struct repo_tree t = {0};
	struct repo_index x = {0};
	struct repo_key k = {.encrypted = 1};
	void *p;
	size_t n;

	if (size < 1)
		return 0;
	text = fuzz_strndup(data + 1, size - 1);
	switch (data[0] % 3) {
	case 0:
		if (repo_tree_parse(text, strlen(text), &t) >= 0) {
			FUZZ_ASSERT(t.header);
			for (size_t i = 0; i < t.n; i++) {
				FUZZ_ASSERT(t.v[i].path);
				FUZZ_ASSERT(t.v[i].type != 'l' || t.v[i].target);
				FUZZ_ASSERT(t.v[i].type == 'f' || t.v[i].n_chunks == 0);
			}
			repo_tree_done(&t);
		}
		break;
	case 1:
		(void)repo_index_parse(&x, text, strlen(text));
		for (size_t i = 0; i < x.n_slots; i++)
			FUZZ_ASSERT(x.slots[i].pack == UINT32_MAX || x.slots[i].pack < x.n_packs);
		repo_index_done(&x);
		break;
	default:
		/* an envelope under a key it was not made with never opens */
		if (size - 1 >= 4 && repo_open(&k, "tree:x", text, size - 1, &p, &n) >= 0)
			FUZZ_ASSERT(0);
		break;
	}
	return 0;
}
