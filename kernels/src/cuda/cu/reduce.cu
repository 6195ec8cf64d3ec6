// Reductions. Sums over many elements use a fixed grid, double partials and a
// one-block finish, so results do not depend on scheduling.

#define RED_THREADS 256

// partial[block] = sum of x[i] (or x[i]^2 when square) over a grid-stride share.
extern "C" __global__ void sum_partial(const float* x, u64 n, int square, double* partial) {
    double acc = 0.0;
    GRID_STRIDE(i, n) {
        double v = (double)x[i];
        acc += square ? v * v : v;
    }
    double t = blitz_block_sum(acc);
    if (threadIdx.x == 0) partial[blockIdx.x] = t;
}

// One block: total of `count` partials, written as float to out[0] and as double to out_d[0].
extern "C" __global__ void sum_finish(const double* partial, u64 count, float* out, double* out_d) {
    double acc = 0.0;
    for (u64 i = threadIdx.x; i < count; i += blockDim.x) acc += partial[i];
    double t = blitz_block_sum(acc);
    if (threadIdx.x == 0) {
        out[0] = (float)t;
        out_d[0] = t;
    }
}

// out[o, i] = sum_a x[o, a, i], in the CPU's order (a ascending, float).
extern "C" __global__ void sum_axis(const float* x, float* out, u64 outer, u64 len, u64 inner) {
    GRID_STRIDE(t, outer * inner) {
        u64 o = t / inner, i = t % inner;
        float acc = 0.0f;
        for (u64 a = 0; a < len; ++a) acc += x[(o * len + a) * inner + i];
        out[t] = acc;
    }
}

extern "C" __global__ void expand_axis(const float* g, float* out, u64 outer, u64 len, u64 inner) {
    GRID_STRIDE(t, outer * len * inner) {
        u64 i = t % inner, o = t / (len * inner);
        out[t] = g[o * inner + i];
    }
}

// Max and first arg-max along the middle axis; NaN wins, as on the CPU.
extern "C" __global__ void max_axis(const float* x, float* out, u64* arg, u64 outer, u64 len, u64 inner) {
    GRID_STRIDE(t, outer * inner) {
        u64 o = t / inner, i = t % inner;
        float best = x[o * len * inner + i];
        u64 best_a = 0;
        for (u64 a = 1; a < len; ++a) {
            float v = x[(o * len + a) * inner + i];
            if (v > best || (v != v && best == best)) {
                best = v;
                best_a = a;
            }
        }
        out[t] = best;
        arg[t] = best_a;
    }
}

// out (zeroed) gets g at each arg-max position.
extern "C" __global__ void max_axis_bwd(const float* g, const u64* arg, float* out, u64 outer, u64 len, u64 inner) {
    GRID_STRIDE(t, outer * inner) {
        u64 o = t / inner, i = t % inner;
        out[(o * len + arg[t]) * inner + i] = g[t];
    }
}

// Sum of g (shape d.shape, rank d.rank) down to a broadcast operand: one
// thread per output element. d.sa holds, per axis, the output stride (0 on a
// reduced axis); d.sb holds 1 on reduced axes, 0 on kept ones.
extern "C" __global__ void sum_to_shape(const float* g, float* out, u64 n_out, u64 n_red, Dims d) {
    GRID_STRIDE(t, n_out) {
        // Decompose t over the kept axes to find its base offset in g.
        u64 base = 0, rem = t, gstride = 1;
        u64 gstrides[BLITZ_MAX_RANK];
        for (int ax = (int)d.rank - 1; ax >= 0; --ax) {
            gstrides[ax] = gstride;
            gstride *= d.shape[ax];
        }
        for (u64 ax = 0; ax < d.rank; ++ax) {
            if (!d.sb[ax]) {
                u64 k = rem / d.sa[ax];
                rem %= d.sa[ax];
                base += k * gstrides[ax];
            }
        }
        float acc = 0.0f;
        for (u64 r = 0; r < n_red; ++r) {
            u64 q = r, off = 0;
            for (int ax = (int)d.rank - 1; ax >= 0; --ax) {
                if (d.sb[ax]) {
                    off += (q % d.shape[ax]) * gstrides[ax];
                    q /= d.shape[ax];
                }
            }
            acc += g[base + off];
        }
        out[t] = acc;
    }
}
