//! A BayesianLinear forward on the scalar reference path against the fused
//! path, and the posterior's public log-density.

use blitz_autograd::gradcheck::{gradcheck, GradcheckOptions};
use blitz_autograd::{Error, Param, Tape, Tensor};
use blitz_kernels::reference::reparam as reference;
use blitz_layers::posterior::log_density;
use blitz_layers::{params, BayesianLinear, BayesianLinearOptions, Estimator, KlMode, Laplace, Module};
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::sync::Arc;

fn input() -> Tensor {
    Tensor::from_vec((0..40).map(|i| (i as f32 * 0.37).sin()).collect(), &[8, 5]).unwrap()
}

/// Output, KL and every parameter's gradient of one pass (reference or fused).
fn pass(layer: &BayesianLinear, reference: bool) -> (Vec<f32>, f32, Vec<(String, Vec<f32>)>) {
    let tape = Tape::new(21);
    let x = tape.constant(input());
    let y = if reference { layer.forward_reference(&x) } else { layer.forward(&x) }.unwrap();
    let kl = tape.complexity().unwrap();
    let loss = y.square().unwrap().sum().unwrap().add(&kl.mul_scalar(0.01).unwrap()).unwrap();
    let grads = tape.backward(&loss).unwrap();
    let named: Vec<(String, Param)> = params(layer);
    let g = named.iter().map(|(n, p)| (n.clone(), grads.get(p).unwrap().to_vec().unwrap())).collect();
    (y.value().to_vec().unwrap(), kl.item().unwrap(), g)
}

fn layer(options: BayesianLinearOptions) -> BayesianLinear {
    let options = BayesianLinearOptions { posterior_rho_init: -3.0, ..options };
    BayesianLinear::with_options(5, 3, options, &mut StdRng::seed_from_u64(2)).unwrap()
}

#[test]
fn a_forward_on_the_reference_path_gives_the_fused_paths_result() {
    let mixture =
        BayesianLinearOptions { prior_pi: 0.5, prior_sigma_1: 1.0, prior_sigma_2: 0.01, ..Default::default() };
    let laplace = BayesianLinearOptions { prior: Some(Arc::new(Laplace::new(0.2).unwrap())), ..Default::default() };
    let closed = BayesianLinearOptions { kl: KlMode::ClosedForm, ..Default::default() };
    for (what, options) in
        [("default", BayesianLinearOptions::default()), ("mixture", mixture), ("laplace", laplace), ("closed", closed)]
    {
        let l = layer(options);
        let (fy, fkl, fg) = pass(&l, false);
        let (ry, rkl, rg) = pass(&l, true);
        assert_eq!(fy, ry, "{what}: the same output bit for bit");
        assert!((fkl - rkl).abs() <= 1e-5 * rkl.abs().max(1.0), "{what}: KL {fkl} vs {rkl}");
        for ((name, a), (_, b)) in fg.iter().zip(&rg) {
            for (x, y) in a.iter().zip(b) {
                assert!((x - y).abs() <= 1e-4 * (1.0 + y.abs()), "{what} {name}: fused {x} vs reference {y}");
            }
        }
    }
    // Predictions (no KL, the cached-sigma draw on the fused side): the same outputs.
    let l = layer(BayesianLinearOptions::default());
    // Each on its own tape: a tape names its draws in order, so a second forward gets new ones.
    let (t1, t2) = (Tape::predict(4), Tape::predict(4));
    let (a, b) = (l.forward(&t1.constant(input())).unwrap(), l.forward_reference(&t2.constant(input())).unwrap());
    assert_eq!(a.value().to_vec().unwrap(), b.value().to_vec().unwrap());
}

#[test]
fn the_reference_path_refuses_what_it_does_not_do() {
    let l = layer(BayesianLinearOptions { estimator: Estimator::Flipout, ..Default::default() });
    let tape = Tape::new(0);
    assert!(matches!(l.forward_reference(&tape.constant(input())), Err(Error::InvalidArgument { .. })));
    let wide = tape.constant(Tensor::zeros(&[2, 6]).unwrap());
    assert!(matches!(layer(Default::default()).forward_reference(&wide), Err(Error::ShapeMismatch { .. })));
}

#[test]
fn the_posterior_log_density_is_the_reference_one_and_differentiable() {
    let mut rng = StdRng::seed_from_u64(5);
    let mu = Tensor::randn(&[2, 3], 0.0, 0.5, &mut rng).unwrap();
    let rho = Tensor::randn(&[2, 3], -1.0, 0.5, &mut rng).unwrap();
    let w = Tensor::randn(&[2, 3], 0.0, 1.0, &mut rng).unwrap();
    let tape = Tape::new(0);
    let lq = log_density(&tape.constant(mu.clone()), &tape.constant(rho.clone()), &tape.constant(w.clone()));
    let (m, r, v) = (mu.to_vec().unwrap(), rho.to_vec().unwrap(), w.to_vec().unwrap());
    let want: f64 = (0..6).map(|i| reference::log_posterior(v[i] as f64, m[i] as f64, r[i])).sum();
    let got = lq.unwrap().item().unwrap() as f64;
    assert!((got - want).abs() < 1e-5 * want.abs().max(1.0), "{got} vs {want}");
    let opts = GradcheckOptions { step: 1e-3, atol: 2e-3, rtol: 1e-2 };
    gradcheck(&[mu.clone(), rho.clone(), w], |x| log_density(&x[0], &x[1], &x[2]), opts).unwrap();
    let short = tape.constant(Tensor::zeros(&[6]).unwrap());
    let (mu, rho) = (tape.constant(mu), tape.constant(rho));
    assert!(matches!(log_density(&mu, &rho, &short), Err(Error::ShapeMismatch { .. })));
    assert!(matches!(log_density(&mu, &short, &short), Err(Error::ShapeMismatch { .. })));
}

/// The priors' and the closed-form KL's tape ops (the layers' own paths)
/// against the reference's scalar densities and gradients.
#[test]
fn the_priors_and_the_closed_form_kl_agree_with_the_reference() {
    use blitz_kernels::PriorSpec;
    use blitz_layers::kl::gaussian_kl;
    use blitz_layers::{Gaussian, Prior, ScaleMixture};
    let w: Vec<f32> = (0..40).map(|i| -1.5 + 0.077 * i as f32).collect();
    let priors: [(Box<dyn Prior>, PriorSpec); 3] = [
        (Box::new(Gaussian::new(0.3).unwrap()), PriorSpec::Gaussian { sigma: 0.3 }),
        (
            Box::new(ScaleMixture::new(0.5, 1.0, 0.05).unwrap()),
            PriorSpec::ScaleMixture { pi: 0.5, sigma1: 1.0, sigma2: 0.05 },
        ),
        (
            Box::new(ScaleMixture::new(1.0, 0.1, 0.4).unwrap()),
            PriorSpec::ScaleMixture { pi: 1.0, sigma1: 0.1, sigma2: 0.4 },
        ),
    ];
    for (prior, spec) in &priors {
        let tape = Tape::new(0);
        let wv = tape.leaf(Tensor::from_vec(w.clone(), &[40]).unwrap());
        let lp = prior.log_prob(&wv).unwrap();
        let want: f64 = w.iter().map(|&x| reference::log_prior(x as f64, *spec)).sum();
        let got = lp.item().unwrap() as f64;
        assert!((got - want).abs() <= 1e-5 * want.abs().max(1.0), "{spec:?}: {got} vs {want}");
        let g = tape.backward(&lp).unwrap().wrt(&wv).unwrap().to_vec().unwrap();
        for (i, &x) in w.iter().enumerate() {
            let d = reference::log_prior_grad(x as f64, *spec);
            assert!((g[i] as f64 - d).abs() <= 1e-4 * d.abs().max(1.0), "{spec:?} d/dw at {x}: {} vs {d}", g[i]);
        }
    }
    let mu: Vec<f32> = (0..12).map(|i| 0.3 * (i as f32).sin()).collect();
    let rho: Vec<f32> = (0..12).map(|i| -3.0 + 0.4 * i as f32).collect();
    let tape = Tape::new(0);
    let (m, r) = (
        tape.leaf(Tensor::from_vec(mu.clone(), &[3, 4]).unwrap()),
        tape.leaf(Tensor::from_vec(rho.clone(), &[3, 4]).unwrap()),
    );
    let kl = gaussian_kl(&m, &r, 0.5).unwrap();
    let want: f64 = (0..12).map(|i| reference::gaussian_kl(mu[i], rho[i], 0.5)).sum();
    let got = kl.item().unwrap() as f64;
    assert!((got - want).abs() <= 1e-5 * want.abs().max(1.0), "closed-form KL {got} vs {want}");
    let grads = tape.backward(&kl).unwrap();
    let (gm, gr) = (grads.wrt(&m).unwrap().to_vec().unwrap(), grads.wrt(&r).unwrap().to_vec().unwrap());
    for i in 0..12 {
        let (dm, dr) = reference::gaussian_kl_grad(mu[i], rho[i], 0.5);
        assert!((gm[i] as f64 - dm).abs() <= 1e-4 * dm.abs().max(1.0), "d/dmu {i}: {} vs {dm}", gm[i]);
        assert!((gr[i] as f64 - dr).abs() <= 1e-4 * dr.abs().max(1.0), "d/drho {i}: {} vs {dr}", gr[i]);
    }
}
