// Element-wise kernels: unary functions, scalar ops, broadcasting binary ops
// and their backward passes. Op codes and names come from the Rust op tables
// (blitz_kernels::types::elementwise), written in front of this source as the
// X-macros BLITZ_UNARY_OPS, BLITZ_SCALAR_OPS and BLITZ_BINARY_OPS.

// One device function per op and direction, named after the op's row in the
// Rust tables (BLITZ_UNARY_OPS etc., generated into the program text): a row
// without its function here is an NVRTC error, and the switches have no default.
__device__ __forceinline__ float unary_eval_neg(float x) { return -x; }
__device__ __forceinline__ float unary_eval_exp(float x) { return expf(x); }
__device__ __forceinline__ float unary_eval_log(float x) { return logf(x); }
__device__ __forceinline__ float unary_eval_log1p(float x) { return log1pf(x); }
__device__ __forceinline__ float unary_eval_softplus(float x) { return blitz_softplus(x); }
__device__ __forceinline__ float unary_eval_sigmoid(float x) { return blitz_sigmoid(x); }
__device__ __forceinline__ float unary_eval_tanh(float x) { return tanhf(x); }
__device__ __forceinline__ float unary_eval_relu(float x) { return fmaxf(x, 0.0f); }
__device__ __forceinline__ float unary_eval_sqrt(float x) { return sqrtf(x); }
__device__ __forceinline__ float unary_eval_square(float x) { return x * x; }
__device__ __forceinline__ float unary_eval_abs(float x) { return fabsf(x); }

__device__ __forceinline__ float unary_deriv_neg(float, float) { return -1.0f; }
__device__ __forceinline__ float unary_deriv_exp(float, float y) { return y; }
__device__ __forceinline__ float unary_deriv_log(float x, float) { return 1.0f / x; }
__device__ __forceinline__ float unary_deriv_log1p(float x, float) { return 1.0f / (1.0f + x); }
__device__ __forceinline__ float unary_deriv_softplus(float x, float) { return blitz_sigmoid(x); }
__device__ __forceinline__ float unary_deriv_sigmoid(float, float y) { return y * (1.0f - y); }
__device__ __forceinline__ float unary_deriv_tanh(float, float y) { return 1.0f - y * y; }
__device__ __forceinline__ float unary_deriv_relu(float x, float) { return x > 0.0f ? 1.0f : 0.0f; }
__device__ __forceinline__ float unary_deriv_sqrt(float, float y) { return 0.5f / y; }
__device__ __forceinline__ float unary_deriv_square(float x, float) { return 2.0f * x; }
__device__ __forceinline__ float unary_deriv_abs(float x, float) { return x > 0.0f ? 1.0f : (x < 0.0f ? -1.0f : 0.0f); }

// Every code the host passes comes from the same table, so the end of a switch
// is unreachable; were it reached, the kernel traps (a launch error), it never
// runs another op.
__device__ __forceinline__ float unary_eval(int op, float x) {
    switch (op) {
#define BLITZ_CASE(code, name) case code: return unary_eval_##name(x);
        BLITZ_UNARY_OPS(BLITZ_CASE)
#undef BLITZ_CASE
    }
    __trap();
    return 0.0f;
}

__device__ __forceinline__ float unary_deriv(int op, float x, float y) {
    switch (op) {
#define BLITZ_CASE(code, name) case code: return unary_deriv_##name(x, y);
        BLITZ_UNARY_OPS(BLITZ_CASE)
#undef BLITZ_CASE
    }
    __trap();
    return 0.0f;
}

extern "C" __global__ void unary_fwd(int op, const float* x, float* y, u64 n) {
    GRID_STRIDE(i, n) { y[i] = unary_eval(op, x[i]); }
}

extern "C" __global__ void unary_bwd(int op, const float* x, const float* y, const float* g, float* gx, u64 n) {
    GRID_STRIDE(i, n) { gx[i] = g[i] * unary_deriv(op, x[i], y[i]); }
}

__device__ __forceinline__ float scalar_eval_add(float s, float x) { return x + s; }
__device__ __forceinline__ float scalar_eval_mul(float s, float x) { return x * s; }
__device__ __forceinline__ float scalar_eval_pow(float s, float x) { return powf(x, s); }
__device__ __forceinline__ float scalar_deriv_add(float, float) { return 1.0f; }
__device__ __forceinline__ float scalar_deriv_mul(float s, float) { return s; }
__device__ __forceinline__ float scalar_deriv_pow(float s, float x) { return s * powf(x, s - 1.0f); }

__device__ __forceinline__ float scalar_eval(int op, float s, float x) {
    switch (op) {
#define BLITZ_CASE(code, name) case code: return scalar_eval_##name(s, x);
        BLITZ_SCALAR_OPS(BLITZ_CASE)
#undef BLITZ_CASE
    }
    __trap();
    return 0.0f;
}

__device__ __forceinline__ float scalar_deriv(int op, float s, float x) {
    switch (op) {
#define BLITZ_CASE(code, name) case code: return scalar_deriv_##name(s, x);
        BLITZ_SCALAR_OPS(BLITZ_CASE)
#undef BLITZ_CASE
    }
    __trap();
    return 0.0f;
}

extern "C" __global__ void scalar_fwd(int op, float s, const float* x, float* y, u64 n) {
    GRID_STRIDE(i, n) { y[i] = scalar_eval(op, s, x[i]); }
}

extern "C" __global__ void scalar_bwd(int op, float s, const float* x, const float* g, float* gx, u64 n) {
    GRID_STRIDE(i, n) { gx[i] = g[i] * scalar_deriv(op, s, x[i]); }
}

__device__ __forceinline__ float binary_eval_add(float a, float b) { return a + b; }
__device__ __forceinline__ float binary_eval_sub(float a, float b) { return a - b; }
__device__ __forceinline__ float binary_eval_mul(float a, float b) { return a * b; }
__device__ __forceinline__ float binary_eval_div(float a, float b) { return a / b; }
// (dz/da, dz/db) at (a, b).
__device__ __forceinline__ float2 binary_partials_add(float, float) { return make_float2(1.0f, 1.0f); }
__device__ __forceinline__ float2 binary_partials_sub(float, float) { return make_float2(1.0f, -1.0f); }
__device__ __forceinline__ float2 binary_partials_mul(float a, float b) { return make_float2(b, a); }
__device__ __forceinline__ float2 binary_partials_div(float a, float b) { return make_float2(1.0f / b, -a / (b * b)); }

__device__ __forceinline__ float binary_eval(int op, float a, float b) {
    switch (op) {
#define BLITZ_CASE(code, name) case code: return binary_eval_##name(a, b);
        BLITZ_BINARY_OPS(BLITZ_CASE)
#undef BLITZ_CASE
    }
    __trap();
    return 0.0f;
}

__device__ __forceinline__ float2 binary_partials(int op, float a, float b) {
    switch (op) {
#define BLITZ_CASE(code, name) case code: return binary_partials_##name(a, b);
        BLITZ_BINARY_OPS(BLITZ_CASE)
#undef BLITZ_CASE
    }
    __trap();
    return make_float2(0.0f, 0.0f);
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
        float2 p = binary_partials(op, x, y);
        float da = p.x, db = p.y;
        if (need_a) ga[i] = gi * da;
        if (need_b) gb[i] = gi * db;
    }
}

extern "C" __global__ void fill(float* y, u64 n, float v) {
    GRID_STRIDE(i, n) { y[i] = v; }
}
