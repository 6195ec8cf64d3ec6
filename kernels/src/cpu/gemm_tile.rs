//! The microkernels of the blocked GEMM ([`super::gemm_blocked`]): one MR×NR
//! tile of C from an MR-wide panel of packed A and an NR-wide panel of packed
//! B, both `kc` long. The panels are zero-padded by the packing, so a kernel
//! always computes its whole tile; only the store of an edge tile is partial
//! (the caller gives a stack tile and copies the valid part).
//!
//! Every kernel computes each element the same way: an accumulator starting
//! at zero, one fused multiply-add per k in increasing k, then
//! `alpha·acc + beta·c` (two products and a sum, each rounded; `c` unread when
//! `beta = 0`). The AVX-512, AVX2 and portable kernels therefore give the
//! same bits; only the tile shape differs.

/// The largest tile, MR·NR floats (a stack tile for edges holds this many).
pub(crate) const MAX_TILE: usize = 8 * 32;

/// A microkernel: its tile shape and the instructions it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kernel {
    /// 8×32 with AVX-512F + FMA: 16 zmm accumulators, 2 loads of B and 8
    /// broadcasts of A per k.
    Avx512,
    /// 6×16 with AVX2 + FMA: 12 ymm accumulators, 2 loads of B and 6
    /// broadcasts of A per k.
    Avx2,
    /// 4×16 in plain Rust (`mul_add`), left to the compiler to vectorise.
    Portable,
}

impl Kernel {
    /// Every kernel, widest first.
    pub(crate) const ALL: [Kernel; 3] = [Kernel::Avx512, Kernel::Avx2, Kernel::Portable];

    /// Rows of its tile (the width of a packed A panel).
    pub(crate) const fn mr(self) -> usize {
        match self {
            Kernel::Avx512 => 8,
            Kernel::Avx2 => 6,
            Kernel::Portable => 4,
        }
    }

    /// Columns of its tile (the width of a packed B panel).
    pub(crate) const fn nr(self) -> usize {
        match self {
            Kernel::Avx512 => 32,
            Kernel::Avx2 | Kernel::Portable => 16,
        }
    }

    /// Whether this CPU has the instructions it needs.
    pub(crate) fn available(self) -> bool {
        match self {
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512 => {
                std::arch::is_x86_feature_detected!("avx512f") && std::arch::is_x86_feature_detected!("fma")
            }
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => super::simd::has_avx2_fma(),
            #[cfg(not(target_arch = "x86_64"))]
            Kernel::Avx512 | Kernel::Avx2 => false,
            Kernel::Portable => true,
        }
    }

    /// The widest kernel this CPU runs.
    pub(crate) fn best() -> Kernel {
        Kernel::ALL.into_iter().find(|k| k.available()).unwrap_or(Kernel::Portable)
    }

    /// `c = alpha·(A panel · B panel) + beta·c` on one MR×NR tile of C whose
    /// rows start `ldc` floats apart (`c` is not read when `beta = 0`).
    ///
    /// # Panics
    /// If the CPU lacks the kernel's instructions, or a panel is shorter
    /// than `kc·MR` / `kc·NR`.
    ///
    /// # Safety
    /// `c` must be valid for reads (when `beta ≠ 0`) and writes of MR rows of
    /// NR floats, row `i` at `c + i·ldc`, with no other reference to them.
    #[inline]
    pub(crate) unsafe fn run(self, kc: usize, a: &[f32], b: &[f32], c: *mut f32, ldc: usize, alpha: f32, beta: f32) {
        let (mr, nr) = (self.mr(), self.nr());
        assert!(
            kc.checked_mul(mr).is_some_and(|l| a.len() >= l) && kc.checked_mul(nr).is_some_and(|l| b.len() >= l),
            "microkernel: a panel is shorter than kc"
        );
        match self {
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512 => {
                assert!(self.available(), "microkernel: no AVX-512F + FMA on this CPU");
                // SAFETY: the CPU has AVX-512F and FMA (asserted above); `a`
                // holds kc·8 and `b` kc·32 floats (asserted above); the caller
                // guarantees the 8×32 tile at `c` with rows `ldc` apart.
                unsafe { avx512_8x32(kc, a.as_ptr(), b.as_ptr(), c, ldc, alpha, beta) }
            }
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => {
                assert!(self.available(), "microkernel: no AVX2 + FMA on this CPU");
                // SAFETY: the CPU has AVX2 and FMA (asserted above); `a` holds
                // kc·6 and `b` kc·16 floats (asserted above); the caller
                // guarantees the 6×16 tile at `c` with rows `ldc` apart.
                unsafe { avx2_6x16(kc, a.as_ptr(), b.as_ptr(), c, ldc, alpha, beta) }
            }
            #[cfg(not(target_arch = "x86_64"))]
            Kernel::Avx512 | Kernel::Avx2 => panic!("microkernel: {self:?} needs an x86-64 CPU"),
            Kernel::Portable => {
                let acc = portable_4x16(kc, a, b);
                // SAFETY: the caller guarantees the 4×16 tile at `c` with rows `ldc` apart.
                unsafe { store(&acc, 16, 4, 16, c, ldc, alpha, beta) }
            }
        }
    }

    /// [`Kernel::run`] into a stack tile of MR rows of NR floats
    /// (`tile[i·NR + j]`, `alpha = 1`, `beta = 0`): the raw accumulators, for
    /// an edge tile of C that the caller stores in part with [`store`].
    ///
    /// # Panics
    /// As [`Kernel::run`].
    pub(crate) fn run_to_tile(self, kc: usize, a: &[f32], b: &[f32], tile: &mut [f32; MAX_TILE]) {
        // SAFETY: MR·NR ≤ MAX_TILE for every kernel (see `mr`, `nr`), so the
        // MR rows of NR floats, NR apart, lie inside `tile`, borrowed mutably here.
        unsafe { self.run(kc, a, b, tile.as_mut_ptr(), self.nr(), 1.0, 0.0) }
    }
}

/// `c[i·ldc + j] = alpha·acc[i·acc_ld + j] + beta·c[i·ldc + j]` for `i <
/// rows`, `j < cols` (`c` unread when `beta = 0`): the kernels' store, in
/// the same operations as their vector stores.
///
/// # Panics
/// If `acc` is shorter than the `rows × cols` tile at stride `acc_ld`.
///
/// # Safety
/// `c` must be valid for reads (when `beta ≠ 0`) and writes of `rows` rows of
/// `cols` floats, row `i` at `c + i·ldc`, with no other reference to them.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn store(
    acc: &[f32],
    acc_ld: usize,
    rows: usize,
    cols: usize,
    c: *mut f32,
    ldc: usize,
    alpha: f32,
    beta: f32,
) {
    if rows == 0 || cols == 0 {
        return;
    }
    assert!(cols <= acc_ld && (rows - 1) * acc_ld + cols <= acc.len(), "store: the tile is shorter than its rows");
    for i in 0..rows {
        let src = &acc[i * acc_ld..][..cols];
        // SAFETY: the caller guarantees `cols` floats at `c + i·ldc` for
        // `i < rows`, valid and not aliased while this slice lives.
        let dst = unsafe { std::slice::from_raw_parts_mut(c.add(i * ldc), cols) };
        if beta == 0.0 {
            dst.iter_mut().zip(src).for_each(|(d, &s)| *d = alpha * s);
        } else {
            dst.iter_mut().zip(src).for_each(|(d, &s)| *d = alpha * s + beta * *d);
        }
    }
}

/// The portable kernel's accumulators: `acc[i·16 + j] = Σ_p a[p·4 + i]·b[p·16 + j]`
/// by fused multiply-adds in increasing p.
fn portable_4x16(kc: usize, a: &[f32], b: &[f32]) -> [f32; 64] {
    let mut acc = [[0f32; 16]; 4];
    for (ap, bp) in a.chunks_exact(4).zip(b.chunks_exact(16)).take(kc) {
        for i in 0..4 {
            let x = ap[i];
            for j in 0..16 {
                acc[i][j] = x.mul_add(bp[j], acc[i][j]);
            }
        }
    }
    let mut out = [0f32; 64];
    for i in 0..4 {
        out[i * 16..][..16].copy_from_slice(&acc[i]);
    }
    out
}

/// The 8×32 AVX-512 tile.
///
/// # Safety
/// The CPU has AVX-512F and FMA; `a` is readable for `kc·8` floats, `b` for
/// `kc·32`; `c` is valid for reads (when `beta ≠ 0`) and writes of 8 rows of
/// 32 floats, `ldc` apart, with no other reference to them.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,fma")]
unsafe fn avx512_8x32(kc: usize, a: *const f32, b: *const f32, c: *mut f32, ldc: usize, alpha: f32, beta: f32) {
    use std::arch::x86_64::*;
    let mut acc = [[_mm512_setzero_ps(); 2]; 8];
    for p in 0..kc {
        // SAFETY: p < kc, so b + p·32 .. b + p·32 + 32 and a + p·8 .. a + p·8 + 8
        // lie in the panels (the caller's precondition).
        let (b0, b1, ap) = unsafe {
            let bp = b.add(p * 32);
            (_mm512_loadu_ps(bp), _mm512_loadu_ps(bp.add(16)), a.add(p * 8))
        };
        for i in 0..8 {
            // SAFETY: i < 8: inside the A panel's row p (as above).
            let x = _mm512_set1_ps(unsafe { *ap.add(i) });
            acc[i][0] = _mm512_fmadd_ps(x, b0, acc[i][0]);
            acc[i][1] = _mm512_fmadd_ps(x, b1, acc[i][1]);
        }
    }
    let (va, vb) = (_mm512_set1_ps(alpha), _mm512_set1_ps(beta));
    for i in 0..8 {
        for h in 0..2 {
            // SAFETY: row i < 8, floats 16h .. 16h + 16 < 32 of the caller's tile.
            unsafe {
                let at = c.add(i * ldc + 16 * h);
                let mut v = _mm512_mul_ps(va, acc[i][h]);
                if beta != 0.0 {
                    v = _mm512_add_ps(v, _mm512_mul_ps(vb, _mm512_loadu_ps(at)));
                }
                _mm512_storeu_ps(at, v);
            }
        }
    }
}

/// The 6×16 AVX2 tile.
///
/// # Safety
/// The CPU has AVX2 and FMA; `a` is readable for `kc·6` floats, `b` for
/// `kc·16`; `c` is valid for reads (when `beta ≠ 0`) and writes of 6 rows of
/// 16 floats, `ldc` apart, with no other reference to them.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn avx2_6x16(kc: usize, a: *const f32, b: *const f32, c: *mut f32, ldc: usize, alpha: f32, beta: f32) {
    use std::arch::x86_64::*;
    let mut acc = [[_mm256_setzero_ps(); 2]; 6];
    for p in 0..kc {
        // SAFETY: p < kc, so b + p·16 .. b + p·16 + 16 and a + p·6 .. a + p·6 + 6
        // lie in the panels (the caller's precondition).
        let (b0, b1, ap) = unsafe {
            let bp = b.add(p * 16);
            (_mm256_loadu_ps(bp), _mm256_loadu_ps(bp.add(8)), a.add(p * 6))
        };
        for i in 0..6 {
            // SAFETY: i < 6: inside the A panel's row p (as above).
            let x = _mm256_set1_ps(unsafe { *ap.add(i) });
            acc[i][0] = _mm256_fmadd_ps(x, b0, acc[i][0]);
            acc[i][1] = _mm256_fmadd_ps(x, b1, acc[i][1]);
        }
    }
    let (va, vb) = (_mm256_set1_ps(alpha), _mm256_set1_ps(beta));
    for i in 0..6 {
        for h in 0..2 {
            // SAFETY: row i < 6, floats 8h .. 8h + 8 < 16 of the caller's tile.
            unsafe {
                let at = c.add(i * ldc + 8 * h);
                let mut v = _mm256_mul_ps(va, acc[i][h]);
                if beta != 0.0 {
                    v = _mm256_add_ps(v, _mm256_mul_ps(vb, _mm256_loadu_ps(at)));
                }
                _mm256_storeu_ps(at, v);
            }
        }
    }
}
