/* provider.name "none": a machine of your own. No metadata service is
 * asked and nothing is ever deleted; the idle action only logs. */
#include <stdio.h>

#include "macro.h"
#include "provider-http.h"
#include "provider.h"

static int none_identify(const struct config *c, struct provider_identity *ret, char *why,
			 size_t why_size)
{
	(void)c;
	(void)why;
	(void)why_size;
	*ret = (struct provider_identity){.provider = "none"};
	return 0;
}

static enum provider_method none_method(const struct config *c)
{
	(void)c;
	return PROVIDER_METHOD_NOTHING;
}

static void none_describe_delete(const struct config *c, const struct provider_identity *id,
				 char *buf, size_t size)
{
	(void)c;
	(void)id;
	snprintf(buf, size, "nothing (provider.name is none)");
}

const struct provider_ops provider_none = {
    .name = "none",
    .metadata_host = "",
    .identify = none_identify,
    .method = none_method,
    .describe_delete = none_describe_delete,
};
