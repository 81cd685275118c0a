/* Generation manifests (lib/state.c): any text as the manifest of a
 * generation (manifest_parse), as read back from a bucket that others
 * may write to. */
#include "fuzz.h"
#include "state-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_free_ char *text = fuzz_strndup(data, size);
	struct manifest m = {0};

	if (manifest_parse(text, "20261125T131422Z-0001", &m) < 0)
		return 0;
	FUZZ_ASSERT(strlen(m.sha256) == 64);
	FUZZ_ASSERT(m.paths);
	for (char **p = m.paths; *p; p++)
		FUZZ_ASSERT((*p)[0] == '/');
	manifest_done(&m);
	return 0;
}
