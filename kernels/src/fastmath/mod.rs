//! Branch-free `ln` and `sin/cos(2πu)` for the sampler, written as plain f32
//! arithmetic on arrays so that LLVM vectorises them. Every operation used
//! here is exactly rounded: +, −, ·, /, √, rounding to an integer, and the
//! fused multiply-add `mul_add` (one rounding: the polynomials use it, which
//! halves their instructions). Rust never contracts a·b + c on its own, so
//! the scalar, AVX2+FMA and AVX-512 builds of these loops give bitwise the
//! same results: draws do not depend on the CPU they ran on. The sampler's
//! `ln` and `sincos` are also written with intrinsics, on 8 and 16 lanes
//! (the crate-private `avx2` and `avx512` modules): operation for operation these
//! functions, so the same bits again (the tests sweep every uniform).
//!
//! Domains (all the sampler needs): `ln` for normal positive finite x;
//! `sincos_2pi` for u in [0, 1); `exp` for x in [−87, 88]. Accuracy is
//! tested against the standard library below (≤ 2 ulp-scale relative error).
//! Outside its domain every function returns what its doc says, without
//! undefined behaviour: NaN in gives NaN out, and the edges (±0, ±inf,
//! subnormals, overflow) are fixed up by selects after the arithmetic, which
//! leave every result inside the domain bitwise as it was.
//!
//! `kernels/src/cuda/cu/common.cuh` mirrors these functions operation for
//! operation (the GPU then draws the same bits), and so do `avx2` and
//! `avx512`: change them together.

// Coefficients are quoted as published; the compiler rounds them to f32.
#![allow(clippy::excessive_precision)]

#[cfg(target_arch = "x86_64")]
pub(crate) mod avx2;
#[cfg(target_arch = "x86_64")]
pub(crate) mod avx512;
#[cfg(all(test, target_arch = "x86_64"))]
mod vector_tests;

/// ln 2 split in a high part exact in f32 and a low correction.
const LN2_HI: f32 = 6.931_381_2e-1;
const LN2_LO: f32 = 9.058_001e-6;
/// Minimax coefficients of ln((1+s)/(1−s)) = 2s + s·R(s²) (the classic
/// Remez fit for single precision).
const LG1: f32 = 0.666_666_6;
const LG2: f32 = 0.400_009_72;
const LG3: f32 = 0.284_987_87;
const LG4: f32 = 0.242_790_79;

/// Natural logarithm. Domain: normal, positive, finite `x` (accurate to
/// about 2 ulp there). Outside it: a subnormal `x` is scaled by 2²⁴ first
/// (the same accuracy), ±0 gives −inf, +inf gives +inf, a negative `x`
/// (−inf included) or NaN gives NaN.
#[inline(always)]
pub fn ln(x: f32) -> f32 {
    let tiny = x < f32::MIN_POSITIVE;
    let y = ln_scaled(if tiny { x * TWO_24 } else { x }, if tiny { 24.0 } else { 0.0 });
    // The edges, as selects (the loops that call this stay vectorised).
    let y = if x == f32::INFINITY { x } else { y };
    let y = if x == 0.0 { f32::NEG_INFINITY } else { y };
    if x >= 0.0 {
        y
    } else {
        f32::NAN
    }
}

/// [`ln`] without its edge cases, for the kernels whose arguments are in
/// the domain by construction (the sampler's uniforms in (0, 1], a sigma of
/// [`softplus`], 1 + eˣ): the same bits as [`ln`] there. Outside the domain
/// it returns a finite meaningless value (bit arithmetic only: never
/// undefined behaviour); the callers' other terms are then non-finite too
/// (a NaN or infinite sigma also makes its weight NaN or infinite).
#[inline(always)]
pub(crate) fn ln_normal(x: f32) -> f32 {
    ln_scaled(x, 0.0)
}

/// ln(x) − shift·ln 2 for a normal, positive, finite `x` (`shift` an integer).
#[inline(always)]
fn ln_scaled(x: f32, shift: f32) -> f32 {
    // Write x = 2^k·m with m in [√½, √2): shift the mantissa so that the
    // exponent field rounds to the nearest power of two.
    let ix = x.to_bits().wrapping_add(0x3f80_0000 - 0x3f35_04f3);
    // k − 0 is k exactly: the same bits as without a shift.
    let k = ((ix >> 23) as i32 - 0x7f) as f32 - shift;
    let m = f32::from_bits((ix & 0x007f_ffff) + 0x3f35_04f3);
    let f = m - 1.0;
    let s = f / (2.0 + f);
    let z = s * s;
    let w = z * z;
    let r = z.mul_add(w.mul_add(LG3, LG1), w * w.mul_add(LG4, LG2));
    let hfsq = 0.5 * f * f;
    k.mul_add(LN2_HI, s.mul_add(hfsq + r, k * LN2_LO) - hfsq + f)
}

/// 2²⁴: brings every subnormal into the normal range.
const TWO_24: f32 = 16_777_216.0;

/// 1.5·2²³: for an integer-valued `v` with |v| < 2²², the bits of
/// `v + ROUND_MAGIC` are `ROUND_MAGIC_BITS + v` (two's complement in the
/// mantissa), an exact float-to-integer conversion that vectorises and, on
/// NaN or inf, yields meaningless bits rather than undefined behaviour.
const ROUND_MAGIC: f32 = 12_582_912.0;
const ROUND_MAGIC_BITS: u32 = 0x4b40_0000;

/// Taylor-like minimax coefficients of sin and cos on [−π/4, π/4].
const S1: f32 = -1.666_665_5e-1;
const S2: f32 = 8.332_161e-3;
const S3: f32 = -1.951_529_6e-4;
const C1: f32 = 4.166_664_6e-2;
const C2: f32 = -1.388_731_6e-3;
const C3: f32 = 2.443_315_7e-5;

/// (sin 2πu, cos 2πu). Domain: u in [0, 1) (the sampler's uniforms; exact
/// reductions there). Any finite u is reduced modulo 1 first, exactly, so
/// it gives sin and cos of 2π·frac(u); ±inf and NaN give (NaN, NaN).
#[inline(always)]
pub fn sincos_2pi(u: f32) -> (f32, f32) {
    // Exact reductions: t = u − round(u) in [−½, ½], then quarter turns q and
    // a remainder r in [−⅛, ⅛]; all exact for the 24-bit uniforms we feed in.
    let t = u - u.round_ties_even();
    let q = (4.0 * t).round_ties_even();
    let r = t - 0.25 * q;
    let a = std::f32::consts::TAU * r;
    let a2 = a * a;
    let s = (a * a2).mul_add(a2.mul_add(a2.mul_add(S3, S2), S1), a);
    let c = (a2 * a2).mul_add(a2.mul_add(a2.mul_add(C3, C2), C1), (-0.5f32).mul_add(a2, 1.0));
    // Rotate by q quarter turns: q mod 4 = 0: (s, c), 1: (c, −s), 2: (−s, −c), 3: (−c, s).
    // q is an integer in [−2, 2] for a finite u, so the low bits of
    // q + ROUND_MAGIC are q mod 4. For NaN or ±inf u, s and c are NaN and
    // the rotation, whatever the bits say, keeps them NaN.
    let qi = (q + ROUND_MAGIC).to_bits() & 3;
    let (odd, neg_sin, neg_cos) = (qi & 1 == 1, qi >= 2, qi == 1 || qi == 2);
    let (sv, cv) = if odd { (c, s) } else { (s, c) };
    (if neg_sin { -sv } else { sv }, if neg_cos { -cv } else { cv })
}

/// log2(e), and ln 2 split for the exp reduction (high part has trailing zeros
/// so n·LN2_HI_E is exact for the |n| < 2^8 we use).
const LOG2E: f32 = std::f32::consts::LOG2_E;
const LN2_HI_E: f32 = 0.693_359_4;
const LN2_LO_E: f32 = -2.121_944_4e-4;
/// Minimax polynomial of (eʳ − 1 − r)/r² on [−ln2/2, ln2/2] (Cephes' expf fit).
const E2: f32 = 5.000_000_1e-1;
const E3: f32 = 1.666_666_5e-1;
const E4: f32 = 4.166_579_6e-2;
const E5: f32 = 8.333_452e-3;
const E6: f32 = 1.398_2e-3;
const E7: f32 = 1.987_569_1e-4;

/// eˣ. Domain: x in [−87, 88], where it is accurate to about 2 ulp.
/// Outside it the input is clamped (saturation, not overflow): any x above
/// 88, +inf included, gives e⁸⁸ ≈ 1.65·10³⁸, and any x below −87, −inf
/// included, gives e⁻⁸⁷ ≈ 1.65·10⁻³⁸, a normal number (softplus' floor: a
/// sigma is never below it, so ln(sigma) stays in [`ln`]'s domain). NaN
/// gives NaN.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    let x = x.clamp(-87.0, 88.0);
    let n = (x * LOG2E).round_ties_even();
    let r = (-n).mul_add(LN2_LO_E, (-n).mul_add(LN2_HI_E, x));
    let r2 = r * r;
    let poly = r.mul_add(r.mul_add(r.mul_add(r.mul_add(r.mul_add(E7, E6), E5), E4), E3), E2);
    let p = r2.mul_add(poly, 1.0 + r);
    // Scale by 2ⁿ in two halves so that n = 128 (x near 88) cannot overflow the exponent field.
    let n1 = (n * 0.5).round_ties_even();
    // x is clamped, so |n| ≤ 128 and both halves are integers in [−64, 64]:
    // their biased exponents come from the bits of n1 + ROUND_MAGIC, exactly
    // (no float-to-int conversion; a NaN x, which clamp keeps, gives
    // meaningless scale bits, and p is NaN, so the result is NaN).
    let biased = |v: f32| (v + ROUND_MAGIC).to_bits().wrapping_sub(ROUND_MAGIC_BITS).wrapping_add(127) << 23;
    let s1 = f32::from_bits(biased(n1));
    let s2 = f32::from_bits(biased(n - n1));
    p * s1 * s2
}

/// ln(1 + y), accurate for tiny y: with u = 1 + y rounded, ln(u)·y/(u − 1)
/// cancels the rounding of u (Goldberg's trick). Domain: finite y > −1.
/// Outside it: y = −1 gives −inf, +inf gives +inf, y < −1 (−inf included)
/// or NaN gives NaN.
#[inline(always)]
pub fn log1p(y: f32) -> f32 {
    let u = 1.0 + y;
    let d = u - 1.0;
    let v = if d == 0.0 { y } else { ln(u) * (y / d) };
    // y/d is inf/inf = NaN for y = +inf.
    if y == f32::INFINITY {
        y
    } else {
        v
    }
}

/// [`log1p`] for the kernels' y ≥ 0 finite (an exp, a responsibility): the
/// same bits, without the edge cases ([`ln_normal`]); a NaN y gives NaN.
#[inline(always)]
pub(crate) fn log1p_normal(y: f32) -> f32 {
    let u = 1.0 + y;
    let d = u - 1.0;
    if d == 0.0 {
        y
    } else {
        ln_normal(u) * (y / d)
    }
}

/// softplus(x) = ln(1 + eˣ), the sigma of a posterior, branch-free. Domain:
/// every x; below about −87 it stays at its floor e⁻⁸⁷ ≈ 1.65·10⁻³⁸ (a
/// normal number, see [`exp`]), −inf included; +inf gives +inf; NaN gives NaN.
#[inline(always)]
pub fn softplus(x: f32) -> f32 {
    softplus_from_exp(x, exp(x))
}

/// softplus(x) given y = eˣ: x itself above 20 (where ln(1 + eˣ) = x in
/// f32), else log1p(y). The one rule of [`softplus`] and [`softplus_sigmoid`].
#[inline(always)]
pub(crate) fn softplus_from_exp(x: f32, y: f32) -> f32 {
    // y = eˣ is in [e⁻⁸⁷, e⁸⁸] (exp saturates) or NaN: log1p's domain.
    let mid = log1p_normal(y);
    if x > 20.0 {
        x
    } else {
        mid
    }
}

/// (softplus(x), sigmoid(x)) from one exp: with y = eˣ and u = 1 + y,
/// sigmoid = y/u. The softplus is bitwise [`softplus`]'s. Domain: every x
/// (±inf give (+inf, 1) and (e⁻⁸⁷, e⁻⁸⁷)); NaN gives (NaN, NaN).
#[inline(always)]
pub fn softplus_sigmoid(x: f32) -> (f32, f32) {
    softplus_sigmoid_from_exp(x, exp(x))
}

/// [`softplus_sigmoid`] given y = eˣ (for kernels that compute the exps of
/// a run first, in a pass of their own).
#[inline(always)]
pub(crate) fn softplus_sigmoid_from_exp(x: f32, y: f32) -> (f32, f32) {
    (softplus_from_exp(x, y), y / (1.0 + y))
}

/// The logistic function 1 / (1 + e⁻ˣ) (softplus' derivative). Domain:
/// every x: +inf gives 1; below x = −88 it stays at 1/(1 + e⁸⁸) ≈ 6·10⁻³⁹
/// ([`exp`] saturates), −inf included; NaN gives NaN.
#[inline(always)]
pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + exp(-x))
}

/// Whether the tests of the AVX-512 vector code (here and in the CPU's
/// normals) run: on a CPU with AVX-512F and FMA. Elsewhere they print why
/// they skip (the dispatched path there is AVX2 or the plain code, which
/// the other tests check).
#[cfg(all(test, target_arch = "x86_64"))]
pub(crate) fn avx512_tests_run(test: &str) -> bool {
    let cpu = std::arch::is_x86_feature_detected!("avx512f") && std::arch::is_x86_feature_detected!("fma");
    if !cpu {
        eprintln!("{test}: AVX-512 part skipped, this CPU lacks AVX-512F or FMA");
    }
    cpu
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ln_agrees_with_std_over_the_uniform_grid() {
        let mut worst = 0f64;
        for i in 0..(1u32 << 16) {
            let x = ((i << 8) as f32 + 0.5) * (1.0 / 16_777_216.0);
            let (got, want) = (ln(x) as f64, (x as f64).ln());
            worst = worst.max((got - want).abs() / want.abs().max(1e-30));
        }
        for &x in &[1e-30f32, 0.5, 1.0, 2.0, 3.7, 1e10] {
            assert!((ln(x) as f64 - (x as f64).ln()).abs() <= 2e-7 * (x as f64).ln().abs().max(1e-6));
        }
        assert!(worst < 2.5e-7, "worst relative error {worst}");
    }

    #[test]
    fn exp_softplus_sigmoid_agree_with_std() {
        let (mut we, mut ws, mut wg) = (0f64, 0f64, 0f64);
        for i in 0..20_001 {
            let x = -40.0 + 80.0 * i as f32 / 20_000.0;
            let xd = x as f64;
            we = we.max(((exp(x) as f64) - xd.exp()).abs() / xd.exp());
            let sp = xd.exp().ln_1p();
            ws = ws.max(((softplus(x) as f64) - sp).abs() / sp);
            let sg = 1.0 / (1.0 + (-xd).exp());
            wg = wg.max(((sigmoid(x) as f64) - sg).abs() / sg);
        }
        assert!(we < 2e-7, "exp: {we}");
        assert!(ws < 5e-7, "softplus: {ws}");
        assert!(wg < 5e-7, "sigmoid: {wg}");
        assert!(exp(88.0).is_finite() && exp(88.0) > 1e38);
        assert!(exp(-100.0) > 0.0 && exp(-100.0) < 1e-37);
    }

    #[test]
    fn softplus_sigmoid_is_softplus_and_the_logistic() {
        let mut worst = 0f64;
        for i in 0..20_001 {
            let x = -100.0 + 200.0 * i as f32 / 20_000.0;
            let (sp, sg) = softplus_sigmoid(x);
            assert_eq!(sp.to_bits(), softplus(x).to_bits(), "softplus at {x}");
            if x < -80.0 {
                continue; // exp's input is clamped at −87 (sigma and its slope floor near 1e-38)
            }
            let want = 1.0 / (1.0 + (-(x as f64)).exp());
            worst = worst.max((sg as f64 - want).abs() / want);
        }
        assert!(worst < 5e-7, "sigmoid: {worst}");
    }

    #[test]
    fn ln_edges_give_the_documented_results() {
        assert!(ln(f32::NAN).is_nan() && ln(-1.0).is_nan() && ln(f32::NEG_INFINITY).is_nan());
        assert!(ln(-f32::MIN_POSITIVE).is_nan() && ln(-1e-45).is_nan());
        assert_eq!(ln(0.0), f32::NEG_INFINITY);
        assert_eq!(ln(-0.0), f32::NEG_INFINITY);
        assert_eq!(ln(f32::INFINITY), f32::INFINITY);
        // Subnormals and the ends of the normal range, against the standard library.
        for x in [1e-45f32, 3e-42, 1e-40, 1.1e-38, f32::MIN_POSITIVE, f32::MAX, 1.0, f32::EPSILON] {
            let (got, want) = (ln(x) as f64, (x as f64).ln());
            assert!((got - want).abs() <= 4e-7 * want.abs().max(1.0), "ln({x:e}) = {got}, want {want}");
        }
    }

    #[test]
    fn exp_edges_give_the_documented_results() {
        assert!(exp(f32::NAN).is_nan() && exp(-f32::NAN).is_nan());
        let (top, floor) = (exp(88.0), exp(-87.0));
        assert!(top.is_finite() && top > 1.6e38 && floor.is_normal() && floor < 1.7e-38);
        for x in [88.000_01f32, 88.72, 88.8, 1e30, f32::MAX, f32::INFINITY] {
            assert_eq!(exp(x).to_bits(), top.to_bits(), "exp({x:e}) saturates at e^88");
        }
        for x in [-87.000_01f32, -88.7, -104.0, -1e30, f32::MIN, f32::NEG_INFINITY] {
            assert_eq!(exp(x).to_bits(), floor.to_bits(), "exp({x:e}) saturates at e^-87");
        }
        assert_eq!(exp(0.0), 1.0);
        assert_eq!(exp(-0.0), 1.0);
        assert_eq!(exp(1e-45), 1.0);
        assert_eq!(exp(-1e-45), 1.0);
    }

    #[test]
    fn log1p_softplus_sigmoid_edges_give_the_documented_results() {
        assert!(log1p(f32::NAN).is_nan() && log1p(-2.0).is_nan() && log1p(f32::NEG_INFINITY).is_nan());
        assert_eq!(log1p(-1.0), f32::NEG_INFINITY);
        assert_eq!(log1p(f32::INFINITY), f32::INFINITY);
        assert_eq!(log1p(f32::MAX), (f32::MAX as f64).ln() as f32);
        assert_eq!(log1p(0.0), 0.0);
        assert_eq!(log1p(1e-45), 1e-45);
        let floor = exp(-87.0);
        for x in [f32::NEG_INFINITY, f32::MIN, -1e30, -88.8, -87.0] {
            let sp = softplus(x);
            assert!(sp.is_normal() && sp >= f32::MIN_POSITIVE && sp == floor, "softplus({x:e}) = {sp:e}");
            assert!(ln(sp).is_finite(), "ln(softplus({x:e})) must be finite");
            assert_eq!(softplus_sigmoid(x).0.to_bits(), sp.to_bits());
            let sg = sigmoid(x);
            assert!(sg > 0.0 && sg < 1e-37, "sigmoid({x:e}) = {sg:e}");
        }
        for x in [f32::INFINITY, f32::MAX, 1e30, 88.8] {
            assert_eq!(softplus(x), x);
            assert_eq!(softplus_sigmoid(x), (x, 1.0));
            assert_eq!(sigmoid(x), 1.0);
        }
        assert!(softplus(f32::NAN).is_nan() && sigmoid(f32::NAN).is_nan());
        let (sp, sg) = softplus_sigmoid(f32::NAN);
        assert!(sp.is_nan() && sg.is_nan());
        assert_eq!(softplus(0.0), std::f32::consts::LN_2);
        assert_eq!(sigmoid(0.0), 0.5);
        assert_eq!(sigmoid(-0.0), 0.5);
    }

    #[test]
    fn sincos_edges_give_the_documented_results() {
        for u in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            let (s, c) = sincos_2pi(u);
            assert!(s.is_nan() && c.is_nan(), "sincos_2pi({u}) = ({s}, {c})");
        }
        assert_eq!(sincos_2pi(0.0), (0.0, 1.0));
        assert_eq!(sincos_2pi(-0.0).1, 1.0);
        let (s, c) = sincos_2pi(1e-45); // a subnormal u: sin ≈ 2πu, itself subnormal
        assert!(c == 1.0 && s > 0.0 && s < 1e-43, "({s:e}, {c})");
        // Large and negative finite u: 2π·frac(u).
        for u in [f32::MAX, f32::MIN, 1e30, 8_388_608.0, -0.25, -0.75, 1.25, 0.5, 0.999_999_94] {
            let (s, c) = sincos_2pi(u);
            let th = std::f64::consts::TAU * (u as f64 - (u as f64).round());
            assert!((s as f64 - th.sin()).abs() < 3e-7 && (c as f64 - th.cos()).abs() < 3e-7, "sincos_2pi({u:e})");
        }
    }

    #[test]
    fn the_kernels_variants_are_ln_and_log1p_inside_the_domain() {
        for i in 0..(1u32 << 16) {
            let x = f32::from_bits(0x0080_0000 + i * 0x7eff); // normal positive finite, spread out
            assert_eq!(ln_normal(x).to_bits(), ln(x).to_bits(), "ln at {x:e}");
            let y = f32::from_bits((i * 0x7f00) >> 1); // non-negative finite
            if y.is_finite() {
                assert_eq!(log1p_normal(y).to_bits(), log1p(y).to_bits(), "log1p at {y:e}");
            }
        }
        assert!(log1p_normal(f32::NAN).is_nan());
    }

    #[test]
    fn sincos_agrees_with_std() {
        let mut worst = 0f64;
        for i in 0..(1u32 << 16) {
            let u = ((i << 8) as f32 + 0.5) * (1.0 / 16_777_216.0);
            let (s, c) = sincos_2pi(u);
            let th = std::f64::consts::TAU * u as f64;
            worst = worst.max((s as f64 - th.sin()).abs()).max((c as f64 - th.cos()).abs());
        }
        assert!(worst < 3e-7, "worst absolute error {worst}");
    }
}
