//! Split-conformal calibration: the finite-sample guarantee, measured over
//! many seeded splits of synthetic sets whose noise is known, with models
//! that are wrong on purpose (a homoscedastic std on heteroscedastic data,
//! over-confident probabilities); and its refusals.

use blitz_layers::uncertainty::{coverage_and_width, set_coverage_and_size, ConformalClassifier, ConformalRegressor};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, StandardNormal};

/// Mean and Monte Carlo standard error of `values`.
fn mean_se(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let m = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / (n - 1.0);
    (m, (var / n).sqrt())
}

/// y = 1 + 2x + (0.3 + |x|)·ε with x ~ U(−2, 2): noise that grows with |x|.
fn regression_rows(rng: &mut StdRng, n: usize) -> (Vec<f32>, Vec<f32>) {
    (0..n)
        .map(|_| {
            let x: f32 = rng.random_range(-2.0..2.0);
            let e: f32 = StandardNormal.sample(rng);
            (x, 1.0 + 2.0 * x + (0.3 + x.abs()) * e)
        })
        .unzip()
}

/// A least-squares line on (x, y) and its residual std. The model below
/// is right about the mean and wrong about the noise: it takes it as
/// constant, and as 0.6 of what it is (over-confident).
fn fit_line(x: &[f32], y: &[f32]) -> (f32, f32, f32) {
    let n = x.len() as f32;
    let (mx, my) = (x.iter().sum::<f32>() / n, y.iter().sum::<f32>() / n);
    let sxy: f32 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let sxx: f32 = x.iter().map(|a| (a - mx) * (a - mx)).sum();
    let slope = sxy / sxx;
    let icpt = my - slope * mx;
    let sd = (x.iter().zip(y).map(|(a, b)| (b - icpt - slope * a).powi(2)).sum::<f32>() / (n - 2.0)).sqrt();
    (icpt, slope, sd)
}

#[test]
fn regression_intervals_cover_at_the_nominal_level_over_many_splits() {
    let (splits, train, cal, test, alpha) = (400, 100, 99, 200, 0.1f32);
    let mut rng = StdRng::seed_from_u64(20261207);
    let (mut conformal, mut naive) = (Vec::new(), Vec::new());
    for _ in 0..splits {
        let (xt, yt) = regression_rows(&mut rng, train);
        let (icpt, slope, sd) = fit_line(&xt, &yt);
        let predict = |x: &[f32]| -> (Vec<f32>, Vec<f32>) {
            (x.iter().map(|a| icpt + slope * a).collect(), vec![0.6 * sd; x.len()])
        };
        let (xc, yc) = regression_rows(&mut rng, cal);
        let (mc, sc) = predict(&xc);
        let c = ConformalRegressor::calibrate(&mc, &sc, &yc, 1, alpha).unwrap();
        assert!(c.is_bounded());
        let (xs, ys) = regression_rows(&mut rng, test);
        let (ms, ss) = predict(&xs);
        let (lo, hi) = c.intervals(&ms, &ss).unwrap();
        conformal.push(f64::from(coverage_and_width(&lo, &hi, &ys).unwrap().0));
        // The model's own ±1.645σ (a 90% Gaussian interval) for comparison.
        let lo: Vec<f32> = ms.iter().zip(&ss).map(|(m, s)| m - 1.645 * s).collect();
        let hi: Vec<f32> = ms.iter().zip(&ss).map(|(m, s)| m + 1.645 * s).collect();
        naive.push(f64::from(coverage_and_width(&lo, &hi, &ys).unwrap().0));
    }
    let (m, se) = mean_se(&conformal);
    // With n = 99 and continuous scores, coverage is exactly
    // ⌈(n+1)(1−α)⌉/(n+1) = 0.90 in expectation, and at most 1−α + 1/(n+1).
    let nominal = 1.0 - f64::from(alpha);
    assert!(m >= nominal - 3.0 * se, "coverage {m:.4} ± {se:.4} below {nominal}");
    assert!(m <= nominal + 1.0 / (cal as f64 + 1.0) + 3.0 * se, "coverage {m:.4} ± {se:.4}: far above nominal");
    // The test can fail: the model's own interval misses the level by far
    // more than the error (its std is wrong), and conformal repairs it.
    let (mn, sen) = mean_se(&naive);
    eprintln!(
        "regression: conformal coverage {m:.4} ± {se:.4}, the model's ±1.645σ {mn:.4} ± {sen:.4} ({splits} splits)"
    );
    assert!((mn - nominal).abs() > 10.0 * sen.max(se), "the naive interval {mn:.4} should miss {nominal}");
}

#[test]
fn regression_intervals_keep_the_models_adaptivity() {
    let mut rng = StdRng::seed_from_u64(3);
    let (x, y) = regression_rows(&mut rng, 2000);
    let mean: Vec<f32> = x.iter().map(|a| 1.0 + 2.0 * a).collect();
    let std: Vec<f32> = x.iter().map(|a| 0.3 + a.abs()).collect();
    let c = ConformalRegressor::calibrate(&mean[..1000], &std[..1000], &y[..1000], 1, 0.1).unwrap();
    let (lo, hi) = c.intervals(&mean[1000..], &std[1000..]).unwrap();
    // Widths follow σ: the row with σ twice another's gets twice the width.
    for i in 0..1000 {
        let w = hi[i] - lo[i];
        assert!((w / std[1000 + i] - 2.0 * c.quantiles()[0] as f32).abs() < 1e-3);
    }
    // With the true σ, q̂ is near the Gaussian 95% point 1.645.
    assert!((c.quantiles()[0] - 1.645).abs() < 0.15, "q̂ = {}", c.quantiles()[0]);
}

/// Softmax of `z`.
fn softmax(z: &[f32]) -> Vec<f32> {
    let m = z.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
    let e: Vec<f32> = z.iter().map(|v| (v - m).exp()).collect();
    let s: f32 = e.iter().sum();
    e.iter().map(|v| v / s).collect()
}

/// Three classes whose true probabilities are softmax(x·w); the model says
/// softmax(2.5·x·w), far too sure.
fn class_rows(rng: &mut StdRng, n: usize) -> (Vec<f32>, Vec<usize>) {
    let w = [1.0f32, 0.0, -1.0];
    let mut probs = Vec::with_capacity(n * 3);
    let mut labels = Vec::with_capacity(n);
    for _ in 0..n {
        let x: f32 = StandardNormal.sample(rng);
        let truth = softmax(&w.map(|wi| x * wi));
        let u: f32 = rng.random();
        labels.push(if u < truth[0] {
            0
        } else if u < truth[0] + truth[1] {
            1
        } else {
            2
        });
        probs.extend(softmax(&w.map(|wi| 2.5 * x * wi)));
    }
    (probs, labels)
}

#[test]
fn prediction_sets_cover_at_the_nominal_level_over_many_splits() {
    let (splits, cal, test, alpha) = (400, 199, 200, 0.1f32);
    let mut rng = StdRng::seed_from_u64(11);
    let (mut coverage, mut sizes, mut top1) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..splits {
        let (pc, lc) = class_rows(&mut rng, cal);
        let c = ConformalClassifier::calibrate(&pc, 3, &lc, alpha).unwrap();
        let (ps, ls) = class_rows(&mut rng, test);
        let sets = c.sets(&ps).unwrap();
        let (cov, size) = set_coverage_and_size(&sets, &ls).unwrap();
        coverage.push(f64::from(cov));
        sizes.push(f64::from(size));
        let top: Vec<Vec<usize>> = sets.iter().map(|s| vec![s[0]]).collect();
        top1.push(f64::from(set_coverage_and_size(&top, &ls).unwrap().0));
    }
    let (m, se) = mean_se(&coverage);
    let nominal = 1.0 - f64::from(alpha);
    assert!(m >= nominal - 3.0 * se, "set coverage {m:.4} ± {se:.4} below {nominal}");
    // Sets are informative (not every class) and larger than the top class,
    // which alone covers far less than 90% here.
    let (size, _) = mean_se(&sizes);
    let (t1, _) = mean_se(&top1);
    eprintln!("classification: set coverage {m:.4} ± {se:.4}, mean size {size:.3}, top-1 coverage {t1:.4}");
    assert!(size < 2.9 && size > 1.0, "mean set size {size}");
    assert!(t1 < nominal - 0.1, "top-1 coverage {t1} should be well short of {nominal}");
}

#[test]
fn too_few_calibration_rows_give_the_whole_line_and_every_class() {
    // n = 8 at α = 0.1: ⌈9 · 0.9⌉ = 9 > 8.
    let c = ConformalRegressor::calibrate(&[0.0; 8], &[1.0; 8], &[0.5; 8], 1, 0.1).unwrap();
    assert!(!c.is_bounded());
    let (lo, hi) = c.intervals(&[1.0, 2.0], &[0.0, 1.0]).unwrap();
    assert!(lo.iter().all(|v| *v == f32::NEG_INFINITY) && hi.iter().all(|v| *v == f32::INFINITY));
    let k = ConformalClassifier::calibrate(&[0.5, 0.3, 0.2], 3, &[2], 0.1).unwrap();
    assert_eq!(k.sets(&[0.1, 0.7, 0.2]).unwrap(), vec![vec![1, 2, 0]]);
    // n = 9 is enough: q̂ is the largest score.
    let scores = [0.5f32, 1.5, 0.25, 3.0, 1.0, 2.0, 0.75, 1.25, 0.1];
    let c = ConformalRegressor::calibrate(&[0.0; 9], &[1.0; 9], &scores, 1, 0.1).unwrap();
    assert_eq!(c.quantiles(), &[3.0]);
}

#[test]
fn bad_inputs_are_typed_errors() {
    let ok = [0.0f32; 4];
    for alpha in [0.0, 1.0, -0.1, f32::NAN, 2.0] {
        let e = ConformalRegressor::calibrate(&ok, &ok, &ok, 1, alpha).unwrap_err();
        assert!(e.to_string().contains("alpha"), "{e}");
    }
    let e = ConformalRegressor::calibrate(&ok, &ok[..3], &ok, 1, 0.1).unwrap_err();
    assert!(e.to_string().contains("std has 3 values, expected 4"), "{e}");
    let e = ConformalRegressor::calibrate(&ok, &ok, &ok, 3, 0.1).unwrap_err();
    assert!(e.to_string().contains("whole rows of 3 outputs"), "{e}");
    let e = ConformalRegressor::calibrate(&[], &[], &[], 1, 0.1).unwrap_err();
    assert!(e.to_string().contains("at least one row"), "{e}");
    let e = ConformalRegressor::calibrate(&ok, &[1.0, f32::NAN, 1.0, 1.0], &ok, 1, 0.1).unwrap_err();
    assert!(e.to_string().contains("calibration stds (element 1)"), "{e}");
    let e = ConformalRegressor::calibrate(&ok, &[1.0, -1.0, 1.0, 1.0], &ok, 1, 0.1).unwrap_err();
    assert!(e.to_string().contains("negative"), "{e}");
    let c = ConformalRegressor::calibrate(&ok, &[1.0; 4], &ok, 2, 0.1).unwrap();
    assert!(c.intervals(&[0.0; 3], &[1.0; 3]).unwrap_err().to_string().contains("whole rows of 2"));
    let e = ConformalClassifier::calibrate(&[0.5, 0.5], 2, &[2], 0.1).unwrap_err();
    assert!(e.to_string().contains("label 2 of row 0"), "{e}");
    let e = ConformalClassifier::calibrate(&[0.5, 0.5, 0.2], 2, &[0], 0.1).unwrap_err();
    assert!(e.to_string().contains("whole rows of 2 classes"), "{e}");
    let e = ConformalClassifier::calibrate(&[0.5, f32::INFINITY], 2, &[0], 0.1).unwrap_err();
    assert!(e.to_string().contains("non-finite"), "{e}");
    assert!(set_coverage_and_size(&[], &[]).is_err() && coverage_and_width(&[], &[], &[]).is_err());
}
