//! The uncertainty methods beyond Bayes by Backprop, each against a case
//! with a known answer.

use blitz_autograd::{Error, Tensor};
use blitz_layers::metrics::ood_auroc;
use blitz_layers::uncertainty::{McDropout, TemperatureScaling};
use blitz_layers::{Dropout, Module, Sequential, VariationalEstimator};
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
    let out = scaled.predict_draws(&x, 1, 0).unwrap();
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

#[test]
fn mc_dropout_zero_draws_is_an_error() {
    let net = McDropout::new(Sequential::new().push(Dropout::new(0.5).unwrap()));
    let x = Tensor::from_vec(vec![1.0; 4], &[1, 4]).unwrap();
    assert!(matches!(net.predict(&x, 0, 0), Err(Error::InvalidArgument { .. })));
    assert!(matches!(net.predict_mean_std(&x, 0, 0), Err(Error::InvalidArgument { .. })));
}
