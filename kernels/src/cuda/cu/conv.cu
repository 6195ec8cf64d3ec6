// Convolution by im2col + GEMM, the CPU's formulation (kernels/src/cpu/conv.rs):
// col [C*kvol, N*L] from x [N, C, D, H, W]; per group one GEMM; col2im as a
// gather (one thread per input element, taps in order: no atomics, the CPU's
// summation order).

struct ConvG {
    u64 batch, in_c, out_c, groups;
    u64 input[3], kernel[3], stride[3], padding[3], dilation[3], out[3];
};

// Input index along axis a of output position o and tap t, or -1 when in the padding.
__device__ __forceinline__ long long conv_src(const ConvG& g, int a, u64 o, u64 t) {
    long long i = (long long)(o * g.stride[a] + t * g.dilation[a]) - (long long)g.padding[a];
    return (i >= 0 && i < (long long)g.input[a]) ? i : -1;
}

extern "C" __global__ void im2col(const float* x, float* col, ConvG g) {
    const u64 l = g.out[0] * g.out[1] * g.out[2];
    const u64 kvol = g.kernel[0] * g.kernel[1] * g.kernel[2];
    const u64 nl = g.batch * l, plane = g.input[0] * g.input[1] * g.input[2];
    GRID_STRIDE(t, g.in_c * kvol * nl) {
        u64 r = t / nl, q = t % nl;
        u64 c = r / kvol, tap = r % kvol, n = q / l, p = q % l;
        u64 td = tap / (g.kernel[1] * g.kernel[2]), th = tap / g.kernel[2] % g.kernel[1], tw = tap % g.kernel[2];
        u64 od = p / (g.out[1] * g.out[2]), oh = p / g.out[2] % g.out[1], ow = p % g.out[2];
        long long d = conv_src(g, 0, od, td), h = conv_src(g, 1, oh, th), w = conv_src(g, 2, ow, tw);
        col[t] = (d < 0 || h < 0 || w < 0) ? 0.0f
                                           : x[(n * g.in_c + c) * plane + ((u64)d * g.input[1] + (u64)h) * g.input[2] + (u64)w];
    }
}

// Output position along axis a whose tap t reads input i, or -1.
__device__ __forceinline__ long long conv_dst(const ConvG& g, int a, u64 i, u64 t) {
    long long num = (long long)(i + g.padding[a]) - (long long)(t * g.dilation[a]);
    if (num < 0 || num % (long long)g.stride[a] != 0) return -1;
    long long o = num / (long long)g.stride[a];
    return o < (long long)g.out[a] ? o : -1;
}

extern "C" __global__ void col2im(const float* col, float* dx, ConvG g) {
    const u64 l = g.out[0] * g.out[1] * g.out[2];
    const u64 kvol = g.kernel[0] * g.kernel[1] * g.kernel[2];
    const u64 nl = g.batch * l, plane = g.input[0] * g.input[1] * g.input[2];
    GRID_STRIDE(t, g.batch * g.in_c * plane) {
        u64 nc = t / plane, i = t % plane;
        u64 n = nc / g.in_c, c = nc % g.in_c;
        u64 id = i / (g.input[1] * g.input[2]), ih = i / g.input[2] % g.input[1], iw = i % g.input[2];
        float acc = 0.0f;
        for (u64 tap = 0; tap < kvol; ++tap) {
            u64 td = tap / (g.kernel[1] * g.kernel[2]), th = tap / g.kernel[2] % g.kernel[1], tw = tap % g.kernel[2];
            long long od = conv_dst(g, 0, id, td), oh = conv_dst(g, 1, ih, th), ow = conv_dst(g, 2, iw, tw);
            if (od < 0 || oh < 0 || ow < 0) continue;
            u64 p = ((u64)od * g.out[1] + (u64)oh) * g.out[2] + (u64)ow;
            acc += col[(c * kvol + tap) * nl + n * l + p];
        }
        dx[t] = acc;
    }
}

// y [N, OC, L] from yt [OC, N*L], plus the bias when has_bias.
extern "C" __global__ void conv_out(const float* yt, const float* bias, int has_bias, float* y, u64 batch, u64 oc, u64 l) {
    GRID_STRIDE(t, batch * oc * l) {
        u64 p = t % l, c = (t / l) % oc, n = t / (l * oc);
        y[t] = yt[c * batch * l + n * l + p] + (has_bias ? bias[c] : 0.0f);
    }
}

// gt [OC, N*L] from gy [N, OC, L].
extern "C" __global__ void conv_gt(const float* gy, float* gt, u64 batch, u64 oc, u64 l) {
    GRID_STRIDE(t, batch * oc * l) {
        u64 p = t % l, n = (t / l) % batch, c = t / (l * batch);
        gt[t] = gy[(n * oc + c) * l + p];
    }
}
