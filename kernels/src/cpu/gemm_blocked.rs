//! blitz's own packed GEMM ([`crate::context::GemmVariant::Blocked`]), in the
//! five loops of the BLIS design: columns of C in blocks of [`NC`] (jc), k in
//! blocks of [`KC`] (pc), rows in blocks of [`MC`] (ic), then NR-wide column
//! panels (jr) and MR-high row panels (ir), each pair one microkernel call
//! ([`super::gemm_tile`]).
//!
//! Packing: op(A) into MR×KC panels (`panel[p·MR + i]`), op(B) into KC×NR
//! panels (`panel[p·NR + j]`), zero-padded past the matrix's edge, read from
//! the operands through their strides: the transposed forms cost no copy of a
//! whole matrix ([`super::gemm_pack`]). A split product gives each thread a block of C's tiles
//! ([`grid`]); the thread packs the blocks of A and B that its tiles read, each
//! just before use, so they are still in its caches.
//!
//! Bits: each element of C is `alpha·Σ + beta·c` over the first KC block of
//! k and `c + 1·Σ` over each later one (`1·x = x` exactly), each Σ by fused
//! multiply-adds in increasing k from zero. That depends on KC and k's order
//! only: not on MC, NC, the tile shape or the thread split, so a product
//! gives the same bits on any number of threads, and every microkernel
//! (AVX-512, AVX2, portable) gives the same bits too.

#[cfg(test)]
pub(crate) use super::gemm_pack::pack;
use super::gemm_pack::pack_block;
use super::gemm_tile::{store, Kernel, MAX_TILE};
use super::parallel::{splits, CPtr};
use crate::context::ThreadSplit;
use rayon::prelude::*;

/// Columns of C per jc block (the columns of B packed at a time).
pub(crate) const NC: usize = 2048;
/// Depth per pc block: the length of a packed panel. It fixes where the
/// partial sums of k are rounded into C, and so the bits.
pub(crate) const KC: usize = 256;
/// Rows of C per ic block (the rows of packed A one pass over B's panels uses).
pub(crate) const MC: usize = 192;

/// A matrix view: element (r, c) at `r·rs + c·cs` of `data`.
#[derive(Clone, Copy)]
pub(crate) struct View<'a> {
    /// The elements.
    pub(crate) data: &'a [f32],
    /// Distance between rows.
    pub(crate) rs: usize,
    /// Distance between columns.
    pub(crate) cs: usize,
}

/// Whether every element (r, c), r < rows, c < cols, of the view lies in its
/// slice (checked arithmetic).
fn view_holds(v: &View, rows: usize, cols: usize) -> bool {
    if rows == 0 || cols == 0 {
        return true;
    }
    let last = (rows - 1).checked_mul(v.rs).and_then(|r| (cols - 1).checked_mul(v.cs).and_then(|c| r.checked_add(c)));
    last.is_some_and(|l| l < v.data.len())
}

/// `c = alpha·op(A)·op(B) + beta·c` for m×k by k×n, C row-major with rows
/// `n` apart, op(A) and op(B) given as strided views; on the widest
/// microkernel this CPU has. `c` is not read when `beta = 0`.
///
/// # Panics
/// If a view or `c` is shorter than its matrix.
pub(crate) fn gemm_blocked(
    split: ThreadSplit,
    m: usize,
    k: usize,
    n: usize,
    alpha: f32,
    a: View,
    b: View,
    beta: f32,
    c: &mut [f32],
) {
    gemm_blocked_with(Kernel::best(), split, m, k, n, alpha, a, b, beta, c)
}

/// [`gemm_blocked`] on the microkernel `kernel`.
///
/// # Panics
/// If a view or `c` is shorter than its matrix, or the CPU lacks the kernel's instructions.
pub(crate) fn gemm_blocked_with(
    kernel: Kernel,
    split: ThreadSplit,
    m: usize,
    k: usize,
    n: usize,
    alpha: f32,
    a: View,
    b: View,
    beta: f32,
    c: &mut [f32],
) {
    assert!(kernel.available(), "gemm_blocked: {kernel:?} does not run on this CPU");
    assert!(
        view_holds(&a, m, k) && view_holds(&b, k, n) && m.checked_mul(n).is_some_and(|mn| c.len() >= mn),
        "gemm_blocked: a slice is shorter than its matrix"
    );
    if m == 0 || n == 0 {
        return;
    }
    let c = &mut c[..m * n];
    if k == 0 {
        if beta == 0.0 {
            c.fill(0.0);
        } else {
            c.iter_mut().for_each(|x| *x *= beta);
        }
        return;
    }
    let (mr, nr) = (kernel.mr(), kernel.nr());
    let threads = rayon::current_num_threads();
    let parallel = threads > 1 && splits(split.gemm, m.saturating_mul(k).saturating_mul(n));
    let (pm, pn) = (m.div_ceil(mr), n.div_ceil(nr));
    let (tr, tc) = if parallel { grid(pm, pn, threads, mr, nr) } else { (1, 1) };
    let (rows_per, cols_per) = (pm.div_ceil(tr), pn.div_ceil(tc));
    let plan = Plan { kernel, m, k, n, alpha, beta, a, b, c: CPtr(c.as_mut_ptr()) };
    let tasks: Vec<(usize, usize)> =
        (0..pm).step_by(rows_per).flat_map(|r| (0..pn).step_by(cols_per).map(move |q| (r, q))).collect();
    let run = |&(r, q): &(usize, usize)| plan.task(r, (r + rows_per).min(pm), q, (q + cols_per).min(pn));
    if tasks.len() > 1 {
        tasks.par_iter().for_each(run);
    } else {
        tasks.iter().for_each(run);
    }
}

/// The split of `pm` row panels (`mr` rows each) and `pn` column panels
/// (`nr` columns each) into a `tr × tc` grid of at most `threads` tasks,
/// the one whose largest task costs least: its tiles' multiply-adds plus the
/// packing of its own rows of A and columns of B (each task packs what it
/// reads), per unit of k. The fewer tasks on a tie. It moves work between
/// threads, never the bits.
pub(crate) fn grid(pm: usize, pn: usize, threads: usize, mr: usize, nr: usize) -> (usize, usize) {
    // In tenths of a cycle per unit of k: a tile's mr·nr multiply-adds at 16
    // a cycle, and about 2.5 cycles a packed float (measured, BENCHMARKS.md).
    let cost = |tr: usize, tc: usize| {
        let (rows, cols) = (pm.div_ceil(tr), pn.div_ceil(tc));
        rows * cols * mr * nr * 10 / 16 + (rows * mr + cols * nr) * 25
    };
    let mut best = (1, 1, cost(1, 1));
    for tr in 1..=threads.min(pm) {
        for tc in 1..=(threads / tr).min(pn) {
            let c = cost(tr, tc);
            if c < best.2 || (c == best.2 && tr * tc < best.0 * best.1) {
                best = (tr, tc, c);
            }
        }
    }
    (best.0, best.1)
}

/// One product: what every task reads and where it writes.
struct Plan<'a> {
    kernel: Kernel,
    m: usize,
    k: usize,
    n: usize,
    alpha: f32,
    beta: f32,
    a: View<'a>,
    b: View<'a>,
    c: CPtr,
}

impl Plan<'_> {
    /// Row panels r0..r1 by column panels q0..q1 of C, in the five loops:
    /// jc (at most [`NC`] columns), pc (one [`KC`] block of k: the task packs
    /// that block of its columns of B), ic (at most [`MC`] rows: it packs
    /// that block of its rows of A), then jr and ir, one tile each. What a
    /// task packs it packs just before use, on its own thread.
    fn task(&self, r0: usize, r1: usize, q0: usize, q1: usize) {
        let (mr, nr) = (self.kernel.mr(), self.kernel.nr());
        let (mc_panels, nc_panels) = ((MC / mr).max(1), (NC / nr).max(1));
        let kc_max = KC.min(self.k);
        // Each at most MC·KC or NC·KC floats (plus a tile's padding).
        let mut a_buf = Aligned::new(mc_panels.min(r1 - r0) * mr * kc_max);
        let mut b_buf = Aligned::new(nc_panels.min(q1 - q0) * nr * kc_max);
        let mut tile = [0f32; MAX_TILE];
        for jc in (q0..q1).step_by(nc_panels) {
            let jq1 = (jc + nc_panels).min(q1);
            let col0 = jc * nr;
            let cols = (jq1 * nr).min(self.n) - col0;
            for p0 in (0..self.k).step_by(KC) {
                let kc = KC.min(self.k - p0);
                // The first block of k scales C by beta; later ones add to it.
                let beta = if p0 == 0 { self.beta } else { 1.0 };
                let b_blk = &mut b_buf.slice_mut()[..(jq1 - jc) * nr * kc];
                // op(B)'s columns along its column stride, k along its row stride.
                pack_block(self.b.data, self.b.cs, self.b.rs, col0, cols, p0, kc, nr, b_blk);
                let b_blk = &*b_blk;
                for ic in (r0..r1).step_by(mc_panels) {
                    let ic1 = (ic + mc_panels).min(r1);
                    let row0 = ic * mr;
                    let a_blk = &mut a_buf.slice_mut()[..(ic1 - ic) * mr * kc];
                    pack_block(
                        self.a.data,
                        self.a.rs,
                        self.a.cs,
                        row0,
                        (ic1 * mr).min(self.m) - row0,
                        p0,
                        kc,
                        mr,
                        a_blk,
                    );
                    let a_blk = &*a_blk;
                    for jr in jc..jq1 {
                        let bp = &b_blk[(jr - jc) * kc * nr..][..kc * nr];
                        let col = jr * nr;
                        let cols = nr.min(self.n - col);
                        for ir in ic..ic1 {
                            let ap = &a_blk[(ir - ic) * kc * mr..][..kc * mr];
                            let row = ir * mr;
                            let rows = mr.min(self.m - row);
                            // SAFETY: row < m and col < n (the panels cover the
                            // matrix), so the offset row·n + col lies in C (m·n
                            // elements, asserted by `gemm_blocked_with`); each
                            // (ir, jr) tile belongs to exactly one task, so no
                            // other thread touches these elements.
                            let at = unsafe { self.c.get().add(row * self.n + col) };
                            if rows == mr && cols == nr {
                                // SAFETY: the whole MR×NR tile lies in C (rows and
                                // cols are full), rows n apart, owned by this task.
                                unsafe { self.kernel.run(kc, ap, bp, at, self.n, self.alpha, beta) };
                            } else {
                                self.kernel.run_to_tile(kc, ap, bp, &mut tile);
                                // SAFETY: `rows` rows of `cols` floats from (row, col)
                                // lie in C (row + rows ≤ m, col + cols ≤ n), rows n
                                // apart, owned by this task.
                                unsafe { store(&tile, nr, rows, cols, at, self.n, self.alpha, beta) };
                            }
                        }
                    }
                }
            }
        }
        a_buf.give();
        b_buf.give();
    }
}

/// A recycled scratch buffer whose used part starts on a 64-byte boundary
/// (a whole cache line per zmm load of a packed panel).
struct Aligned {
    buf: Vec<f32>,
    off: usize,
    len: usize,
}

impl Aligned {
    /// `len` floats (every one written by the packing before it is read).
    /// The callers' lengths are at most (NC + a tile)·KC or (MC + a tile)·KC
    /// floats, from the block sizes alone (no size from outside reaches
    /// here), so the 16 floats of alignment slack cannot overflow.
    fn new(len: usize) -> Aligned {
        debug_assert!(len <= (NC + MAX_TILE) * KC, "gemm_blocked: a scratch block larger than NC·KC");
        let buf = super::recycle::for_overwrite(len + 16);
        let off = buf.as_ptr().align_offset(64).min(16);
        Aligned { buf, off, len }
    }

    fn slice_mut(&mut self) -> &mut [f32] {
        &mut self.buf[self.off..self.off + self.len]
    }

    /// Hands the buffer back to the pool.
    fn give(self) {
        super::recycle::give(self.buf);
    }
}

#[cfg(test)]
#[path = "gemm_blocked_tests.rs"]
mod tests;
