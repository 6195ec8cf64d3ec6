// Shared by every blitz kernel source: fixed-width types, the grid-stride loop,
// the broadcast/permute shape descriptor, and the numerically guarded scalar
// functions, written to match the CPU kernels (kernels/src/cpu/unary.rs).
// NVRTC compiles this without any header: nothing here may #include.

typedef unsigned int u32;
typedef unsigned long long u64;

#define BLITZ_MAX_RANK 8

// Shape descriptor passed by value: an output shape and the element strides of
// up to two operands read in that shape (0 along broadcast axes).
struct Dims {
    u64 rank;
    u64 shape[BLITZ_MAX_RANK];
    u64 sa[BLITZ_MAX_RANK];
    u64 sb[BLITZ_MAX_RANK];
};

#define GRID_STRIDE(i, n) for (u64 i = (u64)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (u64)blockDim.x * gridDim.x)

// The CPU's vectorisable math (kernels/src/fastmath/mod.rs), operation for
// operation, with the same f32 constants (as bit patterns). The sources that
// use it are compiled with --fmad=false (EXACT in sources.rs), and +, *, /,
// sqrtf, rintf and the explicit fused multiply-adds __fmaf_rn (where the CPU
// code calls mul_add) are exactly rounded, so these give the CPU's bits: the
// sampler draws the same eps on both devices. Change the two files together:
// kernels/tests/cuda_math_replica.rs compiles this section (from
// BLITZ_LN2_HI to "Offsets into operands") as host C and checks it bit for
// bit against fastmath.rs, so keep it plain C plus __fmaf_rn,
// __uint_as_float and __float_as_uint.
#define BLITZ_LN2_HI __uint_as_float(0x3f317180u) // 6.931381e-1
#define BLITZ_LN2_LO __uint_as_float(0x3717f7d1u) // 9.058001e-6
#define BLITZ_LG1 __uint_as_float(0x3f2aaaaau) // 6.666666e-1
#define BLITZ_LG2 __uint_as_float(0x3eccce13u) // 4.0000972e-1
#define BLITZ_LG3 __uint_as_float(0x3e91e9eeu) // 2.8498787e-1
#define BLITZ_LG4 __uint_as_float(0x3e789e26u) // 2.4279079e-1
#define BLITZ_S1 __uint_as_float(0xbe2aaaa3u) // -1.6666655e-1
#define BLITZ_S2 __uint_as_float(0x3c08839eu) // 8.332161e-3
#define BLITZ_S3 __uint_as_float(0xb94ca1f9u) // -1.9515296e-4
#define BLITZ_C1 __uint_as_float(0x3d2aaaa5u) // 4.1666646e-2
#define BLITZ_C2 __uint_as_float(0xbab6061au) // -1.3887316e-3
#define BLITZ_C3 __uint_as_float(0x37ccf5ceu) // 2.4433157e-5
#define BLITZ_LOG2E __uint_as_float(0x3fb8aa3bu) // 1.442695e0
#define BLITZ_LN2_HI_E __uint_as_float(0x3f318000u) // 6.933594e-1
#define BLITZ_LN2_LO_E __uint_as_float(0xb95e8083u) // -2.1219444e-4
#define BLITZ_E2 __uint_as_float(0x3f000000u) // 5e-1
#define BLITZ_E3 __uint_as_float(0x3e2aaaaau) // 1.6666666e-1
#define BLITZ_E4 __uint_as_float(0x3d2aa9c1u) // 4.1665796e-2
#define BLITZ_E5 __uint_as_float(0x3c088908u) // 8.333452e-3
#define BLITZ_E6 __uint_as_float(0x3ab743cfu) // 1.3982e-3
#define BLITZ_E7 __uint_as_float(0x39506967u) // 1.9875691e-4
#define BLITZ_TAU __uint_as_float(0x40c90fdbu) // 6.2831855e0

// ln x: for a normal, positive, finite x; subnormals scaled by 2^24 first,
// ln(+-0) = -inf, ln(+inf) = +inf, NaN for a negative x or NaN (fastmath::ln).
__device__ __forceinline__ float blitz_ln(float x) {
    int tiny = x < __uint_as_float(0x00800000u);
    float xs = tiny ? x * 16777216.0f : x;
    u32 ix = __float_as_uint(xs) + (0x3f800000u - 0x3f3504f3u);
    float k = (float)((int)(ix >> 23) - 0x7f);
    k = tiny ? k - 24.0f : k;
    float m = __uint_as_float((ix & 0x007fffffu) + 0x3f3504f3u);
    float f = m - 1.0f;
    float s = f / (2.0f + f);
    float z = s * s;
    float w = z * z;
    float r = __fmaf_rn(z, __fmaf_rn(w, BLITZ_LG3, BLITZ_LG1), w * __fmaf_rn(w, BLITZ_LG4, BLITZ_LG2));
    float hfsq = 0.5f * f * f;
    float y = __fmaf_rn(k, BLITZ_LN2_HI, __fmaf_rn(s, hfsq + r, k * BLITZ_LN2_LO) - hfsq + f);
    y = (x == __uint_as_float(0x7f800000u)) ? x : y;
    y = (x == 0.0f) ? __uint_as_float(0xff800000u) : y;
    return (x >= 0.0f) ? y : __uint_as_float(0x7fc00000u);
}

// (sin 2πu, cos 2πu) for u in [0, 1), with exact reductions; NaN for NaN or
// +-inf. q is an integer in [-2, 2]: the low bits of q + 1.5*2^23 are q mod 4
// (no conversion to int, which is undefined for NaN in C).
__device__ __forceinline__ void blitz_sincos_2pi(float u, float* sin_out, float* cos_out) {
    float t = u - rintf(u);
    float q = rintf(4.0f * t);
    float r = t - 0.25f * q;
    float a = BLITZ_TAU * r;
    float a2 = a * a;
    float s = __fmaf_rn(a * a2, __fmaf_rn(a2, __fmaf_rn(a2, BLITZ_S3, BLITZ_S2), BLITZ_S1), a);
    float c = __fmaf_rn(a2 * a2, __fmaf_rn(a2, __fmaf_rn(a2, BLITZ_C3, BLITZ_C2), BLITZ_C1), __fmaf_rn(-0.5f, a2, 1.0f));
    u32 qi = __float_as_uint(q + 12582912.0f) & 3u;
    float sv = (qi & 1u) ? c : s;
    float cv = (qi & 1u) ? s : c;
    *sin_out = (qi >= 2u) ? -sv : sv;
    *cos_out = (qi == 1u || qi == 2u) ? -cv : cv;
}

// e^x for x clamped to [-87, 88] (+-inf too); NaN gives NaN. The halves of
// n become exponents through the bits of n1 + 1.5*2^23 (exact for integers
// in [-64, 64]; no conversion to int, which is undefined for NaN in C).
__device__ __forceinline__ float blitz_exp(float x) {
    if (x < -87.0f) x = -87.0f;
    if (x > 88.0f) x = 88.0f;
    float n = rintf(x * BLITZ_LOG2E);
    float r = __fmaf_rn(-n, BLITZ_LN2_LO_E, __fmaf_rn(-n, BLITZ_LN2_HI_E, x));
    float r2 = r * r;
    float poly = __fmaf_rn(r, __fmaf_rn(r, __fmaf_rn(r, __fmaf_rn(r, __fmaf_rn(r, BLITZ_E7, BLITZ_E6), BLITZ_E5), BLITZ_E4), BLITZ_E3), BLITZ_E2);
    float p = __fmaf_rn(r2, poly, 1.0f + r);
    float n1 = rintf(n * 0.5f);
    float s1 = __uint_as_float((__float_as_uint(n1 + 12582912.0f) - 0x4b400000u + 127u) << 23);
    float s2 = __uint_as_float((__float_as_uint((n - n1) + 12582912.0f) - 0x4b400000u + 127u) << 23);
    return p * s1 * s2;
}

// ln(1 + y), Goldberg's trick for tiny y.
__device__ __forceinline__ float blitz_log1p(float y) {
    float u = 1.0f + y;
    float d = u - 1.0f;
    float v = d == 0.0f ? y : blitz_ln(u) * (y / d);
    return (y == __uint_as_float(0x7f800000u)) ? y : v;
}

__device__ __forceinline__ float blitz_softplus(float x) {
    float mid = blitz_log1p(blitz_exp(x));
    return x > 20.0f ? x : mid;
}

__device__ __forceinline__ float blitz_sigmoid(float x) {
    return 1.0f / (1.0f + blitz_exp(-x));
}

// Offsets into operands a and b of output element i under `d`.
__device__ __forceinline__ void blitz_offsets(const Dims& d, u64 i, u64* ia, u64* ib) {
    u64 oa = 0, ob = 0;
    for (int ax = (int)d.rank - 1; ax >= 0; --ax) {
        u64 k = i % d.shape[ax];
        i /= d.shape[ax];
        oa += k * d.sa[ax];
        ob += k * d.sb[ax];
    }
    *ia = oa;
    *ib = ob;
}

// Block-wide sum of one double per thread (blockDim.x == 256); thread 0 gets the total.
__device__ __forceinline__ double blitz_block_sum(double v) {
    __shared__ double buf[256];
    buf[threadIdx.x] = v;
    __syncthreads();
    for (u32 s = blockDim.x / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s) buf[threadIdx.x] += buf[threadIdx.x + s];
        __syncthreads();
    }
    return buf[0];
}
