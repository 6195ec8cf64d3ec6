//! Test inputs and the bit-for-bit check shared by the vector ln/sincos
//! tests (`avx2`, `avx512`): each width's tests give their function and lanes.

/// The uniforms the sampler feeds in (`cpu::random::unit_open`), for the
/// 24-bit indices `i` (the top bits of a Philox word).
pub(super) fn uniform(i: u32) -> f32 {
    (i as f32 + 0.5) * (1.0 / 16_777_216.0)
}

/// Every uniform the sampler can feed in (2^24 of them).
pub(super) fn every_uniform() -> Vec<f32> {
    (0..1u32 << 24).map(uniform).collect()
}

/// Every 251st uniform (a prime stride: every residue of the low bits), then
/// the smallest and largest uniforms (2⁻²⁵ and 1, where 2²⁴ − ½ rounds up)
/// and their neighbours, the quarter turns, and normal arguments of ln
/// outside (0, 1]; padded with 0.5 to a multiple of `lanes`.
pub(super) fn strided_sweep_and_edges(lanes: usize) -> Vec<f32> {
    let mut xs: Vec<f32> = (0..1u32 << 24).step_by(251).map(uniform).collect();
    xs.extend((0..8).chain((1 << 24) - 8..1 << 24).map(uniform));
    xs.extend([0.0, 0.125, 0.25, 0.375, 0.5, 0.625, 0.75, 0.875, 1.0, f32::MIN_POSITIVE, f32::MAX, 3.7, 1e10]);
    xs.extend([0.999_999_94, 5.960_464_5e-8, 0.499_999_97, 0.500_000_06, 0.249_999_99, 0.750_000_06]);
    while !xs.len().is_multiple_of(lanes) {
        xs.push(0.5);
    }
    xs
}

/// Checks a vector (ln, sin 2π·, cos 2π·) of `L` lanes against the scalar
/// functions, bit for bit, on the `L`-lane groups of `xs`.
pub(super) fn check_bits<const L: usize>(xs: &[f32], vector: impl Fn([f32; L]) -> ([f32; L], [f32; L], [f32; L])) {
    for group in xs.chunks_exact(L) {
        let x: [f32; L] = std::array::from_fn(|k| group[k]);
        let (l, s, c) = vector(x);
        for k in 0..L {
            let (ws, wc) = super::sincos_2pi(x[k]);
            assert_eq!(l[k].to_bits(), super::ln_normal(x[k]).to_bits(), "ln({:e})", x[k]);
            assert_eq!(s[k].to_bits(), ws.to_bits(), "sin(2π·{:e})", x[k]);
            assert_eq!(c[k].to_bits(), wc.to_bits(), "cos(2π·{:e})", x[k]);
        }
    }
}
