/* Parts of lib/docker.c exposed for tests/fuzz (not part of its interface). */
#ifndef AGENTBOX_DOCKER_INTERNAL_H
#define AGENTBOX_DOCKER_INTERNAL_H

#include <stddef.h>

#include "docker.h"

/* Runs a whole /images/create progress stream (newline-separated JSON, as
 * the daemon sends it) through the parser a pull uses: fn for each
 * progress line, the digest and totals in *ret. 0; -EMSGSIZE for a line
 * over the limit; or the class of the error the stream reported
 * (docker_pull_error_class()) with its text in *ret_error (free it). */
int docker_pull_stream_parse(const char *data, size_t size, docker_progress_fn fn, void *userdata,
			     struct docker_pull_result *ret, char **ret_error);

#endif
