//! The normals on AVX2+FMA, as [`super::avx512`] does them on 256-bit
//! registers: Philox with each block's 32-bit words in 64-bit lanes (four
//! blocks a register, two registers' chains interleaved), Box-Muller on
//! eight lanes with the vector `ln` and `sincos` of
//! [`crate::fastmath::avx2`], and the lanes interleaved into block order by
//! register shuffles. Bitwise the same normals as
//! [`super::normal_batch_portable`].

use super::{BATCH, INV_2_24, M0, M1, W0, W1};
use crate::fastmath::avx2::{ln_normal, sincos_2pi};
use std::arch::x86_64::*;

/// Philox blocks per 256-bit register: one 64-bit lane each.
const PER_REG: usize = 4;
/// Blocks made per step: two registers per word (8 live state registers,
/// which the 16 of AVX2 hold with the constants).
const STEP: usize = 2 * PER_REG;
const _: () = assert!(BATCH.is_multiple_of(STEP), "a batch is whole steps");

/// The four words of Philox blocks `block0 .. block0 + 8` (wrapping), in the
/// low halves of 64-bit lanes: `out[w][g]` lane `l` holds word `w` of block
/// `block0 + 4g + l` (the high halves are meaningless).
#[inline]
#[target_feature(enable = "avx2")]
fn philox_lanes(seed: u64, block0: u64) -> [[__m256i; 2]; 4] {
    let step = _mm256_set_epi64x(3, 2, 1, 0);
    // A lane holds its whole 64-bit counter: the low half is word 0 (the high
    // half is ignored by the multiply), its shift down by 32 is word 1.
    let ctr: [__m256i; 2] = std::array::from_fn(|g| {
        _mm256_add_epi64(_mm256_set1_epi64x(block0.wrapping_add((PER_REG * g) as u64) as i64), step)
    });
    let mut c1: [__m256i; 2] = ctr.map(|c| _mm256_srli_epi64::<32>(c));
    let mut c0 = ctr;
    let mut c2 = [_mm256_setzero_si256(); 2];
    let mut c3 = [_mm256_setzero_si256(); 2];
    let (m0, m1) = (_mm256_set1_epi64x(M0 as i64), _mm256_set1_epi64x(M1 as i64));
    let (mut k0, mut k1) = (seed as u32, (seed >> 32) as u32);
    for round in 0..10 {
        if round > 0 {
            k0 = k0.wrapping_add(W0);
            k1 = k1.wrapping_add(W1);
        }
        let (key0, key1) = (_mm256_set1_epi32(k0 as i32), _mm256_set1_epi32(k1 as i32));
        for g in 0..2 {
            // The 64-bit products of the low halves: lo in the low half, hi above it.
            let p0 = _mm256_mul_epu32(c0[g], m0);
            let p1 = _mm256_mul_epu32(c2[g], m1);
            c0[g] = _mm256_xor_si256(_mm256_xor_si256(_mm256_srli_epi64::<32>(p1), c1[g]), key0);
            c2[g] = _mm256_xor_si256(_mm256_xor_si256(_mm256_srli_epi64::<32>(p0), c3[g]), key1);
            c1[g] = p1;
            c3[g] = p0;
        }
    }
    [c0, c1, c2, c3]
}

/// The low halves of the 64-bit lanes of `a` then `b`: eight u32 lanes.
#[inline]
#[target_feature(enable = "avx2")]
fn pack_low_halves(a: __m256i, b: __m256i) -> __m256i {
    // Per 128-bit half: a's two low halves, then b's: [a0 a1 b0 b1 | a2 a3 b2 b3];
    // then the 64-bit pieces in the order 0, 2, 1, 3.
    let (fa, fb) = (_mm256_castsi256_ps(a), _mm256_castsi256_ps(b));
    let mixed = _mm256_castps_si256(_mm256_shuffle_ps::<0b10_00_10_00>(fa, fb));
    _mm256_permute4x64_epi64::<0b11_01_10_00>(mixed)
}

/// [`super::unit_open`] on eight lanes: ((x >> 8) + 0.5)·2⁻²⁴, exactly.
#[inline]
#[target_feature(enable = "avx2")]
fn unit_open(x: __m256i) -> __m256 {
    let top = _mm256_cvtepi32_ps(_mm256_srli_epi32::<8>(x));
    _mm256_mul_ps(_mm256_add_ps(top, _mm256_set1_ps(0.5)), _mm256_set1_ps(INV_2_24))
}

/// Box-Muller on eight pairs of words, as [`super::box_muller_soa`]:
/// (r·cos θ, r·sin θ) with r = √(−2·ln u1), θ = 2π·u2.
#[inline]
#[target_feature(enable = "avx2,fma")]
pub(super) fn box_muller(w1: __m256i, w2: __m256i) -> (__m256, __m256) {
    let r = _mm256_sqrt_ps(_mm256_mul_ps(_mm256_set1_ps(-2.0), ln_normal(unit_open(w1))));
    let (s, c) = sincos_2pi(unit_open(w2));
    (_mm256_mul_ps(r, c), _mm256_mul_ps(r, s))
}

/// The 32 normals of blocks `block0 .. block0 + 8`, in block order (block
/// b's four lanes at `out[4b ..]`).
#[inline]
#[target_feature(enable = "avx2,fma")]
fn normals_step(seed: u64, block0: u64, out: &mut [f32]) {
    let lanes = philox_lanes(seed, block0);
    let c = lanes.map(|w| pack_low_halves(w[0], w[1]));
    let (z0, z1) = box_muller(c[0], c[1]);
    let (z2, z3) = box_muller(c[2], c[3]);
    // Per 128-bit half h: t0 = lanes 0, 1 of blocks 4h, 4h+1 (interleaved),
    // t1 those of 4h+2, 4h+3; t2, t3 the same for lanes 2 and 3.
    let (t0, t1) = (_mm256_unpacklo_ps(z0, z1), _mm256_unpackhi_ps(z0, z1));
    let (t2, t3) = (_mm256_unpacklo_ps(z2, z3), _mm256_unpackhi_ps(z2, z3));
    let (pd, ps) = (_mm256_castps_pd, _mm256_castpd_ps);
    // u_j, half h: the four lanes of block 4h + j.
    let u0 = ps(_mm256_unpacklo_pd(pd(t0), pd(t2)));
    let u1 = ps(_mm256_unpackhi_pd(pd(t0), pd(t2)));
    let u2 = ps(_mm256_unpacklo_pd(pd(t1), pd(t3)));
    let u3 = ps(_mm256_unpackhi_pd(pd(t1), pd(t3)));
    let outs = [
        _mm256_permute2f128_ps::<0x20>(u0, u1),
        _mm256_permute2f128_ps::<0x20>(u2, u3),
        _mm256_permute2f128_ps::<0x31>(u0, u1),
        _mm256_permute2f128_ps::<0x31>(u2, u3),
    ];
    let out = &mut out[..4 * STEP];
    for (k, v) in outs.into_iter().enumerate() {
        // SAFETY: `out` has 32 f32 (just sliced), so out[8k .. 8k + 8] (k < 4)
        // is in bounds; the store is unaligned; AVX is enabled here.
        unsafe { _mm256_storeu_ps(out[8 * k..8 * k + 8].as_mut_ptr(), v) };
    }
}

/// The normals of blocks `block0 .. block0 + out.len() / 4` (wrapping;
/// `out.len()` a multiple of 4·8), [`super::normal_batch_portable`]'s bits.
#[target_feature(enable = "avx2,fma")]
pub(super) fn normal_blocks(seed: u64, block0: u64, out: &mut [f32]) {
    for (i, chunk) in out.chunks_exact_mut(4 * STEP).enumerate() {
        normals_step(seed, block0.wrapping_add((STEP * i) as u64), chunk);
    }
}

/// The Philox words of blocks `block0 .. block0 + 8` as `[word][block]`
/// (for the tests against [`super::philox_portable`]).
#[cfg(test)]
#[target_feature(enable = "avx2")]
pub(super) fn philox_words(seed: u64, block0: u64) -> [[u32; STEP]; 4] {
    let lanes = philox_lanes(seed, block0);
    // SAFETY: __m256i and [u32; 8] are both 32 bytes, and every bit pattern is a valid u32.
    lanes.map(|w| unsafe { std::mem::transmute::<__m256i, [u32; STEP]>(pack_low_halves(w[0], w[1])) })
}

#[cfg(test)]
mod tests {
    use super::super::box_muller_soa;
    use super::*;

    #[test]
    fn box_muller_gives_the_scalar_bits_on_every_uniform_pairing() {
        if !(std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")) {
            eprintln!("box_muller_gives_the_scalar_bits_on_every_uniform_pairing: skipped, no AVX2 or FMA");
            return;
        }
        // As the AVX-512 test: every 24-bit index (release) or every 97th
        // (debug), paired with an odd multiple of it, and the edges.
        let stride = if cfg!(debug_assertions) { 97 } else { 1 };
        let mut idx: Vec<u32> = (0..1u32 << 24).step_by(stride).collect();
        idx.extend([0, 1, 2, (1 << 24) - 2, (1 << 24) - 1]);
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
            for h in 0..BATCH / STEP {
                let part = |w: usize| -> [u32; STEP] { c[w][STEP * h..STEP * h + STEP].try_into().unwrap() };
                // SAFETY: AVX2 and FMA checked above; the transmutes move 32
                // bytes between [u32; 8] / [f32; 8] and registers.
                let got: [[f32; STEP]; 4] = unsafe {
                    let w: [__m256i; 4] = std::array::from_fn(|w| std::mem::transmute::<[u32; STEP], __m256i>(part(w)));
                    let ((a, b), (d, e)) = (box_muller(w[0], w[1]), box_muller(w[2], w[3]));
                    [a, b, d, e].map(|v| std::mem::transmute::<__m256, [f32; STEP]>(v))
                };
                for l in 0..4 {
                    let want: Vec<u32> = want[l][STEP * h..STEP * h + STEP].iter().map(|v| v.to_bits()).collect();
                    assert_eq!(got[l].map(f32::to_bits).to_vec(), want, "lane {l}, words {c:x?}");
                }
            }
        }
    }
}
