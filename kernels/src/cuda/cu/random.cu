// Counter-based normals and the fused reparameterisation, the exact mapping of
// kernels/src/cpu/random.rs: element j = offset + i is lane j % 4 of Philox
// block b = j / 4, i.e. philox4x32_10(counter [b_lo, b_hi, 0, 0], key
// [seed_lo, seed_hi]); lanes (0, 1) are the Box-Muller pair of words (0, 1),
// lanes (2, 3) that of words (2, 3), even lane r cos(theta), odd lane r sin(theta).
// One thread per Philox block (each block is made once), its four elements
// moved with one 16-byte load or store where they are whole and aligned; the
// loads are issued before the block is made, so their latency hides behind it.
//
// This file is compiled twice (sources.rs):
//  - RANDOM, with --fmad=false and the CPU's own ln / sin / cos / exp
//    (common.cuh): the GPU draws the CPU's numbers bit for bit (SamplerMath::Exact);
//  - RANDOM_FAST, with BLITZ_FAST_SAMPLER defined, a·b + c contracted and
//    subnormals flushed: ln by an atanh series (one fast division), softplus
//    by a fitted polynomial, the hardware square root, sin / cos and exp, and the hardware ln for the KL terms, which need absolute
//    accuracy only.
//    Same Philox bits, so eps within 5e-6 of the exact draw, at half the
//    instructions (SamplerMath::Fast, the default on the GPU).

#ifdef BLITZ_FAST_SAMPLER
// ln(1 + y) for y in [0, 1] as y·P(y), P of degree 8 fitted (near-minimax,
// relative) to ln(1 + y)/y: 1.8e-7 relative, no division, no MUFU.
__device__ __forceinline__ float log1p_unit(float y) {
    float p = 0.0052326880395412445f;
    p = p * y - 0.029505213722586632f;
    p = p * y + 0.07822591066360474f;
    p = p * y - 0.13663242757320404f;
    p = p * y + 0.19106005132198334f;
    p = p * y - 0.2484298199415207f;
    p = p * y + 0.3331909775733948f;
    p = p * y - 0.4999949336051941f;
    p = p * y + 0.9999999403953552f;
    return y * p;
}
// ln x for a normal, positive, finite x: x = 2^k m with m in [sqrt(1/2), sqrt(2)),
// so ln m = 2 atanh(z) with |z| < 0.172: the series to z^9 (truncation < 2e-9).
__device__ __forceinline__ float s_ln(float x) {
    u32 ix = __float_as_uint(x) + (0x3f800000u - 0x3f3504f3u);
    float k = (float)((int)(ix >> 23) - 0x7f);
    float f = __uint_as_float((ix & 0x007fffffu) + 0x3f3504f3u) - 1.0f;
    float z = __fdividef(f, 2.0f + f);
    float z2 = z * z;
    float p = 1.0f / 9.0f;
    p = p * z2 + 1.0f / 7.0f;
    p = p * z2 + 1.0f / 5.0f;
    p = p * z2 + 1.0f / 3.0f;
    return k * 0.693147180559945309f + 2.0f * (z + z * (p * z2));
}
// The hardware square root (--prec-sqrt=false): 1 ulp, and 0 at 0, which u1 =
// 1 gives (a rounding of unit_open; x·rsqrt(x) would be NaN there).
__device__ __forceinline__ float s_sqrt(float x) { return sqrtf(x); }
// softplus x = max(x, 0) + ln(1 + e^-|x|): one branch-free form for every x
// (floored at -87 as the CPU's exp is).
__device__ __forceinline__ float s_softplus(float x) {
    x = fmaxf(x, -87.0f);
    return fmaxf(x, 0.0f) + log1p_unit(__expf(-fabsf(x)));
}
__device__ __forceinline__ float s_recip(float x) { return __frcp_rn(x); }
__device__ __forceinline__ float s_sigmoid(float x) { return s_recip(1.0f + __expf(-x)); }
// sin/cos of 2πu by the hardware on the exact reduction to [-π, π]: absolute
// error below 1e-6, so eps within r·1e-6 of the exact draw.
__device__ __forceinline__ void s_sincos_2pi(float u, float* s, float* c) {
    __sincosf(6.28318530717958648f * (u - rintf(u)), s, c);
}
// Terms of the KL (ln sigma, the prior's log-density and its mixture weights) are
// summed, and need absolute accuracy only: the hardware approximations (about
// 2e-7 absolute for ln, 2 ulp for exp) serve.
__device__ __forceinline__ float s_ln_kl(float x) { return __logf(x); }
__device__ __forceinline__ float s_exp_kl(float x) { return __expf(x); }
__device__ __forceinline__ float s_log1p_kl(float x) { return __logf(1.0f + x); }
#else
__device__ __forceinline__ float s_ln(float x) { return blitz_ln(x); }
__device__ __forceinline__ float s_sqrt(float x) { return sqrtf(x); }
__device__ __forceinline__ float s_softplus(float x) { return blitz_softplus(x); }
__device__ __forceinline__ float s_recip(float x) { return 1.0f / x; }
__device__ __forceinline__ float s_sigmoid(float x) { return blitz_sigmoid(x); }
__device__ __forceinline__ void s_sincos_2pi(float u, float* s, float* c) { blitz_sincos_2pi(u, s, c); }
__device__ __forceinline__ float s_ln_kl(float x) { return blitz_ln(x); }
__device__ __forceinline__ float s_exp_kl(float x) { return blitz_exp(x); }
__device__ __forceinline__ float s_log1p_kl(float x) { return blitz_log1p(x); }
#endif

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

__device__ __forceinline__ void philox4x32_10(u32 c[4], u32 k0, u32 k1) {
#pragma unroll
    for (int round = 0; round < 10; ++round) {
        if (round > 0) {
            k0 += PHILOX_W0;
            k1 += PHILOX_W1;
        }
        u32 hi0 = __umulhi(PHILOX_M0, c[0]), lo0 = PHILOX_M0 * c[0];
        u32 hi1 = __umulhi(PHILOX_M1, c[2]), lo1 = PHILOX_M1 * c[2];
        u32 n0 = hi1 ^ c[1] ^ k0, n2 = hi0 ^ c[3] ^ k1;
        c[0] = n0;
        c[1] = lo1;
        c[2] = n2;
        c[3] = lo0;
    }
}

// ((x >> 8) + 0.5) * 2^-24: a uniform in (0, 1), never 0 or 1. One fma gives
// the same float (k·2^-24 + 2^-25 rounded once = (k + 0.5) rounded, times 2^-24).
__device__ __forceinline__ float unit_open(u32 x) {
    return fmaf((float)(x >> 8), 5.9604644775390625e-8f, 2.98023223876953125e-8f);
}

// The four normals of Philox block `block` under `seed`.
__device__ __forceinline__ void normal_block(u64 seed, u64 block, float out[4]) {
    u32 c[4] = {(u32)block, (u32)(block >> 32), 0u, 0u};
    philox4x32_10(c, (u32)seed, (u32)(seed >> 32));
#pragma unroll
    for (int p = 0; p < 2; ++p) {
        float u1 = unit_open(c[2 * p]), u2 = unit_open(c[2 * p + 1]);
        float r = s_sqrt(-2.0f * s_ln(u1));
        float s, co;
        s_sincos_2pi(u2, &s, &co);
        out[2 * p] = r * co;
        out[2 * p + 1] = r * s;
    }
}

// Element index of lane 0 of Philox block b in a buffer whose element 0 is
// draw `offset` (from -3 for the first block when offset % 4 != 0).
__device__ __forceinline__ long long lane0(u64 b, u64 offset) {
    return (long long)(4 * b) - (long long)offset;
}

__device__ __forceinline__ bool lane_in(long long k, u64 n) {
    return k >= 0 && (u64)k < n;
}

// Whether the launch can move whole blocks with 16-byte accesses: the draws
// start on a Philox block (offset % 4 == 0), so block t is elements 4t..4t+3,
// and every buffer is 16-byte aligned. Uniform over the launch.
__device__ __forceinline__ bool vector_ok(u64 offset, const void* a, const void* b, const void* c) {
    return offset % 4 == 0 && (((size_t)a | (size_t)b | (size_t)c) & 15) == 0;
}

// Lanes k0..k0+3 of p: one 16-byte load when `whole` (all in [0, n), aligned),
// else lane by lane (0 outside [0, n)).
__device__ __forceinline__ void load4(const float* p, long long k0, u64 n, bool whole, float v[4]) {
    if (whole) {
        float4 q = *reinterpret_cast<const float4*>(p + k0);
        v[0] = q.x;
        v[1] = q.y;
        v[2] = q.z;
        v[3] = q.w;
    } else {
#pragma unroll
        for (int l = 0; l < 4; ++l) v[l] = lane_in(k0 + l, n) ? p[k0 + l] : 0.0f;
    }
}

// Stores the lanes of v that fall in [0, n) (one 16-byte store when `whole`).
__device__ __forceinline__ void store4(float* p, long long k0, u64 n, bool whole, const float v[4]) {
    if (whole) {
        *reinterpret_cast<float4*>(p + k0) = make_float4(v[0], v[1], v[2], v[3]);
    } else {
#pragma unroll
        for (int l = 0; l < 4; ++l)
            if (lane_in(k0 + l, n)) p[k0 + l] = v[l];
    }
}

// Σ of the lanes of v that fall in [0, n), in float.
__device__ __forceinline__ float sum4(const float v[4], long long k0, u64 n, bool whole) {
    if (whole) return (v[0] + v[1]) + (v[2] + v[3]);
    float s = 0.0f;
#pragma unroll
    for (int l = 0; l < 4; ++l) s += lane_in(k0 + l, n) ? v[l] : 0.0f;
    return s;
}

// Philox blocks covering elements [offset, offset + n): first, count.
#define BLOCK_RANGE(offset, n) u64 first_block = (offset) / 4; u64 nblocks = ((offset) + (n) + 3) / 4 - first_block;


extern "C" __global__ void __launch_bounds__(256, 8) normal_fill(u64 seed, u64 offset, float* out, u64 n) {
    const bool vec = vector_ok(offset, out, out, out);
    BLOCK_RANGE(offset, n)
    GRID_STRIDE(t, nblocks) {
        u64 b = first_block + t;
        long long k0 = lane0(b, offset);
        bool whole = vec && 4 * t + 4 <= n;
        float e[4];
        normal_block(seed, b, e);
        store4(out, k0, n, whole, e);
    }
}

// w = mu + softplus(rho) * eps.
extern "C" __global__ void __launch_bounds__(256, 8)
    reparam_fwd(const float* mu, const float* rho, float* w, u64 n, u64 seed, u64 offset) {
    const bool vec = vector_ok(offset, mu, rho, w);
    BLOCK_RANGE(offset, n)
    GRID_STRIDE(t, nblocks) {
        u64 b = first_block + t;
        long long k0 = lane0(b, offset);
        bool whole = vec && 4 * t + 4 <= n;
        float e[4], m[4], r[4], out[4];
        load4(mu, k0, n, whole, m);
        load4(rho, k0, n, whole, r);
        normal_block(seed, b, e);
#pragma unroll
        for (int l = 0; l < 4; ++l) out[l] = m[l] + s_softplus(r[l]) * e[l];
        store4(w, k0, n, whole, out);
    }
}

// g_rho = g * eps * sigmoid(rho), eps regenerated (g_mu = g is a copy made by the host).
extern "C" __global__ void __launch_bounds__(256, 8)
    reparam_bwd(const float* rho, const float* g, float* g_rho, u64 n, u64 seed, u64 offset) {
    const bool vec = vector_ok(offset, rho, g, g_rho);
    BLOCK_RANGE(offset, n)
    GRID_STRIDE(t, nblocks) {
        u64 b = first_block + t;
        long long k0 = lane0(b, offset);
        bool whole = vec && 4 * t + 4 <= n;
        float e[4], r[4], gv[4], out[4];
        load4(rho, k0, n, whole, r);
        load4(g, k0, n, whole, gv);
        normal_block(seed, b, e);
#pragma unroll
        for (int l = 0; l < 4; ++l) out[l] = gv[l] * e[l] * s_sigmoid(r[l]);
        store4(g_rho, k0, n, whole, out);
    }
}

// Block partials of sum(-ln sigma - eps^2 / 2 - ln sqrt(2 pi)): the log-density of
// the drawn weights, reduced in the sampling kernel (no eps buffer); each Philox
// block's four terms summed in float, the blocks in double.
extern "C" __global__ void __launch_bounds__(256, 8)
    reparam_log_posterior_partial(const float* rho, u64 n, u64 seed, u64 offset, double* partial) {
    const float LN_SQRT_2PI = 0.918938533204672742f;
    const bool vec = vector_ok(offset, rho, rho, rho);
    double acc = 0.0;
    BLOCK_RANGE(offset, n)
    GRID_STRIDE(t, nblocks) {
        u64 b = first_block + t;
        long long k0 = lane0(b, offset);
        bool whole = vec && 4 * t + 4 <= n;
        float e[4], r[4], term[4];
        load4(rho, k0, n, whole, r);
        normal_block(seed, b, e);
#pragma unroll
        for (int l = 0; l < 4; ++l) term[l] = -s_ln_kl(s_softplus(r[l])) - 0.5f * e[l] * e[l] - LN_SQRT_2PI;
        acc += (double)sum4(term, k0, n, whole);
    }
    double s = blitz_block_sum(acc);
    if (threadIdx.x == 0) partial[blockIdx.x] = s;
}

// The fused draw + Monte Carlo KL of kernels/src/cpu/sample_kl.rs, operation
// for operation. The prior is two components with log-densities c - h*w^2
// (log-weights folded into c; a single Gaussian is two equal halves).
__device__ __forceinline__ void blitz_log_prior(float w, float ca, float ha, float cb, float hb, float* lp, float* dlp) {
    float w2 = w * w;
    float a = ca - ha * w2;
    float b = cb - hb * w2;
    float e = s_exp_kl(fmaxf(-fabsf(a - b), -60.0f));
    *lp = fmaxf(a, b) + s_log1p_kl(e);
    float inv = s_recip(1.0f + e);
    float ra = a >= b ? inv : e * inv;
    float rb = a >= b ? e * inv : inv;
    *dlp = -2.0f * w * (ra * ha + rb * hb);
}

// One Philox block of the fused draw + KL: w = mu + softplus(rho) * eps and
// each lane's -ln sigma - eps^2/2 - log p(w).
__device__ __forceinline__ void sample_kl_lanes(const float m[4], const float r[4], const float e[4], float ca,
                                                float ha, float cb, float hb, float w[4], float term[4]) {
#pragma unroll
    for (int l = 0; l < 4; ++l) {
        float sigma = s_softplus(r[l]);
        w[l] = m[l] + sigma * e[l];
        float lp, dlp;
        blitz_log_prior(w[l], ca, ha, cb, hb, &lp, &dlp);
        term[l] = -s_ln_kl(sigma) - 0.5f * e[l] * e[l] - lp;
    }
}

// w = mu + softplus(rho) * eps, and block partials of sum(-ln sigma - eps^2/2 - log p(w))
// (the -ln sqrt(2 pi) per element is added by the host), in one pass. When the
// launch is aligned (vector_ok) the whole blocks run as plain float4 streams
// with no lane bookkeeping (this kernel is the hot one of a training step);
// the rest (all of it otherwise) goes lane by lane.
extern "C" __global__ void __launch_bounds__(256, 8)
    sample_kl_fwd(const float* mu, const float* rho, float* w, u64 n, u64 seed, u64 offset, float ca, float ha,
                  float cb, float hb, double* partial) {
    double acc = 0.0;
    BLOCK_RANGE(offset, n)
    const u64 nvec = vector_ok(offset, mu, rho, w) ? n / 4 : 0;
    GRID_STRIDE(t, nvec) {
        float4 mq = reinterpret_cast<const float4*>(mu)[t], rq = reinterpret_cast<const float4*>(rho)[t];
        float m[4] = {mq.x, mq.y, mq.z, mq.w}, r[4] = {rq.x, rq.y, rq.z, rq.w}, e[4], out[4], term[4];
        normal_block(seed, first_block + t, e);
        sample_kl_lanes(m, r, e, ca, ha, cb, hb, out, term);
        reinterpret_cast<float4*>(w)[t] = make_float4(out[0], out[1], out[2], out[3]);
        acc += (double)((term[0] + term[1]) + (term[2] + term[3]));
    }
    GRID_STRIDE(i, nblocks - nvec) {
        u64 b = first_block + nvec + i;
        long long k0 = lane0(b, offset);
        float e[4], m[4], r[4], out[4], term[4];
        load4(mu, k0, n, false, m);
        load4(rho, k0, n, false, r);
        normal_block(seed, b, e);
        sample_kl_lanes(m, r, e, ca, ha, cb, hb, out, term);
        acc += (double)sum4(term, k0, n, false);
        store4(w, k0, n, false, out);
    }
    double s = blitz_block_sum(acc);
    if (threadIdx.x == 0) partial[blockIdx.x] = s;
}

// Both gradients in one pass, eps regenerated: g_mu = g_w - g_kl p'(w),
// g_rho = sigmoid(rho) (g_w eps + g_kl (-1/sigma - eps p'(w))). g_w may be null
// (has_gw = 0: the loss uses only the KL; g_w is then not read). g_kl is read
// from device memory: the host never waits for it.
extern "C" __global__ void __launch_bounds__(256, 6)
    sample_kl_bwd(const float* mu, const float* rho, const float* g_w, int has_gw, const float* g_kl_in, u64 n,
                  u64 seed, u64 offset, float ca, float ha, float cb, float hb, float* g_mu, float* g_rho) {
    const float g_kl = *g_kl_in;
    const bool vec = vector_ok(offset, mu, rho, has_gw ? g_w : mu) && vector_ok(offset, g_mu, g_rho, g_rho);
    BLOCK_RANGE(offset, n)
    GRID_STRIDE(t, nblocks) {
        u64 b = first_block + t;
        long long k0 = lane0(b, offset);
        bool whole = vec && 4 * t + 4 <= n;
        float e[4], m[4], r[4], gw[4] = {0.0f, 0.0f, 0.0f, 0.0f}, om[4], orho[4];
        load4(mu, k0, n, whole, m);
        load4(rho, k0, n, whole, r);
        if (has_gw) load4(g_w, k0, n, whole, gw);
        normal_block(seed, b, e);
#pragma unroll
        for (int l = 0; l < 4; ++l) {
            float sigma = s_softplus(r[l]);
            float wi = m[l] + sigma * e[l];
            float lp, dlp;
            blitz_log_prior(wi, ca, ha, cb, hb, &lp, &dlp);
            om[l] = gw[l] - g_kl * dlp;
            orho[l] = s_sigmoid(r[l]) * (gw[l] * e[l] + g_kl * (-s_recip(sigma) - e[l] * dlp));
        }
        store4(g_mu, k0, n, whole, om);
        store4(g_rho, k0, n, whole, orho);
    }
}

// Block partials of sum(-ln sigma - eps^2/2 - log p(w)) for weights w already
// drawn by reparam_fwd with (seed, offset): eps regenerated, mu not needed.
extern "C" __global__ void __launch_bounds__(256, 8)
    kl_at_partial(const float* w, const float* rho, u64 n, u64 seed, u64 offset, float ca, float ha, float cb,
                  float hb, double* partial) {
    const bool vec = vector_ok(offset, w, rho, rho);
    double acc = 0.0;
    BLOCK_RANGE(offset, n)
    GRID_STRIDE(t, nblocks) {
        u64 b = first_block + t;
        long long k0 = lane0(b, offset);
        bool whole = vec && 4 * t + 4 <= n;
        float e[4], wv[4], r[4], term[4];
        load4(w, k0, n, whole, wv);
        load4(rho, k0, n, whole, r);
        normal_block(seed, b, e);
#pragma unroll
        for (int l = 0; l < 4; ++l) {
            float lp, dlp;
            blitz_log_prior(wv[l], ca, ha, cb, hb, &lp, &dlp);
            term[l] = -s_ln_kl(s_softplus(r[l])) - 0.5f * e[l] * e[l] - lp;
        }
        acc += (double)sum4(term, k0, n, whole);
    }
    double s = blitz_block_sum(acc);
    if (threadIdx.x == 0) partial[blockIdx.x] = s;
}

// Backward of kl_at_partial (w given, so no eps): g_w = -g_kl p'(w),
// g_rho = -g_kl sigmoid(rho) / sigma.
extern "C" __global__ void kl_at_bwd(const float* w, const float* rho, const float* g_kl_in, u64 n, float ca,
                                     float ha, float cb, float hb, float* g_w, float* g_rho) {
    const float g_kl = *g_kl_in;
    GRID_STRIDE(i, n) {
        float lp, dlp;
        blitz_log_prior(w[i], ca, ha, cb, hb, &lp, &dlp);
        g_w[i] = -g_kl * dlp;
        g_rho[i] = -g_kl * s_sigmoid(rho[i]) / s_softplus(rho[i]);
    }
}
