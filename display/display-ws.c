/* WebSocket handshake key and frame headers; see display-ws.h. */
#include <errno.h>
#include <string.h>

#include <nettle/base64.h>
#include <nettle/sha1.h>

#include "display-ws.h"

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

int ws_accept_key(const char *key, char ret[WS_ACCEPT_SIZE])
{
	struct sha1_ctx ctx;
	uint8_t digest[SHA1_DIGEST_SIZE];

	if (!key || !*key || strlen(key) > 64)
		return -EINVAL;
	sha1_init(&ctx);
	sha1_update(&ctx, strlen(key), (const uint8_t *)key);
	sha1_update(&ctx, strlen(WS_GUID), (const uint8_t *)WS_GUID);
	sha1_digest(&ctx, sizeof(digest), digest);
	base64_encode_raw((char *)ret, sizeof(digest), digest);
	ret[BASE64_ENCODE_RAW_LENGTH(SHA1_DIGEST_SIZE)] = 0;
	return 0;
}

int ws_parse_header(const uint8_t *buf, size_t len, struct ws_frame *f)
{
	size_t need = 2;
	uint64_t n;

	if (len < 2)
		return 0;
	if (buf[0] & 0x70) /* RSV bits: no extension was negotiated */
		return -EPROTO;
	f->fin = !!(buf[0] & 0x80);
	f->opcode = buf[0] & 0x0f;
	f->masked = !!(buf[1] & 0x80);
	n = buf[1] & 0x7f;
	if (n == 126)
		need += 2;
	else if (n == 127)
		need += 8;
	if (f->masked)
		need += 4;
	if (len < need)
		return 0;
	if (n == 126)
		n = (uint64_t)buf[2] << 8 | buf[3];
	else if (n == 127) {
		n = 0;
		for (int i = 0; i < 8; i++)
			n = n << 8 | buf[2 + i];
	}
	if (f->opcode >= 0x8 && (n > 125 || !f->fin))
		return -EPROTO;
	if (f->opcode != WS_OP_CONT && f->opcode != WS_OP_TEXT && f->opcode != WS_OP_BINARY &&
	    f->opcode != WS_OP_CLOSE && f->opcode != WS_OP_PING && f->opcode != WS_OP_PONG)
		return -EPROTO;
	if (n > WS_MAX_FRAME)
		return -EMSGSIZE;
	if (f->masked)
		memcpy(f->mask, buf + need - 4, 4);
	f->length = n;
	f->header_size = need;
	return 1;
}

size_t ws_build_header(uint8_t out[10], int opcode, uint64_t length)
{
	out[0] = (uint8_t)(0x80 | (opcode & 0x0f));
	if (length < 126) {
		out[1] = (uint8_t)length;
		return 2;
	}
	if (length <= 0xffff) {
		out[1] = 126;
		out[2] = (uint8_t)(length >> 8);
		out[3] = (uint8_t)length;
		return 4;
	}
	out[1] = 127;
	for (int i = 0; i < 8; i++)
		out[2 + i] = (uint8_t)(length >> (56 - 8 * i));
	return 10;
}

void ws_unmask(uint8_t *p, size_t n, const uint8_t mask[4], size_t offset)
{
	for (size_t i = 0; i < n; i++)
		p[i] ^= mask[(offset + i) & 3];
}
