/* What a provider identity is, without the network: compare and describe.
 * The provider table and everything a cloud decides are in provider.c and
 * provider-<name>.c, which agentbox-monitor does not link (it must not load
 * libcurl): its delete jobs, run by agentbox, report the plan and method. */
#include <stdio.h>
#include <string.h>

#include "macro.h"
#include "provider.h"

int provider_identity_equal(const struct provider_identity *a, const struct provider_identity *b)
{
	return streq(a->provider, b->provider) && streq(a->instance_id, b->instance_id) &&
	       streq(a->region, b->region);
}

void provider_identity_describe(const struct provider_identity *id, char *buf, size_t size)
{
	if (!id->instance_id[0]) {
		snprintf(buf, size, "provider %s (no instance to delete)", id->provider);
		return;
	}
	snprintf(buf, size, "%s instance %s (region %s%s%s%s%s)", id->provider,
		 id->instance_id, id->region[0] ? id->region : "unknown",
		 id->zone[0] ? ", zone " : "", id->zone, id->hostname[0] ? ", host " : "",
		 id->hostname);
}

