/* SHA-256 block compression with the x86 SHA extensions (SHA-NI).
 *
 * Swift cannot call the SHA intrinsics (the compiler crashes), so the whole multi-block loop lives
 * here. Only the functions that use SHA/SSE4.1/SSSE3 instructions carry a target attribute; the rest
 * of the shim target keeps the baseline x86-64 flags, and callers must check
 * ug_sha256_hw_available() first.
 *
 * Register layout (Intel SHA extensions reference, SHA256RNDS2): one register holds the working
 * variables A, B, E, F (A in the highest 32-bit lane, F in the lowest), the other C, D, G, H. Each
 * SHA256RNDS2 performs two rounds of FIPS 180-4 section 6.2.2 step 3, taking W[t] + K[t] for the two
 * rounds from the low 64 bits of its third operand, and returns the new A, B, E, F; the old A, B, E, F
 * become the new C, D, G, H. SHA256MSG1 and SHA256MSG2 compute the sigma0 and sigma1 parts of the
 * message schedule (FIPS 180-4 section 6.2.2 step 1) four words at a time, with W[t] in lane t mod 4.
 */
#include "ug_shims.h"

#if defined(__x86_64__)
#include <immintrin.h>

/* FIPS 180-4 section 4.2.2: the first 32 bits of the fractional parts of the cube roots of the first
 * 64 primes. */
static const uint32_t ug_sha256_k[64] __attribute__((aligned(16))) = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

#define UG_SHA_TARGET __attribute__((target("sha,sse4.1,ssse3")))

int ug_sha256_hw_available(void) {
    /* -1: not yet probed. Racing first callers compute the same answer, so relaxed atomics suffice. */
    static int cached = -1;
    int known = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (known >= 0) return known;
    __builtin_cpu_init();
    int found = __builtin_cpu_supports("sha") && __builtin_cpu_supports("sse4.1") && __builtin_cpu_supports("ssse3");
    __atomic_store_n(&cached, found, __ATOMIC_RELAXED);
    return found;
}

/* Four rounds t .. t+3: two SHA256RNDS2, the second fed the upper half of the W+K vector. Swapping
 * the roles of the two registers between the calls keeps abef/cdgh named correctly afterwards. */
static inline UG_SHA_TARGET void ug_sha256_four_rounds(__m128i *abef, __m128i *cdgh, __m128i wk) {
    *cdgh = _mm_sha256rnds2_epu32(*cdgh, *abef, wk);
    *abef = _mm_sha256rnds2_epu32(*abef, *cdgh, _mm_shuffle_epi32(wk, 0x0E));
}

/* W[t .. t+3] from W[t-16 .. t-1] given as four vectors of four words:
 * W[t] = sigma1(W[t-2]) + W[t-7] + sigma0(W[t-15]) + W[t-16]. MSG1 adds sigma0(W[t-15 ..]) to
 * W[t-16 ..]; the W[t-7 ..] words straddle two vectors, hence the byte-wise align; MSG2 adds the
 * sigma1 terms, two of which depend on words it is producing. */
static inline UG_SHA_TARGET __m128i ug_sha256_schedule(__m128i w16, __m128i w12, __m128i w8, __m128i w4) {
    __m128i partial = _mm_add_epi32(_mm_sha256msg1_epu32(w16, w12), _mm_alignr_epi8(w4, w8, 4));
    return _mm_sha256msg2_epu32(partial, w4);
}

UG_SHA_TARGET void ug_sha256_hw_compress(uint32_t state[8], const uint8_t *blocks, size_t nblocks) {
    /* The message is big-endian; reverse the bytes of every 32-bit lane. */
    const __m128i byteswap = _mm_setr_epi8(3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12);
    /* _mm_set_epi32 lists lanes from the highest down. */
    __m128i abef = _mm_set_epi32((int)state[0], (int)state[1], (int)state[4], (int)state[5]);
    __m128i cdgh = _mm_set_epi32((int)state[2], (int)state[3], (int)state[6], (int)state[7]);

    for (size_t block = 0; block < nblocks; block++, blocks += 64) {
        const __m128i abef_in = abef, cdgh_in = cdgh;
        /* w[i % 4] holds the most recent four-word group i of the schedule. */
        __m128i w[4];
        for (int i = 0; i < 4; i++)
            w[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(blocks + 16 * i)), byteswap);
#pragma clang loop unroll(full)
        for (int group = 0; group < 16; group++) {
            if (group >= 4)
                w[group & 3] = ug_sha256_schedule(w[group & 3], w[(group + 1) & 3], w[(group + 2) & 3], w[(group + 3) & 3]);
            __m128i wk = _mm_add_epi32(w[group & 3], _mm_load_si128((const __m128i *)(ug_sha256_k + 4 * group)));
            ug_sha256_four_rounds(&abef, &cdgh, wk);
        }
        abef = _mm_add_epi32(abef, abef_in);
        cdgh = _mm_add_epi32(cdgh, cdgh_in);
    }

    uint32_t lanes[8];
    _mm_storeu_si128((__m128i *)lanes, abef);       /* F, E, B, A */
    _mm_storeu_si128((__m128i *)(lanes + 4), cdgh); /* H, G, D, C */
    state[0] = lanes[3]; state[1] = lanes[2]; state[4] = lanes[1]; state[5] = lanes[0];
    state[2] = lanes[7]; state[3] = lanes[6]; state[6] = lanes[5]; state[7] = lanes[4];
}

#else

int ug_sha256_hw_available(void) { return 0; }

/* Never called where ug_sha256_hw_available() is 0; defined so the symbol links everywhere. */
void ug_sha256_hw_compress(uint32_t state[8], const uint8_t *blocks, size_t nblocks) {
    (void)state; (void)blocks; (void)nblocks;
    __builtin_trap();
}

#endif
