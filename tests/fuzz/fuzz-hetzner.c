/* Hetzner answers (lib/provider-hetzner.c): any text as the metadata
 * service's YAML (hetzner_metadata_parse) and as the API's answer to a
 * DELETE (hetzner_action_state). */
#include <stdio.h>

#include "fuzz.h"
#include "provider-http.h"
#include "provider.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_free_ char *text = fuzz_strndup(data, size);
	struct provider_identity id;
	char why[256], action[32], detail[PROVIDER_TEXT_MAX];

	if (hetzner_metadata_parse(text, &id, why, sizeof(why)) == 0) {
		FUZZ_ASSERT(streq(id.provider, "hetzner"));
		FUZZ_ASSERT(provider_valid_hetzner_id(id.instance_id));
	}
	action[0] = '\0';
	hetzner_action_state(text, action, sizeof(action), detail, sizeof(detail));
	FUZZ_ASSERT(memchr(action, '\0', sizeof(action)));
	FUZZ_ASSERT(memchr(detail, '\0', sizeof(detail)));
	return 0;
}
