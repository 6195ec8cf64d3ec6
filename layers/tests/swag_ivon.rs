//! SWAG and IVON, each against a case with a known answer, and their bits
//! on one and two threads.

#[path = "support/linalg.rs"]
mod linalg;

use blitz_autograd::{Context, Error, Tensor};
use blitz_layers::train::TrainConfig;
use blitz_layers::uncertainty::{Ivon, IvonConfig, Swag, SwagConfig};
use blitz_layers::Classifier;
use blitz_layers::{params, Linear, Module, ReLU, Sequential, VariationalEstimator};
use linalg::{inverse, random_inputs};
use rand::rngs::StdRng;
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};

// ---- SWAG ----

/// A "network" that is one point w ∈ R², whatever the input.
struct Point {
    w: blitz_autograd::Param,
}

impl Module for Point {
    fn forward(&self, x: &blitz_autograd::Var) -> blitz_autograd::Result<blitz_autograd::Var> {
        Ok(x.tape().param(&self.w))
    }

    fn visit_params(&self, prefix: &str, f: &mut dyn FnMut(&str, &blitz_autograd::Param)) {
        f(&blitz_layers::module::join_name(prefix, "w"), &self.w);
    }
}

#[test]
fn swag_moments_on_a_quadratic() {
    // Full-batch gradient descent on ½Σⱼ aⱼ(wⱼ − cⱼ)² moves each coordinate
    // as wⱼ(t) = cⱼ + (1 − η aⱼ)ᵗ (wⱼ(0) − cⱼ): SWAG's moments of the
    // snapshots t = 1..T are known, and its draws must have mean θ̄ and
    // covariance ½Σ_diag + DDᵀ/(2(K − 1)).
    let (a, c, w0, eta, epochs, rank) = ([1.0f64, 3.0], [1.0f64, -2.0], [3.0f64, 1.0], 0.1f64, 10usize, 5usize);
    let net = Point { w: blitz_autograd::Param::new("w", Tensor::from_vec(vec![3.0, 1.0], &[2]).unwrap()) };
    let x = Tensor::zeros(&[4, 1]).unwrap();
    let loss = |out: &blitz_autograd::Var, _: &[usize]| {
        let t = out.tape();
        let cv = t.constant(Tensor::from_vec(c.iter().map(|&v| v as f32).collect(), &[2]).unwrap());
        let av = t.constant(Tensor::from_vec(a.iter().map(|&v| v as f32).collect(), &[2]).unwrap());
        out.sub(&cv)?.square()?.mul(&av)?.sum()?.mul_scalar(0.5)
    };
    let config = SwagConfig { epochs, batch_size: 4, lr: eta as f32, momentum: 0.0, rank, ..SwagConfig::default() };
    let swag = Swag::collect(&net, &x, loss, &config).unwrap();
    assert_eq!((swag.snapshots(), swag.rank()), (epochs, rank));
    let iterate = |j: usize, t: usize| c[j] + (1.0 - eta * a[j]).powi(t as i32) * (w0[j] - c[j]);
    let (mean, var) = (swag.mean(), swag.diag_variance());
    for j in 0..2 {
        let m = (1..=epochs).map(|t| iterate(j, t)).sum::<f64>() / epochs as f64;
        let v = (1..=epochs).map(|t| iterate(j, t).powi(2)).sum::<f64>() / epochs as f64 - m * m;
        assert!((mean[j] as f64 - m).abs() < 1e-5, "mean {j}: {} vs {m}", mean[j]);
        assert!((var[j] as f64 - v).abs() < 1e-4 * v.max(1e-2), "variance {j}: {} vs {v}", var[j]);
        // The newest deviation is θ_T − θ̄_T.
        let dev = swag.deviations();
        assert!((dev[rank - 1][j] as f64 - (iterate(j, epochs) - m)).abs() < 1e-5);
    }
    // Draws: mean θ̄, covariance ½Σ_diag + DDᵀ/(2(K − 1)).
    let dev = swag.deviations();
    let cov = |i: usize, j: usize| {
        let low: f64 = dev.iter().map(|d| d[i] as f64 * d[j] as f64).sum::<f64>() / (2.0 * (rank as f64 - 1.0));
        low + if i == j { 0.5 * var[i] as f64 } else { 0.0 }
    };
    let s = 40_000usize;
    let draws: Vec<Vec<f32>> = (0..s).map(|i| swag.sample(i as u64)).collect();
    let emp_mean: Vec<f64> = (0..2).map(|j| draws.iter().map(|d| d[j] as f64).sum::<f64>() / s as f64).collect();
    for j in 0..2 {
        let se = (cov(j, j) / s as f64).sqrt();
        assert!((emp_mean[j] - mean[j] as f64).abs() < 4.0 * se, "draw mean {j}");
    }
    for (i, j) in [(0, 0), (1, 1), (0, 1)] {
        let e = draws.iter().map(|d| (d[i] as f64 - emp_mean[i]) * (d[j] as f64 - emp_mean[j])).sum::<f64>() / s as f64;
        let want = cov(i, j);
        let scale = (cov(i, i) * cov(j, j)).sqrt();
        assert!((e - want).abs() < 0.03 * scale, "cov ({i},{j}): {e} vs {want}");
    }
}

#[test]
fn swag_diagonal_draws_have_the_diagonal_covariance_and_rank_one_is_refused() {
    let net = Point { w: blitz_autograd::Param::new("w", Tensor::from_vec(vec![3.0, 1.0], &[2]).unwrap()) };
    let x = Tensor::zeros(&[4, 1]).unwrap();
    let loss = |out: &blitz_autograd::Var, _: &[usize]| out.square()?.sum()?.mul_scalar(0.5);
    let config = SwagConfig { epochs: 8, batch_size: 4, lr: 0.1, momentum: 0.0, rank: 0, ..SwagConfig::default() };
    let swag = Swag::collect(&net, &x, loss, &config).unwrap();
    assert_eq!(swag.rank(), 0);
    let (mean, var) = (swag.mean(), swag.diag_variance());
    let s = 40_000usize;
    let draws: Vec<Vec<f32>> = (0..s).map(|i| swag.sample(i as u64)).collect();
    for j in 0..2 {
        let m = draws.iter().map(|d| d[j] as f64).sum::<f64>() / s as f64;
        let v = draws.iter().map(|d| (d[j] as f64 - m).powi(2)).sum::<f64>() / s as f64;
        assert!((m - mean[j] as f64).abs() < 4.0 * (var[j] as f64 / s as f64).sqrt(), "draw mean {j}");
        // SWAG-diagonal is N(θ̄, Σ_diag): the whole diagonal variance, not half of it.
        assert!((v - var[j] as f64).abs() < 0.03 * var[j] as f64, "draw variance {j}: {v} vs {}", var[j]);
    }
    let one = SwagConfig { rank: 1, ..config };
    assert!(matches!(Swag::collect(&net, &x, loss, &one), Err(Error::InvalidArgument { .. })));
}

#[test]
fn swag_on_a_classifier() {
    let xs: Vec<f32> = (0..64).map(|i| i as f32 / 8.0 - 4.0).collect();
    let labels: Vec<usize> = xs.iter().map(|&x| usize::from(x > 0.0)).collect();
    let x = Tensor::from_vec(xs, &[64, 1]).unwrap();
    let r = &mut StdRng::seed_from_u64(2);
    let net = Sequential::new()
        .push(Linear::new(1, 8, true, r).unwrap())
        .push(ReLU)
        .push(Linear::new(8, 2, true, r).unwrap());
    let clf = Classifier::new(net, vec!["neg".into(), "pos".into()]).unwrap();
    clf.fit(&x, &labels, &TrainConfig { epochs: 20, batch_size: 16, ..TrainConfig::default() }, |_| {}).unwrap();
    let config = SwagConfig { epochs: 6, batch_size: 16, rank: 4, ..SwagConfig::default() };
    let swag = Swag::collect_classifier(&clf, &x, &labels, &config).unwrap();
    let p = swag.predict_classifier(&clf, &x, 8, 1).unwrap();
    assert_eq!(p.draws.len(), 8);
    // The draws differ (the SWAG covariance is not zero), the mean is
    // their average, and the MI is H(mean) − mean H(draw), row by row.
    assert!(p.draws.iter().any(|d| d != &p.draws[0]), "every SWAG draw is the same");
    let ent = |q: &[f32]| -> f64 { q.iter().filter(|&&v| v > 0.0).map(|&v| -(v as f64) * (v as f64).ln()).sum() };
    for row in 0..64 {
        let cell = |d: &Vec<f32>| d[row * 2..row * 2 + 2].to_vec();
        let mean: Vec<f64> = (0..2).map(|c| p.draws.iter().map(|d| d[row * 2 + c] as f64).sum::<f64>() / 8.0).collect();
        for c in 0..2 {
            assert!((p.probs[row * 2 + c] as f64 - mean[c]).abs() < 1e-6, "mean prob row {row}");
        }
        let m32: Vec<f32> = mean.iter().map(|&v| v as f32).collect();
        let mi = ent(&m32) - p.draws.iter().map(|d| ent(&cell(d))).sum::<f64>() / 8.0;
        assert!(
            (p.mutual_information[row] as f64 - mi).abs() < 1e-5,
            "MI row {row}: {} vs {mi}",
            p.mutual_information[row]
        );
    }
    assert!(p.mutual_information.iter().any(|&m| m > 1e-4), "no epistemic spread");
    assert!(blitz_layers::metrics::accuracy(&p.probs, 2, &labels).unwrap() > 0.9);
    // Left at θ̄; same seed, same prediction.
    let now: Vec<f32> = params(&clf.net).iter().flat_map(|(_, p)| p.value().to_vec().unwrap()).collect();
    assert_eq!(now, swag.mean());
    assert_eq!(p.probs, swag.predict_classifier(&clf, &x, 8, 1).unwrap().probs);
    // Errors.
    assert!(matches!(swag.predict_classifier(&clf, &x, 0, 1), Err(Error::InvalidArgument { .. })));
    let short = SwagConfig { epochs: 1, ..SwagConfig::default() };
    assert!(matches!(Swag::collect_classifier(&clf, &x, &labels, &short), Err(Error::InvalidArgument { .. })));
    let other = Sequential::new().push(Linear::new(1, 2, true, r).unwrap());
    assert!(matches!(swag.load(&other, &swag.mean()), Err(Error::InvalidArgument { .. })));
}

// ---- IVON ----

#[test]
fn ivon_finds_the_mean_field_posterior_of_a_conjugate_regression() {
    // y = Φ̃w + 0.5ε, prior N(0, I): the exact posterior has precision
    // Λ = Φ̃ᵀΦ̃/σ² + I and mean Λ⁻¹Φ̃ᵀy/σ²; the best mean-field Gaussian has
    // the same mean and precisions Λⱼⱼ. IVON with λ = n and δ = 1/n must
    // reach it (up to the noise of its one-draw estimates).
    let (n, d, sigma) = (200usize, 2usize, 0.5f64);
    let xs = random_inputs(n, d, 12);
    let mut rng = StdRng::seed_from_u64(13);
    let phi: Vec<Vec<f64>> =
        xs.chunks(d).map(|r| r.iter().map(|&v| v as f64).chain(std::iter::once(1.0)).collect()).collect();
    let ys: Vec<f64> = phi
        .iter()
        .map(|p| 1.5 * p[0] - 0.7 * p[1] + 0.3 + sigma * Distribution::<f64>::sample(&StandardNormal, &mut rng))
        .collect();
    let w = d + 1;
    let mut prec = vec![0f64; w * w];
    let mut rhs = vec![0f64; w];
    for (p, y) in phi.iter().zip(&ys) {
        for i in 0..w {
            rhs[i] += p[i] * y / (sigma * sigma);
            for j in 0..w {
                prec[i * w + j] += p[i] * p[j] / (sigma * sigma);
            }
        }
    }
    for i in 0..w {
        prec[i * w + i] += 1.0;
    }
    let cov = inverse(&prec, w);
    let exact_mean: Vec<f64> = (0..w).map(|i| (0..w).map(|j| cov[i * w + j] * rhs[j]).sum()).collect();

    let net = Linear::new(d, 1, true, &mut StdRng::seed_from_u64(0)).unwrap();
    let x = Tensor::from_vec(xs, &[n, d]).unwrap();
    let y = Tensor::from_vec(ys.iter().map(|&v| v as f32).collect(), &[n, 1]).unwrap();
    let config = IvonConfig {
        epochs: 6000,
        batch_size: n,
        lr: 0.05,
        hess_init: 1.0,
        beta2: 0.999,
        weight_decay: 1.0 / n as f32,
        ..IvonConfig::default()
    };
    let loss = |out: &blitz_autograd::Var, batch: &[usize]| {
        let yb = out.tape().constant(blitz_layers::data::take_rows(&y, batch)?);
        out.sub(&yb)?.square()?.mean()?.mul_scalar((0.5 / (sigma * sigma)) as f32)
    };
    let ivon = Ivon::fit(&net, &x, loss, &config).unwrap();
    // Parameters in order: weight [1, d], bias [1].
    let m: Vec<f64> = ivon.posterior_mean().iter().flatten().map(|&v| v as f64).collect();
    let s: Vec<f64> = ivon.posterior_std().iter().flatten().map(|&v| v as f64).collect();
    for j in 0..w {
        let mf_std = 1.0 / prec[j * w + j].sqrt();
        assert!((m[j] - exact_mean[j]).abs() < 0.4 * mf_std, "mean {j}: {} vs {}", m[j], exact_mean[j]);
        assert!((s[j] / mf_std - 1.0).abs() < 0.08, "std {j}: {} vs {mf_std}", s[j]);
    }
    // The network is left at the mean; prediction by draws repeats from its seed.
    assert_eq!(net.weight().value().to_vec().unwrap(), ivon.posterior_mean()[0]);
    let probe = Tensor::from_vec(vec![0.5, -0.5], &[1, 2]).unwrap();
    let run =
        || ivon.predict_with(3, 4, |s| net.predict_draws(&Context::default(), &probe, 1, s)?[0].to_vec()).unwrap();
    let a = run();
    assert_eq!(a, run());
    assert_ne!(a[0], a[1]);
}

#[test]
fn ivon_errors() {
    let net = Linear::new(1, 1, true, &mut StdRng::seed_from_u64(0)).unwrap();
    for bad in [
        IvonConfig { mc_samples: 0, ..IvonConfig::default() },
        IvonConfig { weight_decay: 0.0, ..IvonConfig::default() },
        IvonConfig { beta2: 1.0, ..IvonConfig::default() },
        IvonConfig { ess: Some(-1.0), ..IvonConfig::default() },
        IvonConfig { epochs: 0, ..IvonConfig::default() },
    ] {
        assert!(matches!(Ivon::new(&net, 10, &bad), Err(Error::InvalidArgument { .. })), "{bad:?}");
    }
    assert!(matches!(Ivon::new(&net, 0, &IvonConfig::default()), Err(Error::Empty { .. })));
    let ivon = Ivon::new(&net, 10, &IvonConfig::default()).unwrap();
    assert!(matches!(ivon.predict_with(0, 0, |_| Ok(())), Err(Error::InvalidArgument { .. })));
}

#[test]
fn swag_and_ivon_same_bits_on_one_and_two_threads() {
    let xs: Vec<f32> = (0..48).map(|i| i as f32 / 6.0 - 4.0).collect();
    let labels: Vec<usize> = xs.iter().map(|&x| usize::from(x > 0.0)).collect();
    let x = Tensor::from_vec(xs, &[48, 1]).unwrap();
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| {
            let r = &mut StdRng::seed_from_u64(3);
            let net = Sequential::new()
                .push(Linear::new(1, 8, true, r).unwrap())
                .push(ReLU)
                .push(Linear::new(8, 2, true, r).unwrap());
            let clf = Classifier::new(net, vec!["neg".into(), "pos".into()]).unwrap();
            let ivon = Ivon::fit_classifier(
                &clf,
                &x,
                &labels,
                &IvonConfig { epochs: 3, batch_size: 16, ..IvonConfig::default() },
            )
            .unwrap();
            let p_ivon = ivon.predict_classifier(&clf, &x, 4, 1).unwrap().probs;
            let swag = Swag::collect_classifier(
                &clf,
                &x,
                &labels,
                &SwagConfig { epochs: 3, batch_size: 16, ..SwagConfig::default() },
            )
            .unwrap();
            (p_ivon, swag.mean(), swag.predict_classifier(&clf, &x, 4, 2).unwrap().probs)
        })
    };
    assert_eq!(run(1), run(2));
}
