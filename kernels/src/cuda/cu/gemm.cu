// The hand-written GEMM: C_b = op(A_b) op(B_b) for a batch of row-major m x k
// by k x n products, 16 x 16 shared-memory tiles (padded against bank
// conflicts), transposed operands read so that a warp's loads stay coalesced.
// blockIdx.z walks the batch (grid-stride when it exceeds the grid).

#define TILE 16

extern "C" __global__ void gemm_tiled(const float* A, const float* B, float* C, u64 batch, u64 M, u64 K, u64 N,
                                      int ta, int tb) {
    __shared__ float As[TILE][TILE + 1];
    __shared__ float Bs[TILE][TILE + 1];
    const u64 tx = threadIdx.x, ty = threadIdx.y;
    const u64 row0 = (u64)blockIdx.y * TILE, col0 = (u64)blockIdx.x * TILE;
    for (u64 bi = blockIdx.z; bi < batch; bi += gridDim.z) {
        const float* a = A + bi * M * K;
        const float* b = B + bi * K * N;
        float acc = 0.0f;
        for (u64 p0 = 0; p0 < K; p0 += TILE) {
            // As[r][p] = op(A)[row0 + r][p0 + p]; Bs[p][c] = op(B)[p0 + p][col0 + c].
            if (ta) {
                u64 r = row0 + tx, p = p0 + ty;  // A stored K x M: consecutive tx read consecutive r
                As[tx][ty] = (r < M && p < K) ? a[p * M + r] : 0.0f;
            } else {
                u64 r = row0 + ty, p = p0 + tx;
                As[ty][tx] = (r < M && p < K) ? a[r * K + p] : 0.0f;
            }
            if (tb) {
                u64 c = col0 + ty, p = p0 + tx;  // B stored N x K: consecutive tx read consecutive p
                Bs[tx][ty] = (c < N && p < K) ? b[c * K + p] : 0.0f;
            } else {
                u64 c = col0 + tx, p = p0 + ty;
                Bs[ty][tx] = (c < N && p < K) ? b[p * N + c] : 0.0f;
            }
            __syncthreads();
#pragma unroll
            for (int q = 0; q < TILE; ++q) acc += As[ty][q] * Bs[q][tx];
            __syncthreads();
        }
        u64 r = row0 + ty, c = col0 + tx;
        if (r < M && c < N) C[bi * M * N + r * N + c] = acc;
    }
}
