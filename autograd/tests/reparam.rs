//! The fused reparameterisation op against the same computation done with
//! unfused ops, and the thread-count independence of the draws.

use blitz_autograd::{Tape, Tensor};
use blitz_kernels::{ops, Device};
use rand::rngs::StdRng;
use rand::SeedableRng;

#[test]
fn fused_forward_and_backward_equal_the_unfused_graph() {
    let n = 3000;
    let mut rng = StdRng::seed_from_u64(1);
    let mu = Tensor::randn(&[n], 0.0, 0.3, &mut rng).unwrap();
    let rho = Tensor::randn(&[n], -3.0, 0.5, &mut rng).unwrap();
    let upstream = Tensor::randn(&[n], 0.0, 1.0, &mut rng).unwrap();
    let (seed, offset) = (99, 40);

    let fused = Tape::new(0);
    let (m1, r1) = (fused.leaf(mu.clone()), fused.leaf(rho.clone()));
    let w1 = m1.reparam_sample(&r1, seed, offset).unwrap();
    let l1 = w1.mul(&fused.constant(upstream.clone())).unwrap().sum().unwrap();
    let g1 = fused.backward(&l1).unwrap();

    let plain = Tape::new(0);
    let (m2, r2) = (plain.leaf(mu), plain.leaf(rho));
    let eps = plain.constant(
        Tensor::from_buffer(
            ops::normal_in(&blitz_kernels::Context::default(), Device::Cpu, seed, offset, n).unwrap(),
            &[n],
        )
        .unwrap(),
    );
    let w2 = m2.add(&r2.softplus().unwrap().mul(&eps).unwrap()).unwrap();
    let l2 = w2.mul(&plain.constant(upstream)).unwrap().sum().unwrap();
    let g2 = plain.backward(&l2).unwrap();

    let (a, b) = (w1.value().to_vec().unwrap(), w2.value().to_vec().unwrap());
    if let Some(i) = (0..n).find(|&i| a[i] != b[i]) {
        panic!("w differs first at {i}: fused {} vs unfused {}", a[i], b[i]);
    }
    assert!(g1.wrt(&m1).unwrap().to_vec().unwrap() == g2.wrt(&m2).unwrap().to_vec().unwrap(), "grad mu differs");
    let (a, b) = (g1.wrt(&r1).unwrap().to_vec().unwrap(), g2.wrt(&r2).unwrap().to_vec().unwrap());
    for (x, y) in a.iter().zip(&b) {
        assert!((x - y).abs() <= 1e-6 * (1.0 + y.abs()), "{x} vs {y}");
    }
}

#[test]
fn a_given_sigma_draws_the_fused_ops_weights() {
    let n = 70_000; // above the parallel threshold
    let mut rng = StdRng::seed_from_u64(2);
    let mu = Tensor::randn(&[n], 0.0, 0.3, &mut rng).unwrap();
    let rho = Tensor::randn(&[n], -4.0, 1.0, &mut rng).unwrap();
    let tape = Tape::new(0);
    let sigma = tape.constant(rho.clone()).softplus().unwrap();
    let from_rho = tape.constant(mu.clone()).reparam_sample(&tape.constant(rho), 7, 3).unwrap();
    let from_sigma = tape.constant(mu).reparam_sample_sigma(&sigma, 7, 3).unwrap();
    assert_eq!(from_rho.value().to_vec().unwrap(), from_sigma.value().to_vec().unwrap());
    let wrong = tape.constant(Tensor::zeros(&[n - 1]).unwrap()).reparam_sample_sigma(&sigma, 7, 3);
    assert!(matches!(wrong, Err(blitz_kernels::Error::ShapeMismatch { .. })), "{wrong:?}");
}

/// 100k elements: above the parallel threshold, so 2 threads really split the work.
#[test]
fn the_same_seed_and_offset_give_the_same_epsilons_on_one_and_two_threads() {
    let draw = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| {
            let mu = Tensor::zeros(&[100_000]).unwrap();
            let rho = Tensor::full(&[100_000], 0.5).unwrap();
            let tape = Tape::new(0);
            let w = tape.constant(mu).reparam_sample(&tape.constant(rho.clone()), 5, 12).unwrap();
            let lq = tape.constant(rho).reparam_log_posterior(5, 12).unwrap();
            (
                ops::normal_in(&blitz_kernels::Context::default(), Device::Cpu, 5, 12, 100_000)
                    .unwrap()
                    .to_vec()
                    .unwrap(),
                w.value().to_vec().unwrap(),
                lq.item().unwrap(),
            )
        })
    };
    assert_eq!(draw(1), draw(2));
}

/// The reference ops (scalar, one weight at a time) against the fused ones:
/// the same draw bit for bit, the same KL and gradients to rounding.
#[test]
fn the_reference_ops_give_the_fused_ops_draw_kl_and_gradients() {
    use blitz_kernels::PriorSpec;
    let n = 2000;
    let mut rng = StdRng::seed_from_u64(3);
    let mu = Tensor::randn(&[40, 50], 0.0, 0.3, &mut rng).unwrap();
    let rho = Tensor::randn(&[40, 50], -3.0, 0.5, &mut rng).unwrap();
    let upstream = Tensor::randn(&[40, 50], 0.0, 1.0, &mut rng).unwrap();
    for prior in [PriorSpec::Gaussian { sigma: 0.3 }, PriorSpec::ScaleMixture { pi: 0.5, sigma1: 1.0, sigma2: 0.01 }] {
        let run = |reference: bool| {
            let tape = Tape::new(0);
            let (m, r) = (tape.leaf(mu.clone()), tape.leaf(rho.clone()));
            let (w, kl) = if reference {
                (m.reference_sample(&r, 8, 3).unwrap(), m.reference_mc_kl(&r, 8, 3, prior).unwrap())
            } else {
                m.sample_with_kl(&r, 8, 3, prior).unwrap()
            };
            let loss =
                w.mul(&tape.constant(upstream.clone())).unwrap().sum().unwrap().add(&kl.mul_scalar(0.7).unwrap());
            let g = tape.backward(&loss.unwrap()).unwrap();
            let v = |t: &Tensor| t.to_vec().unwrap();
            (v(w.value()), kl.item().unwrap(), v(g.wrt(&m).unwrap()), v(g.wrt(&r).unwrap()))
        };
        let (fw, fkl, fgm, fgr) = run(false);
        let (rw, rkl, rgm, rgr) = run(true);
        assert_eq!(fw, rw, "{prior:?}: the same weights");
        assert!((fkl - rkl).abs() <= 1e-5 * rkl.abs().max(1.0), "{prior:?}: KL {fkl} vs {rkl}");
        for i in 0..n {
            for (a, b, what) in [(fgm[i], rgm[i], "mu"), (fgr[i], rgr[i], "rho")] {
                assert!((a - b).abs() <= 1e-4 * (1.0 + b.abs()), "{prior:?} g_{what}[{i}]: fused {a} vs reference {b}");
            }
        }
    }
}

#[test]
fn the_reference_ops_pass_gradcheck_and_refuse_bad_input() {
    use blitz_autograd::gradcheck::{gradcheck, GradcheckOptions};
    use blitz_kernels::PriorSpec;
    let mut rng = StdRng::seed_from_u64(4);
    let mu = Tensor::randn(&[2, 3], 0.0, 0.5, &mut rng).unwrap();
    let rho = Tensor::randn(&[2, 3], -1.0, 0.5, &mut rng).unwrap();
    let opts = GradcheckOptions { step: 1e-3, atol: 2e-3, rtol: 1e-2 };
    gradcheck(&[mu.clone(), rho.clone()], |v| v[0].reference_sample(&v[1], 5, 1), opts).unwrap();
    for prior in [PriorSpec::Gaussian { sigma: 0.5 }, PriorSpec::ScaleMixture { pi: 0.5, sigma1: 1.0, sigma2: 0.3 }] {
        gradcheck(&[mu.clone(), rho.clone()], |v| v[0].reference_mc_kl(&v[1], 5, 1, prior), opts).unwrap();
    }
    let tape = Tape::new(0);
    let (m, short) = (tape.constant(mu.clone()), tape.constant(Tensor::zeros(&[5]).unwrap()));
    assert!(matches!(m.reference_sample(&short, 0, 0), Err(blitz_kernels::Error::ShapeMismatch { .. })));
    let prior = PriorSpec::Gaussian { sigma: 0.5 };
    assert!(matches!(m.reference_mc_kl(&short, 0, 0, prior), Err(blitz_kernels::Error::ShapeMismatch { .. })));
    let bad = PriorSpec::ScaleMixture { pi: 1.5, sigma1: 1.0, sigma2: 0.3 };
    let r = tape.constant(rho);
    assert!(matches!(m.reference_mc_kl(&r, 0, 0, bad), Err(blitz_kernels::Error::InvalidArgument { .. })));
}
