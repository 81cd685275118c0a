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
struct provider_result;

/* Copies a short printable value (no control characters, at most size-1
 * bytes); -EINVAL when it is empty, too long or not printable. */
int copy_printable(char *dst, size_t size, const char *src, size_t len);

/* The rows of the provider table, one per lib/provider-<name>.c. */
extern const struct provider_ops provider_hetzner;
extern const struct provider_ops provider_ec2;
extern const struct provider_ops provider_scaleway;
extern const struct provider_ops provider_digitalocean;
extern const struct provider_ops provider_none;

/* Reads a one-word API token from a secret file (0600) named by the
 * config key; -ENOKEY or -errno with why[] saying "<label> <path> ...". */
int provider_read_token(const char *path, const char *key, const char *label, char **ret,
			char *why, size_t why_size);
/* The copy of an answer's body that fits in a log line. */
void provider_body_excerpt(const struct http_response *r, char *buf, size_t size);

/* One request to a cloud's API (api_name: "Hetzner", for messages) with
 * the token in the header "<auth_prefix> <token>" ("Authorization:
 * Bearer", "X-Auth-Token:"), JSON accepted, json_body (or none) sent;
 * once: the delete's retries are provider_delete()'s. Sets
 * ret->http_status; with no answer, ret->detail says so, ret->retryable
 * is set and -errno returned. 0 with *resp (any status; free it). */
int provider_api_send(const struct config *c, const char *api_name, const char *method,
		      const char *url, const char *auth_prefix, const char *token,
		      const char *json_body, struct http_response *resp,
		      struct provider_result *ret);
/* For an answer that is no 2xx: ret->detail "HTTP <status>: <text><hint>"
 * (auth_hint on 401/403, missing_hint on 404), retryable on 5xx, 409, 423
 * and 429. -EACCES, -ENOENT or -EIO. */
int provider_api_refused(const struct http_response *resp, const char *text,
			 const char *auth_hint, const char *missing_hint,
			 struct provider_result *ret);
/* A positive decimal id without leading zeros (Hetzner servers, Droplets). */
int provider_valid_decimal_id(const char *s);

/* Reads the action object of a Hetzner answer: 0 when running or success,
 * -EIO when it failed, -EBADMSG for anything else; detail[] says which. */
int hetzner_action_state(const char *body, char *id_buf, size_t id_size, char *detail,
			 size_t detail_size);

/* Checks the instance-identity document against the instance-id and region
 * already in *id (read separately) and fills its zone and account; -EBADMSG
 * or -ESTALE (why[] filled) when it is malformed or disagrees. */
int ec2_identity_document_check(const char *body, struct provider_identity *id, char *why,
				size_t why_size);
/* The EC2 Query API endpoint: provider.ec2.api_url or the region's. */
char *ec2_endpoint(const struct config *c, const struct provider_identity *id);
/* Asks for an IMDSv2 token (PUT /latest/api/token). Status in *ret_status. */
int ec2_imds_token(const struct config *c, char **ret, long *ret_status, char *why,
		   size_t why_size);

#endif
