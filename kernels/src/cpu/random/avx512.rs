//! The normals on AVX-512: Philox with each block's 32-bit words in 64-bit
//! lanes (one `_mm512_mul_epu32` gives a product's high and low halves, no
//! blends), then Box-Muller on sixteen lanes with the vector `ln` and
//! `sincos` of [`crate::fastmath::avx512`], and the lanes interleaved into
//! block order by register shuffles. Bitwise the same normals as
//! [`super::normal_batch_portable`]: the same Philox words, and every
//! floating-point operation of [`super::box_muller_soa`] in the same order.

use super::{BATCH, INV_2_24, M0, M1, W0, W1};
use crate::fastmath::avx512::{ln_normal, sincos_2pi};
use std::arch::x86_64::*;

/// Philox blocks per 512-bit register: one 64-bit lane each.
const PER_REG: usize = 8;
/// Registers per word for one batch of [`BATCH`] blocks.
const REGS_PER_BATCH: usize = BATCH / PER_REG;
const _: () = assert!(BATCH == 2 * PER_REG, "a batch is two registers of 64-bit lanes per word");

/// The four words of Philox blocks `block0 .. block0 + 8·G` (wrapping), in
/// the low halves of 64-bit lanes: `out[w][g]` lane `l` holds word `w` of
/// block `block0 + 8g + l` (the high halves are meaningless). The `G`
/// groups are independent chains, interleaved round by round.
#[inline]
#[target_feature(enable = "avx512f")]
fn philox_lanes<const G: usize>(seed: u64, block0: u64) -> [[__m512i; G]; 4] {
    let step = _mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0);
    // A lane holds its whole 64-bit counter: the low half is word 0 (the high
    // half is ignored by the multiply), its shift down by 32 is word 1.
    let ctr: [__m512i; G] = std::array::from_fn(|g| {
        _mm512_add_epi64(_mm512_set1_epi64(block0.wrapping_add((PER_REG * g) as u64) as i64), step)
    });
    let mut c1: [__m512i; G] = ctr.map(|c| _mm512_srli_epi64::<32>(c));
    let mut c0 = ctr;
    let mut c2 = [_mm512_setzero_si512(); G];
    let mut c3 = [_mm512_setzero_si512(); G];
    let (m0, m1) = (_mm512_set1_epi64(M0 as i64), _mm512_set1_epi64(M1 as i64));
    let (mut k0, mut k1) = (seed as u32, (seed >> 32) as u32);
    for round in 0..10 {
        if round > 0 {
            k0 = k0.wrapping_add(W0);
            k1 = k1.wrapping_add(W1);
        }
        let (key0, key1) = (_mm512_set1_epi32(k0 as i32), _mm512_set1_epi32(k1 as i32));
        for g in 0..G {
            // The 64-bit products of the low halves: lo in the low half, hi above it.
            let p0 = _mm512_mul_epu32(c0[g], m0);
            let p1 = _mm512_mul_epu32(c2[g], m1);
            // 0x96: the three-way exclusive or (of hi1, c1, k0 and hi0, c3, k1).
            c0[g] = _mm512_ternarylogic_epi32::<0x96>(_mm512_srli_epi64::<32>(p1), c1[g], key0);
            c2[g] = _mm512_ternarylogic_epi32::<0x96>(_mm512_srli_epi64::<32>(p0), c3[g], key1);
            c1[g] = p1;
            c3[g] = p0;
        }
    }
    [c0, c1, c2, c3]
}

/// The low halves of the 64-bit lanes of `a` then `b`: sixteen u32 lanes.
#[inline]
#[target_feature(enable = "avx512f")]
fn pack_low_halves(a: __m512i, b: __m512i) -> __m512i {
    let even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    _mm512_permutex2var_epi32(a, even, b)
}

/// [`super::unit_open`] on sixteen lanes: ((x >> 8) + 0.5)·2⁻²⁴, exactly
/// (the 24-bit integers convert exactly; the one rounding is the scalar's).
#[inline]
#[target_feature(enable = "avx512f")]
fn unit_open(x: __m512i) -> __m512 {
    let top = _mm512_cvtepi32_ps(_mm512_srli_epi32::<8>(x));
    _mm512_mul_ps(_mm512_add_ps(top, _mm512_set1_ps(0.5)), _mm512_set1_ps(INV_2_24))
}

/// Box-Muller on sixteen pairs of words, as [`super::box_muller_soa`]:
/// (r·cos θ, r·sin θ) with r = √(−2·ln u1), θ = 2π·u2.
#[inline]
#[target_feature(enable = "avx512f,fma")]
pub(super) fn box_muller(w1: __m512i, w2: __m512i) -> (__m512, __m512) {
    let r = _mm512_sqrt_ps(_mm512_mul_ps(_mm512_set1_ps(-2.0), ln_normal(unit_open(w1))));
    let (s, c) = sincos_2pi(unit_open(w2));
    (_mm512_mul_ps(r, c), _mm512_mul_ps(r, s))
}

/// The 64 normals of one batch from its four words (sixteen blocks each, in
/// block order), stored in block order: block b's four lanes at `out[4b ..]`.
#[inline]
#[target_feature(enable = "avx512f,fma")]
fn normals_of_words(c: [__m512i; 4], out: &mut [f32; 4 * BATCH]) {
    let (z0, z1) = box_muller(c[0], c[1]);
    let (z2, z3) = box_muller(c[2], c[3]);
    // Per 128-bit quarter k: t0 = a b a b of blocks 4k, 4k+1 (lanes 0, 1),
    // t1 the same for 4k+2, 4k+3; t2, t3 for lanes 2 and 3.
    let (t0, t1) = (_mm512_unpacklo_ps(z0, z1), _mm512_unpackhi_ps(z0, z1));
    let (t2, t3) = (_mm512_unpacklo_ps(z2, z3), _mm512_unpackhi_ps(z2, z3));
    let (pd, ps) = (_mm512_castps_pd, _mm512_castpd_ps);
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
        // SAFETY: `out` has 64 f32, so out[16k .. 16k + 16] (k < 4) is in
        // bounds; the store is unaligned; AVX-512F is enabled here.
        unsafe { _mm512_storeu_ps(out[16 * k..16 * k + 16].as_mut_ptr(), v) };
    }
}

/// The words of batch `h` (blocks `16h .. 16h + 16` of `lanes`), in u32 lanes.
#[inline]
#[target_feature(enable = "avx512f")]
fn batch_words<const G: usize>(lanes: &[[__m512i; G]; 4], h: usize) -> [__m512i; 4] {
    let g = REGS_PER_BATCH * h;
    lanes.map(|w| pack_low_halves(w[g], w[g + 1]))
}

/// The normals of blocks `block0 .. block0 + BATCH` ([`super::normal_batch_portable`]'s bits).
#[target_feature(enable = "avx512f,fma")]
pub(super) fn normal_batch(seed: u64, block0: u64, out: &mut [f32; 4 * BATCH]) {
    let lanes = philox_lanes::<REGS_PER_BATCH>(seed, block0);
    normals_of_words(batch_words(&lanes, 0), out);
}

/// The normals of blocks `block0 .. block0 + 2·BATCH`: two batches, their
/// Philox chains interleaved (the bits of two [`normal_batch`] calls).
#[target_feature(enable = "avx512f,fma")]
pub(super) fn normal_batch2(seed: u64, block0: u64, out: &mut [[f32; 4 * BATCH]; 2]) {
    let lanes = philox_lanes::<{ 2 * REGS_PER_BATCH }>(seed, block0);
    let [first, second] = out;
    normals_of_words(batch_words(&lanes, 0), first);
    normals_of_words(batch_words(&lanes, 1), second);
}

/// The Philox words of blocks `block0 .. block0 + BATCH` as `[word][block]`
/// (for the tests against [`super::philox_portable`]); `second` takes them
/// from the second batch of a two-batch run started at `block0 − BATCH`.
#[cfg(test)]
#[target_feature(enable = "avx512f")]
pub(super) fn philox_words(seed: u64, block0: u64, second: bool) -> [[u32; BATCH]; 4] {
    let words = if second {
        batch_words(&philox_lanes::<{ 2 * REGS_PER_BATCH }>(seed, block0.wrapping_sub(BATCH as u64)), 1)
    } else {
        batch_words(&philox_lanes::<REGS_PER_BATCH>(seed, block0), 0)
    };
    // SAFETY: __m512i and [u32; 16] are both 64 bytes, and every bit
    // pattern is a valid u32.
    words.map(|w| unsafe { std::mem::transmute::<__m512i, [u32; BATCH]>(w) })
}

#[cfg(test)]
mod tests {
    use super::super::{box_muller_soa, unit_open as unit_open_scalar};
    use super::*;

    #[test]
    fn box_muller_gives_the_scalar_bits_on_every_uniform_pairing() {
        if !crate::fastmath::avx512_tests_run("box_muller_gives_the_scalar_bits_on_every_uniform_pairing") {
            return;
        }
        // Words whose top 24 bits run over every index (release) or every
        // 97th (debug), with the low 8 bits set (ignored by `unit_open`);
        // the partner word's index is an odd multiple, so it covers them too.
        let stride = if cfg!(debug_assertions) { 97 } else { 1 };
        let mut idx: Vec<u32> = (0..1u32 << 24).step_by(stride).collect();
        idx.extend([0, 1, 2, (1 << 24) - 2, (1 << 24) - 1]); // the smallest and largest uniforms
        while !idx.len().is_multiple_of(BATCH) {
            idx.push(0);
        }
        let word = |i: u32| (i << 8) | (i & 0xff);
        for group in idx.chunks_exact(BATCH) {
            let mut c = [[0u32; BATCH]; 4];
            for (b, &i) in group.iter().enumerate() {
                let j = i.wrapping_mul(0x9E37_79B1) & 0x00ff_ffff;
                (c[0][b], c[1][b], c[2][b], c[3][b]) = (word(i), word(j), word(j), word(i));
            }
            let want = box_muller_soa(&c);
            // SAFETY: AVX-512F and FMA checked above; the transmutes move 64
            // bytes between [u32; 16] / [f32; 16] and registers.
            let got: [[f32; BATCH]; 4] = unsafe {
                let w = c.map(|w| std::mem::transmute::<[u32; BATCH], __m512i>(w));
                let ((a, b), (d, e)) = (box_muller(w[0], w[1]), box_muller(w[2], w[3]));
                [a, b, d, e].map(|v| std::mem::transmute::<__m512, [f32; BATCH]>(v))
            };
            assert_eq!(got.map(|l| l.map(f32::to_bits)), want.map(|l| l.map(f32::to_bits)), "words {c:x?}");
        }
        // The edges themselves: the smallest uniform 2⁻²⁵ and the largest, 1 (rounded).
        assert_eq!(unit_open_scalar(0), 1.0 / 33_554_432.0);
        assert_eq!(unit_open_scalar(u32::MAX), 1.0);
    }
}
