/* WebSocket frames from a client (display/display-ws.c): the input is a
 * stream of frames, parsed (ws_parse_header) and unmasked (ws_unmask) one
 * after the other as the web front does; also a handshake key
 * (ws_accept_key). */
#include <errno.h>

#include "display-ws.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_free_ uint8_t *buf = xmalloc(size ? size : 1);
	_cleanup_free_ char *key = fuzz_strndup(data, size < 64 ? size : 64);
	char accept[WS_ACCEPT_SIZE];
	size_t off = 0;

	if (ws_accept_key(key, accept) == 0)
		FUZZ_ASSERT(strlen(accept) == WS_ACCEPT_SIZE - 1);
	memcpy(buf, data, size);
	while (off < size) {
		struct ws_frame f;
		int r = ws_parse_header(buf + off, size - off, &f);

		if (r <= 0) {
			FUZZ_ASSERT(r == 0 || r == -EPROTO || r == -EMSGSIZE);
			break;
		}
		FUZZ_ASSERT(f.header_size >= 2 && f.header_size <= 14);
		FUZZ_ASSERT(f.length <= WS_MAX_FRAME);
		if (size - off < f.header_size + f.length)
			break;
		if (f.masked)
			ws_unmask(buf + off + f.header_size, (size_t)f.length, f.mask, 0);
		off += f.header_size + (size_t)f.length;
	}
	return 0;
}
