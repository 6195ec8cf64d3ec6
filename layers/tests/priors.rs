//! Priors: true log-densities, typed errors for bad hyperparameters, gradients.

use blitz_autograd::gradcheck::{gradcheck, GradcheckOptions};
use blitz_autograd::{Error, Tape, Tensor};
use blitz_layers::{Gaussian, Laplace, Prior, ScaleMixture, StudentT};

fn normal_pdf(x: f64, s: f64) -> f64 {
    (-0.5 * (x / s).powi(2)).exp() / (s * (2.0 * std::f64::consts::PI).sqrt())
}

fn log_prob(p: &dyn Prior, w: &[f32]) -> f32 {
    let tape = Tape::new(0);
    p.log_prob(&tape.constant(Tensor::from_vec(w.to_vec(), &[w.len()]).unwrap())).unwrap().item().unwrap()
}

const W: [f32; 6] = [-2.0, -1.0, -0.3, 0.0, 0.5, 1.0];

#[test]
fn scale_mixture_matches_direct_density() {
    let p = ScaleMixture::new(0.3, 0.1, 0.4).unwrap();
    let direct: f64 = W.iter().map(|&w| (0.3 * normal_pdf(w as f64, 0.1) + 0.7 * normal_pdf(w as f64, 0.4)).ln()).sum();
    assert!((log_prob(&p, &W) as f64 - direct).abs() < 1e-4, "{} vs {direct}", log_prob(&p, &W));
}

#[test]
fn scale_mixture_stays_finite_far_in_the_tails() {
    // pdf underflows to 0 at w = 20 for sigma 0.4; log-sum-exp does not.
    let p = ScaleMixture::new(0.5, 0.1, 0.4).unwrap();
    let lp = log_prob(&p, &[20.0]) as f64;
    let expected = 0.5f64.ln() - 0.4f64.ln() - 0.5 * (2.0 * std::f64::consts::PI).ln() - 0.5 * (20.0f64 / 0.4).powi(2);
    assert!((lp - expected).abs() < 1e-2 * expected.abs(), "{lp} vs {expected}");
}

#[test]
fn scale_mixture_gradient_at_one_is_nonzero_and_right() {
    // BLiTZ's log(pdf + 1e-6) has a gradient of ~0 here; the true one is about −w/sigma2².
    let p = ScaleMixture::new(0.5, 0.1, 0.4).unwrap();
    for w0 in [1.0f32, -1.0] {
        let tape = Tape::new(0);
        let w = tape.leaf(Tensor::from_vec(vec![w0], &[1]).unwrap());
        let g = tape.backward(&p.log_prob(&w).unwrap()).unwrap().wrt(&w).unwrap().to_vec().unwrap()[0];
        let (a, b) = (0.5 * normal_pdf(w0 as f64, 0.1), 0.5 * normal_pdf(w0 as f64, 0.4));
        let direct = (-(w0 as f64) / 0.01 * a - (w0 as f64) / 0.16 * b) / (a + b);
        assert!(g.abs() > 1.0, "gradient {g} at w = {w0}");
        assert!((g as f64 - direct).abs() < 1e-3 * direct.abs(), "{g} vs {direct}");
    }
}

#[test]
fn gaussian_laplace_student_t_match_direct_densities() {
    let g = Gaussian::new(0.7).unwrap();
    let direct: f64 = W.iter().map(|&w| normal_pdf(w as f64, 0.7).ln()).sum();
    assert!((log_prob(&g, &W) as f64 - direct).abs() < 1e-4);
    let l = Laplace::new(0.5).unwrap();
    let direct: f64 = W.iter().map(|&w| -(w.abs() as f64) / 0.5 - 1f64.ln()).sum();
    assert!((log_prob(&l, &W) as f64 - direct).abs() < 1e-4);
    // Student-t with nu = 1 is the Cauchy density 1 / (π s (1 + (w/s)²)).
    let t = StudentT::new(1.0, 0.5).unwrap();
    let direct: f64 = W.iter().map(|&w| -(std::f64::consts::PI * 0.5 * (1.0 + (w as f64 / 0.5).powi(2))).ln()).sum();
    assert!((log_prob(&t, &W) as f64 - direct).abs() < 1e-4);
}

#[test]
fn bad_hyperparameters_are_typed_errors() {
    assert!(matches!(Gaussian::new(0.0), Err(Error::InvalidArgument { .. })));
    assert!(matches!(Gaussian::new(-1.0), Err(Error::InvalidArgument { .. })));
    assert!(matches!(ScaleMixture::new(1.5, 0.1, 0.4), Err(Error::InvalidArgument { name: "prior_pi", .. })));
    assert!(matches!(ScaleMixture::new(-0.1, 0.1, 0.4), Err(Error::InvalidArgument { .. })));
    assert!(matches!(ScaleMixture::new(0.5, 0.0, 0.4), Err(Error::InvalidArgument { name: "prior_sigma_1", .. })));
    assert!(matches!(ScaleMixture::new(0.5, 0.1, f32::NAN), Err(Error::InvalidArgument { .. })));
    assert!(matches!(Laplace::new(0.0), Err(Error::InvalidArgument { .. })));
    assert!(matches!(StudentT::new(0.0, 1.0), Err(Error::InvalidArgument { .. })));
}

fn check_prior(p: &dyn Prior) {
    let w = Tensor::from_vec(vec![-1.3, -0.4, 0.2, 0.9, 1.7], &[5]).unwrap();
    gradcheck(&[w], |v| p.log_prob(&v[0]), GradcheckOptions { step: 1e-2, atol: 5e-3, rtol: 1e-2 }).unwrap();
}

#[test]
fn gradcheck_scale_mixture() {
    check_prior(&ScaleMixture::new(0.5, 0.3, 1.0).unwrap());
}

#[test]
fn gradcheck_gaussian_prior() {
    check_prior(&Gaussian::new(0.8).unwrap());
}

#[test]
fn gradcheck_laplace() {
    check_prior(&Laplace::new(0.8).unwrap());
}

#[test]
fn gradcheck_student_t() {
    check_prior(&StudentT::new(3.0, 0.8).unwrap());
}
