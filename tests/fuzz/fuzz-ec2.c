/* EC2 metadata and API answers (lib/provider-ec2.c, lib/provider.c): any
 * text as the instance-identity document (checked against the
 * instance-id and region read before), as IMDS's credentials of a role,
 * as the instance-id and role-name answers, and as Query API XML. */
#include <stdio.h>

#include "fuzz.h"
#include "provider-http.h"
#include "provider.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const tags[] = {"Code", "Message", "instanceId", "currentState",
					   "value"};
	_cleanup_free_ char *text = fuzz_strndup(data, size);
	struct provider_identity id = {
	    .provider = "ec2", .instance_id = "i-0123456789abcdef0", .region = "eu-central-1"};
	struct ec2_credentials k = {0};
	char why[256], buf[128];

	if (ec2_identity_document_check(text, &id, why, sizeof(why)) == 0) {
		FUZZ_ASSERT(memchr(id.zone, '\0', sizeof(id.zone)));
		FUZZ_ASSERT(memchr(id.account, '\0', sizeof(id.account)));
	}
	if (ec2_credentials_parse(text, "role", &k, why, sizeof(why)) == 0)
		FUZZ_ASSERT(k.access_key_id && k.secret_access_key && k.token);
	ec2_credentials_done(&k);
	/* instance-id and role name answers: the first line, printable */
	if (copy_printable(buf, sizeof(buf), text, strcspn(text, "\n")) == 0)
		provider_valid_ec2_id(buf);
	for (size_t i = 0; i < ELEMENTSOF(tags); i++)
		if (xml_tag_text(text, tags[i], buf, sizeof(buf)) == 0)
			FUZZ_ASSERT(strlen(buf) < sizeof(buf));
	return 0;
}
