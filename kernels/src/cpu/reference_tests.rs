//! Every fast CPU path of the reparameterisation trick against the scalar
//! reference (`crate::reference::reparam`): the same bits where the
//! design promises bits (Philox words, eps, w), the same values to rounding
//! where the fast path sums in another order (log-densities, KL, gradients),
//! and the reference's own gradients against finite differences in f64.
//! (Unit tests: the CPU kernels' slice functions are crate-private.)

use super::{random, reparam, sample_kl};
use crate::context::ThreadSplit;
use crate::reference::reparam as r;
use crate::PriorSpec;

const PRIORS: [PriorSpec; 4] = [
    PriorSpec::Gaussian { sigma: 0.3 },
    PriorSpec::ScaleMixture { pi: 0.5, sigma1: 1.0, sigma2: 0.002 },
    PriorSpec::ScaleMixture { pi: 0.25, sigma1: 0.1, sigma2: 0.4 },
    PriorSpec::ScaleMixture { pi: 1.0, sigma1: 0.1, sigma2: 0.4 },
];

fn inputs(n: usize) -> (Vec<f32>, Vec<f32>) {
    let mu = (0..n).map(|i| 0.2 * (i as f32 * 0.37).sin()).collect();
    let rho = (0..n).map(|i| -3.0 + 2.0 * (i as f32 * 0.11).cos()).collect();
    (mu, rho)
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * a.abs().max(b.abs()).max(1.0)
}

#[test]
fn philox_is_random123s_and_the_fast_paths() {
    // Random123's published known answer for counter 0, key 0.
    assert_eq!(r::philox4x32_10([0; 4], [0; 2]), [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]);
    let kat = r::philox4x32_10([0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0]);
    assert_eq!(kat, [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1]);
    for (seed, block) in [(0u64, 0u64), (77, 3), (u64::MAX, (1 << 32) - 1), (0x1234_5678_9abc_def0, 1 << 40)] {
        let ctr = [block as u32, (block >> 32) as u32, 0, 0];
        assert_eq!(r::philox4x32_10(ctr, [seed as u32, (seed >> 32) as u32]), random::philox_block(seed, block));
    }
}

#[test]
fn the_reference_normals_are_the_fast_paths_bits() {
    // An unaligned offset, more than one 64-normal batch, and the threaded path.
    for (seed, offset, n) in [(9u64, 5u64, 37usize), (3, 17, 1001), (2024, 0, 70_001)] {
        let mut fast = vec![0.0; n];
        random::fill_normal(ThreadSplit::default(), seed, offset, &mut fast);
        let mut slow = vec![0.0; n];
        r::normals(seed, offset, &mut slow);
        assert_eq!(
            fast.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
            slow.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
        );
        // And within 1e-6 of Box-Muller with the standard library's ln, sin and cos.
        for i in (0..n).step_by(7) {
            let std_math = random::normal_at(seed, offset + i as u64);
            assert!((slow[i] - std_math).abs() <= 1e-6 * (1.0 + std_math.abs()), "{i}: {} vs {std_math}", slow[i]);
        }
    }
}

#[test]
fn the_fused_draws_give_the_reference_weights_bit_for_bit() {
    let n = 3001;
    let (mu, rho) = inputs(n);
    let mut want = vec![0.0; n];
    r::sample_all(&mu, &rho, 5, 8, &mut want);
    let mut w = vec![0.0; n];
    reparam::forward(ThreadSplit::default(), &mu, &rho, 5, 8, &mut w);
    assert_eq!(w, want, "cpu::reparam::forward");
    for prior in PRIORS {
        let mut w = vec![0.0; n];
        sample_kl::forward(ThreadSplit::default(), &mu, &rho, 5, 8, prior, &mut w);
        assert_eq!(w, want, "cpu::sample_kl::forward, {prior:?}");
    }
    // softplus and sigmoid are the textbook functions to f32 rounding.
    for &x in &rho {
        let (sp, sg) = ((x as f64).exp().ln_1p(), 1.0 / (1.0 + (-x as f64).exp()));
        assert!(close(r::softplus(x) as f64, sp, 1e-6) && close(r::sigmoid(x) as f64, sg, 1e-6), "{x}");
    }
}

#[test]
fn the_fast_kl_and_gradients_agree_with_the_reference() {
    let n = 3001;
    let (mu, rho) = inputs(n);
    let g_w: Vec<f32> = (0..n).map(|i| (i % 5) as f32 - 2.0).collect();
    // The plain sampler's backward.
    let (mut gm, mut gr, mut rm, mut rr) = (vec![0.0; n], vec![0.0; n], vec![0.0; n], vec![0.0; n]);
    reparam::backward(ThreadSplit::default(), &rho, &g_w, 5, 8, &mut gm, &mut gr);
    r::sample_all_backward(&rho, &g_w, 5, 8, &mut rm, &mut rr);
    assert_eq!(gm, rm);
    for i in 0..n {
        assert!(close(gr[i] as f64, rr[i] as f64, 1e-6), "g_rho {i}: {} vs {}", gr[i], rr[i]);
    }
    for prior in PRIORS {
        let want = r::mc_kl(&mu, &rho, 5, 8, prior);
        let mut w = vec![0.0; n];
        let fused = sample_kl::forward(ThreadSplit::default(), &mu, &rho, 5, 8, prior, &mut w) as f64;
        assert!(close(fused, want, 1e-5), "{prior:?}: fused KL {fused} vs {want}");
        let at = sample_kl::kl_at(ThreadSplit::default(), &w, &rho, 5, 8, prior) as f64;
        assert!(close(at, want, 1e-5), "{prior:?}: kl_at {at} vs {want}");
        let log_q = reparam::log_posterior(ThreadSplit::default(), &rho, 5, 8) as f64;
        let by_density: f64 = (0..n).map(|i| r::log_posterior(w[i] as f64, mu[i] as f64, rho[i])).sum();
        assert!(close(log_q, by_density, 1e-5), "log q {log_q} vs {by_density}");

        // The fused backward, regenerating and from saved factors, for L = Σ g_w·w + 0.7·KL.
        let (mut rm, mut rr) = (vec![0.0; n], vec![0.0; n]);
        r::mc_kl_backward(&mu, &rho, 0.7, 5, 8, prior, &mut rm, &mut rr);
        let mut ws = vec![0.0; n];
        r::sample_all(&mu, &rho, 5, 8, &mut ws);
        let (mut sm, mut sr) = (vec![0.0; n], vec![0.0; n]);
        r::sample_all_backward(&rho, &g_w, 5, 8, &mut sm, &mut sr);
        let (mut a, mut b, mut w2) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
        sample_kl::forward_saving(ThreadSplit::default(), &mu, &rho, 5, 8, prior, &mut w2, &mut a, &mut b);
        let (mut fm, mut fr, mut vm, mut vr) = (vec![0.0; n], vec![0.0; n], vec![0.0; n], vec![0.0; n]);
        sample_kl::backward(ThreadSplit::default(), &mu, &rho, Some(&g_w), 0.7, 5, 8, prior, &mut fm, &mut fr);
        sample_kl::backward_saved(ThreadSplit::default(), &w2, &a, &b, Some(&g_w), 0.7, prior, &mut vm, &mut vr);
        for i in 0..n {
            let (em, er) = ((sm[i] + rm[i]) as f64, (sr[i] + rr[i]) as f64);
            for (got, want, what) in
                [(fm[i], em, "mu"), (fr[i], er, "rho"), (vm[i], em, "mu saved"), (vr[i], er, "rho saved")]
            {
                // Relative to the sizes of the two summands (the prior's pull can cancel g_w's).
                let scale = (sm[i].abs() + rm[i].abs()).max(sr[i].abs() + rr[i].abs()).max(1e-3) as f64;
                assert!((got as f64 - want).abs() <= 2e-5 * scale, "{prior:?} {what} {i}: {got} vs {want}");
            }
        }
    }
}

/// Central differences in f64 of the reference's own gradient formulas.
#[test]
fn the_reference_gradients_match_finite_differences() {
    let d = |f: &dyn Fn(f64) -> f64, x: f64| {
        let h = 1e-6 * x.abs().max(1.0);
        (f(x + h) - f(x - h)) / (2.0 * h)
    };
    let ok = |a: f64, b: f64, what: &str| {
        assert!((a - b).abs() <= 1e-5 * a.abs().max(b.abs()).max(1.0), "{what}: {a} vs {b}")
    };
    for &(mu, rho, eps) in &[(0.3f32, -2.0f32, 0.7f32), (-0.05, -4.5, -1.3), (0.0, 0.5, 2.1)] {
        let (w, m) = (r::sample(mu, rho, eps) as f64, mu as f64);
        let (q_w, q_mu, _) = r::log_posterior_grad(w, m, rho);
        ok(q_w, d(&|x| r::log_posterior(x, m, rho), w), "d ln q / dw");
        ok(q_mu, d(&|x| r::log_posterior(w, x, rho), m), "d ln q / dmu");
        for prior in PRIORS {
            ok(r::log_prior_grad(w, prior), d(&|x| r::log_prior(x, prior), w), "d ln p / dw");
        }
    }
    // Gradients with respect to rho go through f32 softplus: check them with an f64 twin.
    let softplus = |x: f64| x.exp().ln_1p();
    for &(mu, rho, eps, s) in &[(0.3f32, -2.0f32, 0.7f32, 0.5f32), (-0.05, -4.5, -1.3, 0.1)] {
        let (m, p, e) = (mu as f64, rho as f64, eps as f64);
        let (_, _, q_rho) = r::log_posterior_grad(r::sample(mu, rho, eps) as f64, m, rho);
        let w = m + softplus(p) * e;
        let want = d(&|x| -softplus(x).ln() - 0.5 * ((w - m) / softplus(x)).powi(2), p);
        ok(q_rho, want, "d ln q / drho");
        let (k_mu, k_rho) = r::gaussian_kl_grad(mu, rho, s);
        let kl = |m: f64, x: f64| {
            (s as f64 / softplus(x)).ln() + (softplus(x).powi(2) + m * m) / (2.0 * (s as f64).powi(2)) - 0.5
        };
        ok(k_mu, d(&|x| kl(x, p), m), "d KL / dmu");
        ok(k_rho, d(&|x| kl(m, x), p), "d KL / drho");
        ok(r::gaussian_kl(mu, rho, s), kl(m, p), "KL");
        // The Monte Carlo term's pathwise gradient, eps fixed.
        let prior = PRIORS[2];
        let term = |m: f64, x: f64| {
            let w = m + softplus(x) * e;
            -softplus(x).ln() - 0.5 * e * e - r::LN_SQRT_2PI - r::log_prior(w, prior)
        };
        let (t_mu, t_rho) = r::mc_kl_term_grad(mu, rho, eps, prior);
        assert!((t_mu - d(&|x| term(x, p), m)).abs() < 1e-4 * t_mu.abs().max(1.0), "d term / dmu");
        assert!((t_rho - d(&|x| term(m, x), p)).abs() < 1e-4 * t_rho.abs().max(1.0), "d term / drho");
    }
}

#[test]
fn the_closed_form_kl_is_the_mean_of_the_monte_carlo_terms() {
    let (mu, rho, s) = (0.4f32, -1.0f32, 0.5f32);
    let n = 200_000;
    let terms: Vec<f64> =
        (0..n).map(|j| r::mc_kl_term(mu, rho, r::normal(11, j), PriorSpec::Gaussian { sigma: s })).collect();
    let mean = terms.iter().sum::<f64>() / n as f64;
    let var = terms.iter().map(|t| (t - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    let se = (var / n as f64).sqrt();
    let exact = r::gaussian_kl(mu, rho, s);
    assert!((mean - exact).abs() < 4.0 * se, "Monte Carlo {mean} ± {se} vs closed form {exact}");
    assert!(se < 0.01 * exact.abs(), "the check must be able to fail: se {se}");
}

/// `kl_at_backward` (the KL of weights drawn elsewhere, as a function of
/// (w, rho) with eps fixed by its name) against the reference's partial
/// derivatives: ∂/∂w = ∂ ln q/∂w − p'(w) + ∂ ln q/∂mu (mu = w − sigma·eps moves
/// with w), ∂/∂rho = the pathwise ∂ ln q/∂rho at fixed eps.
#[test]
fn kl_at_backward_agrees_with_the_reference() {
    let n = 1001;
    let (mu, rho) = inputs(n);
    let mut w = vec![0.0; n];
    reparam::forward(ThreadSplit::default(), &mu, &rho, 2, 4, &mut w);
    for prior in PRIORS {
        let (mut gw, mut gr) = (vec![0.0; n], vec![0.0; n]);
        sample_kl::kl_at_backward(ThreadSplit::default(), &w, &rho, 0.5, prior, &mut gw, &mut gr);
        for i in 0..n {
            let eps = r::normal(2, 4 + i as u64);
            let (q_w, q_mu, q_rho) = r::log_posterior_grad(w[i] as f64, mu[i] as f64, rho[i]);
            let want_w = 0.5 * (q_w + q_mu - r::log_prior_grad(w[i] as f64, prior));
            let want_rho = 0.5 * (q_w * r::sample_grad(rho[i], eps).1 as f64 + q_rho);
            assert!(
                (gw[i] as f64 - want_w).abs() <= 1e-4 * want_w.abs().max(1.0),
                "{prior:?} w {i}: {} vs {want_w}",
                gw[i]
            );
            assert!(
                (gr[i] as f64 - want_rho).abs() <= 1e-4 * want_rho.abs().max(1.0),
                "{prior:?} rho {i}: {} vs {want_rho}",
                gr[i]
            );
        }
    }
}
