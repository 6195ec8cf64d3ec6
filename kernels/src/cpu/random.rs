//! Counter-based normals: a draw is *named* by (seed, offset), not produced by
//! a stateful generator, so any element can be regenerated on its own — by
//! another thread, by the backward pass, or by the GPU.
//!
//! The mapping (mirrored exactly by the CUDA source):
//! element `j = offset + i` lives in Philox block `b = j / 4`, lane `l = j % 4`.
//! The block is `philox4x32_10(counter = [b_lo, b_hi, 0, 0], key = [seed_lo, seed_hi])`,
//! four u32 words. Lanes 0 and 1 are the Box-Muller pair of words (0, 1), lanes
//! 2 and 3 that of words (2, 3): the even lane takes r·cos θ, the odd r·sin θ.

use super::parallel::for_each_chunk_mut;
use super::simd::multiversion;
use crate::context::ThreadSplit;
use crate::fastmath;
use rand_philox::philox4x32_10;

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;

/// 2⁻²⁴: the spacing of the 24-bit uniforms.
const INV_2_24: f32 = 1.0 / 16_777_216.0;

/// A u32 to a uniform in (0, 1): the top 24 bits, centred in their cell, so
/// neither 0 (log would be -inf) nor 1 is produced.
#[inline]
pub(crate) fn unit_open(x: u32) -> f32 {
    ((x >> 8) as f32 + 0.5) * INV_2_24
}

/// Box-Muller on two uniforms: (r cos θ, r sin θ) with r = √(−2 ln u1), θ = 2π u2.
#[inline]
pub(crate) fn box_muller(u1: f32, u2: f32) -> (f32, f32) {
    let r = (-2.0 * u1.ln()).sqrt();
    let (s, c) = (std::f32::consts::TAU * u2).sin_cos();
    (r * c, r * s)
}

/// The four u32 words of Philox block `block` under `seed`.
#[inline]
pub(crate) fn philox_block(seed: u64, block: u64) -> [u32; 4] {
    philox4x32_10([block as u32, (block >> 32) as u32, 0, 0], [seed as u32, (seed >> 32) as u32])
}

/// The four normals of block `block` (the reference: one block, scalar).
#[inline]
pub(crate) fn normal_block(seed: u64, block: u64) -> [f32; 4] {
    let w = philox_block(seed, block);
    let (a, b) = box_muller(unit_open(w[0]), unit_open(w[1]));
    let (c, d) = box_muller(unit_open(w[2]), unit_open(w[3]));
    [a, b, c, d]
}

/// The single normal named (seed, j).
#[inline]
pub(crate) fn normal_at(seed: u64, j: u64) -> f32 {
    normal_block(seed, j / 4)[(j % 4) as usize]
}

/// Philox blocks generated together: 4·BATCH normals per call of [`normal_batch`].
pub(crate) const BATCH: usize = 16;
// The AVX-512 path holds one word of every block in one 512-bit register.
const _: () = assert!(BATCH == 16, "one 512-bit register of u32 per word");

/// Philox round constants (Random123).
const M0: u32 = 0xD251_1F53;
const M1: u32 = 0xCD9E_8D57;
const W0: u32 = 0x9E37_79B9;
const W1: u32 = 0xBB67_AE85;

/// The counters of blocks `block0 .. block0 + BATCH`: (low words, high words).
#[inline(always)]
fn counters(block0: u64) -> ([u32; BATCH], [u32; BATCH]) {
    let ctr = |b: usize| block0.wrapping_add(b as u64);
    (std::array::from_fn(|b| ctr(b) as u32), std::array::from_fn(|b| (ctr(b) >> 32) as u32))
}

/// The four words of Philox blocks `block0 .. block0 + BATCH` as
/// structure-of-arrays (`[word][block]`), in plain integer arithmetic.
#[inline(always)]
fn philox_portable(seed: u64, block0: u64) -> [[u32; BATCH]; 4] {
    let (lo, hi) = counters(block0);
    let mut c = [lo, hi, [0u32; BATCH], [0u32; BATCH]];
    let (mut k0, mut k1) = (seed as u32, (seed >> 32) as u32);
    for round in 0..10 {
        if round > 0 {
            k0 = k0.wrapping_add(W0);
            k1 = k1.wrapping_add(W1);
        }
        for b in 0..BATCH {
            let p0 = M0 as u64 * c[0][b] as u64;
            let p1 = M1 as u64 * c[2][b] as u64;
            let (hi0, lo0, hi1, lo1) = ((p0 >> 32) as u32, p0 as u32, (p1 >> 32) as u32, p1 as u32);
            let n0 = hi1 ^ c[1][b] ^ k0;
            let n2 = hi0 ^ c[3][b] ^ k1;
            c[0][b] = n0;
            c[1][b] = lo1;
            c[2][b] = n2;
            c[3][b] = lo0;
        }
    }
    c
}

/// The normals of blocks `block0 .. block0 + BATCH`, block b's lanes at
/// `out[4b .. 4b + 4]`. Same values as [`normal_block`] up to the last bits
/// of ln/sin/cos (it uses [`fastmath`]); identical on every CPU: with
/// AVX-512 intrinsics where the CPU has them ([`avx512::normal_batch`]),
/// else AVX2+FMA ones ([`avx2::normal_blocks`]), else the plain code
/// compiled for the build that runs.
#[inline(always)]
fn normal_batch_impl(seed: u64, block0: u64, out: &mut [f32; 4 * BATCH]) {
    #[cfg(target_arch = "x86_64")]
    if has_avx512_fma() {
        // SAFETY: the CPU has AVX-512F and FMA (checked just above).
        return unsafe { avx512::normal_batch(seed, block0, out) };
    }
    #[cfg(target_arch = "x86_64")]
    if super::simd::has_avx2_fma() {
        // SAFETY: the CPU has AVX2 and FMA (checked just above).
        return unsafe { avx2::normal_blocks(seed, block0, out) };
    }
    normal_batch_plain(seed, block0, out)
}

/// Two batches: the normals of blocks `block0 .. block0 + 2·BATCH` (the
/// bits of two [`normal_batch_impl`] calls; on AVX-512 the two Philox
/// chains run interleaved, [`avx512::normal_batch2`]).
#[inline(always)]
fn normal_batch2_impl(seed: u64, block0: u64, out: &mut [[f32; 4 * BATCH]; 2]) {
    #[cfg(target_arch = "x86_64")]
    if has_avx512_fma() {
        // SAFETY: the CPU has AVX-512F and FMA (checked just above).
        return unsafe { avx512::normal_batch2(seed, block0, out) };
    }
    #[cfg(target_arch = "x86_64")]
    if super::simd::has_avx2_fma() {
        // SAFETY: the CPU has AVX2 and FMA (checked just above).
        return unsafe { avx2::normal_blocks(seed, block0, out.as_flattened_mut()) };
    }
    let [first, second] = out;
    normal_batch_plain(seed, block0, first);
    normal_batch_plain(seed, block0.wrapping_add(BATCH as u64), second);
}

/// Whether the [`avx512`] normals are dispatched: they give the scalar
/// code's bits, operation by operation, and their tests (which run on any
/// CPU with AVX-512F) check that bit for bit. Set to false to send an
/// AVX-512 CPU down the AVX2 path (the same bits).
const AVX512_NORMALS: bool = true;

/// Whether the [`avx512`] normals run: dispatched ([`AVX512_NORMALS`]), and
/// the CPU has AVX-512F and FMA (the check is cached by the standard library).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn has_avx512_fma() -> bool {
    AVX512_NORMALS && std::arch::is_x86_feature_detected!("avx512f") && std::arch::is_x86_feature_detected!("fma")
}

/// [`normal_batch_impl`] without intrinsics (the compiler vectorises it for
/// the baseline build). Compiled once, not into each kernel that draws: on
/// x86-64 only a CPU without AVX2 and FMA runs it, and the inlined copies
/// (one per kernel and vector build) were most of the binary's size.
#[inline(never)]
fn normal_batch_plain(seed: u64, block0: u64, out: &mut [f32; 4 * BATCH]) {
    let z = box_muller_soa(&philox_portable(seed, block0));
    for b in 0..BATCH {
        for lane in 0..4 {
            out[4 * b + lane] = z[lane][b];
        }
    }
}

/// Box-Muller on the pairs (word 0, word 1) and (word 2, word 3) of each
/// block, still structure-of-arrays (`[lane][block]`).
#[inline(always)]
fn box_muller_soa(c: &[[u32; BATCH]; 4]) -> [[f32; BATCH]; 4] {
    let mut z = [[0f32; BATCH]; 4];
    for pair in 0..2 {
        for b in 0..BATCH {
            let u1 = unit_open(c[2 * pair][b]);
            let u2 = unit_open(c[2 * pair + 1][b]);
            // u1 is in (0, 1] (`unit_open`): ln's domain.
            let r = (-2.0 * fastmath::ln_normal(u1)).sqrt();
            let (s, co) = fastmath::sincos_2pi(u2);
            z[2 * pair][b] = r * co;
            z[2 * pair + 1][b] = r * s;
        }
    }
    z
}

#[cfg(test)]
multiversion! {
    /// The batched Philox + Box-Muller (`normal_batch_impl`): AVX-512 or
    /// AVX2+FMA intrinsics where the CPU has them, else the plain code compiled
    /// for the widest vector unit it has (checked at run time; the same bits on every path).
    pub(crate) fn normal_batch(seed: u64, block0: u64, out: &mut [f32; 4 * BATCH]) => normal_batch_impl
}

/// The plain code of [`normal_batch`] in the baseline build (no target
/// feature, no intrinsics): the independent reference the tests compare the
/// dispatched path with, and what a CPU without AVX2 runs (benches).
pub(crate) fn normal_batch_portable(seed: u64, block0: u64, out: &mut [f32; 4 * BATCH]) {
    normal_batch_plain(seed, block0, out)
}

multiversion! {
    fn fill_normal_simd(seed: u64, offset: u64, out: &mut [f32]) => fill_normal_impl
}

#[inline(always)]
fn fill_normal_impl(seed: u64, offset: u64, out: &mut [f32]) {
    for_each_normal_chunk(
        seed,
        offset,
        out.len(),
        #[inline(always)]
        |start, eps| out[start..start + eps.len()].copy_from_slice(eps),
    );
}

/// Fills `out[i]` with the normal named (seed, offset + i), for i in 0..len.
/// Each element depends only on its name, so chunking and threads cannot change it
/// (`split.heavy` says from how many elements the threads fill it).
pub(crate) fn fill_normal(split: ThreadSplit, seed: u64, offset: u64, out: &mut [f32]) {
    for_each_chunk_mut(split, out, |start, chunk| fill_normal_simd(seed, offset + start as u64, chunk));
}

/// [`fill_normal`] through [`normal_batch_portable`] (the baseline build, no
/// intrinsics): the same bits, the portable variant of the normals.
pub(crate) fn fill_normal_portable(split: ThreadSplit, seed: u64, offset: u64, out: &mut [f32]) {
    for_each_chunk_mut(split, out, |start, chunk| {
        let mut buf = [0f32; 4 * BATCH];
        let mut i = 0usize;
        while i < chunk.len() {
            let j = offset + (start + i) as u64;
            let skip = (j % 4) as usize;
            normal_batch_portable(seed, j / 4, &mut buf);
            let take = (4 * BATCH - skip).min(chunk.len() - i);
            chunk[i..i + take].copy_from_slice(&buf[skip..skip + take]);
            i += take;
        }
    });
}

/// [`normal_batch_impl`] as a call: the kernels that draw (a dozen, each in
/// three vector builds) share one copy of the normals' code instead of
/// inlining it, which costs one call per 64 normals.
#[inline(never)]
fn normal_batch_call(seed: u64, block0: u64, out: &mut [f32; 4 * BATCH]) {
    normal_batch_impl(seed, block0, out)
}

/// [`normal_batch2_impl`] as a call, as [`normal_batch_call`].
#[inline(never)]
fn normal_batch2_call(seed: u64, block0: u64, out: &mut [[f32; 4 * BATCH]; 2]) {
    normal_batch2_impl(seed, block0, out)
}

/// Calls `f(start, eps)` with consecutive runs of the normals named
/// (seed, offset + i), i in 0..len: `eps[k]` is element `start + k`. Runs are
/// up to 4·[`BATCH`] long, so a consumer's loop over `eps` vectorises: the
/// first one ends where the batch of element `offset` ends (4·BATCH −
/// offset % 4 elements), each later one is a whole batch, the last one what
/// is left. Consumers sum per run, so these boundaries are part of their
/// bits: the normals are made two batches at a time where more than one
/// is needed, and still handed over one batch per run.
#[inline(always)]
pub(crate) fn for_each_normal_chunk(seed: u64, offset: u64, len: usize, mut f: impl FnMut(usize, &[f32])) {
    const RUN: usize = 4 * BATCH;
    let mut buf = [[0f32; RUN]; 2];
    let mut i = 0usize;
    while i < len {
        let j = offset + i as u64;
        let skip = (j % 4) as usize;
        let left = len - i;
        // Each run as (batch, first lane, lanes). One batch where the rest
        // fits in it, or where the element index would wrap within the next
        // two (as before: a run's blocks go on past the wrap, the next run
        // restarts from the wrapped index).
        let runs = if skip + left <= RUN || j > u64::MAX - 2 * RUN as u64 {
            let [first, _] = &mut buf;
            normal_batch_call(seed, j / 4, first);
            [(0, skip, (RUN - skip).min(left)), (1, 0, 0)]
        } else {
            normal_batch2_call(seed, j / 4, &mut buf);
            [(0, skip, RUN - skip), (1, 0, RUN.min(left - (RUN - skip)))]
        };
        // One call of `f` in the loop: each kernel inlines its body once.
        for (b, from, take) in runs {
            if take > 0 {
                f(i, &buf[b][from..from + take]);
                i += take;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Random123's published known-answer vectors for philox4x32_10.
    #[test]
    fn philox_matches_random123_known_answers() {
        let kat: [([u32; 4], [u32; 2], [u32; 4]); 3] = [
            ([0, 0, 0, 0], [0, 0], [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]),
            ([0xffffffff; 4], [0xffffffff; 2], [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd]),
            (
                [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344],
                [0xa4093822, 0x299f31d0],
                [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1],
            ),
        ];
        for (ctr, key, want) in kat {
            assert_eq!(philox4x32_10(ctr, key), want);
        }
        // Our (seed, block) addressing is the same function with ctr = [b_lo, b_hi, 0, 0].
        assert_eq!(philox_block(0, 0), kat[0].2);
    }

    #[test]
    fn a_draw_is_named_by_seed_and_offset() {
        let mut whole = vec![0.0; 37];
        fill_normal(ThreadSplit::default(), 9, 5, &mut whole);
        for i in 0..37 {
            let reference = normal_at(9, 5 + i as u64);
            assert!((whole[i] - reference).abs() <= 1e-6 * (1.0 + reference.abs()), "{i}: {} vs {reference}", whole[i]);
        }
        let mut tail = vec![0.0; 30];
        fill_normal(ThreadSplit::default(), 9, 12, &mut tail);
        assert_eq!(&whole[7..], &tail[..]);
        let mut other = vec![0.0; 37];
        fill_normal(ThreadSplit::default(), 10, 5, &mut other);
        assert_ne!(whole, other);
    }

    #[test]
    fn every_vector_path_gives_the_same_bits() {
        let (mut fast, mut portable) = ([0f32; 4 * BATCH], [0f32; 4 * BATCH]);
        for block0 in [0u64, 3, 1 << 33] {
            normal_batch(77, block0, &mut fast);
            normal_batch_portable(77, block0, &mut portable);
            assert_eq!(fast.map(f32::to_bits), portable.map(f32::to_bits));
            for b in 0..BATCH {
                let reference = normal_block(77, block0 + b as u64);
                for l in 0..4 {
                    assert!((fast[4 * b + l] - reference[l]).abs() <= 1e-6 * (1.0 + reference[l].abs()));
                }
            }
        }
    }

    #[test]
    fn both_philox_builds_give_the_same_words() {
        let seeds = [0u64, 77, u64::MAX, 0x1234_5678_9abc_def0];
        // The carry into the counter's high word, and the counter wrapping.
        let blocks = [0u64, 3, (1 << 32) - 5, (1 << 32) - 20, u64::MAX - 7, u64::MAX - 20, 1 << 40];
        for (seed, block0) in seeds.into_iter().flat_map(|s| blocks.map(|b| (s, b))) {
            let portable = philox_portable(seed, block0);
            for b in 0..BATCH {
                let want = philox_block(seed, block0.wrapping_add(b as u64));
                assert_eq!(std::array::from_fn(|w| portable[w][b]), want, "seed {seed} block {block0} + {b}");
            }
            // The intrinsics run only where the CPU has AVX-512 (the project's
            // machines and CI do); elsewhere this checks the plain path alone.
            // Both as one batch and as the second of two (the counter in later lanes).
            #[cfg(target_arch = "x86_64")]
            if crate::fastmath::avx512_tests_run("both_philox_builds_give_the_same_words") {
                for second in [false, true] {
                    // SAFETY: AVX-512F checked just above (avx512_tests_run).
                    let words = unsafe { avx512::philox_words(seed, block0, second) };
                    assert_eq!(words, portable, "seed {seed} block {block0} (second batch: {second})");
                }
            }
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx2") {
                for h in 0..2 {
                    // SAFETY: AVX2 checked just above.
                    let words = unsafe { avx2::philox_words(seed, block0.wrapping_add(8 * h as u64)) };
                    let want: [[u32; 8]; 4] =
                        std::array::from_fn(|w| portable[w][8 * h..8 * h + 8].try_into().unwrap());
                    assert_eq!(words, want, "seed {seed} block {block0} (AVX2, step {h})");
                }
            }
        }
    }

    #[test]
    fn box_muller_normals_have_unit_moments_over_a_million_draws() {
        let n = 1_000_000;
        let mut x = vec![0.0; n];
        fill_normal(ThreadSplit::default(), 2024, 0, &mut x);
        let mean = x.iter().map(|&v| v as f64).sum::<f64>() / n as f64;
        let var = x.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n as f64;
        // Standard errors: 1e-3 for the mean, 1.4e-3 for the variance; allow ~4 of them.
        assert!(mean.abs() < 4e-3, "mean {mean}");
        assert!((var - 1.0).abs() < 6e-3, "variance {var}");
        assert!(x.iter().all(|v| v.is_finite()));
    }

    /// Whether the dispatched normals take the AVX-512 path here (says so when not).
    fn note_path(test: &str) {
        #[cfg(target_arch = "x86_64")]
        if has_avx512_fma() || super::super::simd::has_avx2_fma() {
            return;
        }
        eprintln!("{test}: this CPU lacks AVX-512F/AVX2 and FMA, so this compares the plain builds only");
    }

    #[test]
    fn the_batches_give_the_portable_bits_at_many_blocks() {
        note_path("the_batches_give_the_portable_bits_at_many_blocks");
        let blocks = (0..40u64).chain([1 << 20, (1 << 32) - 17, (1 << 32) - 1, 1 << 33, u64::MAX - 17, u64::MAX]);
        for (seed, block0) in [0u64, 77, u64::MAX].into_iter().flat_map(|s| blocks.clone().map(move |b| (s, b))) {
            let (mut fast, mut portable) = ([0f32; 4 * BATCH], [0f32; 4 * BATCH]);
            normal_batch(seed, block0, &mut fast);
            normal_batch_portable(seed, block0, &mut portable);
            assert_eq!(fast.map(f32::to_bits), portable.map(f32::to_bits), "seed {seed} block {block0}");
            let mut two = [[0f32; 4 * BATCH]; 2];
            normal_batch2_impl(seed, block0, &mut two);
            normal_batch_portable(seed, block0.wrapping_add(BATCH as u64), &mut fast);
            let want: Vec<u32> = portable.iter().chain(&fast).map(|v| v.to_bits()).collect();
            assert_eq!(
                two.as_flattened().iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                want,
                "two batches: seed {seed} block {block0}"
            );
        }
    }

    #[test]
    fn fill_normal_gives_the_portable_bits_at_many_offsets_and_lengths() {
        note_path("fill_normal_gives_the_portable_bits_at_many_offsets_and_lengths");
        let lens = (0..140).chain([191, 192, 193, 255, 256, 257, 1000, 4099]);
        let offsets = (0..9u64).chain([61, 63, 64, 65, 127, 129, (1 << 34) + 3, u64::MAX - 5000]);
        for off in offsets {
            for len in lens.clone() {
                let (mut fast, mut portable) = (vec![0f32; len], vec![0f32; len]);
                fill_normal(ThreadSplit::default(), 5, off, &mut fast);
                fill_normal_portable(ThreadSplit::default(), 5, off, &mut portable);
                let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&fast), bits(&portable), "offset {off} len {len}");
            }
        }
    }

    #[test]
    fn for_each_normal_chunk_keeps_its_runs() {
        // The consumers sum per run: the runs must stay where they were (the
        // first to the end of the offset's batch, then whole batches).
        let run = 4 * BATCH;
        for off in [0u64, 1, 2, 3, 4, 5, 63, 64, 65, 66, 67, 1 << 40] {
            for len in (0..300).chain([4096, 4097]) {
                let mut runs = Vec::new();
                for_each_normal_chunk(7, off, len, |s, eps| {
                    let mut want = vec![0f32; eps.len()];
                    fill_normal_portable(ThreadSplit::default(), 7, off + s as u64, &mut want);
                    assert_eq!(
                        eps.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                        want.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
                    );
                    runs.push((s, eps.len()));
                });
                let mut expected = Vec::new();
                let mut i = 0;
                while i < len {
                    let take = (run - ((off + i as u64) % 4) as usize).min(len - i);
                    expected.push((i, take));
                    i += take;
                }
                assert_eq!(runs, expected, "offset {off} len {len}");
            }
        }
    }
}
