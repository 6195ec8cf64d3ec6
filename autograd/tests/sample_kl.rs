//! The fused draw + Monte Carlo KL op: finite-difference gradient checks for
//! either output alone and both together, agreement with the unfused graph,
//! and typed errors.

use blitz_autograd::gradcheck::{gradcheck, GradcheckOptions};
use blitz_autograd::{Error, PriorSpec, Tape, Tensor, Var};
use rand::rngs::StdRng;
use rand::SeedableRng;

fn uniform(shape: &[usize], lo: f32, hi: f32, seed: u64) -> Tensor {
    Tensor::rand_uniform(shape, lo, hi, &mut StdRng::seed_from_u64(seed)).unwrap()
}

/// Smooth enough at the checker's step (1e-2) to be differentiated numerically.
const PRIORS: [PriorSpec; 2] =
    [PriorSpec::Gaussian { sigma: 0.7 }, PriorSpec::ScaleMixture { pi: 0.3, sigma1: 1.5, sigma2: 0.4 }];

fn check(f: impl Fn(&[Var], PriorSpec) -> blitz_autograd::Result<Var>) {
    for (i, prior) in PRIORS.into_iter().enumerate() {
        let mu = uniform(&[3, 7], -0.5, 0.5, 40 + i as u64);
        let rho = uniform(&[3, 7], -2.0, 0.5, 50 + i as u64);
        gradcheck(&[mu, rho], |v| f(v, prior), GradcheckOptions::default()).unwrap();
    }
}

#[test]
fn gradcheck_sample_with_kl_both_outputs() {
    check(|v, p| {
        let (w, kl) = v[0].sample_with_kl(&v[1], 42, 8, p)?;
        w.square()?.sum()?.mul_scalar(0.3)?.add(&kl)
    });
}

#[test]
fn gradcheck_sample_with_kl_weights_only() {
    check(|v, p| v[0].sample_with_kl(&v[1], 42, 8, p).map(|(w, _)| w));
}

#[test]
fn gradcheck_sample_with_kl_kl_only() {
    check(|v, p| v[0].sample_with_kl(&v[1], 42, 8, p).map(|(_, kl)| kl));
}

#[test]
fn gradcheck_kl_at_after_reparam_sample() {
    check(|v, p| v[0].reparam_sample(&v[1], 42, 8)?.kl_at(&v[1], 42, 8, p));
}

/// The fused op gives the same draw as `reparam_sample`, the same KL as
/// log q from `reparam_log_posterior` minus a log-prior built from tape ops,
/// and the same gradients as that unfused graph.
#[test]
fn fused_agrees_with_the_unfused_graph() {
    let (s1, s2, pi) = (1.5f32, 0.4f32, 0.3f32);
    let prior = PriorSpec::ScaleMixture { pi, sigma1: s1, sigma2: s2 };
    let mu = uniform(&[50], -0.5, 0.5, 1);
    let rho = uniform(&[50], -4.0, 0.0, 2);
    let grads = |fused: bool| {
        let tape = Tape::new(0);
        let (m, r) = (tape.leaf(mu.clone()), tape.leaf(rho.clone()));
        let (w, kl) = if fused {
            m.sample_with_kl(&r, 9, 4, prior).unwrap()
        } else {
            let w = m.reparam_sample(&r, 9, 4).unwrap();
            // log p = ln(pi·N(w; 0, s1) + (1 − pi)·N(w; 0, s2)), written out directly.
            let c = (2.0 * std::f32::consts::PI).sqrt();
            let comp = |s: f32, weight: f32| {
                w.square()
                    .unwrap()
                    .mul_scalar(-0.5 / (s * s))
                    .unwrap()
                    .exp()
                    .unwrap()
                    .mul_scalar(weight / (s * c))
                    .unwrap()
            };
            let lp = comp(s1, pi).add(&comp(s2, 1.0 - pi)).unwrap().log().unwrap().sum().unwrap();
            let kl = r.reparam_log_posterior(9, 4).unwrap().sub(&lp).unwrap();
            (w, kl)
        };
        let loss = w.sum().unwrap().mul_scalar(0.5).unwrap().add(&kl).unwrap();
        let g = tape.backward(&loss).unwrap();
        (
            w.value().to_vec().unwrap(),
            kl.item().unwrap(),
            g.wrt(&m).unwrap().to_vec().unwrap(),
            g.wrt(&r).unwrap().to_vec().unwrap(),
        )
    };
    let (f, u) = (grads(true), grads(false));
    assert_eq!(f.0, u.0);
    assert!((f.1 - u.1).abs() < 1e-3 * u.1.abs().max(1.0), "{} vs {}", f.1, u.1);
    for (a, b) in f.2.iter().chain(&f.3).zip(u.2.iter().chain(&u.3)) {
        assert!((a - b).abs() < 1e-4 * b.abs().max(1.0), "{a} vs {b}");
    }
}

#[test]
fn bad_inputs_are_typed_errors() {
    let tape = Tape::new(0);
    let (m, r) = (tape.leaf(Tensor::zeros(&[4]).unwrap()), tape.leaf(Tensor::zeros(&[5]).unwrap()));
    let p = PriorSpec::Gaussian { sigma: 1.0 };
    assert!(matches!(m.sample_with_kl(&r, 0, 0, p), Err(Error::ShapeMismatch { .. })));
    assert!(matches!(m.kl_at(&r, 0, 0, p), Err(Error::ShapeMismatch { .. })));
    let bad = PriorSpec::ScaleMixture { pi: 1.5, sigma1: 1.0, sigma2: 0.1 };
    assert!(matches!(m.sample_with_kl(&m, 0, 0, bad), Err(Error::InvalidArgument { .. })));
    assert!(matches!(m.kl_at(&m, 0, 0, PriorSpec::Gaussian { sigma: 0.0 }), Err(Error::InvalidArgument { .. })));
}
