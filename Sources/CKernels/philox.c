// Philox4x32-10 (Salmon, Moraes, Dror, Shaw 2011, "Parallel random numbers: as easy as 1, 2, 3").
#include "dl_kernels.h"
#include <math.h>

static inline void mulhilo(uint32_t a, uint32_t b, uint32_t *hi, uint32_t *lo) {
    uint64_t p = (uint64_t)a * (uint64_t)b;
    *hi = (uint32_t)(p >> 32);
    *lo = (uint32_t)p;
}

void dl_philox4x32(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]) {
    uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3], k0 = key[0], k1 = key[1];
    for (int r = 0; r < 10; r++) {
        uint32_t hi0, lo0, hi1, lo1;
        mulhilo(0xD2511F53u, c0, &hi0, &lo0);
        mulhilo(0xCD9E8D57u, c2, &hi1, &lo1);
        uint32_t n0 = hi1 ^ c1 ^ k0, n1 = lo1, n2 = hi0 ^ c3 ^ k1, n3 = lo0;
        c0 = n0; c1 = n1; c2 = n2; c3 = n3;
        k0 += 0x9E3779B9u; k1 += 0xBB67AE85u;
    }
    out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
}

// Block b of stream s under seed k: counter = (b lo, b hi, s lo, s hi), key = (k lo, k hi).
static inline void block(uint64_t seed, uint64_t stream, uint64_t b, uint32_t out[4]) {
    uint32_t ctr[4] = {(uint32_t)b, (uint32_t)(b >> 32), (uint32_t)stream, (uint32_t)(stream >> 32)};
    uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    dl_philox4x32(ctr, key, out);
}

// 24 random bits → [0, 1).
static inline float u01(uint32_t u) { return (float)(u >> 8) * 0x1.0p-24f; }

void dl_rand_uniform(uint64_t seed, uint64_t stream, uint64_t offset, long n, float *out, float lo, float hi) {
    uint32_t r[4];
    for (long i = 0; i < n; i++) {
        uint64_t e = offset + (uint64_t)i;
        block(seed, stream, e >> 2, r);
        out[i] = lo + (hi - lo) * u01(r[e & 3]);
    }
}

// Element e uses block e/2 and the lane pair (2(e%2), 2(e%2)+1): Box–Muller, one variate per pair.
void dl_rand_normal(uint64_t seed, uint64_t stream, uint64_t offset, long n, float *out, float mean, float std) {
    uint32_t r[4];
    for (long i = 0; i < n; i++) {
        uint64_t e = offset + (uint64_t)i;
        block(seed, stream, e >> 1, r);
        int l = (int)(e & 1) * 2;
        double u1 = ((double)(r[l] >> 8) + 1.0) * 0x1.0p-24;  // (0, 1]
        double u2 = (double)(r[l + 1] >> 8) * 0x1.0p-24;       // [0, 1)
        double z = sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
        out[i] = mean + std * (float)z;
    }
}

void dl_rand_int(uint64_t seed, uint64_t stream, uint64_t offset, long n, float *out, int64_t lo, int64_t hi) {
    uint32_t r[4];
    uint64_t range = (uint64_t)(hi - lo);
    for (long i = 0; i < n; i++) {
        uint64_t e = offset + (uint64_t)i;
        block(seed, stream, e >> 1, r);
        int l = (int)(e & 1) * 2;
        uint64_t u = ((uint64_t)r[l] << 32) | r[l + 1];
        // Multiply-shift on 64 random bits: bias below 2^-32 for ranges under 2^32.
        uint64_t v = (uint64_t)(((__uint128_t)u * range) >> 64);
        out[i] = (float)(lo + (int64_t)v);
    }
}
