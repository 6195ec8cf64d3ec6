//! When to use threads. Work is cut into chunks of a fixed size (never derived
//! from the thread count or from the [`ThreadSplit`] policy) so that results are
//! bitwise the same on 1 or N threads and under every policy. Whether a loop
//! is split is the caller's [`ThreadSplit`] threshold, passed in.

use crate::context::ThreadSplit;
pub(crate) use crate::context::CHUNK;
use rayon::prelude::*;

#[cfg(test)]
thread_local! {
    /// Loops split over the threads by the calling thread (tests only: shows
    /// that a [`ThreadSplit`] reaches the kernels).
    static SPLITS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// The base pointer of an output that the tasks of a split kernel (the
/// blocks of a GEMM's C) write in disjoint parts, shared by the threads.
#[derive(Clone, Copy)]
pub(crate) struct CPtr(pub(crate) *mut f32);
// SAFETY: the pointer is only copied between threads; each user writes
// through it only to elements no other task of the same call touches (its
// own tiles or blocks), and the buffer outlives the call.
unsafe impl Send for CPtr {}
// SAFETY: as above.
unsafe impl Sync for CPtr {}

impl CPtr {
    /// The pointer (a method, so closures capture the `Sync` wrapper, not the field).
    pub(crate) fn get(self) -> *mut f32 {
        self.0
    }
}

/// Whether a loop of `size` (elements, weights or multiply-adds) is split
/// under `threshold` (a field of a [`ThreadSplit`]): `size >= threshold`. Every
/// split decision of the CPU kernels goes through here.
#[inline]
pub(crate) fn splits(threshold: usize, size: usize) -> bool {
    let split = size >= threshold;
    #[cfg(test)]
    if split {
        SPLITS.with(|c| c.set(c.get() + 1));
        let pool = rayon::current_num_threads();
        let mut by_pool = SPLITS_BY_POOL_SIZE.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if by_pool.len() <= pool {
            by_pool.resize(pool + 1, 0);
        }
        by_pool[pool] += 1;
    }
    split
}

/// Loops split so far, by the size of the pool they were split on (tests
/// only: shows that an entry point runs on its context's threads).
#[cfg(test)]
static SPLITS_BY_POOL_SIZE: std::sync::Mutex<Vec<usize>> = std::sync::Mutex::new(Vec::new());

/// The loops split so far, by any thread, on pools of `threads` threads (tests only).
#[cfg(test)]
pub(crate) fn splits_on_pools_of(threads: usize) -> usize {
    let by_pool = SPLITS_BY_POOL_SIZE.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    by_pool.get(threads).copied().unwrap_or(0)
}

/// The loops the calling thread has split so far (tests only).
#[cfg(test)]
pub(crate) fn splits_so_far() -> usize {
    SPLITS.with(std::cell::Cell::get)
}

/// Applies `f(offset, out_chunk)` over `out`, on the threads from
/// `split.heavy` elements (arithmetic-heavy loops).
/// `offset` is the index of the chunk's first element.
pub(crate) fn for_each_chunk_mut(split: ThreadSplit, out: &mut [f32], f: impl Fn(usize, &mut [f32]) + Sync) {
    for_each_chunk_mut_above(split.heavy, out, f)
}

/// [`for_each_chunk_mut`] with threads only from `threshold` elements
/// ([`ThreadSplit::heavy`] for arithmetic-heavy loops, [`ThreadSplit::light`] for
/// memory-bound ones). The values do not depend on it.
pub(crate) fn for_each_chunk_mut_above(threshold: usize, out: &mut [f32], f: impl Fn(usize, &mut [f32]) + Sync) {
    if splits(threshold, out.len()) {
        out.par_chunks_mut(CHUNK).enumerate().for_each(|(i, c)| f(i * CHUNK, c));
    } else {
        f(0, out);
    }
}

/// Runs `f(index, row)` over the consecutive rows of `row_len` elements of
/// `m` (images, planes, matrix rows): on rayon's threads when `parallel`,
/// else in order. Rows are disjoint, so the result does not depend on it.
pub(crate) fn for_each_row_mut(m: &mut [f32], row_len: usize, parallel: bool, f: impl Fn(usize, &mut [f32]) + Sync) {
    if row_len == 0 {
        return;
    }
    if parallel {
        m.par_chunks_mut(row_len).enumerate().for_each(|(i, r)| f(i, r));
    } else {
        m.chunks_mut(row_len).enumerate().for_each(|(i, r)| f(i, r));
    }
}

/// [`for_each_row_mut`], on threads from `split.heavy` elements of `m`.
pub(crate) fn rows_mut(split: ThreadSplit, m: &mut [f32], row_len: usize, f: impl Fn(usize, &mut [f32]) + Sync) {
    let parallel = splits(split.heavy, m.len());
    for_each_row_mut(m, row_len, parallel, f)
}

/// Sums `f(start, end)` over fixed [`CHUNK`]s of `0..n`, adding the partials
/// in chunk order, on the threads from `split.heavy` elements: the result
/// depends neither on the thread count nor on the policy.
pub(crate) fn chunked_sum(split: ThreadSplit, n: usize, f: impl Fn(usize, usize) -> f64 + Sync) -> f64 {
    let part = |c: usize| f(c * CHUNK, ((c + 1) * CHUNK).min(n));
    let chunks = n.div_ceil(CHUNK).max(1);
    if !splits(split.heavy, n) {
        return (0..chunks).map(part).sum();
    }
    let partials: Vec<f64> = (0..chunks).into_par_iter().map(part).collect();
    partials.iter().sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_decides_and_the_chunks_fix_the_bits() {
        // Forty binary orders of magnitude: the f64 sum rounds, so another
        // order of the partial sums would give other bits.
        let x: Vec<f32> =
            (0..3 * CHUNK + 5).map(|i| ((i * 37 % 101) as f32 - 50.3) * 2f32.powi((i * 13 % 41) as i32 - 20)).collect();
        let sum = |split: ThreadSplit| {
            let before = splits_so_far();
            let s = chunked_sum(split, x.len(), |a, b| x[a..b].iter().map(|&v| f64::from(v)).sum());
            (s.to_bits(), splits_so_far() - before)
        };
        let (seq, n_seq) = sum(ThreadSplit::sequential());
        let (def, n_def) = sum(ThreadSplit::default());
        let (eag, n_eag) = sum(ThreadSplit::eager());
        assert_eq!((n_seq, n_def, n_eag), (0, 1, 1));
        assert_eq!((seq, def), (eag, eag));
        // Below the default threshold, above one chunk: only eager splits.
        let mut y = vec![0f32; CHUNK + 1];
        let before = splits_so_far();
        for_each_chunk_mut(ThreadSplit::default(), &mut y, |_, c| c.fill(1.0));
        rows_mut(ThreadSplit::sequential(), &mut y, 7, |_, r| r.fill(2.0));
        assert_eq!(splits_so_far(), before);
        for_each_chunk_mut(ThreadSplit::eager(), &mut y, |o, c| {
            c.iter_mut().enumerate().for_each(|(i, v)| *v = (o + i) as f32)
        });
        assert_eq!(splits_so_far(), before + 1);
        assert!(y.iter().enumerate().all(|(i, &v)| v == i as f32));
    }
}
