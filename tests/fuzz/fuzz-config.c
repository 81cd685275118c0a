/* The config file (lib/config.c): any text given to config_load_string(),
 * then config_finish() and config_to_json(). A config that loads must
 * load again from its own JSON output to the same output. */
#include "config.h"
#include "fuzz.h"

static void check_round_trip(const char *json)
{
	_cleanup_(config_freep) struct config *c = config_new();
	_cleanup_free_ char *err = NULL, *again = NULL;

	FUZZ_ASSERT(config_load_string(c, json, "round-trip", &err) == 0);
	FUZZ_ASSERT(config_finish(c, &err) == 0);
	again = config_to_json(c);
	FUZZ_ASSERT(again && strcmp(again, json) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_(config_freep) struct config *c = config_new();
	_cleanup_free_ char *text = fuzz_strndup(data, size), *err = NULL, *json = NULL;

	fuzz_quiet();
	if (config_load_string(c, text, "fuzz", &err) < 0) {
		FUZZ_ASSERT(err);
		return 0;
	}
	if (config_finish(c, &err) < 0) {
		FUZZ_ASSERT(err);
		return 0;
	}
	json = config_to_json(c);
	FUZZ_ASSERT(json);
	check_round_trip(json);
	return 0;
}
