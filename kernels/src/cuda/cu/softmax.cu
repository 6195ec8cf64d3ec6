// Softmax and log-softmax over rows of length n: one 256-thread block per row
// (grid-stride over rows), max and sum by shared-memory tree reductions.

#define SM_THREADS 256

__device__ __forceinline__ float row_max(const float* r, u64 n, float* buf) {
    float m = __int_as_float(0xff800000);  // -inf (no math.h under NVRTC)
    for (u64 j = threadIdx.x; j < n; j += blockDim.x) m = fmaxf(m, r[j]);
    buf[threadIdx.x] = m;
    __syncthreads();
    for (u32 s = blockDim.x / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s) buf[threadIdx.x] = fmaxf(buf[threadIdx.x], buf[threadIdx.x + s]);
        __syncthreads();
    }
    float out = buf[0];
    __syncthreads();
    return out;
}

__device__ __forceinline__ float row_sum(float v, float* buf) {
    buf[threadIdx.x] = v;
    __syncthreads();
    for (u32 s = blockDim.x / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s) buf[threadIdx.x] += buf[threadIdx.x + s];
        __syncthreads();
    }
    float out = buf[0];
    __syncthreads();
    return out;
}

extern "C" __global__ void softmax_fwd(const float* x, float* y, u64 rows, u64 n, int log_out) {
    __shared__ float buf[SM_THREADS];
    for (u64 row = blockIdx.x; row < rows; row += gridDim.x) {
        const float* xr = x + row * n;
        float* yr = y + row * n;
        float m = row_max(xr, n, buf);
        float z = 0.0f;
        for (u64 j = threadIdx.x; j < n; j += blockDim.x) z += expf(xr[j] - m);
        z = row_sum(z, buf);
        if (log_out) {
            float lse = logf(z);
            for (u64 j = threadIdx.x; j < n; j += blockDim.x) yr[j] = (xr[j] - m) - lse;
        } else {
            float inv = 1.0f / z;
            for (u64 j = threadIdx.x; j < n; j += blockDim.x) yr[j] = expf(xr[j] - m) * inv;
        }
    }
}

// softmax: gx = y (g - sum g y);  log-softmax: gx = g - exp(y) sum g.
extern "C" __global__ void softmax_bwd(const float* y, const float* g, float* gx, u64 rows, u64 n, int log_out) {
    __shared__ float buf[SM_THREADS];
    for (u64 row = blockIdx.x; row < rows; row += gridDim.x) {
        const float* yr = y + row * n;
        const float* gr = g + row * n;
        float* o = gx + row * n;
        float acc = 0.0f;
        for (u64 j = threadIdx.x; j < n; j += blockDim.x) acc += log_out ? gr[j] : gr[j] * yr[j];
        float s = row_sum(acc, buf);
        for (u64 j = threadIdx.x; j < n; j += blockDim.x) {
            o[j] = log_out ? gr[j] - expf(yr[j]) * s : yr[j] * (gr[j] - s);
        }
    }
}
