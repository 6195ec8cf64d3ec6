// Variants of the fused sample + KL forward kernel, timed against a
// device-to-device copy on the GPU machine (which has nvcc but no Rust):
//     bash scripts/cuda/sample_kl_variants.sh
// It includes the library's own sources (the fast sampler build), so the
// variants below differ from `sample_kl_fwd` only in their launch. Kernel
// times are CUDA events around the launch; a last part times the library's
// call pattern (allocate the partials, launch, finish, free, synchronise) by
// wall clock with the memory pool's default release threshold and with the
// memory kept (what blitz sets: see keep_pool_memory in device.rs).
#define BLITZ_FAST_SAMPLER 1
#include "../../kernels/src/cuda/cu/common.cuh"
#include "../../kernels/src/cuda/cu/random.cu"
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cuda_runtime.h>
#include <vector>

// The library's loop (one Philox block per thread per iteration) with another
// occupancy target; launched with grids of 1, 2 and 4 waves.
template <int MIN_BLOCKS>
__global__ void __launch_bounds__(256, MIN_BLOCKS)
    single(const float* mu, const float* rho, float* w, u64 n, u64 seed, float ca, float ha, float cb, float hb,
           double* partial) {
    double acc = 0.0;
    const float4 *mu4 = reinterpret_cast<const float4*>(mu), *rho4 = reinterpret_cast<const float4*>(rho);
    GRID_STRIDE(t, n / 4) {
        float4 mq = mu4[t], rq = rho4[t];
        float m[4] = {mq.x, mq.y, mq.z, mq.w}, r[4] = {rq.x, rq.y, rq.z, rq.w}, e[4], out[4], term[4];
        normal_block(seed, t, e);
        sample_kl_lanes(m, r, e, ca, ha, cb, hb, out, term);
        reinterpret_cast<float4*>(w)[t] = make_float4(out[0], out[1], out[2], out[3]);
        acc += (double)((term[0] + term[1]) + (term[2] + term[3]));
    }
    double s = blitz_block_sum(acc);
    if (threadIdx.x == 0) partial[blockIdx.x] = s;
}

typedef void (*Kernel)(const float*, const float*, float*, u64, u64, float, float, float, float, double*);

static void library(const float* mu, const float* rho, float* w, u64 n, u64 seed, float ca, float ha, float cb,
                    float hb, double* partial, int grid) {
    sample_kl_fwd<<<grid, 256>>>(mu, rho, w, n, seed, 0, ca, ha, cb, hb, partial);
}

template <class F>
static float median_ms(F launch, int reps = 50) {
    cudaEvent_t a, b;
    cudaEventCreate(&a);
    cudaEventCreate(&b);
    std::vector<float> t;
    for (int i = 0; i < reps + 3; ++i) {
        cudaEventRecord(a);
        launch();
        cudaEventRecord(b);
        cudaEventSynchronize(b);
        float ms;
        cudaEventElapsedTime(&ms, a, b);
        if (i >= 3) t.push_back(ms);
    }
    std::sort(t.begin(), t.end());
    return t[reps / 2];
}

int main() {
    const u64 n = 64ull << 20;
    float *mu, *rho, *w, *dst;
    double* partial;
    cudaMalloc(&mu, n * 4);
    cudaMalloc(&rho, n * 4);
    cudaMalloc(&w, n * 4);
    cudaMalloc(&dst, n * 4);
    cudaMalloc(&partial, 65536 * 8);
    std::vector<float> h(n);
    for (u64 i = 0; i < n; ++i) h[i] = 0.01f;
    cudaMemcpy(mu, h.data(), n * 4, cudaMemcpyHostToDevice);
    for (u64 i = 0; i < n; ++i) h[i] = -7.0f;
    cudaMemcpy(rho, h.data(), n * 4, cudaMemcpyHostToDevice);
    // The scale mixture (0.5, 1, 0.002) as the library's Consts: c_k - h_k w^2.
    const float ca = -0.918938533f + logf(0.5f), ha = 0.5f;
    const float cb = -logf(0.002f) - 0.918938533f + logf(0.5f), hb = 0.5f / (0.002f * 0.002f);
    int sms;
    cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0);
    for (int warm = 0; warm < 200; ++warm) library(mu, rho, w, n, 7, ca, ha, cb, hb, partial, 4096);
    cudaDeviceSynchronize();
    for (int round = 0; round < 2; ++round) {
        float copy = median_ms([&] { cudaMemcpyAsync(dst, mu, n * 4, cudaMemcpyDeviceToDevice); });
        auto report = [&](const char* name, int grid, float ms) {
            printf("{\"round\": %d, \"variant\": \"%s\", \"grid\": %d, \"ms\": %.4f, \"fraction_of_copy_bw\": %.3f}\n", round,
                   name, grid, ms, (12.0 * n / ms) / (8.0 * n / copy));
        };
        struct V { const char* name; Kernel k; } vs[] = {{"single_lb8", single<8>}, {"single_lb6", single<6>}};
        int lib_occ;
        cudaOccupancyMaxActiveBlocksPerMultiprocessor(&lib_occ, sample_kl_fwd, 256, 0);
        for (int grid : {4096, sms * lib_occ, 2 * sms * lib_occ})
            report("library_sample_kl_fwd", grid, median_ms([&] { library(mu, rho, w, n, 7, ca, ha, cb, hb, partial, grid); }));
        for (auto& v : vs) {
            int occ;
            cudaOccupancyMaxActiveBlocksPerMultiprocessor(&occ, v.k, 256, 0);
            for (int grid : {4096, sms * occ, 2 * sms * occ, 4 * sms * occ})
                report(v.name, grid, median_ms([&] { v.k<<<grid, 256>>>(mu, rho, w, n, 7, ca, ha, cb, hb, partial); }));
        }
    }
    // The library's call pattern, by wall clock with a sync per call as gpu_bench
    // times it: a stream-ordered alloc of the partials, the kernel, a one-block
    // finish, the frees. With the default pool (release threshold 0) every sync
    // hands the pool's memory back, so each alloc maps it again.
    auto wall_call = [&](int grid) {
        std::vector<double> t;
        for (int i = 0; i < 53; ++i) {
            auto s = std::chrono::steady_clock::now();
            double *part, *out;
            cudaMallocAsync(&part, grid * 8, 0);
            library(mu, rho, w, n, 7, ca, ha, cb, hb, part, grid);
            cudaMallocAsync(&out, 8, 0);
            cudaMemcpyAsync(out, part, 8, cudaMemcpyDeviceToDevice, 0);
            cudaFreeAsync(part, 0);
            cudaFreeAsync(out, 0);
            cudaStreamSynchronize(0);
            if (i >= 3) t.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - s).count());
        }
        std::sort(t.begin(), t.end());
        return t[t.size() / 2];
    };
    auto wall_copy = [&] {
        std::vector<double> t;
        for (int i = 0; i < 53; ++i) {
            auto s = std::chrono::steady_clock::now();
            cudaMemcpyAsync(dst, mu, n * 4, cudaMemcpyDeviceToDevice, 0);
            cudaStreamSynchronize(0);
            if (i >= 3) t.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - s).count());
        }
        std::sort(t.begin(), t.end());
        return t[t.size() / 2];
    };
    cudaMemPool_t pool;
    cudaDeviceGetDefaultMemPool(&pool, 0);
    for (unsigned long long threshold : {0ull, ~0ull}) {
        cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &threshold);
        for (int round = 0; round < 2; ++round) {
            double copy = wall_copy(), call = wall_call(4096);
            printf("{\"wall_clock\": true, \"release_threshold\": \"%s\", \"copy_ms\": %.4f, \"call_ms\": %.4f, \"fraction_of_copy_bw\": %.3f}\n",
                   threshold ? "max" : "0", copy, call, (12.0 * n / call) / (8.0 * n / copy));
        }
    }
    cudaError_t e = cudaDeviceSynchronize();
    printf("cuda: %s, SMs %d\n", cudaGetErrorString(e), sms);
    return e != cudaSuccess;
}
