/* The identity step of agentbox-init: who this instance is (lib/provider:
 * the metadata service of the cloud, or provider "none"), and the
 * address users connect to (for the summary). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "initd.h"
#include "log.h"
#include "provider.h"

int initd_identity(struct initd *i)
{
	struct provider_identity id;
	char why[256] = "", host[256] = "";
	int r;

	r = provider_detect(i->config, &id, why, sizeof(why));
	if (r < 0) {
		log_error_errno(r,
				"Learning the instance identity failed: %s; on a machine of "
				"your own set provider.name to \"none\"",
				why[0] ? why : strerror(-r));
		return INITD_EXIT_IDENTITY;
	}
	if (gethostname(host, sizeof(host) - 1) < 0 || !host[0])
		snprintf(host, sizeof(host), "localhost");
	snprintf(i->provider, sizeof(i->provider), "%s", id.provider);
	if (!id.instance_id[0]) /* provider "none": no instance */
		snprintf(i->instance, sizeof(i->instance), "host %s", host);
	else
		provider_identity_describe(&id, i->instance, sizeof(i->instance));
	/* the public address when the provider gives one; else the host name */
	snprintf(i->address, sizeof(i->address), "%s", id.public_ipv4[0] ? id.public_ipv4 : host);
	log_event(LOG_INFO, MSGID_INSTANCE_IDENTITY,
		  LOG_FIELDS({"AGENTBOX_PROVIDER", i->provider},
			     {"AGENTBOX_INSTANCE_ID", id.instance_id},
			     {"AGENTBOX_REGION", id.region}),
		  3, "Identity: %s (provider %s)", i->instance, i->provider);
	return 0;
}
