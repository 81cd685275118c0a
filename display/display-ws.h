/* WebSocket (RFC 6455) pieces that need no socket: the handshake's accept
 * key and frame headers. SHA-1 and base64 come from nettle (the library
 * GnuTLS, which libvncserver links, is built on). */
#ifndef AGENTBOX_DISPLAY_WS_H
#define AGENTBOX_DISPLAY_WS_H

#include <stddef.h>
#include <stdint.h>

#define WS_OP_CONT 0x0
#define WS_OP_TEXT 0x1
#define WS_OP_BINARY 0x2
#define WS_OP_CLOSE 0x8
#define WS_OP_PING 0x9
#define WS_OP_PONG 0xa

/* Largest frame from a client we take (noVNC's are small messages). */
#define WS_MAX_FRAME (1024 * 1024)

/* base64(SHA-1(key + GUID)): 28 characters and a NUL. */
#define WS_ACCEPT_SIZE 29
int ws_accept_key(const char *key, char ret[WS_ACCEPT_SIZE]);

struct ws_frame {
	int fin;
	int opcode;
	int masked;
	uint8_t mask[4];
	uint64_t length;    /* payload bytes */
	size_t header_size; /* bytes before the payload */
};

/* Parses a frame header at buf. Returns 1 when complete (*f filled), 0
 * when more bytes are needed, -EPROTO for a malformed header, -EMSGSIZE
 * for a payload over WS_MAX_FRAME. */
int ws_parse_header(const uint8_t *buf, size_t len, struct ws_frame *f);

/* Writes a server frame header (final, unmasked) into out[10]; returns
 * its size. */
size_t ws_build_header(uint8_t out[10], int opcode, uint64_t length);

/* XORs payload bytes with the mask; offset is the position of p[0] in
 * the payload. */
void ws_unmask(uint8_t *p, size_t n, const uint8_t mask[4], size_t offset);

#endif
