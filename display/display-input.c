/* Keyboard and pointer input with XTEST.
 *
 * RFB sends keysyms, X wants keycodes: a keysym is looked up in the
 * server's keyboard mapping (unshifted column first); one the layout lacks
 * (non-US letters, symbols) is bound to a keycode that has no symbols, as
 * x11vnc and TigerVNC do, so any character a client types arrives. Shift
 * is added around a keysym found only in the shifted column when the
 * client does not hold it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <xcb/xcb.h>
#include <xcb/xtest.h>

#include "display-xcb.h"
#include "log.h"
#include "macro.h"

#define KEYSYM_SHIFT_L 0xffe1
#define KEYSYM_SHIFT_R 0xffe2

/* Which keysym each keycode was pressed for (release uses the same). */
static uint32_t pressed_keysym[256];
/* Keycodes without symbols in the layout at start: ours to bind. */
static int spare[256], n_spare;

int dx_refresh_keymap(struct dx *dx)
{
	xcb_get_keyboard_mapping_reply_t *r;
	int count = dx->max_keycode - dx->min_keycode + 1;
	size_t n;

	r = xcb_get_keyboard_mapping_reply(
		dx->conn, xcb_get_keyboard_mapping(dx->conn, dx->min_keycode, (uint8_t)count), NULL);
	if (!r)
		return -EIO;
	n = (size_t)count * r->keysyms_per_keycode;
	if ((size_t)xcb_get_keyboard_mapping_keysyms_length(r) < n) {
		free(r);
		return -EIO;
	}
	pthread_mutex_lock(&dx->lock);
	free(dx->keymap);
	dx->keymap = xmalloc(n * sizeof(uint32_t));
	memcpy(dx->keymap, xcb_get_keyboard_mapping_keysyms(r), n * sizeof(uint32_t));
	dx->keysyms_per_keycode = r->keysyms_per_keycode;
	pthread_mutex_unlock(&dx->lock);
	free(r);
	return 0;
}

int dx_input_init(struct dx *dx)
{
	const xcb_setup_t *setup = xcb_get_setup(dx->conn);

	int r;

	dx->min_keycode = setup->min_keycode;
	dx->max_keycode = setup->max_keycode;
	r = dx_refresh_keymap(dx);
	if (r < 0)
		return r;
	n_spare = 0;
	for (int kc = dx->min_keycode; kc <= dx->max_keycode; kc++) {
		int empty = 1;
		for (int j = 0; j < dx->keysyms_per_keycode; j++)
			if (dx->keymap[(kc - dx->min_keycode) * dx->keysyms_per_keycode + j])
				empty = 0;
		if (empty)
			spare[n_spare++] = kc;
	}
	return 0;
}

/* Finds the keycode for keysym in column col; 0 when none. Lock held. */
static xcb_keycode_t dx_find_keycode(struct dx *dx, uint32_t keysym, int col)
{
	int per = dx->keysyms_per_keycode;

	if (col >= per)
		return 0;
	for (int kc = dx->min_keycode; kc <= dx->max_keycode; kc++)
		if (dx->keymap[(kc - dx->min_keycode) * per + col] == keysym)
			return (xcb_keycode_t)kc;
	return 0;
}

/* Binds keysym to one of the keycodes that had no symbols at start,
 * round robin, skipping one held down; 0 when there is none. Lock held. */
static xcb_keycode_t dx_bind_spare(struct dx *dx, uint32_t keysym)
{
	int per = dx->keysyms_per_keycode;
	uint32_t syms[16];

	if (per <= 0 || per > (int)ELEMENTSOF(syms) || n_spare == 0)
		return 0;
	for (int i = 0; i < n_spare; i++) {
		int kc = spare[(dx->spare_next + i) % n_spare];

		if (dx->keys_down[kc / 8] & (1 << (kc % 8)))
			continue;
		for (int j = 0; j < per; j++)
			syms[j] = keysym;
		xcb_change_keyboard_mapping(dx->conn, 1, (xcb_keycode_t)kc, (uint8_t)per, syms);
		memcpy(&dx->keymap[(kc - dx->min_keycode) * per], syms,
		       (size_t)per * sizeof(uint32_t));
		dx->spare_next = (dx->spare_next + i + 1) % n_spare;
		return (xcb_keycode_t)kc;
	}
	return 0;
}

/* Sends one key event; lock held. */
static void dx_fake_key(struct dx *dx, int down, xcb_keycode_t kc)
{
	xcb_test_fake_input(dx->conn, down ? XCB_KEY_PRESS : XCB_KEY_RELEASE, kc, XCB_CURRENT_TIME,
			    XCB_NONE, 0, 0, 0);
	if (down)
		dx->keys_down[kc / 8] |= (uint8_t)(1 << (kc % 8));
	else
		dx->keys_down[kc / 8] &= (uint8_t)~(1 << (kc % 8));
}

/* Is a Shift key held by a client? Lock held. */
static int dx_shift_down(struct dx *dx)
{
	for (int kc = 0; kc < 256; kc++)
		if ((dx->keys_down[kc / 8] & (1 << (kc % 8))) &&
		    (pressed_keysym[kc] == KEYSYM_SHIFT_L || pressed_keysym[kc] == KEYSYM_SHIFT_R))
			return 1;
	return 0;
}

void dx_key(struct dx *dx, int down, uint32_t keysym)
{
	xcb_keycode_t kc = 0, shift = 0;
	int col = 0;

	pthread_mutex_lock(&dx->lock);
	if (!down) {
		for (int i = 0; i < 256; i++)
			if (pressed_keysym[i] == keysym && (dx->keys_down[i / 8] & (1 << (i % 8)))) {
				dx_fake_key(dx, 0, (xcb_keycode_t)i);
				pressed_keysym[i] = 0;
			}
		goto out;
	}
	kc = dx_find_keycode(dx, keysym, 0);
	if (!kc) {
		kc = dx_find_keycode(dx, keysym, 1);
		col = 1;
	}
	if (!kc) {
		kc = dx_bind_spare(dx, keysym);
		col = 0;
	}
	if (!kc) {
		log_debug("No keycode free for keysym 0x%x, ignoring", keysym);
		goto out;
	}
	if (col == 1 && !dx_shift_down(dx))
		shift = dx_find_keycode(dx, KEYSYM_SHIFT_L, 0);
	if (shift)
		dx_fake_key(dx, 1, shift);
	dx_fake_key(dx, 1, kc);
	pressed_keysym[kc] = keysym;
	if (shift)
		dx_fake_key(dx, 0, shift);
out:
	pthread_mutex_unlock(&dx->lock);
	xcb_flush(dx->conn);
}

void dx_pointer(struct dx *dx, int mask, int x, int y)
{
	pthread_mutex_lock(&dx->lock);
	xcb_test_fake_input(dx->conn, XCB_MOTION_NOTIFY, 0, XCB_CURRENT_TIME, dx->root,
			    (int16_t)x, (int16_t)y, 0);
	for (int b = 0; b < 8; b++) {
		int was = dx->buttons & (1 << b), is = mask & (1 << b);
		if (was != is)
			xcb_test_fake_input(dx->conn, is ? XCB_BUTTON_PRESS : XCB_BUTTON_RELEASE,
					    (uint8_t)(b + 1), XCB_CURRENT_TIME, XCB_NONE, 0, 0, 0);
	}
	dx->buttons = mask;
	pthread_mutex_unlock(&dx->lock);
	xcb_flush(dx->conn);
}

void dx_release_keys(struct dx *dx)
{
	pthread_mutex_lock(&dx->lock);
	for (int kc = 0; kc < 256; kc++)
		if (dx->keys_down[kc / 8] & (1 << (kc % 8))) {
			dx_fake_key(dx, 0, (xcb_keycode_t)kc);
			pressed_keysym[kc] = 0;
		}
	for (int b = 0; b < 8; b++)
		if (dx->buttons & (1 << b))
			xcb_test_fake_input(dx->conn, XCB_BUTTON_RELEASE, (uint8_t)(b + 1),
					    XCB_CURRENT_TIME, XCB_NONE, 0, 0, 0);
	dx->buttons = 0;
	pthread_mutex_unlock(&dx->lock);
	xcb_flush(dx->conn);
}
