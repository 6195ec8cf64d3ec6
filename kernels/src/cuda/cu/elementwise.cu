// Element-wise kernels: unary functions, scalar ops, broadcasting binary ops
// and their backward passes. Op codes follow the order of the Rust enums
// (UnaryOp::ALL, ScalarOp, BinaryOp).

__device__ __forceinline__ float unary_eval(int op, float x) {
    switch (op) {
        case 0: return -x;
        case 1: return expf(x);
        case 2: return logf(x);
        case 3: return log1pf(x);
        case 4: return blitz_softplus(x);
        case 5: return blitz_sigmoid(x);
        case 6: return tanhf(x);
        case 7: return fmaxf(x, 0.0f);
        case 8: return sqrtf(x);
        case 9: return x * x;
        default: return fabsf(x);
    }
}

__device__ __forceinline__ float unary_deriv(int op, float x, float y) {
    switch (op) {
        case 0: return -1.0f;
        case 1: return y;
        case 2: return 1.0f / x;
        case 3: return 1.0f / (1.0f + x);
        case 4: return blitz_sigmoid(x);
        case 5: return y * (1.0f - y);
        case 6: return 1.0f - y * y;
        case 7: return x > 0.0f ? 1.0f : 0.0f;
        case 8: return 0.5f / y;
        case 9: return 2.0f * x;
        default: return x > 0.0f ? 1.0f : (x < 0.0f ? -1.0f : 0.0f);
    }
}

extern "C" __global__ void unary_fwd(int op, const float* x, float* y, u64 n) {
    GRID_STRIDE(i, n) { y[i] = unary_eval(op, x[i]); }
}

extern "C" __global__ void unary_bwd(int op, const float* x, const float* y, const float* g, float* gx, u64 n) {
    GRID_STRIDE(i, n) { gx[i] = g[i] * unary_deriv(op, x[i], y[i]); }
}

__device__ __forceinline__ float scalar_eval(int op, float s, float x) {
    if (op == 0) return x + s;
    if (op == 1) return x * s;
    return powf(x, s);
}

__device__ __forceinline__ float scalar_deriv(int op, float s, float x) {
    if (op == 0) return 1.0f;
    if (op == 1) return s;
    return s * powf(x, s - 1.0f);
}

extern "C" __global__ void scalar_fwd(int op, float s, const float* x, float* y, u64 n) {
    GRID_STRIDE(i, n) { y[i] = scalar_eval(op, s, x[i]); }
}

extern "C" __global__ void scalar_bwd(int op, float s, const float* x, const float* g, float* gx, u64 n) {
    GRID_STRIDE(i, n) { gx[i] = g[i] * scalar_deriv(op, s, x[i]); }
}

__device__ __forceinline__ float binary_eval(int op, float a, float b) {
    switch (op) {
        case 0: return a + b;
        case 1: return a - b;
        case 2: return a * b;
        default: return a / b;
    }
}

// Operands of the same shape: no index arithmetic.
extern "C" __global__ void binary_same(int op, const float* a, const float* b, float* out, u64 n) {
    GRID_STRIDE(i, n) { out[i] = binary_eval(op, a[i], b[i]); }
}

extern "C" __global__ void binary_bcast(int op, const float* a, const float* b, float* out, u64 n, Dims d) {
    GRID_STRIDE(i, n) {
        u64 ia, ib;
        blitz_offsets(d, i, &ia, &ib);
        out[i] = binary_eval(op, a[ia], b[ib]);
    }
}

// Full-size gradients g*dz/da and g*dz/db (the caller sums them to each shape);
// ga / gb are written only when need_a / need_b.
extern "C" __global__ void binary_bwd(int op, const float* a, const float* b, const float* g, float* ga, float* gb,
                                      int need_a, int need_b, u64 n, Dims d) {
    GRID_STRIDE(i, n) {
        u64 ia, ib;
        blitz_offsets(d, i, &ia, &ib);
        float x = a[ia], y = b[ib], gi = g[i];
        float da, db;
        switch (op) {
            case 0: da = 1.0f; db = 1.0f; break;
            case 1: da = 1.0f; db = -1.0f; break;
            case 2: da = y; db = x; break;
            default: da = 1.0f / y; db = -x / (y * y); break;
        }
        if (need_a) ga[i] = gi * da;
        if (need_b) gb[i] = gi * db;
    }
}

extern "C" __global__ void fill(float* y, u64 n, float v) {
    GRID_STRIDE(i, n) { y[i] = v; }
}
