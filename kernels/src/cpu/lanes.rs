//! Eight `f32` lanes as one value, for kernels whose tiles the compiler will
//! not vectorise the intended way on its own (it merges neighbouring
//! accumulators into wider vectors and shuffles weights into them).
//!
//! A kernel is written once, generic over [`F32x8`], and run through
//! `with_lanes!`: with `Avx` (256-bit AVX2 + FMA instructions) when the CPU
//! has them, else with plain `[f32; 8]`. Both do the same IEEE operations (a
//! fused multiply-add is one exactly rounded operation in each), so the
//! results are bitwise identical whichever runs.

/// Eight lanes of `f32`.
pub(crate) trait F32x8: Copy {
    /// Every lane `v`.
    fn splat(v: f32) -> Self;
    /// The first eight elements of `s`.
    ///
    /// # Panics
    /// When `s` is shorter than eight.
    fn load(s: &[f32]) -> Self;
    /// Writes the lanes to the first eight elements of `s`.
    ///
    /// # Panics
    /// When `s` is shorter than eight.
    fn store(self, s: &mut [f32]);
    /// `self + a·b` in each lane, fused (one rounding).
    fn mul_add_to(self, a: Self, b: Self) -> Self;
    /// The lanes as an array.
    fn to_array(self) -> [f32; 8];
    /// The 8×8 transpose: lane `j` of row `i` becomes lane `i` of row `j`.
    fn transpose(rows: [Self; 8]) -> [Self; 8];
}

impl F32x8 for [f32; 8] {
    #[inline(always)]
    fn splat(v: f32) -> Self {
        [v; 8]
    }
    #[inline(always)]
    fn load(s: &[f32]) -> Self {
        s[..8].try_into().expect("eight elements")
    }
    #[inline(always)]
    fn store(self, s: &mut [f32]) {
        s[..8].copy_from_slice(&self);
    }
    #[inline(always)]
    fn mul_add_to(self, a: Self, b: Self) -> Self {
        std::array::from_fn(|j| a[j].mul_add(b[j], self[j]))
    }
    #[inline(always)]
    fn to_array(self) -> [f32; 8] {
        self
    }
    #[inline(always)]
    fn transpose(rows: [Self; 8]) -> [Self; 8] {
        std::array::from_fn(|j| std::array::from_fn(|i| rows[i][j]))
    }
}

#[cfg(target_arch = "x86_64")]
pub(crate) use avx::Avx;

#[cfg(target_arch = "x86_64")]
mod avx {
    use super::F32x8;
    use std::arch::x86_64::*;

    /// Eight lanes in one AVX register. Only the crate's `with_lanes!` macro
    /// uses it, and only after checking that the CPU has AVX2 and FMA.
    #[derive(Clone, Copy)]
    pub(crate) struct Avx(__m256);

    // SAFETY (every method): `Avx` values exist only inside functions that
    // `with_lanes!` calls after detecting AVX2 and FMA, and are inlined into
    // a function compiled with those features.
    impl F32x8 for Avx {
        #[inline(always)]
        fn splat(v: f32) -> Self {
            // SAFETY: AVX is available (see the impl's comment); no memory is touched.
            Avx(unsafe { _mm256_set1_ps(v) })
        }
        #[inline(always)]
        fn load(s: &[f32]) -> Self {
            let s = &s[..8];
            // SAFETY: eight readable floats (sliced just above); unaligned load.
            Avx(unsafe { _mm256_loadu_ps(s.as_ptr()) })
        }
        #[inline(always)]
        fn store(self, s: &mut [f32]) {
            let s = &mut s[..8];
            // SAFETY: eight writable floats (sliced just above); unaligned store.
            unsafe { _mm256_storeu_ps(s.as_mut_ptr(), self.0) }
        }
        #[inline(always)]
        fn mul_add_to(self, a: Self, b: Self) -> Self {
            // SAFETY: FMA is available (see the impl's comment); registers only.
            Avx(unsafe { _mm256_fmadd_ps(a.0, b.0, self.0) })
        }
        #[inline(always)]
        fn to_array(self) -> [f32; 8] {
            let mut out = [0f32; 8];
            // SAFETY: `out` holds eight floats; unaligned store.
            unsafe { _mm256_storeu_ps(out.as_mut_ptr(), self.0) };
            out
        }
        #[inline(always)]
        fn transpose(r: [Self; 8]) -> [Self; 8] {
            // Interleave pairs of rows, then pairs of pairs, then swap the
            // 128-bit halves: 24 shuffles for 64 values.
            // SAFETY: AVX is available (see the impl's comment); registers only.
            unsafe {
                let t0 = _mm256_unpacklo_ps(r[0].0, r[1].0);
                let t1 = _mm256_unpackhi_ps(r[0].0, r[1].0);
                let t2 = _mm256_unpacklo_ps(r[2].0, r[3].0);
                let t3 = _mm256_unpackhi_ps(r[2].0, r[3].0);
                let t4 = _mm256_unpacklo_ps(r[4].0, r[5].0);
                let t5 = _mm256_unpackhi_ps(r[4].0, r[5].0);
                let t6 = _mm256_unpacklo_ps(r[6].0, r[7].0);
                let t7 = _mm256_unpackhi_ps(r[6].0, r[7].0);
                let u0 = _mm256_shuffle_ps::<0x44>(t0, t2);
                let u1 = _mm256_shuffle_ps::<0xEE>(t0, t2);
                let u2 = _mm256_shuffle_ps::<0x44>(t1, t3);
                let u3 = _mm256_shuffle_ps::<0xEE>(t1, t3);
                let u4 = _mm256_shuffle_ps::<0x44>(t4, t6);
                let u5 = _mm256_shuffle_ps::<0xEE>(t4, t6);
                let u6 = _mm256_shuffle_ps::<0x44>(t5, t7);
                let u7 = _mm256_shuffle_ps::<0xEE>(t5, t7);
                [
                    Avx(_mm256_permute2f128_ps::<0x20>(u0, u4)),
                    Avx(_mm256_permute2f128_ps::<0x20>(u1, u5)),
                    Avx(_mm256_permute2f128_ps::<0x20>(u2, u6)),
                    Avx(_mm256_permute2f128_ps::<0x20>(u3, u7)),
                    Avx(_mm256_permute2f128_ps::<0x31>(u0, u4)),
                    Avx(_mm256_permute2f128_ps::<0x31>(u1, u5)),
                    Avx(_mm256_permute2f128_ps::<0x31>(u2, u6)),
                    Avx(_mm256_permute2f128_ps::<0x31>(u3, u7)),
                ]
            }
        }
    }
}

/// Defines `fn $name(args) -> ret` that runs `$imp::<V>(args)` with
/// `V` = [`Avx`] on CPUs with AVX2 and FMA (compiled twice: with AVX-512VL's
/// 32 registers where the CPU has them, else AVX2's 16), else `V = [f32; 8]`.
macro_rules! with_lanes {
    ($(#[$meta:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? => $imp:ident) => {
        $(#[$meta])*
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2,fma")]
                unsafe fn avx($($arg: $ty),*) $(-> $ret)? {
                    $imp::<$crate::cpu::lanes::Avx>($($arg),*)
                }
                // The same 256-bit code with AVX-512's encoding: 32 vector
                // registers instead of 16, so wide tiles need not spill.
                #[target_feature(enable = "avx2,fma,avx512f,avx512vl")]
                unsafe fn avx32($($arg: $ty),*) $(-> $ret)? {
                    $imp::<$crate::cpu::lanes::Avx>($($arg),*)
                }
                if std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx512vl")
                    && $crate::cpu::simd::has_avx2_fma()
                {
                    // SAFETY: the CPU supports all four features (checked just above).
                    return unsafe { avx32($($arg),*) };
                }
                if $crate::cpu::simd::has_avx2_fma() {
                    // SAFETY: the CPU supports AVX2 and FMA (checked just above).
                    return unsafe { avx($($arg),*) };
                }
            }
            $imp::<[f32; 8]>($($arg),*)
        }
    };
}

pub(crate) use with_lanes;

#[cfg(test)]
mod tests {
    use super::*;

    fn ops<V: F32x8>(a: &[f32], b: &[f32]) -> [f32; 8] {
        V::load(a).mul_add_to(V::load(b), V::splat(1.0 / 3.0)).mul_add_to(V::splat(1e-8), V::load(a)).to_array()
    }

    #[test]
    fn both_lane_types_give_the_same_bits() {
        let a: Vec<f32> = (0..8).map(|i| (i as f32 * 0.37).sin() * 1e3).collect();
        let b: Vec<f32> = (0..8).map(|i| (i as f32 * 1.1).cos() / 7.0).collect();
        let plain = ops::<[f32; 8]>(&a, &b);
        #[cfg(target_arch = "x86_64")]
        if crate::cpu::simd::has_avx2_fma() {
            #[target_feature(enable = "avx2,fma")]
            unsafe fn on_avx(a: &[f32], b: &[f32]) -> [f32; 8] {
                ops::<Avx>(a, b)
            }
            // SAFETY: AVX2 and FMA checked just above.
            let vector = unsafe { on_avx(&a, &b) };
            assert_eq!(plain.map(f32::to_bits), vector.map(f32::to_bits));
        }
        let want: Vec<f32> = (0..8).map(|j| 1e-8f32.mul_add(a[j], b[j].mul_add(1.0 / 3.0, a[j]))).collect();
        assert_eq!(plain.to_vec(), want);
    }

    fn transposed<V: F32x8>(m: &[f32]) -> Vec<f32> {
        let rows: [V; 8] = std::array::from_fn(|i| V::load(&m[8 * i..]));
        let mut out = vec![0f32; 64];
        for (i, r) in V::transpose(rows).into_iter().enumerate() {
            r.store(&mut out[8 * i..]);
        }
        out
    }

    #[test]
    fn both_lane_types_transpose() {
        let m: Vec<f32> = (0..64).map(|i| i as f32).collect();
        let want: Vec<f32> = (0..64).map(|k| m[(k % 8) * 8 + k / 8]).collect();
        assert_eq!(transposed::<[f32; 8]>(&m), want);
        #[cfg(target_arch = "x86_64")]
        if crate::cpu::simd::has_avx2_fma() {
            #[target_feature(enable = "avx2,fma")]
            unsafe fn on_avx(m: &[f32]) -> Vec<f32> {
                transposed::<Avx>(m)
            }
            // SAFETY: AVX2 and FMA checked just above.
            assert_eq!(unsafe { on_avx(&m) }, want);
        }
    }

    /// (1 + 2⁻¹²)(1 − 2⁻¹²) − 1 is −2⁻²⁴ fused, 0 when the product is rounded first.
    fn fused<V: F32x8>() -> [f32; 8] {
        let (a, b) = (1.0 + 2f32.powi(-12), 1.0 - 2f32.powi(-12));
        V::splat(-1.0).mul_add_to(V::splat(a), V::splat(b)).to_array()
    }

    #[test]
    fn multiply_add_is_fused_in_both_lane_types() {
        assert_eq!(fused::<[f32; 8]>(), [-(2f32.powi(-24)); 8]);
        #[cfg(target_arch = "x86_64")]
        if crate::cpu::simd::has_avx2_fma() {
            #[target_feature(enable = "avx2,fma")]
            unsafe fn on_avx() -> [f32; 8] {
                fused::<Avx>()
            }
            // SAFETY: AVX2 and FMA checked just above.
            assert_eq!(unsafe { on_avx() }, [-(2f32.powi(-24)); 8]);
        }
    }
}
