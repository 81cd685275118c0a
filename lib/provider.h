/* Who this machine is, and how it deletes itself: a table of clouds
 * (Hetzner Cloud, EC2, Scaleway, DigitalOcean, and "none").
 *
 * The identity (provider, instance id, region) comes only from the
 * metadata service of the running instance at the link-local address
 * (169.254.169.254, Scaleway's 169.254.42.42), never from the config: a config copied from another
 * machine must not be able to delete that machine. Each read asks twice
 * (the full document and the single value) and refuses an answer whose
 * two reads disagree.
 *
 * Each cloud's metadata, API and deletion are in lib/provider-<name>.c.
 * These functions never log secrets; they return what happened in a
 * struct provider_result for the caller to log. */
#ifndef AGENTBOX_PROVIDER_H
#define AGENTBOX_PROVIDER_H

#include <stddef.h>

#include "time-util.h"

struct config;

#define PROVIDER_METADATA_HOST "169.254.169.254"
#define PROVIDER_METADATA_URL "http://" PROVIDER_METADATA_HOST
#define PROVIDER_TEXT_MAX 512
#define PROVIDER_NAME_MAX 16

enum ec2_terminate_mode {
	EC2_TERMINATE_SHUTDOWN,
	EC2_TERMINATE_API,
};

struct provider_identity {
	char provider[PROVIDER_NAME_MAX]; /* the table row's name; "none": no instance */
	char instance_id[64];		  /* empty for provider "none" */
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
	char action_id[64];		 /* the provider's action or task id, if any */
	int attempts;
};

/* One cloud: a row of the provider table (lib/provider.c), defined in its
 * own lib/provider-<name>.c. Nothing outside those files names a cloud.
 * The why[] arguments receive a sentence for the caller to log; none of
 * these functions logs or puts a secret into why[]. */
struct provider_ops {
	const char *name;	   /* provider.name, AGENTBOX_PROVIDER, status */
	const char *metadata_host; /* the link-local address of its metadata service */
	/* "auto": 1 when the metadata service answers as this cloud's, 0 when
	 * it answers as something else, -errno when nothing answered. NULL:
	 * never detected (provider "none"). */
	int (*probe)(const struct config *c, char *why, size_t why_size);
	/* The identity, read twice from the metadata service (the reads must
	 * agree). 0 with *ret filled, or -errno. */
	int (*identify)(const struct config *c, struct provider_identity *ret, char *why,
			size_t why_size);
	/* Can the delete be attempted (token file, credentials)? Sends
	 * nothing but metadata reads. NULL: nothing to check. */
	int (*check_ready)(const struct config *c, const struct provider_identity *id, char *why,
			   size_t why_size);
	enum provider_method (*method)(const struct config *c);
	/* The delete step in words, without doing it. */
	void (*describe_delete)(const struct config *c, const struct provider_identity *id,
				char *buf, size_t size);
	/* One delete request, its answer checked. NULL when method is never API. */
	int (*delete_once)(const struct config *c, const struct provider_identity *id,
			   struct provider_result *ret);
	/* How deletion completes when the API cannot do it: 1 when a poweroff
	 * deletes this instance, 0 when it would only stop it, -errno when
	 * unknown (why[] says so, in a sentence for the log). NULL: a poweroff
	 * never deletes an instance of this cloud. */
	int (*poweroff_deletes)(const struct config *c, const struct provider_identity *id,
				char *why, size_t why_size);
	/* Is there an interruption notice (EC2 spot: instance-action or a
	 * rebalance recommendation)? 1 with what[] saying which, 0 none, -errno
	 * when the question went unanswered. NULL: the cloud sends none. */
	int (*interruption)(const struct config *c, char *what, size_t what_size);
};

/* The table's row called name, or NULL. */
const struct provider_ops *provider_find(const char *name);

/* "auto" and every row's name, NULL-terminated: the values of provider.name. */
const char *const *provider_names(void);

/* Sets up libcurl; call once from the main thread before any other
 * function here runs on another thread. */
void provider_global_init(void);

/* Learns the identity for the config's provider.name ("auto" asks each
 * row's probe in table order, once per metadata host that answers).
 * Returns 0 with *ret filled (provider "none": no instance id), or -errno
 * with why[] saying what was wrong (no answer, malformed or empty answer,
 * an id that changed between two reads); then *ret holds nothing usable.
 * Does not log. */
int provider_detect(const struct config *c, struct provider_identity *ret, char *why,
		    size_t why_size);

/* Non-zero when a and b name the same instance of the same provider. */
int provider_identity_equal(const struct provider_identity *a, const struct provider_identity *b);

/* One line for logs: "hetzner instance 42 (region eu-central, host ws-1)". */
void provider_identity_describe(const struct provider_identity *id, char *buf, size_t size);

/* The row-driven questions about an identity (its provider's row). */
enum provider_method provider_method(const struct config *c, const struct provider_identity *id);
void provider_describe_delete(const struct config *c, const struct provider_identity *id, char *buf,
			      size_t size);
int provider_check_ready(const struct config *c, const struct provider_identity *id, char *why,
			 size_t why_size);
/* The row's poweroff_deletes, or -EOPNOTSUPP when it has none. */
int provider_poweroff_deletes(const struct config *c, const struct provider_identity *id,
			      char *why, size_t why_size);
/* The row's interruption check for the config's provider (auto: the
 * detected one in *id), or -EOPNOTSUPP when the cloud sends no notices. */
int provider_interruption(const struct config *c, const struct provider_identity *id, char *what,
			  size_t what_size);

/* Sends one delete request for the instance (method API) and checks the
 * answer. 0 when the provider accepted it; -errno otherwise, with
 * ret->retryable telling whether to try again. */
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
/* Scaleway's /conf?format=json and DigitalOcean's /metadata/v1.json. */
int scaleway_metadata_parse(const char *text, struct provider_identity *ret, char *why,
			    size_t why_size);
int digitalocean_metadata_parse(const char *text, struct provider_identity *ret, char *why,
				size_t why_size);

#endif
