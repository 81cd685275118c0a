/* The providers' internals (lib/provider*.c). Their HTTP client is
 * lib/http.h, the metadata service's lib/imds.h (both included here). */
#ifndef AGENTBOX_PROVIDER_HTTP_H
#define AGENTBOX_PROVIDER_HTTP_H

#include <stddef.h>

#include "http.h"
#include "imds.h"
#include "time-util.h"
#include "xml.h"

struct config;
struct provider_identity;

/* Copies a short printable value (no control characters, at most size-1
 * bytes); -EINVAL when it is empty, too long or not printable. */
int copy_printable(char *dst, size_t size, const char *src, size_t len);

/* Provider-specific parts. */
struct provider_result;
int hetzner_delete(const struct config *c, const struct provider_identity *id,
		   struct provider_result *ret);
int ec2_terminate(const struct config *c, const struct provider_identity *id,
		  struct provider_result *ret);
/* The EC2 Query API endpoint: provider.ec2.api_url or the region's. */
char *ec2_endpoint(const struct config *c, const struct provider_identity *id);
int hetzner_identity(const struct config *c, struct provider_identity *ret, char *why,
		     size_t why_size);
int hetzner_check_token(const struct config *c, char *why, size_t why_size);
int ec2_identity(const struct config *c, struct provider_identity *ret, char *why, size_t why_size);
int ec2_check_credentials(const struct config *c, char *why, size_t why_size);
/* Reads the action object of a Hetzner answer: 0 when running or success,
 * -EIO when it failed, -EBADMSG for anything else; detail[] says which. */
int hetzner_action_state(const char *body, char *id_buf, size_t id_size, char *detail,
			 size_t detail_size);

/* Checks the instance-identity document against the instance-id and region
 * already in *id (read separately) and fills its zone and account; -EBADMSG
 * or -ESTALE (why[] filled) when it is malformed or disagrees. */
int ec2_identity_document_check(const char *body, struct provider_identity *id, char *why,
				size_t why_size);
/* Asks for an IMDSv2 token (PUT /latest/api/token). Status in *ret_status. */
int ec2_imds_token(const struct config *c, char **ret, long *ret_status, char *why,
		   size_t why_size);

#endif
