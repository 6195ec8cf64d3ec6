//! The dots of the matrix-vector products ([`super::gemm`]'s `dots`), eight
//! at a time on AVX2: a one-row product y = x·Wᵀ is one dot of x with each
//! row of W, and the prediction of one row is little else.
//!
//! One dot ([`super::gemm::dot_impl`]) keeps eight partial sums, lane `l`
//! summing the products at depths `l, l + 8, …`, adds them up in lane
//! order, then adds the products past the last full eight one by one. Here
//! eight dots run side by side with those operations in that order, so each
//! gives the same bits: the eight rows of partial sums are transposed in
//! registers, so lane `t` of the running total is dot `t`'s, and the adds
//! across partial sums and the tail's multiply-adds are vertical ones,
//! eight dots an instruction, instead of a chain of scalar adds per dot.

/// `out[t] = dot_impl(x, row t of B)` for `t < 8·⌊n/8⌋`, where row `t`
/// starts at `b[t·csb]` and holds `x.len()` floats; returns how many rows
/// it did (0 without AVX2 and FMA, or where `n < 8`): the caller does the
/// rest. `init` is the start of [`f32`]'s sum (that of an empty iterator),
/// which the partial sums are added to.
///
/// # Panics
/// If `b` is shorter than its rows or `out` than `n`.
pub(crate) fn dots8(x: &[f32], b: &[f32], csb: usize, n: usize, init: f32, out: &mut [f32]) -> usize {
    #[cfg(target_arch = "x86_64")]
    {
        let (k, groups) = (x.len(), n / 8);
        if groups == 0 || !super::simd::has_avx2_fma() {
            return 0;
        }
        let rows = groups * 8;
        // The last float read: row rows − 1 at depth k − 1.
        let end = (rows - 1).checked_mul(csb).and_then(|r| r.checked_add(k));
        assert!(end.is_some_and(|e| e <= b.len()), "dots8: B is shorter than its {rows} rows");
        let out = &mut out[..rows];
        // SAFETY: the CPU has AVX2 (checked above); every float read lies in
        // x (depths below k = x.len()) or in b (row t < rows at depth p < k:
        // t·csb + p < end ≤ b.len(), asserted above), and every float written
        // in out[..rows] (its length).
        unsafe { dots8_avx2(x.as_ptr(), k, b.as_ptr(), csb, groups, init, out.as_mut_ptr()) };
        rows
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (x, b, csb, n, init, out);
        0
    }
}

/// [`dots8`]'s loop over `groups` groups of eight rows.
///
/// # Safety
/// The CPU has AVX2; `x[..k]`, `b[t·csb + p]` for `t < 8·groups`, `p < k`,
/// and `out[..8·groups]` lie in their allocations.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn dots8_avx2(x: *const f32, k: usize, b: *const f32, csb: usize, groups: usize, init: f32, out: *mut f32) {
    use super::gemm_pack::transpose8;
    use std::arch::x86_64::*;
    let full = k - k % 8;
    let tail = k - full;
    // Lanes below `tail` on: the tail's loads touch nothing past a row's end.
    let lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    let mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(tail as i32), lanes);
    for g in 0..groups {
        // SAFETY (all of this block): rows 8g..8g + 8 at depths below k, x
        // below k and out's lanes 8g..8g + 8, all within what the caller vouches for.
        unsafe {
            let row: [*const f32; 8] = std::array::from_fn(|t| b.add((8 * g + t) * csb));
            let mut acc = [_mm256_setzero_ps(); 8];
            let mut p = 0;
            while p < full {
                let xa = _mm256_loadu_ps(x.add(p));
                for (a, r) in acc.iter_mut().zip(&row) {
                    // A multiply, then an add: dot_impl's two roundings.
                    *a = _mm256_add_ps(*a, _mm256_mul_ps(xa, _mm256_loadu_ps(r.add(p))));
                }
                p += 8;
            }
            // part[l] holds partial sum l of the eight dots.
            let part = transpose8(acc[0], acc[1], acc[2], acc[3], acc[4], acc[5], acc[6], acc[7]);
            let mut s = _mm256_set1_ps(init);
            for v in part {
                s = _mm256_add_ps(s, v);
            }
            if tail > 0 {
                let t: [__m256; 8] = std::array::from_fn(|t| _mm256_maskload_ps(row[t].add(full), mask));
                // rest[q] holds depth full + q of the eight rows.
                let rest = transpose8(t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7]);
                for (q, v) in rest.iter().take(tail).enumerate() {
                    s = _mm256_add_ps(s, _mm256_mul_ps(_mm256_set1_ps(*x.add(full + q)), *v));
                }
            }
            _mm256_storeu_ps(out.add(8 * g), s);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::gemm::dot_impl;
    use super::*;

    /// Values with every sign, magnitudes from tiny to large, zeros of both
    /// signs, and (where `special`) infinities and NaN.
    fn values(n: usize, seed: u32, special: bool) -> Vec<f32> {
        let mut s = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
        (0..n)
            .map(|i| {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                match (special, s % 97) {
                    (_, 0) => -0.0,
                    (_, 1) => 0.0,
                    (true, 2) => f32::INFINITY,
                    (true, 3) => f32::NEG_INFINITY,
                    (true, 4) if i % 3 == 0 => f32::NAN,
                    _ => (s as f32 / u32::MAX as f32 - 0.5) * 10f32.powi((s % 13) as i32 - 6),
                }
            })
            .collect()
    }

    #[test]
    fn a_short_b_panics_before_the_avx2_loads() {
        if !super::super::simd::has_avx2_fma() {
            eprintln!("a_short_b_panics_before_the_avx2_loads: skipped, this CPU lacks AVX2 or FMA");
            return;
        }
        // Eight rows of 5 floats, 7 apart, need 7·7 + 5 = 54 floats: 53 is one short.
        let (x, b, mut out) = ([1f32; 5], vec![1f32; 53], [0f32; 8]);
        let caught = std::panic::catch_unwind(move || dots8(&x, &b, 7, 8, 0.0, &mut out));
        assert!(caught.is_err(), "the length check comes before any unsafe load");
        let (x, b, mut out) = ([1f32; 5], vec![1f32; 54], [0f32; 8]);
        assert_eq!(dots8(&x, &b, 7, 8, 0.0, &mut out), 8);
        assert!(out.iter().all(|&d| d == 5.0));
    }

    #[test]
    fn eight_at_a_time_give_each_dots_bits() {
        let init: f32 = std::iter::empty::<f32>().sum();
        for k in 0..70 {
            for n in [0, 1, 7, 8, 9, 15, 16, 17, 24, 50] {
                for special in [false, true] {
                    let csb = k + (n % 3);
                    let x = values(k, (k * 31 + n) as u32, special);
                    let b = values(n.saturating_sub(1) * csb + k, (k * 17 + n + 5) as u32, special);
                    let mut out = vec![f32::NAN; n];
                    let done = dots8(&x, &b, csb, n, init, &mut out);
                    if super::super::simd::has_avx2_fma() {
                        assert_eq!(done, n / 8 * 8, "k {k} n {n}");
                    } else if k == 0 && n == 0 {
                        eprintln!("eight_at_a_time_give_each_dots_bits: AVX2 part skipped, this CPU lacks AVX2 or FMA");
                    }
                    for (t, got) in out.iter().enumerate().take(done) {
                        let want = dot_impl(&x, &b[t * csb..][..k]);
                        // Bit for bit; a NaN's sign and payload are not kept by any path.
                        let same = got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan());
                        assert!(same, "k {k} n {n} row {t}: {got} vs {want}");
                    }
                }
            }
        }
    }
}
