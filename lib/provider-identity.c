/* What a provider identity is and what deleting it would do: the parts
 * of lib/provider that need no network, so that agentbox-monitor can use
 * them without linking libcurl (its network work runs in "agentbox"
 * child processes). */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "macro.h"
#include "provider-http.h"
#include "provider.h"

static const char *const kind_names[] = {"auto", "hetzner", "ec2", "none"};

const char *provider_kind_to_string(int kind)
{
	return kind >= 0 && kind < (int)ELEMENTSOF(kind_names) ? kind_names[kind] : "unknown";
}

int provider_identity_equal(const struct provider_identity *a, const struct provider_identity *b)
{
	return a->kind == b->kind && streq(a->instance_id, b->instance_id) &&
	       streq(a->region, b->region);
}

void provider_identity_describe(const struct provider_identity *id, char *buf, size_t size)
{
	if (id->kind == PROVIDER_NONE) {
		snprintf(buf, size, "provider none (no instance to delete)");
		return;
	}
	snprintf(buf, size, "%s instance %s (region %s%s%s%s%s)", provider_kind_to_string(id->kind),
		 id->instance_id, id->region[0] ? id->region : "unknown",
		 id->zone[0] ? ", zone " : "", id->zone, id->hostname[0] ? ", host " : "",
		 id->hostname);
}

enum provider_method provider_method(const struct config *c, const struct provider_identity *id)
{
	if (id->kind == PROVIDER_HETZNER)
		return PROVIDER_METHOD_API;
	if (id->kind == PROVIDER_EC2)
		return c->provider_ec2_terminate == EC2_TERMINATE_API ? PROVIDER_METHOD_API
								      : PROVIDER_METHOD_POWEROFF;
	return PROVIDER_METHOD_NOTHING;
}

char *ec2_endpoint(const struct config *c, const struct provider_identity *id)
{
	if (c->provider_ec2_api_url)
		return xstrdup(c->provider_ec2_api_url);
	return xasprintf("https://ec2.%s.amazonaws.com/", id->region);
}

void provider_describe_delete(const struct config *c, const struct provider_identity *id, char *buf,
			      size_t size)
{
	_cleanup_free_ char *ep = NULL;

	switch (id->kind) {
	case PROVIDER_HETZNER:
		snprintf(buf, size, "DELETE %s/servers/%s (bearer token from %s)",
			 c->provider_hetzner_api_url, id->instance_id,
			 c->provider_hetzner_token_file ? c->provider_hetzner_token_file
							: "<provider.hetzner.token_file unset>");
		return;
	case PROVIDER_EC2:
		if (c->provider_ec2_terminate == EC2_TERMINATE_SHUTDOWN) {
			snprintf(
			    buf, size,
			    "systemctl poweroff, which terminates %s when it was launched with "
			    "InstanceInitiatedShutdownBehavior=terminate",
			    id->instance_id);
			return;
		}
		ep = ec2_endpoint(c, id);
		snprintf(buf, size,
			 "POST %s Action=TerminateInstances InstanceId.1=%s (SigV4 ec2/%s, "
			 "instance-profile credentials)",
			 ep, id->instance_id, id->region);
		return;
	default:
		snprintf(buf, size, "nothing (provider.name is none)");
		return;
	}
}
