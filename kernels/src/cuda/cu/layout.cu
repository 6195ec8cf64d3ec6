// Data movement: permute, slices, concatenation, index-select and row gathers.
// Index arrays arrive as u64 copies of the host indices (already range-checked).

// out has shape d.shape; d.sa[ax] is the input stride of a step along output axis ax.
extern "C" __global__ void permute(const float* x, float* out, u64 n, Dims d) {
    GRID_STRIDE(i, n) {
        u64 src, unused;
        blitz_offsets(d, i, &src, &unused);
        out[i] = x[src];
    }
}

extern "C" __global__ void slice_axis(const float* x, float* out, u64 outer, u64 axis, u64 inner, u64 start, u64 len) {
    GRID_STRIDE(t, outer * len * inner) {
        u64 o = t / (len * inner), r = t % (len * inner);
        out[t] = x[(o * axis + start) * inner + r];
    }
}

// gx (zeroed, outer*axis*inner) gets g at the slice's place.
extern "C" __global__ void slice_axis_bwd(const float* g, float* gx, u64 outer, u64 axis, u64 inner, u64 start, u64 len) {
    GRID_STRIDE(t, outer * len * inner) {
        u64 o = t / (len * inner), r = t % (len * inner);
        gx[(o * axis + start) * inner + r] = g[t];
    }
}

// Copies one concat part (outer, l, inner) into out (outer, total, inner) at axis offset off.
extern "C" __global__ void concat_part(const float* p, float* out, u64 outer, u64 l, u64 inner, u64 total, u64 off) {
    GRID_STRIDE(t, outer * l * inner) {
        u64 o = t / (l * inner), r = t % (l * inner);
        out[(o * total + off) * inner + r] = p[t];
    }
}

extern "C" __global__ void index_select(const float* x, const u64* idx, float* out, u64 outer, u64 axis, u64 inner, u64 nidx) {
    GRID_STRIDE(t, outer * nidx * inner) {
        u64 c = t % inner, j = (t / inner) % nidx, o = t / (inner * nidx);
        out[t] = x[(o * axis + idx[j]) * inner + c];
    }
}

// Scatter-add adjoint of index_select without atomics: one thread per (o, c)
// column walks the indices in order, so repeated indices add up deterministically
// and in the CPU's order. gx is zeroed by the caller.
extern "C" __global__ void index_select_bwd(const float* g, const u64* idx, float* gx, u64 outer, u64 axis, u64 inner, u64 nidx) {
    GRID_STRIDE(t, outer * inner) {
        u64 o = t / inner, c = t % inner;
        for (u64 j = 0; j < nidx; ++j) {
            gx[(o * axis + idx[j]) * inner + c] += g[(o * nidx + j) * inner + c];
        }
    }
}

extern "C" __global__ void gather_rows(const float* x, const u64* idx, float* out, u64 rows, u64 n) {
    GRID_STRIDE(r, rows) { out[r] = x[r * n + idx[r]]; }
}

// gx is zeroed by the caller.
extern "C" __global__ void gather_rows_bwd(const float* g, const u64* idx, float* gx, u64 rows, u64 n) {
    GRID_STRIDE(r, rows) { gx[r * n + idx[r]] = g[r]; }
}
