//! The blocked GEMM against a product in f64, on every transpose, edge sizes,
//! the workloads' shapes, alpha/beta, every microkernel and thread count.

use super::*;
use crate::context::{Context, GemmVariant, Threads};
use crate::types::Transpose;
use crate::{ops, Buffer};

const FORMS: [Transpose; 4] = [Transpose::NN, Transpose::NT, Transpose::TN, Transpose { a: true, b: true }];

/// Deterministic values in [-1, 1).
fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(1);
    (0..n)
        .map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (s >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect()
}

/// op(A) and op(B) of an m×k by k×n product stored row-major as `t` says.
fn views<'a>(m: usize, k: usize, n: usize, a: &'a [f32], b: &'a [f32], t: Transpose) -> (View<'a>, View<'a>) {
    let va = if t.a { View { data: a, rs: 1, cs: m } } else { View { data: a, rs: k, cs: 1 } };
    let vb = if t.b { View { data: b, rs: 1, cs: k } } else { View { data: b, rs: n, cs: 1 } };
    (va, vb)
}

/// `alpha·op(A)·op(B) + beta·c` in f64 (`c` ignored when `beta = 0`).
fn want(m: usize, k: usize, n: usize, alpha: f32, a: View, b: View, beta: f32, c: &[f32]) -> Vec<f64> {
    let mut out = vec![0f64; m * n];
    for i in 0..m {
        for j in 0..n {
            let s: f64 = (0..k).map(|p| a.data[i * a.rs + p * a.cs] as f64 * b.data[p * b.rs + j * b.cs] as f64).sum();
            let prior = if beta == 0.0 { 0.0 } else { beta as f64 * c[i * n + j] as f64 };
            out[i * n + j] = alpha as f64 * s + prior;
        }
    }
    out
}

/// Asserts |got − want| ≤ 4·(k + 2)·ε·max(1, |want|) (values in [-1, 1)).
fn close(got: &[f32], want: &[f64], k: usize, what: &str) {
    let tol = 4.0 * (k + 2) as f64 * f32::EPSILON as f64;
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert!((g as f64 - w).abs() <= tol * w.abs().max(1.0), "{what}: element {i}: {g} vs {w}");
    }
}

/// One product by the blocked GEMM on `kernel`, checked against f64; returns C.
#[allow(clippy::too_many_arguments)]
fn check(kernel: Kernel, m: usize, k: usize, n: usize, t: Transpose, alpha: f32, beta: f32, seed: u64) -> Vec<f32> {
    let (a, b, c0) = (values(m * k, seed), values(k * n, seed + 1), values(m * n, seed + 2));
    let (va, vb) = views(m, k, n, &a, &b, t);
    let mut c = c0.clone();
    gemm_blocked_with(kernel, ThreadSplit::default(), m, k, n, alpha, va, vb, beta, &mut c);
    close(&c, &want(m, k, n, alpha, va, vb, beta, &c0), k, &format!("{kernel:?} {m}x{k}x{n} {t:?}"));
    c
}

#[test]
fn every_transpose_on_edge_sizes_matches_f64() {
    // Sizes around the tiles (4, 6, 8, 16, 32) and the primes between: a sampled grid of 1..=37.
    let rows = [1, 2, 3, 5, 7, 8, 9, 13, 16, 17, 31, 33, 37];
    let cols = [1, 3, 15, 16, 17, 31, 32, 33, 37];
    let depths = [1, 2, 7, 37];
    let kernel = Kernel::best();
    for (i, &m) in rows.iter().enumerate() {
        for (j, &n) in cols.iter().enumerate() {
            for &k in &depths {
                let t = FORMS[(i + j + k) % 4];
                let (alpha, beta) = if (i + j) % 3 == 0 { (1.0, 0.0) } else { (0.75, 0.5) };
                check(kernel, m, k, n, t, alpha, beta, (m * 1000 + n * 10 + k) as u64);
            }
        }
    }
    // Every form on every size of one axis, the others at an edge.
    for s in 1..=37 {
        for t in FORMS {
            check(kernel, s, 5, 37, t, 1.0, 0.0, s as u64);
            check(kernel, 9, s, 33, t, 1.0, 1.0, s as u64);
            check(kernel, 37, 3, s, t, -0.5, 0.25, s as u64);
        }
    }
}

#[test]
fn every_microkernel_gives_the_same_bits() {
    // k = 600 spans three KC blocks (the later ones add to C).
    for &(m, k, n) in &[(37, 600, 45), (9, 1, 70), (50, 257, 33)] {
        for t in FORMS {
            let runs: Vec<Vec<f32>> = Kernel::ALL
                .into_iter()
                .filter(|kn| kn.available())
                .map(|kn| check(kn, m, k, n, t, 0.75, 0.5, 7))
                .collect();
            assert!(!runs.is_empty());
            assert!(runs.windows(2).all(|w| w[0] == w[1]), "{m}x{k}x{n} {t:?}: the microkernels disagree");
        }
    }
}

/// LeNet's im2col products at `batch` (`cpu::conv::forward_unfolded` and
/// `backward_unfolded`: 1→6 channels on 28×28 and 6→16 on 12×12, 5×5 kernels).
fn lenet_shapes(batch: usize) -> Vec<(usize, usize, usize, Transpose)> {
    let mut out = Vec::new();
    for (oc, kg, l) in [(6, 25, 24 * 24), (16, 150, 8 * 8)] {
        let nl = batch * l;
        out.push((oc, kg, nl, Transpose::NN)); // forward: W · col
        out.push((oc, nl, kg, Transpose::NT)); // weight gradient: gy · colᵀ
        out.push((kg, oc, nl, Transpose::TN)); // input gradient: Wᵀ · gy
    }
    out
}

#[test]
fn the_workloads_shapes_match_f64() {
    // The MLP's products (x·W1ᵀ, h·W2ᵀ, h·W3ᵀ) and LeNet's (a smaller batch in debug builds).
    let mut shapes =
        vec![(128, 784, 400, Transpose::NT), (128, 400, 400, Transpose::NT), (128, 400, 10, Transpose::NT)];
    shapes.extend(lenet_shapes(if cfg!(debug_assertions) { 4 } else { 64 }));
    for (m, k, n, t) in shapes {
        check(Kernel::best(), m, k, n, t, 1.0, 0.0, (m + k + n) as u64);
    }
}

#[test]
fn beta_zero_ignores_c_beta_one_accumulates_and_k_zero_scales() {
    let (m, k, n) = (13, 300, 35);
    let (a, b) = (values(m * k, 1), values(k * n, 2));
    let (va, vb) = views(m, k, n, &a, &b, Transpose::NN);
    let split = ThreadSplit::default();
    let mut fresh = vec![f32::NAN; m * n];
    gemm_blocked(split, m, k, n, 1.0, va, vb, 0.0, &mut fresh);
    assert!(fresh.iter().all(|x| x.is_finite()), "beta = 0 read C");
    close(&fresh, &want(m, k, n, 1.0, va, vb, 0.0, &fresh), k, "beta 0");
    let mut acc = vec![2.0f32; m * n];
    gemm_blocked(split, m, k, n, 1.0, va, vb, 1.0, &mut acc);
    close(&acc, &want(m, k, n, 1.0, va, vb, 1.0, &[2.0; 13 * 35]), k, "beta 1");
    // k = 0: C becomes beta·C (3 · 0.5, then 1.5 · 0).
    let mut scaled = vec![3.0f32; m * n];
    for (beta, after) in [(0.5, 1.5), (0.0, 0.0)] {
        let (none_a, none_b) = (View { data: &[], rs: 0, cs: 1 }, View { data: &[], rs: n, cs: 1 });
        gemm_blocked(split, m, 0, n, 1.0, none_a, none_b, beta, &mut scaled);
        assert!(scaled.iter().all(|&x| x == after), "k = 0, beta {beta}");
    }
}

#[test]
#[should_panic(expected = "shorter than its matrix")]
fn a_short_operand_panics_before_any_unsafe_code() {
    let (a, b) = (vec![0f32; 11], vec![0f32; 12]);
    let mut c = vec![0f32; 12];
    gemm_blocked(
        ThreadSplit::default(),
        3,
        4,
        3,
        1.0,
        View { data: &a, rs: 4, cs: 1 },
        View { data: &b, rs: 3, cs: 1 },
        0.0,
        &mut c,
    );
}

#[test]
#[should_panic(expected = "shorter than kc")]
fn a_short_panel_panics_in_the_microkernel() {
    let kernel = Kernel::best();
    let mut tile = [0f32; MAX_TILE];
    let a = vec![0f32; 3 * kernel.mr() - 1];
    let b = vec![0f32; 3 * kernel.nr()];
    kernel.run_to_tile(3, &a, &b, &mut tile);
}

#[test]
fn the_tiles_and_the_store_write_only_their_elements() {
    for kernel in Kernel::ALL.into_iter().filter(|k| k.available()) {
        let (mr, nr, kc) = (kernel.mr(), kernel.nr(), 5);
        let (a, b) = (values(kc * mr, 3), values(kc * nr, 4));
        // A tile inside a wider C (ldc = nr + 3): the three columns past it keep their values.
        let ldc = nr + 3;
        let mut c = vec![7.0f32; mr * ldc];
        // SAFETY: mr rows of nr floats, ldc apart, lie in `c` (mr·ldc floats), borrowed mutably.
        unsafe { kernel.run(kc, &a, &b, c.as_mut_ptr(), ldc, 2.0, 0.5) };
        let mut tile = [0f32; MAX_TILE];
        kernel.run_to_tile(kc, &a, &b, &mut tile);
        for i in 0..mr {
            for j in 0..ldc {
                let got = c[i * ldc + j];
                if j < nr {
                    let dot: f32 = (0..kc).fold(0.0, |s, p| a[p * mr + i].mul_add(b[p * nr + j], s));
                    assert_eq!(tile[i * nr + j], dot, "{kernel:?} ({i}, {j})");
                    assert_eq!(got, 2.0 * dot + 0.5 * 7.0, "{kernel:?} ({i}, {j})");
                } else {
                    assert_eq!(got, 7.0, "{kernel:?} wrote past its tile");
                }
            }
        }
        // A partial store of 2×3 from the tile.
        let mut small = vec![1.0f32; 2 * 4];
        // SAFETY: 2 rows of 3 floats, 4 apart, lie in `small` (8 floats), borrowed mutably.
        unsafe { store(&tile, nr, 2, 3, small.as_mut_ptr(), 4, 1.0, 1.0) };
        assert_eq!(small[3], 1.0);
        assert_eq!(small[7], 1.0);
        assert_eq!(small[4 + 2], tile[nr + 2] + 1.0);
    }
}

#[test]
fn packing_lays_out_panels_with_zeros_past_the_edge() {
    // A 3×5 row-major matrix, lines = rows (stride 5), k along columns, panels 2 wide.
    let src: Vec<f32> = (0..15).map(|x| x as f32).collect();
    let mut d = vec![f32::NAN; 2 * 2 * 5];
    pack(false, &src, 5, 1, 0, 3, 5, 2, &mut d);
    // Panel 0: rows 0, 1 at depths 0..5; panel 1: row 2 and a zero line.
    assert_eq!(&d[..10], &[0., 5., 1., 6., 2., 7., 3., 8., 4., 9.]);
    assert_eq!(&d[10..], &[10., 0., 11., 0., 12., 0., 13., 0., 14., 0.]);
    // The same lines through the other strides (the transposed storage): the same panels.
    let tr: Vec<f32> = (0..15).map(|i| src[(i % 3) * 5 + i / 3]).collect();
    let mut e = vec![f32::NAN; 20];
    pack(true, &tr, 1, 3, 0, 3, 5, 2, &mut e);
    assert_eq!(d, e);
    // A generic stride (neither is 1), from line 1.
    let mut f = vec![f32::NAN; 10];
    pack(false, &src, 5, 1, 1, 2, 5, 2, &mut f);
    let mut g = vec![f32::NAN; 10];
    let wide: Vec<f32> = src.iter().flat_map(|&x| [x, -1.0]).collect();
    pack(false, &wide, 10, 2, 1, 2, 5, 2, &mut g);
    assert_eq!(f, g);
    assert_eq!(&f[..4], &[5., 10., 6., 11.]);
}

#[test]
fn the_grid_balances_tiles_and_respects_the_thread_count() {
    // 128×400 on 8×32 tiles: by columns (each task then packs half of B, the larger operand).
    assert_eq!(grid(16, 13, 2, 8, 32), (1, 2));
    // 1024×128 by 128 columns: by rows (A is the larger operand).
    assert_eq!(grid(128, 4, 2, 8, 32), (2, 1));
    assert_eq!(grid(1, 1152, 3, 8, 32), (1, 3)); // one row panel: columns
    assert_eq!(grid(5, 5, 1, 8, 32), (1, 1));
    for (pm, pn, th) in [(7, 3, 4), (128, 32, 3), (2, 2, 8)] {
        let (tr, tc) = grid(pm, pn, th, 8, 32);
        assert!(tr * tc <= th && tr <= pm && tc <= pn, "{pm} {pn} {th}: {tr}x{tc}");
    }
}

#[test]
fn the_same_bits_on_one_two_and_three_threads() {
    // Split by rows, by columns and both; k across KC blocks.
    let shapes = [
        (200, 300, 150, Transpose::NN),
        (5, 40, 1500, Transpose::NT),
        (300, 70, 20, Transpose::TN),
        (64, 260, 64, Transpose { a: true, b: true }),
    ];
    for (m, k, n, t) in shapes {
        let (av, bv) = (values(m * k, 5), values(k * n, 6));
        let (a, b) = (Buffer::Cpu(av.clone()), Buffer::Cpu(bv.clone()));
        let on = |threads: usize| {
            let ctx = Context {
                gemm: GemmVariant::Blocked,
                threads: Threads::fixed(threads).unwrap(),
                split: ThreadSplit::eager(),
                ..Context::default()
            };
            let before = super::super::parallel::splits_on_pools_of(threads);
            let c = ops::gemm_in(&ctx, &a, &b, 1, m, k, n, t).unwrap().to_vec().unwrap();
            (c, super::super::parallel::splits_on_pools_of(threads) > before)
        };
        let (one, _) = on(1);
        for threads in [2, 3] {
            let (c, split) = on(threads);
            assert!(split, "{m}x{k}x{n}: not split on {threads} threads");
            assert!(c == one, "{m}x{k}x{n} {t:?}: {threads} threads give other bits than one");
        }
        let (va, vb) = views(m, k, n, &av, &bv, t);
        close(&one, &want(m, k, n, 1.0, va, vb, 0.0, &[]), k, "threads");
    }
}
