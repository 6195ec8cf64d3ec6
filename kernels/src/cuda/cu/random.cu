// Counter-based normals and the fused reparameterisation, the exact mapping of
// kernels/src/cpu/random.rs: element j = offset + i is lane j % 4 of Philox
// block b = j / 4, i.e. philox4x32_10(counter [b_lo, b_hi, 0, 0], key
// [seed_lo, seed_hi]); lanes (0, 1) are the Box-Muller pair of words (0, 1),
// lanes (2, 3) that of words (2, 3), even lane r cos(theta), odd lane r sin(theta).
// Written inline (no curand) with the CPU's own ln and sin/cos (common.cuh),
// compiled with --fmad=false: the GPU draws the CPU's numbers bit for bit. One thread per Philox block: each block is made once.

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

__device__ __forceinline__ void philox4x32_10(u32 c[4], u32 k0, u32 k1) {
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

// ((x >> 8) + 0.5) * 2^-24: a uniform in (0, 1), never 0 or 1.
__device__ __forceinline__ float unit_open(u32 x) {
    return ((float)(x >> 8) + 0.5f) * 5.9604644775390625e-8f;
}

// The four normals of Philox block `block` under `seed`.
__device__ __forceinline__ void normal_block(u64 seed, u64 block, float out[4]) {
    u32 c[4] = {(u32)block, (u32)(block >> 32), 0u, 0u};
    philox4x32_10(c, (u32)seed, (u32)(seed >> 32));
    for (int p = 0; p < 2; ++p) {
        float u1 = unit_open(c[2 * p]), u2 = unit_open(c[2 * p + 1]);
        float r = sqrtf(-2.0f * blitz_ln(u1));
        float s, co;
        blitz_sincos_2pi(u2, &s, &co);
        out[2 * p] = r * co;
        out[2 * p + 1] = r * s;
    }
}

// Philox blocks covering elements [offset, offset + n): first, count.
#define BLOCK_RANGE(offset, n) u64 first_block = (offset) / 4; u64 nblocks = ((offset) + (n) + 3) / 4 - first_block;

extern "C" __global__ void normal_fill(u64 seed, u64 offset, float* out, u64 n) {
    BLOCK_RANGE(offset, n)
    GRID_STRIDE(t, nblocks) {
        u64 b = first_block + t;
        float e[4];
        normal_block(seed, b, e);
        for (int l = 0; l < 4; ++l) {
            u64 j = b * 4 + l;
            if (j >= offset && j < offset + n) out[j - offset] = e[l];
        }
    }
}

// w = mu + softplus(rho) * eps.
extern "C" __global__ void reparam_fwd(const float* mu, const float* rho, float* w, u64 n, u64 seed, u64 offset) {
    BLOCK_RANGE(offset, n)
    GRID_STRIDE(t, nblocks) {
        u64 b = first_block + t;
        float e[4];
        normal_block(seed, b, e);
        for (int l = 0; l < 4; ++l) {
            u64 j = b * 4 + l;
            if (j >= offset && j < offset + n) {
                u64 k = j - offset;
                w[k] = mu[k] + blitz_softplus(rho[k]) * e[l];
            }
        }
    }
}

// g_rho = g * eps * sigmoid(rho), eps regenerated (g_mu = g is a copy made by the host).
extern "C" __global__ void reparam_bwd(const float* rho, const float* g, float* g_rho, u64 n, u64 seed, u64 offset) {
    BLOCK_RANGE(offset, n)
    GRID_STRIDE(t, nblocks) {
        u64 b = first_block + t;
        float e[4];
        normal_block(seed, b, e);
        for (int l = 0; l < 4; ++l) {
            u64 j = b * 4 + l;
            if (j >= offset && j < offset + n) {
                u64 k = j - offset;
                g_rho[k] = g[k] * e[l] * blitz_sigmoid(rho[k]);
            }
        }
    }
}

// Block partials of sum(-ln sigma - eps^2 / 2 - ln sqrt(2 pi)): the log-density of
// the drawn weights, reduced in the sampling kernel (no eps buffer); each term in
// float, summed in double, like the CPU. Finished by reduce.cu's sum_finish.
extern "C" __global__ void reparam_log_posterior_partial(const float* rho, u64 n, u64 seed, u64 offset, double* partial) {
    const float LN_SQRT_2PI = 0.918938533204672742f;
    double acc = 0.0;
    BLOCK_RANGE(offset, n)
    GRID_STRIDE(t, nblocks) {
        u64 b = first_block + t;
        float e[4];
        normal_block(seed, b, e);
        for (int l = 0; l < 4; ++l) {
            u64 j = b * 4 + l;
            if (j >= offset && j < offset + n) {
                u64 k = j - offset;
                acc += (double)(-blitz_ln(blitz_softplus(rho[k])) - 0.5f * e[l] * e[l] - LN_SQRT_2PI);
            }
        }
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
    float e = blitz_exp(fmaxf(-fabsf(a - b), -60.0f));
    *lp = fmaxf(a, b) + blitz_log1p(e);
    float inv = 1.0f / (1.0f + e);
    float ra = a >= b ? inv : e * inv;
    float rb = a >= b ? e * inv : inv;
    *dlp = -2.0f * w * (ra * ha + rb * hb);
}

// w = mu + softplus(rho) * eps, and block partials of sum(-ln sigma - eps^2/2 - log p(w))
// (the -ln sqrt(2 pi) per element is added by the host), in one pass.
extern "C" __global__ void sample_kl_fwd(const float* mu, const float* rho, float* w, u64 n, u64 seed, u64 offset,
                                         float ca, float ha, float cb, float hb, double* partial) {
    double acc = 0.0;
    BLOCK_RANGE(offset, n)
    GRID_STRIDE(t, nblocks) {
        u64 b = first_block + t;
        float e[4];
        normal_block(seed, b, e);
        for (int l = 0; l < 4; ++l) {
            u64 j = b * 4 + l;
            if (j >= offset && j < offset + n) {
                u64 k = j - offset;
                float sigma = blitz_softplus(rho[k]);
                float wi = mu[k] + sigma * e[l];
                w[k] = wi;
                float lp, dlp;
                blitz_log_prior(wi, ca, ha, cb, hb, &lp, &dlp);
                acc += (double)(-blitz_ln(sigma) - 0.5f * e[l] * e[l] - lp);
            }
        }
    }
    double s = blitz_block_sum(acc);
    if (threadIdx.x == 0) partial[blockIdx.x] = s;
}

// Both gradients in one pass, eps regenerated: g_mu = g_w - g_kl p'(w),
// g_rho = sigmoid(rho) (g_w eps + g_kl (-1/sigma - eps p'(w))). g_w may be null
// (has_gw = 0: the loss uses only the KL; g_w is then not read).
extern "C" __global__ void sample_kl_bwd(const float* mu, const float* rho, const float* g_w, int has_gw, float g_kl,
                                         u64 n, u64 seed, u64 offset, float ca, float ha, float cb, float hb,
                                         float* g_mu, float* g_rho) {
    BLOCK_RANGE(offset, n)
    GRID_STRIDE(t, nblocks) {
        u64 b = first_block + t;
        float e[4];
        normal_block(seed, b, e);
        for (int l = 0; l < 4; ++l) {
            u64 j = b * 4 + l;
            if (j >= offset && j < offset + n) {
                u64 k = j - offset;
                float sigma = blitz_softplus(rho[k]);
                float wi = mu[k] + sigma * e[l];
                float lp, dlp;
                blitz_log_prior(wi, ca, ha, cb, hb, &lp, &dlp);
                float gw = has_gw ? g_w[k] : 0.0f;
                g_mu[k] = gw - g_kl * dlp;
                g_rho[k] = blitz_sigmoid(rho[k]) * (gw * e[l] + g_kl * (-1.0f / sigma - e[l] * dlp));
            }
        }
    }
}
