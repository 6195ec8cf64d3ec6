//! When to use threads. Work is cut into chunks of a fixed size (never derived
//! from the thread count) so that results are bitwise the same on 1 or N threads.

use rayon::prelude::*;

/// Below this many elements an element-wise loop runs on one thread: spawning
/// costs more than the work.
pub const PAR_THRESHOLD: usize = 1 << 15;

/// The threshold for memory-bound element-wise loops (a compare, an add, a
/// product per element): below this the wake-up costs more than it saves.
/// Above it a second core's cache and load ports pay even for a ReLU: at
/// 2¹⁸ LeNet's first ReLU (221k elements) ran alone while the other core
/// waited, and the step took 15% longer (BENCHMARKS.md).
pub const LIGHT_PAR_THRESHOLD: usize = 1 << 16;

/// Chunk length for parallel element-wise loops and for the partial sums of reductions.
pub const CHUNK: usize = 1 << 14;

/// Applies `f(offset, out_chunk)` over `out`, in parallel when large.
/// `offset` is the index of the chunk's first element.
pub fn for_each_chunk_mut(out: &mut [f32], f: impl Fn(usize, &mut [f32]) + Sync) {
    for_each_chunk_mut_above(PAR_THRESHOLD, out, f)
}

/// [`for_each_chunk_mut`] with threads only from `threshold` elements
/// ([`PAR_THRESHOLD`] for arithmetic-heavy loops, [`LIGHT_PAR_THRESHOLD`] for
/// memory-bound ones). The values do not depend on it.
pub fn for_each_chunk_mut_above(threshold: usize, out: &mut [f32], f: impl Fn(usize, &mut [f32]) + Sync) {
    if out.len() < threshold {
        f(0, out);
    } else {
        out.par_chunks_mut(CHUNK).enumerate().for_each(|(i, c)| f(i * CHUNK, c));
    }
}

/// Runs `f(index, row)` over the consecutive rows of `row_len` elements of
/// `m` (images, planes, matrix rows): on rayon's threads when `parallel`,
/// else in order. Rows are disjoint, so the result does not depend on it.
pub fn for_each_row_mut(m: &mut [f32], row_len: usize, parallel: bool, f: impl Fn(usize, &mut [f32]) + Sync) {
    if row_len == 0 {
        return;
    }
    if parallel {
        m.par_chunks_mut(row_len).enumerate().for_each(|(i, r)| f(i, r));
    } else {
        m.chunks_mut(row_len).enumerate().for_each(|(i, r)| f(i, r));
    }
}

/// [`for_each_row_mut`], on threads from [`PAR_THRESHOLD`] elements of `m`.
pub fn rows_mut(m: &mut [f32], row_len: usize, f: impl Fn(usize, &mut [f32]) + Sync) {
    for_each_row_mut(m, row_len, m.len() >= PAR_THRESHOLD, f)
}

/// Sums `f(start, end)` over fixed chunks of `0..n`, adding the partials in
/// chunk order: the result does not depend on the thread count.
pub fn chunked_sum(n: usize, f: impl Fn(usize, usize) -> f64 + Sync) -> f64 {
    if n < PAR_THRESHOLD {
        return f(0, n);
    }
    let chunks = n.div_ceil(CHUNK);
    let partials: Vec<f64> = (0..chunks).into_par_iter().map(|c| f(c * CHUNK, ((c + 1) * CHUNK).min(n))).collect();
    partials.iter().sum()
}
