/* S3 answers (lib/s3.c): any body as a ListObjectsV2 page
 * (s3_list_parse_page), an error document (Code, Message), a
 * CreateMultipartUpload answer (UploadId) and a CompleteMultipartUpload
 * answer with an <Error> inside a 200. */
#include <stdio.h>

#include "fuzz.h"
#include "s3-internal.h"

static int on_key(const char *key, uint64_t size, void *userdata)
{
	unsigned *n = userdata;

	(void)size;
	FUZZ_ASSERT(key);
	/* a callback may stop the listing: the parser must pass that on */
	return ++*n >= 1000 ? -ECANCELED : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const tags[] = {"Code", "Message", "UploadId", "Key", "ETag"};
	_cleanup_free_ char *xml = fuzz_strndup(data, size), *token = NULL;
	unsigned n = 0;
	int r;

	r = s3_list_parse_page(xml, size, on_key, &n, &token);
	FUZZ_ASSERT(r == 0 || (r == -ECANCELED && n == 1000));
	FUZZ_ASSERT(r == 0 || !token);
	for (size_t i = 0; i < ELEMENTSOF(tags); i++) {
		const char *after = NULL;
		_cleanup_free_ char *v = xml_get(xml, xml + size, tags[i], &after);

		FUZZ_ASSERT(!v || (after > xml && after <= xml + size));
	}
	return 0;
}
