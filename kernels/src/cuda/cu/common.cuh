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

__device__ __forceinline__ float blitz_softplus(float x) {
    if (x > 20.0f) return x;
    if (x < -20.0f) return expf(x);
    return log1pf(expf(x));
}

__device__ __forceinline__ float blitz_sigmoid(float x) {
    if (x >= 0.0f) return 1.0f / (1.0f + expf(-x));
    float e = expf(x);
    return e / (1.0f + e);
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
