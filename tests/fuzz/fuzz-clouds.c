/* Scaleway's and DigitalOcean's metadata answers (lib/provider-scaleway.c,
 * lib/provider-digitalocean.c): any text as /conf?format=json and as
 * /metadata/v1.json. An accepted answer names a usable identity. */
#include <stdio.h>

#include "fuzz.h"
#include "provider-http.h"
#include "provider.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_free_ char *text = fuzz_strndup(data, size);
	struct provider_identity id;
	char why[256];

	if (scaleway_metadata_parse(text, &id, why, sizeof(why)) == 0) {
		FUZZ_ASSERT(streq(id.provider, "scaleway"));
		FUZZ_ASSERT(strlen(id.instance_id) == 36 && !strchr(id.instance_id, '/'));
		FUZZ_ASSERT(id.zone[0] && !strchr(id.zone, '/') && !strchr(id.zone, '.'));
	}
	if (digitalocean_metadata_parse(text, &id, why, sizeof(why)) == 0) {
		FUZZ_ASSERT(streq(id.provider, "digitalocean"));
		FUZZ_ASSERT(id.instance_id[0] >= '1' && id.instance_id[0] <= '9');
		FUZZ_ASSERT(strspn(id.instance_id, "0123456789") == strlen(id.instance_id));
		FUZZ_ASSERT(memchr(id.region, '\0', sizeof(id.region)));
	}
	return 0;
}
