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

/// [`philox_portable`] with the 16 blocks in one AVX-512 register per word
/// (the compiler's own vectorisation widens every product to 64-bit lanes
/// and back: 1.6 ns a normal for Philox alone, this ~0.6).
///
/// # Safety
/// The CPU must have AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn philox_avx512(seed: u64, block0: u64) -> [[u32; BATCH]; 4] {
    use std::arch::x86_64::*;
    /// (high, low) 32-bit halves of the 64-bit products `a · m`, lane by lane:
    /// `_mm512_mul_epu32` multiplies the even lanes; shifted, the odd ones.
    /// Safety: AVX-512F must be present (its one caller enables it).
    #[inline(always)]
    unsafe fn mul_hi_lo(a: __m512i, m: __m512i) -> (__m512i, __m512i) {
        const ODD: __mmask16 = 0xAAAA;
        let even = _mm512_mul_epu32(a, m);
        let odd = _mm512_mul_epu32(_mm512_srli_epi64::<32>(a), m);
        let hi = _mm512_mask_blend_epi32(ODD, _mm512_srli_epi64::<32>(even), odd);
        let lo = _mm512_mask_blend_epi32(ODD, even, _mm512_slli_epi64::<32>(odd));
        (hi, lo)
    }
    let (lo, hi) = counters(block0);
    // SAFETY (all intrinsics below): AVX-512F is enabled for this function;
    // the loads and stores move 16 u32 between registers and [u32; 16] arrays.
    unsafe {
        let mut c0 = _mm512_loadu_si512(lo.as_ptr().cast());
        let mut c1 = _mm512_loadu_si512(hi.as_ptr().cast());
        let (mut c2, mut c3) = (_mm512_setzero_si512(), _mm512_setzero_si512());
        let (m0, m1) = (_mm512_set1_epi32(M0 as i32), _mm512_set1_epi32(M1 as i32));
        let (mut k0, mut k1) = (seed as u32, (seed >> 32) as u32);
        for round in 0..10 {
            if round > 0 {
                k0 = k0.wrapping_add(W0);
                k1 = k1.wrapping_add(W1);
            }
            let (hi0, lo0) = mul_hi_lo(c0, m0);
            let (hi1, lo1) = mul_hi_lo(c2, m1);
            // 0x96: the three-way exclusive or.
            let n0 = _mm512_ternarylogic_epi32::<0x96>(hi1, c1, _mm512_set1_epi32(k0 as i32));
            let n2 = _mm512_ternarylogic_epi32::<0x96>(hi0, c3, _mm512_set1_epi32(k1 as i32));
            (c0, c1, c2, c3) = (n0, lo1, n2, lo0);
        }
        let mut out = [[0u32; BATCH]; 4];
        for (word, v) in out.iter_mut().zip([c0, c1, c2, c3]) {
            _mm512_storeu_si512(word.as_mut_ptr().cast(), v);
        }
        out
    }
}

/// The normals of blocks `block0 .. block0 + BATCH`, block b's lanes at
/// `out[4b .. 4b + 4]`. Same values as [`normal_block`] up to the last bits
/// of ln/sin/cos (it uses [`fastmath`]); identical on every CPU: with
/// AVX-512 intrinsics where the CPU has them ([`normal_batch_avx512`]), else
/// the plain code compiled for the build that runs.
#[inline(always)]
fn normal_batch_impl(seed: u64, block0: u64, out: &mut [f32; 4 * BATCH]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") && std::arch::is_x86_feature_detected!("fma") {
        // SAFETY: the CPU has AVX-512F and FMA (checked just above).
        return unsafe { normal_batch_avx512(seed, block0, out) };
    }
    normal_batch_plain(seed, block0, out)
}

/// [`normal_batch_impl`] without AVX-512 intrinsics (the compiler vectorises it).
#[inline(always)]
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

/// [`normal_batch_impl`] on AVX-512: Philox in registers, the same
/// Box-Muller arithmetic, and the lanes interleaved into block order by
/// register shuffles (the compiler's version moved 128-bit pieces).
///
/// # Safety
/// The CPU must have AVX-512F and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,fma")]
unsafe fn normal_batch_avx512(seed: u64, block0: u64, out: &mut [f32; 4 * BATCH]) {
    use std::arch::x86_64::*;
    // SAFETY: the features are enabled for this function (and checked by
    // the caller); loads and stores move 16 f32 from or to arrays of 16.
    unsafe {
        let z = box_muller_soa(&philox_avx512(seed, block0));
        let [z0, z1, z2, z3] = z.map(|lane| _mm512_loadu_ps(lane.as_ptr()));
        // Per 128-bit quarter k: t0 = a b a b of blocks 4k, 4k+1 (lanes 0, 1),
        // t1 the same for 4k+2, 4k+3; t2, t3 for lanes 2 and 3.
        let (t0, t1) = (_mm512_unpacklo_ps(z0, z1), _mm512_unpackhi_ps(z0, z1));
        let (t2, t3) = (_mm512_unpacklo_ps(z2, z3), _mm512_unpackhi_ps(z2, z3));
        let pd = _mm512_castps_pd;
        let ps = _mm512_castpd_ps;
        // u_j, quarter k: the four lanes of block 4k + j.
        let u0 = ps(_mm512_unpacklo_pd(pd(t0), pd(t2)));
        let u1 = ps(_mm512_unpackhi_pd(pd(t0), pd(t2)));
        let u2 = ps(_mm512_unpacklo_pd(pd(t1), pd(t3)));
        let u3 = ps(_mm512_unpackhi_pd(pd(t1), pd(t3)));
        // Output k: quarter k of u0, u1, u2, u3 (a 4×4 transpose of quarters).
        let (v0, v1) = (_mm512_shuffle_f32x4::<0b01_00_01_00>(u0, u1), _mm512_shuffle_f32x4::<0b01_00_01_00>(u2, u3));
        let (v2, v3) = (_mm512_shuffle_f32x4::<0b11_10_11_10>(u0, u1), _mm512_shuffle_f32x4::<0b11_10_11_10>(u2, u3));
        let outs = [
            _mm512_shuffle_f32x4::<0b10_00_10_00>(v0, v1),
            _mm512_shuffle_f32x4::<0b11_01_11_01>(v0, v1),
            _mm512_shuffle_f32x4::<0b10_00_10_00>(v2, v3),
            _mm512_shuffle_f32x4::<0b11_01_11_01>(v2, v3),
        ];
        for (k, v) in outs.into_iter().enumerate() {
            _mm512_storeu_ps(out[16 * k..].as_mut_ptr(), v);
        }
    }
}

#[cfg(test)]
multiversion! {
    /// The batched Philox + Box-Muller (`normal_batch_impl`): AVX-512
    /// intrinsics where the CPU has them, else the plain code compiled for the
    /// widest vector unit it has (checked at run time; the same bits on every path).
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

/// Calls `f(start, eps)` with consecutive runs of the normals named
/// (seed, offset + i), i in 0..len: `eps[k]` is element `start + k`. Runs are
/// up to 4·[`BATCH`] long, so a consumer's loop over `eps` vectorises.
#[inline(always)]
pub(crate) fn for_each_normal_chunk(seed: u64, offset: u64, len: usize, mut f: impl FnMut(usize, &[f32])) {
    let mut buf = [0f32; 4 * BATCH];
    let mut i = 0usize;
    while i < len {
        let j = offset + i as u64;
        let skip = (j % 4) as usize;
        normal_batch_impl(seed, j / 4, &mut buf);
        let take = (4 * BATCH - skip).min(len - i);
        f(i, &buf[skip..skip + take]);
        i += take;
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
        let blocks = [0u64, 3, (1 << 32) - 5, u64::MAX - 7, 1 << 40];
        for (seed, block0) in seeds.into_iter().flat_map(|s| blocks.map(|b| (s, b))) {
            let portable = philox_portable(seed, block0);
            for b in 0..BATCH {
                let want = philox_block(seed, block0.wrapping_add(b as u64));
                assert_eq!(std::array::from_fn(|w| portable[w][b]), want, "seed {seed} block {block0} + {b}");
            }
            // The intrinsics run only where the CPU has AVX-512 (the project's
            // machines and CI do); elsewhere this checks the plain path alone.
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx512f") {
                // SAFETY: AVX-512F checked just above.
                assert_eq!(unsafe { philox_avx512(seed, block0) }, portable, "seed {seed} block {block0}");
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
}
