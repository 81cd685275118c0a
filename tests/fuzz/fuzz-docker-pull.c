/* The Docker daemon's pull progress stream (lib/docker.c): any bytes as
 * the body of POST /images/create, line by line through the parser a pull
 * uses (docker_pull_stream_parse). */
#include "docker-internal.h"
#include "fuzz.h"

static void on_progress(const struct docker_pull_progress *p, void *userdata)
{
	(void)userdata;
	FUZZ_ASSERT(p->status);
	FUZZ_ASSERT(p->layers_done <= p->layers);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct docker_pull_result res;
	_cleanup_free_ char *err = NULL;
	int r;

	fuzz_quiet();
	r = docker_pull_stream_parse((const char *)data, size, on_progress, NULL, &res, &err);
	FUZZ_ASSERT(r <= 0);
	FUZZ_ASSERT(!err || r < 0);
	FUZZ_ASSERT(memchr(res.digest, '\0', sizeof(res.digest)));
	return 0;
}
