//! The uncertainty methods beyond Bayes by Backprop, each against a case
//! with a known answer.

#[path = "support/linalg.rs"]
mod linalg;

use blitz_autograd::{Context, Error, Tensor};
use blitz_layers::metrics::ood_auroc;
use blitz_layers::train::TrainConfig;
use blitz_layers::uncertainty::{
    member_seed, DeepEnsemble, GaussianRegressor, LaplaceStructure, LastLayerLaplace, McDropout, TemperatureScaling,
};
use blitz_layers::{params, Dropout, Linear, Module, ReLU, Sequential, VariationalEstimator};
use blitz_layers::{Classifier, Regressor};
use linalg::{inverse, quad, random_inputs};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, StandardNormal};

// ---- OOD AUROC ----

#[test]
fn auroc_known_values() {
    // Perfectly separated, reversed, and all tied.
    assert_eq!(ood_auroc(&[0.0, 1.0], &[2.0, 3.0]).unwrap(), 1.0);
    assert_eq!(ood_auroc(&[2.0, 3.0], &[0.0, 1.0]).unwrap(), 0.0);
    assert_eq!(ood_auroc(&[1.0, 1.0], &[1.0]).unwrap(), 0.5);
    // Pairs (in, out): (1,2)>, (1,1) tie, (3,2)<, (3,1)<  →  (1 + 0.5) / 4.
    assert_eq!(ood_auroc(&[1.0, 3.0], &[2.0, 1.0]).unwrap(), 0.375);
}

#[test]
fn auroc_equals_pair_count() {
    // Against the O(n·m) definition on scores with many ties.
    let mut rng = StdRng::seed_from_u64(1);
    let a: Vec<f32> = (0..300).map(|_| rng.random_range(0..20) as f32).collect();
    let b: Vec<f32> = (0..200).map(|_| rng.random_range(5..30) as f32).collect();
    let mut wins = 0f64;
    for x in &a {
        for y in &b {
            wins += if y > x {
                1.0
            } else if y == x {
                0.5
            } else {
                0.0
            };
        }
    }
    let want = wins / (a.len() * b.len()) as f64;
    assert!((ood_auroc(&a, &b).unwrap() as f64 - want).abs() < 1e-6);
}

#[test]
fn auroc_errors() {
    assert!(matches!(ood_auroc(&[], &[1.0]), Err(Error::Empty { .. })));
    assert!(matches!(ood_auroc(&[1.0], &[f32::NAN]), Err(Error::NonFinite { .. })));
}

// ---- Temperature scaling ----

/// n examples of `classes` logits z ~ N(0, 2²), labels drawn from softmax(z / t).
fn tempered_data(n: usize, classes: usize, t: f64, seed: u64) -> (Vec<f32>, Vec<usize>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut logits = Vec::with_capacity(n * classes);
    let mut labels = Vec::with_capacity(n);
    for _ in 0..n {
        let row: Vec<f64> =
            (0..classes).map(|_| 2.0 * Distribution::<f64>::sample(&StandardNormal, &mut rng)).collect();
        let e: Vec<f64> = row.iter().map(|z| (z / t).exp()).collect();
        let mut u = rng.random::<f64>() * e.iter().sum::<f64>();
        let mut label = classes - 1;
        for (c, v) in e.iter().enumerate() {
            if u < *v {
                label = c;
                break;
            }
            u -= v;
        }
        logits.extend(row.iter().map(|&z| z as f32));
        labels.push(label);
    }
    (logits, labels)
}

#[test]
fn temperature_recovers_the_generating_one() {
    // The MLE of T from 20 000 examples has a standard error near 1%.
    for &t in &[0.5, 2.5] {
        let (logits, labels) = tempered_data(20_000, 4, t, 11);
        let fit = TemperatureScaling::fit(&logits, 4, &labels).unwrap();
        let rel = (fit.temperature() as f64 - t).abs() / t;
        assert!(rel < 0.05, "fitted {} for {t}", fit.temperature());
        // It is the minimum of the NLL: nudging T either way costs.
        let nll = fit.nll(&logits, 4, &labels).unwrap();
        for f in [0.97f32, 1.03] {
            let other = TemperatureScaling::new(fit.temperature() * f).unwrap();
            assert!(other.nll(&logits, 4, &labels).unwrap() >= nll);
        }
        let probs = fit.probs(&logits, 4).unwrap();
        assert!((probs[..4].iter().sum::<f32>() - 1.0).abs() < 1e-6);
    }
}

#[test]
fn temperature_module_divides_logits() {
    let t = TemperatureScaling::new(2.0).unwrap();
    let scaled = t.wrap(Sequential::new());
    let x = Tensor::from_vec(vec![2.0, -4.0], &[1, 2]).unwrap();
    let out = scaled.predict_draws(&Context::default(), &x, 1, 0).unwrap();
    assert_eq!(out[0].to_vec().unwrap(), vec![1.0, -2.0]);
}

#[test]
fn temperature_errors() {
    for bad in [0.0, -1.0, f32::NAN, f32::INFINITY] {
        assert!(matches!(TemperatureScaling::new(bad), Err(Error::InvalidArgument { .. })), "{bad}");
    }
    // Perfect separation: no finite optimum.
    let sep = TemperatureScaling::fit(&[3.0, 0.0, 0.0, 3.0], 2, &[0, 1]);
    assert!(matches!(sep, Err(Error::InvalidArgument { .. })));
    // Labels tied with the row maximum: the NLL still falls as T → 0
    // (each row tends to ln 2 from above, never up again).
    let tied = TemperatureScaling::fit(&[3.0, 3.0, 0.0, 3.0], 2, &[0, 1]);
    assert!(matches!(tied, Err(Error::InvalidArgument { .. })));
    // Very sharp but not separated logits: a small optimal T, no cap on 1/T.
    let sharp = TemperatureScaling::fit(&[1e-7, 0.0, 0.0, 1e-7, 0.0, 1e-7, 1e-7, 0.0, 0.0, 1e-7], 2, &[0, 1, 1, 0, 0]);
    let t = sharp.unwrap().temperature();
    assert!(t > 0.0 && t < 1e-6, "{t}");
    // Anti-correlated logits: the optimum is uniform (T → ∞).
    let anti = TemperatureScaling::fit(&[0.0, 3.0, 3.0, 0.0], 2, &[0, 1]);
    assert!(matches!(anti, Err(Error::InvalidArgument { .. })));
    assert!(matches!(TemperatureScaling::fit(&[1.0, 2.0], 2, &[2]), Err(Error::IndexOutOfRange { .. })));
    assert!(matches!(TemperatureScaling::fit(&[1.0, 2.0, 3.0], 2, &[0]), Err(Error::ShapeMismatch { .. })));
    assert!(matches!(TemperatureScaling::fit(&[1.0, f32::NAN], 2, &[0]), Err(Error::NonFinite { .. })));
}

// ---- MC dropout ----

#[test]
fn mc_dropout_mean_and_spread_match_bernoulli() {
    // Inverted dropout with p on x: each output is x·B/(1−p), B ~ Bernoulli(1−p),
    // so its mean is x and its variance x²·p/(1−p).
    let p = 0.3f64;
    let net = McDropout::new(Sequential::new().push(Dropout::new(p as f32).unwrap()));
    net.set_training(false); // ignored: MC dropout stays on
    let d = 500usize;
    let xs: Vec<f32> = (0..d).map(|i| 1.0 + (i % 7) as f32 * 0.5).collect();
    let x = Tensor::from_vec(xs.clone(), &[1, d]).unwrap();
    let t = 400usize;
    let (mean, std) = net.predict_mean_std(&x, t, 5).unwrap();
    let (mean, std) = (mean.to_vec().unwrap(), std.to_vec().unwrap());
    let ratio = (p / (1.0 - p)).sqrt();
    // Per element, the mean of T draws has standard error x·ratio/√T; the
    // standardised deviations must look standard normal.
    let z: Vec<f64> =
        xs.iter().zip(&mean).map(|(&x, &m)| (m as f64 - x as f64) / (x as f64 * ratio / (t as f64).sqrt())).collect();
    let z_mean = z.iter().sum::<f64>() / d as f64;
    let z_var = z.iter().map(|v| v * v).sum::<f64>() / d as f64;
    assert!(z_mean.abs() < 4.0 / (d as f64).sqrt(), "z mean {z_mean}");
    assert!((z_var - 1.0).abs() < 0.25, "z variance {z_var}");
    let within_3 = z.iter().filter(|v| v.abs() < 3.0).count();
    assert!(within_3 >= d - 5, "{within_3} of {d} within 3 standard errors");
    // The spread across draws estimates x·ratio.
    let spread: f64 = xs.iter().zip(&std).map(|(&x, &s)| s as f64 / (x as f64 * ratio)).sum::<f64>() / d as f64;
    assert!((spread - 1.0).abs() < 0.02, "spread ratio {spread}");
    // Same seed, same draws; another seed, others.
    let host = |v: Vec<Tensor>| v.iter().map(|t| t.to_vec().unwrap()).collect::<Vec<_>>();
    let a = host(net.predict(&x, 3, 9).unwrap());
    assert_eq!(a, host(net.predict(&x, 3, 9).unwrap()));
    assert_ne!(a, host(net.predict(&x, 3, 10).unwrap()));
}

/// A layer that only records the mode it was last told, in a flag the test shares.
struct ModeProbe(std::sync::Arc<std::sync::atomic::AtomicBool>);

impl Module for ModeProbe {
    fn forward(&self, x: &blitz_autograd::Var) -> blitz_autograd::Result<blitz_autograd::Var> {
        Ok(x.clone())
    }
    fn visit_params(&self, _prefix: &str, _f: &mut dyn FnMut(&str, &blitz_autograd::Param)) {}
    fn set_training(&self, training: bool) {
        self.0.store(training, std::sync::atomic::Ordering::Relaxed);
    }
}

#[test]
fn mc_dropout_switches_only_the_dropout_layers() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let flag = Arc::new(AtomicBool::new(false));
    let net = Sequential::new().push(ModeProbe(flag.clone())).push(Dropout::new(0.5).unwrap());
    let x = Tensor::from_vec(vec![1.0; 64], &[1, 64]).unwrap();
    let dropout_on = |m: &McDropout<Sequential>| {
        let d = m.predict(&x, 2, 0).unwrap();
        d[0].to_vec().unwrap() != d[1].to_vec().unwrap()
    };
    let mc = McDropout::new(net);
    // Wrapping left the other layer in evaluation mode; dropout is on.
    assert!(!flag.load(Ordering::Relaxed));
    assert!(dropout_on(&mc));
    // Training mode reaches the other layer; dropout stays on in both modes.
    mc.set_training(true);
    assert!(flag.load(Ordering::Relaxed));
    assert!(dropout_on(&mc));
    mc.set_training(false);
    assert!(!flag.load(Ordering::Relaxed));
    assert!(dropout_on(&mc));
    // Switching the inner network off directly is undone at the next pass,
    // without touching the other layer's mode.
    mc.net.set_training(true);
    mc.net.set_dropout(false);
    assert!(dropout_on(&mc));
    assert!(flag.load(Ordering::Relaxed));
}

#[test]
fn mc_dropout_zero_draws_is_an_error() {
    let net = McDropout::new(Sequential::new().push(Dropout::new(0.5).unwrap()));
    let x = Tensor::from_vec(vec![1.0; 4], &[1, 4]).unwrap();
    assert!(matches!(net.predict(&x, 0, 0), Err(Error::InvalidArgument { .. })));
    assert!(matches!(net.predict_mean_std(&x, 0, 0), Err(Error::InvalidArgument { .. })));
}

// ---- Deep ensembles ----

/// A linear layer 2 → 2 with the given weight (row-major) and bias.
fn fixed_linear(weight: [f32; 4], bias: [f32; 2]) -> Linear {
    let l = Linear::new(2, 2, true, &mut StdRng::seed_from_u64(0)).unwrap();
    let ps = params(&l);
    ps[0].1.set(Tensor::from_vec(weight.to_vec(), &[2, 2]).unwrap()).unwrap();
    ps[1].1.set(Tensor::from_vec(bias.to_vec(), &[2]).unwrap()).unwrap();
    l
}

fn softplus(r: f64) -> f64 {
    r.exp().ln_1p()
}

#[test]
fn ensemble_predicts_the_gaussian_mixture() {
    // Member i outputs mean = x₀ + i and raw variance = x₁ (+ 0.5·i), so the
    // mixture's moments and density are known in closed form.
    let members: Vec<GaussianRegressor<Linear>> = (0..3)
        .map(|i| GaussianRegressor::new(fixed_linear([1.0, 0.0, 0.0, 1.0], [i as f32, 0.5 * i as f32]), 1).unwrap())
        .collect();
    let ens = DeepEnsemble::new(members).unwrap();
    let x = Tensor::from_vec(vec![0.5, -1.0, 2.0, 0.25], &[2, 2]).unwrap();
    let p = ens.predict(&x, 1, 0).unwrap();
    let y = [1.0f32, 2.5];
    let m = ens.evaluate(&x, &Tensor::from_vec(y.to_vec(), &[2, 1]).unwrap(), 1, 0).unwrap();
    let mut ll = 0f64;
    for (row, (x0, x1)) in [(0.5f64, -1.0f64), (2.0, 0.25)].into_iter().enumerate() {
        let means: Vec<f64> = (0..3).map(|i| x0 + i as f64).collect();
        let vars: Vec<f64> = (0..3).map(|i| softplus(x1 + 0.5 * i as f64) + 1e-6).collect();
        let mu = means.iter().sum::<f64>() / 3.0;
        let epi = means.iter().map(|m| (m - mu).powi(2)).sum::<f64>() / 3.0;
        let ale = vars.iter().sum::<f64>() / 3.0;
        assert!((p.mean[row] as f64 - mu).abs() < 1e-5);
        assert!((p.epistemic_std[row] as f64 - epi.sqrt()).abs() < 1e-5);
        assert!((p.aleatoric_std[row] as f64 - ale.sqrt()).abs() < 1e-5);
        assert!((p.std[row] as f64 - (epi + ale).sqrt()).abs() < 1e-5);
        let dens: f64 = means
            .iter()
            .zip(&vars)
            .map(|(m, v)| (-(y[row] as f64 - m).powi(2) / (2.0 * v)).exp() / (2.0 * std::f64::consts::PI * v).sqrt())
            .sum::<f64>()
            / 3.0;
        ll += dens.ln() / 2.0;
    }
    assert!((m.loglik as f64 - ll).abs() < 1e-5, "{} vs {ll}", m.loglik);
}

/// y = 2x + 1 + 0.3·ε on x in [−1, 1].
fn linear_data(n: usize) -> (Tensor, Tensor) {
    let mut rng = StdRng::seed_from_u64(3);
    let xs: Vec<f32> = (0..n).map(|i| -1.0 + 2.0 * i as f32 / (n - 1) as f32).collect();
    let ys: Vec<f32> =
        xs.iter().map(|&x| 2.0 * x + 1.0 + 0.3 * Distribution::<f32>::sample(&StandardNormal, &mut rng)).collect();
    (Tensor::from_vec(xs, &[n, 1]).unwrap(), Tensor::from_vec(ys, &[n, 1]).unwrap())
}

#[test]
fn gaussian_member_learns_mean_and_noise() {
    // A linear network's maximum-likelihood fit: slope 2, intercept 1, std 0.3.
    let (x, y) = linear_data(2000);
    let net = Linear::new(1, 2, true, &mut StdRng::seed_from_u64(1)).unwrap();
    let member = GaussianRegressor::new(net, 1).unwrap().standardized_on(&x, &y).unwrap();
    let config = TrainConfig { epochs: 40, batch_size: 100, lr: 3e-2, lr_final: 1e-3, ..TrainConfig::default() };
    member.fit(&x, &y, &config, |_| {}).unwrap();
    let probe = Tensor::from_vec(vec![-0.5, 0.0, 0.5], &[3, 1]).unwrap();
    let p = member.predict(&probe, 1, 0).unwrap();
    for (got, want) in p.mean.iter().zip([0.0f32, 1.0, 2.0]) {
        assert!((got - want).abs() < 0.05, "mean {got} for {want}");
    }
    for s in &p.std {
        assert!((s - 0.3).abs() < 0.3 * 0.08, "std {s}");
    }
}

fn small_ensemble(members: usize) -> DeepEnsemble<GaussianRegressor<Sequential>> {
    let (x, y) = linear_data(200);
    DeepEnsemble::regression(members, 1, 7, |seed| {
        let r = &mut StdRng::seed_from_u64(seed);
        Ok(Sequential::new().push(Linear::new(1, 8, true, r)?).push(ReLU).push(Linear::new(8, 2, true, r)?))
    })
    .unwrap()
    .standardized_on(&x, &y)
    .unwrap()
}

#[test]
fn ensemble_same_bits_on_one_and_two_threads() {
    let (x, y) = linear_data(200);
    let config = TrainConfig { epochs: 3, batch_size: 32, seed: 5, ..TrainConfig::default() };
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| {
            let ens = small_ensemble(3);
            ens.fit(&x, &y, &config).unwrap();
            let p = ens.predict(&x, 1, 0).unwrap();
            (p.mean, p.std)
        })
    };
    let one = run(1);
    assert_eq!(one, run(2));
    // The members differ (different seeds), so the spread is not zero.
    let ens = small_ensemble(2);
    ens.fit(&x, &y, &config).unwrap();
    assert!(ens.predict(&x, 1, 0).unwrap().epistemic_std.iter().any(|&s| s > 0.0));
    assert_ne!(member_seed(5, 0), member_seed(5, 1));
}

#[test]
fn ensemble_classifier_averages_members() {
    let xs: Vec<f32> = (0..64).map(|i| i as f32 / 8.0 - 4.0).collect();
    let labels: Vec<usize> = xs.iter().map(|&x| usize::from(x > 0.0)).collect();
    let x = Tensor::from_vec(xs, &[64, 1]).unwrap();
    let ens = DeepEnsemble::classification(3, vec!["neg".into(), "pos".into()], 1, |seed| {
        let r = &mut StdRng::seed_from_u64(seed);
        Ok(Sequential::new().push(Linear::new(1, 8, true, r)?).push(ReLU).push(Linear::new(8, 2, true, r)?))
    })
    .unwrap();
    ens.fit(&x, &labels, &TrainConfig { epochs: 20, batch_size: 16, ..TrainConfig::default() }).unwrap();
    let p = ens.predict(&x, 1, 0).unwrap();
    assert_eq!(p.draws.len(), 3);
    let first = ens.members()[0].predict(&x, 1, member_seed(0, 0)).unwrap().probs;
    assert_eq!(p.draws[0], first);
    for j in 0..p.probs.len() {
        let avg = p.draws.iter().map(|d| d[j]).sum::<f32>() / 3.0;
        assert!((p.probs[j] - avg).abs() < 1e-6);
    }
    assert!(ens.evaluate(&x, &labels, 1, 0).unwrap().accuracy > 0.9);
}

#[test]
fn ensemble_errors() {
    let empty: Result<DeepEnsemble<GaussianRegressor<Linear>>, _> = DeepEnsemble::new(vec![]);
    assert!(matches!(empty, Err(Error::InvalidArgument { .. })));
    let zero = DeepEnsemble::regression(0, 1, 0, |_| Ok(Sequential::new()));
    assert!(matches!(zero, Err(Error::InvalidArgument { .. })));
    let ens = small_ensemble(2);
    let (x, y) = linear_data(200);
    let ck = TrainConfig {
        checkpoint: Some(blitz_layers::CheckpointEvery::new("/nonexistent/e.safetensors", 1)),
        ..TrainConfig::default()
    };
    assert!(matches!(ens.fit(&x, &y, &ck), Err(Error::InvalidArgument { .. })));
    // A network with the wrong output width.
    let bad = GaussianRegressor::new(Sequential::new(), 1).unwrap();
    assert!(matches!(
        bad.fit(&x, &y, &TrainConfig { epochs: 1, ..TrainConfig::default() }, |_| {}),
        Err(Error::ShapeMismatch { .. })
    ));
}

// ---- Last-layer Laplace ----

#[test]
fn laplace_on_a_linear_model_is_the_exact_posterior() {
    // Bayesian linear regression, 2 outputs with noise 0.5 and 0.8, prior
    // N(0, I/λ): the posterior of output o's weights (with bias) has
    // precision Φ̃ᵀΦ̃/σₒ² + λI and mean Σ Φ̃ᵀyₒ/σₒ²; the layer is set to that
    // mean, and Laplace must give the same predictive variance.
    let (n, d, k, lambda) = (40usize, 3usize, 2usize, 2.0f64);
    let sigma = [0.5f64, 0.8];
    let xs = random_inputs(n, d, 4);
    let mut rng = StdRng::seed_from_u64(5);
    let phi: Vec<Vec<f64>> =
        xs.chunks(d).map(|r| r.iter().map(|&v| v as f64).chain(std::iter::once(1.0)).collect()).collect();
    let ys: Vec<Vec<f64>> = phi
        .iter()
        .map(|p| {
            (0..k)
                .map(|o| {
                    let e: f64 = StandardNormal.sample(&mut rng);
                    p[0] - 2.0 * p[1] * (o as f64) + 0.5 * p[2] + 1.0 + sigma[o] * e
                })
                .collect()
        })
        .collect();
    let w = d + 1;
    let mut covs = Vec::new();
    let mut weight = vec![0f32; k * d];
    let mut bias = vec![0f32; k];
    for o in 0..k {
        let mut prec = vec![0f64; w * w];
        let mut rhs = vec![0f64; w];
        for (p, y) in phi.iter().zip(&ys) {
            for i in 0..w {
                rhs[i] += p[i] * y[o] / (sigma[o] * sigma[o]);
                for j in 0..w {
                    prec[i * w + j] += p[i] * p[j] / (sigma[o] * sigma[o]);
                }
            }
        }
        for i in 0..w {
            prec[i * w + i] += lambda;
        }
        let cov = inverse(&prec, w);
        let mean: Vec<f64> = (0..w).map(|i| (0..w).map(|j| cov[i * w + j] * rhs[j]).sum()).collect();
        for i in 0..d {
            weight[o * d + i] = mean[i] as f32;
        }
        bias[o] = mean[d] as f32;
        covs.push(cov);
    }
    let test_x = random_inputs(5, d, 6);
    for structure in [LaplaceStructure::Full, LaplaceStructure::Kron] {
        let lin = Linear::new(d, k, true, &mut StdRng::seed_from_u64(0)).unwrap();
        lin.weight().set(Tensor::from_vec(weight.clone(), &[k, d]).unwrap()).unwrap();
        lin.bias().unwrap().set(Tensor::from_vec(bias.clone(), &[k]).unwrap()).unwrap();
        let reg = Regressor::new(Sequential::new().push(lin), k).unwrap();
        reg.log_noise.set(Tensor::from_vec(sigma.iter().map(|s| s.ln() as f32).collect(), &[k]).unwrap()).unwrap();
        let mut la = LastLayerLaplace::from_regressor(reg).unwrap();
        let chosen = la.fit(&Tensor::from_vec(xs.clone(), &[n, d]).unwrap(), structure).unwrap();
        // The marginal-likelihood choice is a maximum of the evidence.
        let at = la.log_evidence_terms(chosen).unwrap();
        assert!(at >= la.log_evidence_terms(chosen * 1.05).unwrap());
        assert!(at >= la.log_evidence_terms(chosen / 1.05).unwrap());
        la.set_prior_precision(lambda).unwrap();
        let p = la.predict_regression(&Tensor::from_vec(test_x.clone(), &[5, d]).unwrap()).unwrap();
        for (i, row) in test_x.chunks(d).enumerate() {
            let t: Vec<f64> = row.iter().map(|&v| v as f64).chain(std::iter::once(1.0)).collect();
            for o in 0..k {
                let want_var = quad(&t, &covs[o]);
                let got = p.epistemic_std[i * k + o] as f64;
                assert!(
                    (got * got - want_var).abs() < 1e-4 * want_var.max(1e-3),
                    "{structure:?}: {got}² vs {want_var}"
                );
                let want_total = (want_var + sigma[o] * sigma[o]).sqrt();
                assert!((p.std[i * k + o] as f64 - want_total).abs() < 1e-4);
            }
        }
    }
}

/// The summed cross-entropy of logits Wφ̃ over rows of features, θ output by output.
fn summed_ce(theta: &[f64], phi: &[Vec<f64>], labels: &[usize], k: usize) -> f64 {
    let w = phi[0].len();
    phi.iter()
        .zip(labels)
        .map(|(p, &y)| {
            let f: Vec<f64> = (0..k).map(|o| (0..w).map(|i| theta[o * w + i] * p[i]).sum()).collect();
            let m = f.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            m + f.iter().map(|v| (v - m).exp()).sum::<f64>().ln() - f[y]
        })
        .sum()
}

#[test]
fn laplace_classification_uses_the_exact_hessian() {
    // The logits are linear in the last layer's weights, so the GGN of the
    // cross-entropy is its Hessian: the logit covariance must equal
    // J (∇²L + λI)⁻¹ Jᵀ with ∇²L from finite differences.
    let (n, d, k, lambda) = (30usize, 2usize, 3usize, 0.7f64);
    let xs = random_inputs(n, d, 8);
    let hidden = Linear::new(d, d, true, &mut StdRng::seed_from_u64(1)).unwrap();
    let last = Linear::new(d, k, true, &mut StdRng::seed_from_u64(2)).unwrap();
    let (wv, bv) = (last.weight().value().to_vec().unwrap(), last.bias().unwrap().value().to_vec().unwrap());
    // Features: tanh(hidden(x)), computed here by hand.
    let (hw, hb) = (hidden.weight().value().to_vec().unwrap(), hidden.bias().unwrap().value().to_vec().unwrap());
    let feats = |x: &[f32]| -> Vec<f64> {
        (0..d)
            .map(|j| ((0..d).map(|i| hw[j * d + i] as f64 * x[i] as f64).sum::<f64>() + hb[j] as f64).tanh())
            .chain(std::iter::once(1.0))
            .collect()
    };
    let phi: Vec<Vec<f64>> = xs.chunks(d).map(feats).collect();
    let labels: Vec<usize> = (0..n).map(|i| i % k).collect();
    let w = d + 1;
    let mut theta = Vec::new();
    for o in 0..k {
        theta.extend((0..d).map(|i| wv[o * d + i] as f64));
        theta.push(bv[o] as f64);
    }
    let p = k * w;
    let h = 1e-4;
    let mut hess = vec![0f64; p * p];
    for a in 0..p {
        for b in 0..p {
            let at = |da: f64, db: f64| {
                let mut t = theta.clone();
                t[a] += da;
                t[b] += db;
                summed_ce(&t, &phi, &labels, k)
            };
            hess[a * p + b] = (at(h, h) - at(h, -h) - at(-h, h) + at(-h, -h)) / (4.0 * h * h);
        }
    }
    for a in 0..p {
        hess[a * p + a] += lambda;
    }
    let sigma = inverse(&hess, p);
    let net = Sequential::new().push(hidden).push(blitz_layers::Tanh).push(last);
    let clf = Classifier::new(net, vec!["a".into(), "b".into(), "c".into()]).unwrap();
    let mut la = LastLayerLaplace::from_classifier(clf).unwrap();
    let x = Tensor::from_vec(xs.clone(), &[n, d]).unwrap();
    la.fit(&x, LaplaceStructure::Full).unwrap();
    la.set_prior_precision(lambda).unwrap();
    let probe = random_inputs(4, d, 9);
    let got = la.predict_probit(&Tensor::from_vec(probe.clone(), &[4, d]).unwrap()).unwrap();
    for (i, row) in probe.chunks(d).enumerate() {
        let t = feats(row);
        let f: Vec<f64> = (0..k).map(|o| (0..w).map(|j| theta[o * w + j] * t[j]).sum()).collect();
        // Var of logit o: J_o Σ J_oᵀ with J_o selecting output o's block.
        let scaled: Vec<f64> = (0..k)
            .map(|o| {
                let mut j = vec![0f64; p];
                j[o * w..(o + 1) * w].copy_from_slice(&t);
                f[o] / (1.0 + std::f64::consts::PI / 8.0 * quad(&j, &sigma)).sqrt()
            })
            .collect();
        let m = scaled.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let e: Vec<f64> = scaled.iter().map(|v| (v - m).exp()).collect();
        let s: f64 = e.iter().sum();
        for o in 0..k {
            assert!((got.probs[i * k + o] as f64 - e[o] / s).abs() < 1e-4, "row {i} class {o}");
        }
    }
    // Sampling agrees with the probit approximation roughly, and repeats from its seed.
    let px = Tensor::from_vec(probe, &[4, d]).unwrap();
    let sampled = la.predict_sampled(&px, 4000, 3).unwrap();
    for (a, b) in sampled.probs.iter().zip(&got.probs) {
        assert!((a - b).abs() < 0.05, "sampled {a} vs probit {b}");
    }
    assert_eq!(sampled.probs, la.predict_sampled(&px, 4000, 3).unwrap().probs);
    // Kronecker factors, (ΣH) ⊗ (Σφ̃φ̃ᵀ)/n, are the GGN itself when every
    // example has the same features (and so the same output Hessian):
    // then Kron and Full must give the same predictive.
    let same: Vec<f32> = xs[..d].iter().copied().cycle().take(n * d).collect();
    let xsame = Tensor::from_vec(same, &[n, d]).unwrap();
    let probit_with = |la: &mut LastLayerLaplace, s: LaplaceStructure| {
        la.fit(&xsame, s).unwrap();
        la.set_prior_precision(lambda).unwrap();
        la.predict_probit(&px).unwrap().probs
    };
    let (full, kron) = (probit_with(&mut la, LaplaceStructure::Full), probit_with(&mut la, LaplaceStructure::Kron));
    for (a, b) in kron.iter().zip(&full) {
        assert!((a - b).abs() < 1e-6, "kron {a} vs full {b}");
    }
    // And they differ on examples of different features (K-FAC is an approximation there).
    la.fit(&x, LaplaceStructure::Kron).unwrap();
    la.set_prior_precision(lambda).unwrap();
    let kron = la.predict_probit(&px).unwrap();
    assert!(kron.probs.iter().zip(&got.probs).any(|(a, b)| (a - b).abs() > 1e-6));
}

#[test]
fn laplace_errors() {
    let r = &mut StdRng::seed_from_u64(0);
    let names = vec!["a".to_string(), "b".to_string()];
    let no_last_linear = Sequential::new().push(Linear::new(2, 2, true, r).unwrap()).push(ReLU);
    let c = Classifier::new(no_last_linear, names.clone()).unwrap();
    assert!(matches!(LastLayerLaplace::from_classifier(c), Err(Error::InvalidArgument { .. })));
    let empty = Classifier::new(Sequential::new(), names.clone()).unwrap();
    assert!(matches!(LastLayerLaplace::from_classifier(empty), Err(Error::InvalidArgument { .. })));
    let c = Classifier::new(Sequential::new().push(Linear::new(2, 2, true, r).unwrap()), names).unwrap();
    let mut la = LastLayerLaplace::from_classifier(c).unwrap();
    let x = Tensor::from_vec(vec![0.5, -0.5, 1.0, 2.0], &[2, 2]).unwrap();
    assert!(matches!(la.predict_probit(&x), Err(Error::InvalidArgument { .. })));
    la.fit(&x, LaplaceStructure::Auto).unwrap();
    assert!(matches!(la.predict_regression(&x), Err(Error::InvalidArgument { .. })));
    assert!(matches!(la.predict_sampled(&x, 0, 0), Err(Error::InvalidArgument { .. })));
    assert!(matches!(la.set_prior_precision(0.0), Err(Error::InvalidArgument { .. })));
    let wrong = Tensor::from_vec(vec![0.5; 3], &[1, 3]).unwrap();
    assert!(la.predict_probit(&wrong).is_err());
    // Back to the whole network, same parameters.
    assert_eq!(params(&la.into_network()).len(), 2);
}

#[test]
fn last_layer_laplace_and_ensembles_refuse_mismatched_widths() {
    let mut rng = StdRng::seed_from_u64(3);
    // A classifier named with four classes on a two-logit network.
    let net = Sequential::new().push(Linear::new(2, 2, true, &mut rng).unwrap());
    let names = (0..4).map(|c| c.to_string()).collect();
    let c = Classifier::new(net, names).unwrap();
    assert!(matches!(LastLayerLaplace::from_classifier(c), Err(Error::ShapeMismatch { .. })));
    let r = Regressor::new(Sequential::new().push(Linear::new(2, 3, true, &mut rng).unwrap()), 1).unwrap();
    assert!(matches!(LastLayerLaplace::from_regressor(r), Err(Error::ShapeMismatch { .. })));
    // Ensemble members of different widths.
    let member = |k: usize, rng: &mut StdRng| {
        GaussianRegressor::new(Sequential::new().push(Linear::new(2, 2 * k, true, rng).unwrap()), k).unwrap()
    };
    let ens = DeepEnsemble::new(vec![member(2, &mut rng), member(1, &mut rng)]).unwrap();
    let x = Tensor::zeros(&[3, 2]).unwrap();
    assert!(matches!(ens.predict(&x, 1, 0), Err(Error::InvalidArgument { .. })));
    // A full GGN too large to hold is refused before it is built (41·101 > 4000 weights).
    let wide = Regressor::new(Sequential::new().push(Linear::new(100, 41, true, &mut rng).unwrap()), 41).unwrap();
    let mut la = LastLayerLaplace::from_regressor(wide).unwrap();
    let e = la.fit(&Tensor::zeros(&[2, 100]).unwrap(), LaplaceStructure::Full).unwrap_err();
    assert!(e.to_string().contains("use Kron"), "{e}");
}
