/* Gear-hash chunking with FastCDC's two masks; see chunker.h.
 *
 * The gear table is fixed (splitmix64 from a constant seed): cut points are
 * part of the format, since the same content must cut the same way on
 * every machine and in every version for chunks to be found again. */
#include <stdint.h>

#include "chunker.h"

/* More one-bits before the average (cuts rarer), fewer after (cuts more
 * likely): chunk sizes cluster around CHUNK_AVG (FastCDC, "normalized
 * chunking", level 2). 2^20 = CHUNK_AVG. */
#define MASK_S 0x9b5a515e65200000ULL /* 22 bits */
#define MASK_L 0x9b52514c25200000ULL /* 18 bits, a subset */

static uint64_t gear[256];
static int gear_ready;

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Filled once; racing threads write the same values. */
static void gear_init(void)
{
	uint64_t seed = 0x61676e74626f7832ULL; /* "agntbox2" */

	if (__atomic_load_n(&gear_ready, __ATOMIC_ACQUIRE))
		return;
	for (int i = 0; i < 256; i++)
		gear[i] = splitmix64(&seed);
	__atomic_store_n(&gear_ready, 1, __ATOMIC_RELEASE);
}

size_t chunker_next(const unsigned char *data, size_t size)
{
	size_t n = size < CHUNK_MAX ? size : CHUNK_MAX, normal = CHUNK_AVG, i;
	uint64_t h = 0;

	if (n <= CHUNK_MIN)
		return n;
	gear_init();
	if (normal > n)
		normal = n;
	for (i = CHUNK_MIN; i < normal; i++) {
		h = (h << 1) + gear[data[i]];
		if (!(h & MASK_S))
			return i + 1;
	}
	for (; i < n; i++) {
		h = (h << 1) + gear[data[i]];
		if (!(h & MASK_L))
			return i + 1;
	}
	return n;
}
