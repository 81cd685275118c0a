/* Who this machine is, and how it deletes itself: Hetzner Cloud and EC2.
 *
 * The identity (provider, instance id, region) comes only from the
 * metadata service of the running instance at the link-local address
 * 169.254.169.254, never from the config: a config copied from another
 * machine must not be able to delete that machine. Each read asks twice
 * (the full document and the single value) and refuses an answer whose
 * two reads disagree.
 *
 * Deleting: Hetzner "DELETE /v1/servers/{id}" with a bearer token (then
 * the returned action is checked); EC2 either a poweroff of an instance
 * launched with InstanceInitiatedShutdownBehavior=terminate, or
 * TerminateInstances through the EC2 Query API signed with SigV4 and the
 * instance profile's credentials. These functions never log secrets; they
 * return what happened in a struct provider_result for the caller to log. */
#ifndef AGENTBOX_PROVIDER_H
#define AGENTBOX_PROVIDER_H

#include <stddef.h>

#include "time-util.h"

struct config;

#define PROVIDER_METADATA_HOST "169.254.169.254"
#define PROVIDER_METADATA_URL "http://" PROVIDER_METADATA_HOST
#define PROVIDER_TEXT_MAX 512

enum provider_kind {
	PROVIDER_AUTO,
	PROVIDER_HETZNER,
	PROVIDER_EC2,
	PROVIDER_NONE,
};

enum ec2_terminate_mode {
	EC2_TERMINATE_SHUTDOWN,
	EC2_TERMINATE_API,
};

struct provider_identity {
	int kind; /* enum provider_kind; never PROVIDER_AUTO once detected */
	char instance_id[64];
	char region[64];
	char zone[64];
	char hostname[256];
	char public_ipv4[64];
	char account[32]; /* EC2 account id, when the document gives one */
};

/* How the delete step is carried out for an identity and config. */
enum provider_method {
	PROVIDER_METHOD_NOTHING,  /* provider "none": log only */
	PROVIDER_METHOD_API,	  /* an API call deletes the instance */
	PROVIDER_METHOD_POWEROFF, /* poweroff terminates (EC2 shutdown mode) */
};

struct provider_result {
	int retryable;			 /* a later attempt may succeed */
	long http_status;		 /* 0: no HTTP answer */
	char request[PROVIDER_TEXT_MAX]; /* "DELETE https://.../servers/42" (no secrets) */
	char detail[PROVIDER_TEXT_MAX];	 /* what the provider said, or why nothing was sent */
	char action_id[32];		 /* Hetzner action id */
	int attempts;
};

const char *provider_kind_to_string(int kind);

/* Sets up libcurl; call once from the main thread before any other
 * function here runs on another thread. */
void provider_global_init(void);

/* Learns the identity for the config's provider.name ("auto" asks the
 * metadata service which one answers). Returns 0 with *ret filled (kind
 * PROVIDER_NONE for "none"), or -errno with why[] saying what was wrong
 * (no answer, malformed or empty answer, an id that changed between two
 * reads); then *ret holds nothing usable. Does not log. */
int provider_detect(const struct config *c, struct provider_identity *ret, char *why,
		    size_t why_size);

/* Non-zero when a and b name the same instance of the same provider. */
int provider_identity_equal(const struct provider_identity *a, const struct provider_identity *b);

/* One line for logs: "hetzner instance 42 (region eu-central, host ws-1)". */
void provider_identity_describe(const struct provider_identity *id, char *buf, size_t size);

enum provider_method provider_method(const struct config *c, const struct provider_identity *id);

/* What the delete step would do, in words, without doing it. */
void provider_describe_delete(const struct config *c, const struct provider_identity *id, char *buf,
			      size_t size);

/* Checks that the delete step can be attempted (the token file is readable
 * for Hetzner, credentials exist for EC2 api mode). 0, or -errno with
 * why[] filled. Sends nothing but metadata reads. */
int provider_check_ready(const struct config *c, const struct provider_identity *id, char *why,
			 size_t why_size);

/* EC2: is InstanceInitiatedShutdownBehavior "terminate"? 1 yes, 0 no
 * ("stop"), -errno when it cannot be confirmed (why[] says why, e.g. no
 * instance profile). */
int provider_ec2_shutdown_terminates(const struct config *c, const struct provider_identity *id,
				     char *why, size_t why_size);

/* Sends one delete request for the instance (kind HETZNER, or EC2 in api
 * mode) and checks the answer. 0 when the provider accepted it; -errno
 * otherwise, with ret->retryable telling whether to try again. */
int provider_delete_once(const struct config *c, const struct provider_identity *id,
			 struct provider_result *ret);

/* provider_delete_once() with up to provider.delete_retries retries after
 * retryable failures, waiting 1 s, 2 s, 4 s, ... (at most 30 s) between
 * them; each failed attempt is logged as a warning. */
int provider_delete(const struct config *c, const struct provider_identity *id,
		    struct provider_result *ret);

/* Parsers, exposed for the unit tests. */
/* Reads "key: value" from the top level of Hetzner's metadata YAML. */
int hetzner_metadata_parse(const char *text, struct provider_identity *ret, char *why,
			   size_t why_size);
int provider_valid_hetzner_id(const char *s);
int provider_valid_ec2_id(const char *s);

#endif
