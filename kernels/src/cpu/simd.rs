//! Run-time selection of the widest vector unit. A kernel is written once as
//! an `#[inline(always)]` function of plain slices and arithmetic; the
//! `multiversion!` macro compiles it again with AVX-512 and AVX2 enabled and
//! picks the build at run time. The arithmetic is the same IEEE operations in
//! every build (Rust never fuses a·b + c on its own; an explicit `mul_add` is
//! one fused, exactly rounded operation everywhere), so the results are
//! bitwise identical whichever build runs.

/// Defines `$name`, dispatching to `$imp` compiled for AVX-512F, AVX2 (both
/// with FMA, so `mul_add` is one instruction) or the baseline, whichever the
/// CPU supports. The baseline build (a CPU without AVX2 and FMA) calls the C
/// library's correctly rounded `fmaf` for each `mul_add`: the same bits, slowly.
macro_rules! multiversion {
    ($(#[$meta:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? => $imp:path) => {
        $(#[$meta])*
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,fma")]
                unsafe fn v512($($arg: $ty),*) $(-> $ret)? {
                    $imp($($arg),*)
                }
                #[target_feature(enable = "avx2,fma")]
                unsafe fn v256($($arg: $ty),*) $(-> $ret)? {
                    $imp($($arg),*)
                }
                if std::arch::is_x86_feature_detected!("avx512f") && std::arch::is_x86_feature_detected!("fma") {
                    // SAFETY: the CPU supports AVX-512F and FMA (checked just above).
                    return unsafe { v512($($arg),*) };
                }
                if $crate::cpu::simd::has_avx2_fma() {
                    // SAFETY: the CPU supports AVX2 and FMA (checked just above).
                    return unsafe { v256($($arg),*) };
                }
            }
            $imp($($arg),*)
        }
    };
}

pub(crate) use multiversion;

/// Whether the CPU has AVX2 and FMA, which every 256-bit build here needs
/// (`multiversion!`, `with_lanes!`). The check is cached by the standard library.
#[cfg(target_arch = "x86_64")]
#[inline]
pub(crate) fn has_avx2_fma() -> bool {
    std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
}
