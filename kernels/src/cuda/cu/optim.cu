// In-place optimizer updates, mirroring kernels/src/cpu/optim.rs.

extern "C" __global__ void adam_step(float* p, float* m, float* v, const float* g, u64 n, float step_size, float beta1,
                                     float beta2, float eps_hat, float weight_decay) {
    GRID_STRIDE(i, n) {
        float gi = g[i] + weight_decay * p[i];
        float mi = beta1 * m[i] + (1.0f - beta1) * gi;
        float vi = beta2 * v[i] + (1.0f - beta2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        p[i] -= step_size * mi / (sqrtf(vi) + eps_hat);
    }
}

extern "C" __global__ void sgd_step(float* p, float* buf, const float* g, u64 n, float lr, float momentum, float weight_decay) {
    GRID_STRIDE(i, n) {
        float d = g[i] + weight_decay * p[i];
        float b = momentum * buf[i] + d;
        buf[i] = b;
        p[i] -= lr * b;
    }
}

extern "C" __global__ void scale_inplace(float* x, u64 n, float s) {
    GRID_STRIDE(i, n) { x[i] *= s; }
}
