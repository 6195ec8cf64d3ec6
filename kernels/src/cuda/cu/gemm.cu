// The hand-written GEMM: C_b = op(A_b) op(B_b) for a batch of row-major m x k
// by k x n products. Register-blocked: a block of 256 threads (16 x 16) owns a
// BM x BM tile of C (BM = 16 * TM) and each thread a TM x TM micro-tile held in
// registers. Operands go through double-buffered shared memory as As[p][row]
// and Bs[p][col] (A stored transposed), so the inner loop reads both with
// float4 loads: within a warp the A reads are broadcasts and the B reads hit
// consecutive words. Transposed operands only change how the global loads
// index memory. Out-of-range elements load as zeros, so edge tiles are exact.
// blockIdx.z walks the batch (grid-stride when it exceeds the grid).
// Explicit fmaf: the sources are compiled with --fmad=false.

#define GEMM_THREADS 256
#define GEMM_PAD 4  // keeps rows 16-byte aligned and spreads the transposing stores over the banks

// Four floats at p[0..4) of which only the first `lim` exist (lim may be <= 0).
__device__ __forceinline__ float4 gemm_ld4(const float* p, long long lim, bool vec) {
    if (vec && lim >= 4) return __ldg(reinterpret_cast<const float4*>(p));
    float4 v;
    v.x = lim > 0 ? __ldg(p) : 0.0f;
    v.y = lim > 1 ? __ldg(p + 1) : 0.0f;
    v.z = lim > 2 ? __ldg(p + 2) : 0.0f;
    v.w = lim > 3 ? __ldg(p + 3) : 0.0f;
    return v;
}

__device__ __forceinline__ bool gemm_aligned(const void* p) { return ((u64)p & 15) == 0; }

// Staging of one operand's tile: each thread moves 4 floats per k-step. An
// operand is "k-contiguous" (A plain, m x k; B transposed, n x k) or
// "row-contiguous" (A transposed, k x m; B plain, k x n); `outer` is its m or n.
template <int BM, int BK, bool KCONT>
struct GemmTile {
    const float* p;   // this thread's 4 source floats for the current k-step
    long long kleft;  // k-extent left past this thread's first k (<= 0: past K or, for KCONT, no such row)
    long long rlim;   // row-contiguous only: in-range outer indices from this thread's first one
    bool vec;         // float4 loads are aligned
    int s_p, s_r;     // where the 4 floats go in the tile

    __device__ __forceinline__ void init(const float* base, u64 outer, u64 K, u64 start, int tid) {
        if (KCONT) {
            s_r = tid / (BK / 4);
            s_p = (tid % (BK / 4)) * 4;
            u64 r = start + s_r;
            p = base + r * K + s_p;
            kleft = r < outer ? (long long)K - s_p : -(1LL << 62);
            rlim = 0;
            vec = (K % 4 == 0) && gemm_aligned(base);
        } else {
            s_p = tid / (BM / 4);
            s_r = (tid % (BM / 4)) * 4;
            p = base + (u64)s_p * outer + start + s_r;
            kleft = (long long)K - s_p;
            rlim = (long long)outer - (long long)(start + s_r);
            vec = (outer % 4 == 0) && gemm_aligned(base);
        }
    }

    __device__ __forceinline__ float4 load() const {
        if (KCONT) return gemm_ld4(p, kleft, vec);
        return gemm_ld4(p, kleft > 0 ? rlim : 0, vec);
    }

    // Moves to the next k-step; `outer` is the row length of a row-contiguous operand.
    __device__ __forceinline__ void advance(u64 outer) {
        p += KCONT ? (u64)BK : (u64)BK * outer;
        kleft -= BK;
    }

    __device__ __forceinline__ void store(float (*s)[BM + GEMM_PAD], float4 v) const {
        if (KCONT) {
            s[s_p][s_r] = v.x;
            s[s_p + 1][s_r] = v.y;
            s[s_p + 2][s_r] = v.z;
            s[s_p + 3][s_r] = v.w;
        } else {
            *reinterpret_cast<float4*>(&s[s_p][s_r]) = v;
        }
    }
};

template <int TM, int BK, bool TA, bool TB>
__device__ __forceinline__ void gemm_body(const float* A, const float* B, float* C, u64 batch, u64 M, u64 K, u64 N) {
    constexpr int BM = 16 * TM;
    static_assert(BM * BK == 4 * GEMM_THREADS, "each thread stages exactly 4 floats per operand");
    __shared__ __align__(16) float As[2][BK][BM + GEMM_PAD];
    __shared__ __align__(16) float Bs[2][BK][BM + GEMM_PAD];
    const int tid = threadIdx.x, tx = tid % 16, ty = tid / 16;
    const u64 row0 = (u64)blockIdx.y * BM, col0 = (u64)blockIdx.x * BM;
    const int ntiles = (int)((K + BK - 1) / BK);

    for (u64 bi = blockIdx.z; bi < batch; bi += gridDim.z) {
        GemmTile<BM, BK, !TA> ta;
        GemmTile<BM, BK, TB> tb;
        ta.init(A + bi * M * K, M, K, row0, tid);
        tb.init(B + bi * K * N, N, K, col0, tid);

        float acc[TM][TM];
#pragma unroll
        for (int i = 0; i < TM; ++i)
#pragma unroll
            for (int j = 0; j < TM; ++j) acc[i][j] = 0.0f;

        if (ntiles > 0) {
            ta.store(As[0], ta.load());
            tb.store(Bs[0], tb.load());
        }
        __syncthreads();

        for (int t = 0; t < ntiles; ++t) {
            const int cur = t & 1;
            const bool more = t + 1 < ntiles;
            float4 na = make_float4(0.0f, 0.0f, 0.0f, 0.0f), nb = na;
            // The next k-step's global loads are in flight during this step's arithmetic.
            if (more) {
                ta.advance(M);
                tb.advance(N);
                na = ta.load();
                nb = tb.load();
            }
#pragma unroll
            for (int q = 0; q < BK; ++q) {
                float a[TM], b[TM];
#pragma unroll
                for (int h = 0; h < TM / 4; ++h) {
                    float4 va = *reinterpret_cast<const float4*>(&As[cur][q][h * 64 + ty * 4]);
                    float4 vb = *reinterpret_cast<const float4*>(&Bs[cur][q][h * 64 + tx * 4]);
                    a[h * 4] = va.x, a[h * 4 + 1] = va.y, a[h * 4 + 2] = va.z, a[h * 4 + 3] = va.w;
                    b[h * 4] = vb.x, b[h * 4 + 1] = vb.y, b[h * 4 + 2] = vb.z, b[h * 4 + 3] = vb.w;
                }
#pragma unroll
                for (int i = 0; i < TM; ++i)
#pragma unroll
                    for (int j = 0; j < TM; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
            }
            // The other buffer was last read before the previous barrier, so one barrier per step suffices.
            if (more) {
                ta.store(As[cur ^ 1], na);
                tb.store(Bs[cur ^ 1], nb);
            }
            __syncthreads();
        }

        // Thread (ty, tx) owns rows h*64 + ty*4 + {0..3} and the same pattern of columns.
        float* c = C + bi * M * N;
        const bool cvec = (N % 4 == 0) && gemm_aligned(c);
#pragma unroll
        for (int i = 0; i < TM; ++i) {
            u64 r = row0 + (i / 4) * 64 + ty * 4 + (i % 4);
            if (r >= M) continue;
#pragma unroll
            for (int h = 0; h < TM / 4; ++h) {
                u64 c0 = col0 + h * 64 + tx * 4;
                float* out = c + r * N + c0;
                if (cvec && c0 + 4 <= N) {
                    *reinterpret_cast<float4*>(out) =
                        make_float4(acc[i][h * 4], acc[i][h * 4 + 1], acc[i][h * 4 + 2], acc[i][h * 4 + 3]);
                } else {
#pragma unroll
                    for (int j = 0; j < 4; ++j)
                        if (c0 + j < N) out[j] = acc[i][h * 4 + j];
                }
            }
        }
    }
}

// Large products: 128 x 128 tiles, 8 x 8 per thread, BK = 8; at most 128 registers so two blocks share an SM.
#define GEMM_LARGE(name, ta, tb)                                                                          \
    extern "C" __global__ void __launch_bounds__(GEMM_THREADS, 2)                                         \
        name(const float* A, const float* B, float* C, u64 batch, u64 M, u64 K, u64 N) {                  \
        gemm_body<8, 8, ta, tb>(A, B, C, batch, M, K, N);                                                 \
    }
// Small products (too few 128-tiles to fill the GPU): 64 x 64 tiles, 4 x 4 per thread, BK = 16.
#define GEMM_SMALL(name, ta, tb)                                                                          \
    extern "C" __global__ void __launch_bounds__(GEMM_THREADS)                                            \
        name(const float* A, const float* B, float* C, u64 batch, u64 M, u64 K, u64 N) {                  \
        gemm_body<4, 16, ta, tb>(A, B, C, batch, M, K, N);                                                \
    }

GEMM_LARGE(gemm128_nn, false, false)
GEMM_LARGE(gemm128_nt, false, true)
GEMM_LARGE(gemm128_tn, true, false)
GEMM_LARGE(gemm128_tt, true, true)
GEMM_SMALL(gemm64_nn, false, false)
GEMM_SMALL(gemm64_nt, false, true)
GEMM_SMALL(gemm64_tn, true, false)
GEMM_SMALL(gemm64_tt, true, true)
