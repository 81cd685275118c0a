/* Keeps the workspace container away from the cloud's metadata service,
 * which hands user-data (the provider token, the storage keys) to anything
 * on the VM that asks, and where agents run untrusted code.
 *
 * How: an nftables table of our own, "inet agentbox", whose chain on the
 * forward hook rejects packets to the metadata addresses. The workspace
 * container is bridged (agentbox-init never gives it the host's network),
 * so its packets reach the cloud only by being forwarded by the host; the
 * host's own services (agentbox-init, the monitor's delete, cloud-init)
 * send theirs through the output hook and keep their access.
 *
 * A table of our own rather than a rule in Docker's DOCKER-USER chain:
 * that chain exists only with Docker's iptables integration on and is
 * rebuilt when dockerd restarts, while a reject in our table holds whatever
 * another table accepts and whatever the order of the chains. The table is
 * replaced as a whole in one transaction (add, delete, define), so a second
 * run changes nothing. */
#include <errno.h>
#include <string.h>

#include <nftables/libnftables.h>

#include "config.h"
#include "initd.h"
#include "log.h"

/* 169.254.169.254: EC2, Hetzner, GCE, Azure, OpenStack; 169.254.42.42:
 * Scaleway; fd00:ec2::254: EC2 over IPv6. */
#define FIREWALL_RULESET                                                                           \
	"add table inet " INITD_FIREWALL_TABLE "\n"                                                \
	"delete table inet " INITD_FIREWALL_TABLE "\n"                                             \
	"table inet " INITD_FIREWALL_TABLE " {\n"                                                  \
	"  chain " INITD_FIREWALL_CHAIN " {\n"                                                     \
	"    type filter hook forward priority filter - 10; policy accept;\n"                      \
	"    ip daddr { 169.254.169.254, 169.254.42.42 } counter reject with icmpx type "          \
	"admin-prohibited\n"                                                                       \
	"    ip6 daddr fd00:ec2::254 counter reject with icmpx type admin-prohibited\n"            \
	"  }\n"                                                                                    \
	"}\n"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct nft_ctx *, nft_ctx_free)

/* Puts the table in place; on failure *ret_error holds nft's message. */
static int firewall_apply(char **ret_error)
{
	_cleanup_(nft_ctx_freep) struct nft_ctx *nft = NULL;
	const char *err;
	size_t l;

	nft = nft_ctx_new(NFT_CTX_DEFAULT);
	if (!nft)
		return -ENOMEM;
	if (nft_ctx_buffer_error(nft) < 0 || nft_ctx_buffer_output(nft) < 0)
		return -ENOMEM;
	if (nft_run_cmd_from_buffer(nft, FIREWALL_RULESET) == 0)
		return 0;
	err = nft_ctx_get_error_buffer(nft);
	err = err ? err : "";
	/* first line only: the rest repeats the ruleset with carets */
	l = strcspn(err, "\n");
	*ret_error = xasprintf("%.*s", (int)l, err);
	return -EIO;
}

int initd_firewall(struct initd *i)
{
	_cleanup_free_ char *error = NULL;
	int r;

	if (!i->config->workspace_block_metadata) {
		log_warning("workspace.block_metadata is false: agents in container %s can read "
			    "the cloud's metadata service, and with it the user-data's tokens and "
			    "keys",
			    i->container_name);
		return 0;
	}
	r = firewall_apply(&error);
	if (r < 0) {
		log_error_errno(
		    r,
		    "Cannot block the metadata service for container %s (nftables: %s); "
		    "not running it. agentbox-init needs root with CAP_NET_ADMIN and a "
		    "kernel with nf_tables (modprobe nf_tables); or set "
		    "workspace.block_metadata: false to run it unprotected",
		    i->container_name, error ? error : strerror(-r));
		return INITD_EXIT_CONTAINER;
	}
	log_info("Metadata service blocked for containers (nftables table inet %s)",
		 INITD_FIREWALL_TABLE);
	return 0;
}
