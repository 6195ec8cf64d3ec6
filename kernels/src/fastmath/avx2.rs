//! Eight-lane AVX2+FMA builds of [`super::ln_normal`] and
//! [`super::sincos_2pi`]: the [`super::avx512`] functions on 256-bit
//! registers, operation for operation the scalar code (the same constants,
//! range reduction and order of products, sums and fused multiply-adds), so
//! every lane gives bitwise the scalar function's result. They are safe
//! `#[target_feature]` functions: a caller without AVX2 and FMA enabled
//! must check them, in an `unsafe` block.

use super::{C1, C2, C3, LG1, LG2, LG3, LG4, LN2_HI, LN2_LO, ROUND_MAGIC, S1, S2, S3};
use std::arch::x86_64::*;

/// `_mm256_round_ps`' immediate for [`f32::round_ties_even`]: round to
/// the nearest integer, ties to even, no precision exception.
const ROUND_EVEN: i32 = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;

/// [`super::ln_normal`] on eight lanes, bitwise the same in every lane:
/// the natural logarithm for normal, positive, finite lanes (elsewhere a
/// finite meaningless value, as the scalar function gives).
#[inline]
#[target_feature(enable = "avx2,fma")]
pub(crate) fn ln_normal(x: __m256) -> __m256 {
    let c = _mm256_set1_ps;
    let ci = _mm256_set1_epi32;
    // ix = bits(x) + (0x3f80_0000 − 0x3f35_04f3), wrapping (as the scalar).
    let ix = _mm256_add_epi32(_mm256_castps_si256(x), ci(0x3f80_0000 - 0x3f35_04f3));
    // k = ((ix >> 23) as i32 − 0x7f) as f32 (a logical shift: ix is a u32
    // there; the integers are small, so the conversion is exact). The scalar
    // then subtracts its shift, 0 here: the same bits.
    let k = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_srli_epi32::<23>(ix), ci(0x7f)));
    let m = _mm256_castsi256_ps(_mm256_add_epi32(_mm256_and_si256(ix, ci(0x007f_ffff)), ci(0x3f35_04f3)));
    let f = _mm256_sub_ps(m, c(1.0));
    let s = _mm256_div_ps(f, _mm256_add_ps(c(2.0), f));
    let z = _mm256_mul_ps(s, s);
    let w = _mm256_mul_ps(z, z);
    // r = z.mul_add(w.mul_add(LG3, LG1), w * w.mul_add(LG4, LG2))
    let r =
        _mm256_fmadd_ps(z, _mm256_fmadd_ps(w, c(LG3), c(LG1)), _mm256_mul_ps(w, _mm256_fmadd_ps(w, c(LG4), c(LG2))));
    // hfsq = 0.5 * f * f, i.e. (0.5·f)·f.
    let hfsq = _mm256_mul_ps(_mm256_mul_ps(c(0.5), f), f);
    // k.mul_add(LN2_HI, s.mul_add(hfsq + r, k * LN2_LO) - hfsq + f)
    let inner = _mm256_fmadd_ps(s, _mm256_add_ps(hfsq, r), _mm256_mul_ps(k, c(LN2_LO)));
    _mm256_fmadd_ps(k, c(LN2_HI), _mm256_add_ps(_mm256_sub_ps(inner, hfsq), f))
}

/// [`super::sincos_2pi`] on eight lanes: (sin 2πu, cos 2πu), bitwise the
/// scalar function's in every lane (its domain u in [0, 1), any finite u
/// reduced modulo 1 first; for ±inf and NaN lanes both are NaN, as there).
#[inline]
#[target_feature(enable = "avx2,fma")]
pub(crate) fn sincos_2pi(u: __m256) -> (__m256, __m256) {
    let c = _mm256_set1_ps;
    let ci = _mm256_set1_epi32;
    let round = |v: __m256| _mm256_round_ps::<ROUND_EVEN>(v);
    // t = u − round(u); q = round(4t); r = t − 0.25·q (all exact).
    let t = _mm256_sub_ps(u, round(u));
    let q = round(_mm256_mul_ps(c(4.0), t));
    let r = _mm256_sub_ps(t, _mm256_mul_ps(c(0.25), q));
    let a = _mm256_mul_ps(c(std::f32::consts::TAU), r);
    let a2 = _mm256_mul_ps(a, a);
    // s = (a * a2).mul_add(a2.mul_add(a2.mul_add(S3, S2), S1), a)
    let s = _mm256_fmadd_ps(_mm256_mul_ps(a, a2), _mm256_fmadd_ps(a2, _mm256_fmadd_ps(a2, c(S3), c(S2)), c(S1)), a);
    // c = (a2 * a2).mul_add(a2.mul_add(a2.mul_add(C3, C2), C1), (-0.5).mul_add(a2, 1.0))
    let co = _mm256_fmadd_ps(
        _mm256_mul_ps(a2, a2),
        _mm256_fmadd_ps(a2, _mm256_fmadd_ps(a2, c(C3), c(C2)), c(C1)),
        _mm256_fmadd_ps(c(-0.5), a2, c(1.0)),
    );
    // qi = bits(q + ROUND_MAGIC) & 3 = q mod 4: odd swaps sin and cos; the
    // sine is negated where qi ≥ 2 (bit 1), the cosine where qi is 1 or 2
    // (bit 0 xor bit 1). A negation flips the sign bit, as the scalar `-v`.
    let qi = _mm256_and_si256(_mm256_castps_si256(_mm256_add_ps(q, c(ROUND_MAGIC))), ci(3));
    // blendv takes its second operand where the mask's sign bit is set: bit 0 of qi, moved there.
    let odd = _mm256_castsi256_ps(_mm256_slli_epi32::<31>(qi));
    let (sv, cv) = (_mm256_blendv_ps(s, co, odd), _mm256_blendv_ps(co, s, odd));
    let sin_sign = _mm256_slli_epi32::<30>(_mm256_and_si256(qi, ci(2)));
    let cos_sign = _mm256_slli_epi32::<31>(_mm256_xor_si256(qi, _mm256_srli_epi32::<1>(qi)));
    let flip = |v: __m256, sign: __m256i| _mm256_castsi256_ps(_mm256_xor_si256(_mm256_castps_si256(v), sign));
    (flip(sv, sin_sign), flip(cv, cos_sign))
}

#[cfg(test)]
mod tests {
    use super::super::vector_tests::{check_bits, every_uniform, strided_sweep_and_edges};
    use super::*;

    /// Whether this CPU runs the vector code; prints why a test skips.
    fn has_avx2(test: &str) -> bool {
        let yes = std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma");
        if !yes {
            eprintln!("{test}: skipped, this CPU lacks AVX2 or FMA");
        }
        yes
    }

    /// The vector functions on one group of 8 lanes.
    fn vector(x: [f32; 8]) -> ([f32; 8], [f32; 8], [f32; 8]) {
        // SAFETY: the callers checked AVX2 and FMA (`has_avx2`); the functions take
        // and return registers (transmutes between [f32; 8] and __m256, both
        // 32 bytes of f32 lanes).
        unsafe {
            let v: __m256 = std::mem::transmute(x);
            let (s, c) = sincos_2pi(v);
            let lanes = |r: __m256| std::mem::transmute::<__m256, [f32; 8]>(r);
            (lanes(ln_normal(v)), lanes(s), lanes(c))
        }
    }

    #[test]
    #[cfg_attr(debug_assertions, ignore = "2^24 uniforms: run with --release (a strided sweep runs in debug)")]
    fn ln_and_sincos_give_the_scalar_bits_on_every_uniform() {
        if !has_avx2("ln_and_sincos_give_the_scalar_bits_on_every_uniform") {
            return;
        }
        check_bits(&every_uniform(), vector);
    }

    #[test]
    fn ln_and_sincos_give_the_scalar_bits_on_a_strided_sweep_and_the_edges() {
        if !has_avx2("ln_and_sincos_give_the_scalar_bits_on_a_strided_sweep_and_the_edges") {
            return;
        }
        check_bits(&strided_sweep_and_edges(8), vector);
    }
}
