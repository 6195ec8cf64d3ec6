// Max and average pooling over up to three spatial axes, mirroring
// kernels/src/cpu/pool.rs: windows visited depth, height, width in order,
// first maximum wins, NaN propagates, padding counts as zeros for the average.

struct PoolG {
    u64 planes;
    u64 input[3], kernel[3], stride[3], padding[3], out[3];
};

// [start, end) of output o's window along axis a, clipped to the input.
__device__ __forceinline__ void pool_window(const PoolG& g, int a, u64 o, long long* s, long long* e) {
    long long start = (long long)(o * g.stride[a]) - (long long)g.padding[a];
    long long end = start + (long long)g.kernel[a];
    if (end > (long long)g.input[a]) end = (long long)g.input[a];
    *s = start < 0 ? 0 : start;
    *e = end < 0 ? 0 : end;
}

#define POOL_DECOMPOSE                                                                  \
    const u64 ip = g.input[0] * g.input[1] * g.input[2], op = g.out[0] * g.out[1] * g.out[2]; \
    u64 pl = t / op, p = t % op;                                                        \
    u64 od = p / (g.out[1] * g.out[2]), oh = p / g.out[2] % g.out[1], ow = p % g.out[2];    \
    long long d0, d1, h0, h1, w0, w1;                                                   \
    pool_window(g, 0, od, &d0, &d1);                                                    \
    pool_window(g, 1, oh, &h0, &h1);                                                    \
    pool_window(g, 2, ow, &w0, &w1);

// The first maximum of output (od, oh, ow)'s window in `img` (NaN wins): its index,
// or (u64)-1 for an empty window. The forward and the backward share it, so the
// backward finds the forward's arg-max again without storing it.
__device__ __forceinline__ u64 pool_argmax(const float* img, const PoolG& g, long long d0, long long d1, long long h0,
                                           long long h1, long long w0, long long w1, float* best_out) {
    float best = __int_as_float(0xff800000);
    u64 best_i = (u64)-1;
    for (long long d = d0; d < d1; ++d)
        for (long long h = h0; h < h1; ++h)
            for (long long w = w0; w < w1; ++w) {
                u64 i = ((u64)d * g.input[1] + (u64)h) * g.input[2] + (u64)w;
                float v = img[i];
                if (best_i == (u64)-1 || v > best || (v != v && best == best)) {
                    best = v;
                    best_i = i;
                }
            }
    *best_out = best;
    return best_i;
}

extern "C" __global__ void max_pool_fwd(const float* x, float* y, PoolG g) {
    GRID_STRIDE(t, g.planes * g.out[0] * g.out[1] * g.out[2]) {
        POOL_DECOMPOSE
        float best;
        pool_argmax(x + pl * ip, g, d0, d1, h0, h1, w0, w1, &best);
        y[t] = best;
    }
}

// One thread per plane walks its outputs in order (overlapping windows add up
// deterministically), finding each arg-max again. dx is zeroed by the caller.
extern "C" __global__ void max_pool_bwd(const float* x, const float* gy, float* dx, PoolG g) {
    const u64 ip = g.input[0] * g.input[1] * g.input[2], op = g.out[0] * g.out[1] * g.out[2];
    GRID_STRIDE(pl, g.planes) {
        const float* img = x + pl * ip;
        for (u64 p = 0; p < op; ++p) {
            u64 od = p / (g.out[1] * g.out[2]), oh = p / g.out[2] % g.out[1], ow = p % g.out[2];
            long long d0, d1, h0, h1, w0, w1;
            pool_window(g, 0, od, &d0, &d1);
            pool_window(g, 1, oh, &h0, &h1);
            pool_window(g, 2, ow, &w0, &w1);
            float best;
            u64 i = pool_argmax(img, g, d0, d1, h0, h1, w0, w1, &best);
            if (i != (u64)-1) dx[pl * ip + i] += gy[pl * op + p];
        }
    }
}

extern "C" __global__ void avg_pool_fwd(const float* x, float* y, PoolG g) {
    const float inv = 1.0f / (float)(g.kernel[0] * g.kernel[1] * g.kernel[2]);
    GRID_STRIDE(t, g.planes * g.out[0] * g.out[1] * g.out[2]) {
        POOL_DECOMPOSE
        const float* img = x + pl * ip;
        float s = 0.0f;
        for (long long d = d0; d < d1; ++d)
            for (long long h = h0; h < h1; ++h)
                for (long long w = w0; w < w1; ++w) s += img[((u64)d * g.input[1] + (u64)h) * g.input[2] + (u64)w];
        y[t] = s * inv;
    }
}

// First and last output along axis a whose window holds input i (empty when lo > hi).
__device__ __forceinline__ void pool_outputs(const PoolG& g, int a, u64 i, long long* lo, long long* hi) {
    long long s = (long long)g.stride[a], k = (long long)g.kernel[a], q = (long long)(i + g.padding[a]);
    long long first = q - k + 1 <= 0 ? 0 : (q - k + 1 + s - 1) / s;
    long long last = q / s;
    if (last > (long long)g.out[a] - 1) last = (long long)g.out[a] - 1;
    *lo = first;
    *hi = last;
}

// Gather form of the adjoint: one thread per input element, outputs in order.
extern "C" __global__ void avg_pool_bwd(const float* gy, float* dx, PoolG g) {
    const float inv = 1.0f / (float)(g.kernel[0] * g.kernel[1] * g.kernel[2]);
    const u64 ip = g.input[0] * g.input[1] * g.input[2], op = g.out[0] * g.out[1] * g.out[2];
    GRID_STRIDE(t, g.planes * ip) {
        u64 pl = t / ip, i = t % ip;
        u64 id = i / (g.input[1] * g.input[2]), ih = i / g.input[2] % g.input[1], iw = i % g.input[2];
        long long d0, d1, h0, h1, w0, w1;
        pool_outputs(g, 0, id, &d0, &d1);
        pool_outputs(g, 1, ih, &h0, &h1);
        pool_outputs(g, 2, iw, &w0, &w1);
        float acc = 0.0f;
        for (long long d = d0; d <= d1; ++d)
            for (long long h = h0; h <= h1; ++h)
                for (long long w = w0; w <= w1; ++w) acc += gy[pl * op + ((u64)d * g.out[1] + (u64)h) * g.out[2] + (u64)w] * inv;
        dx[t] = acc;
    }
}
