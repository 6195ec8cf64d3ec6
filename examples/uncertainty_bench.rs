//! The uncertainty methods side by side on one engine, with one set of
//! metrics: Bayes by Backprop, MC dropout, a deep ensemble, SWAG,
//! last-layer Laplace, IVON and temperature scaling, on Boston housing
//! (the UCI protocol of Hernández-Lobato & Adams 2015: 20 random 90/10
//! splits with seeds 0–19, inputs and target standardised on each split's
//! training rows, one hidden layer of 50 units) and on MNIST with LeNet
//! (the shipped 8000/2000 digits: 7000 to train, the last 1000 training
//! digits held out for the temperature, the 2000 test digits; out of
//! distribution: 1000 images of uniform noise and the first 1000 test
//! digits rotated by 90°).
//!
//! cargo run --release --example uncertainty_bench -- [--json] [--quick] [--only boston|mnist] [--short-epochs N]
//!
//! `--quick` runs 3 Boston splits and shorter training; `--json` adds one
//! JSON line per (data set, method).

#[path = "common/mnist_models.rs"]
mod mnist_models;

use blitz::layers::data::idx::Mnist;
use blitz::layers::metrics::{
    accuracy, brier_score, class_nll, expected_calibration_error, gaussian_mixture_log_likelihood_hetero, ood_auroc,
    rmse,
};
use blitz::prelude::*;
use mnist_models::{bayesian_lenet, digit_names, out_of_distribution, MNIST_MEAN, MNIST_STD};
use std::time::Instant;

struct Args {
    json: bool,
    quick: bool,
    only: Option<String>,
    /// Boston epochs of the maximum-likelihood networks (default 40).
    short_epochs: Option<usize>,
}

fn parse_args() -> std::result::Result<Args, String> {
    let mut a = Args { json: false, quick: false, only: None, short_epochs: None };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "--json" => a.json = true,
            "--quick" => a.quick = true,
            "--only" => a.only = Some(it.next().ok_or("--only needs boston or mnist")?),
            "--short-epochs" => {
                let v = it.next().ok_or("--short-epochs needs a value")?;
                a.short_epochs = Some(v.parse().map_err(|_| format!("--short-epochs {v:?}: not a whole number"))?);
            }
            other => {
                return Err(format!(
                    "unknown argument {other}; use --json, --quick, --only boston|mnist, --short-epochs N"
                ))
            }
        }
    }
    Ok(a)
}

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let args = parse_args().map_err(|e| Error::invalid("arguments", e))?;
    if args.only.as_deref() != Some("mnist") {
        boston(&args)?;
    }
    if args.only.as_deref() != Some("boston") {
        mnist(&args)?;
    }
    Ok(())
}

/// A number for JSON: `null` when not finite.
fn num(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.4}")
    } else {
        "null".into()
    }
}

fn ms_since(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}

fn mean_se(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    let var = if v.len() > 1 { v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0) } else { 0.0 };
    (m, (var / n).sqrt())
}

// ---------------------------------------------------------------- Boston

/// One split's result of one method.
#[derive(Default, Clone)]
struct RegRun {
    rmse: f64,
    loglik: f64,
    train_ms: f64,
    predict_ms: f64,
}

fn mlp(inputs: usize, outputs: usize, dropout: Option<f32>, seed: u64) -> Result<Sequential> {
    let r = &mut StdRng::seed_from_u64(seed);
    let net = Sequential::new().push(Linear::new(inputs, 50, true, r)?).push(ReLU);
    let net = match dropout {
        Some(p) => net.push(Dropout::new(p)?),
        None => net,
    };
    Ok(net.push_named("out", Linear::new(50, outputs, true, r)?))
}

fn boston(args: &Args) -> Result<()> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/data/boston_house_prices.csv");
    let data = read_delimited(path, &ReadOptions::default().with_target(ColumnRef::name("MEDV")))?;
    let splits: u64 = if args.quick { 3 } else { 20 };
    // Epochs per method as each method's own protocol has it: 40 for the
    // maximum-likelihood networks (Hernández-Lobato & Adams; Lakshminarayanan
    // et al.), which overfit Boston's 455 rows when trained longer; 400 for
    // MC dropout (Gal & Ghahramani) and Bayes by Backprop, whose noise
    // regularises.
    let (short, long) = if args.quick { (40, 100) } else { (40, 400) };
    let short = args.short_epochs.unwrap_or(short);
    let det = TrainConfig {
        epochs: short,
        batch_size: 32,
        lr: 3e-3,
        lr_final: 3e-4,
        sample_nbr: 1,
        ..TrainConfig::default()
    };
    let dropout = TrainConfig { epochs: long, ..det.clone() };
    let bbb = TrainConfig { epochs: long, sample_nbr: 3, ..det.clone() };
    let draws = 100;
    let methods = ["deterministic", "bayes_by_backprop", "mc_dropout", "deep_ensemble_5", "last_layer_laplace"];
    let method_epochs = [short, long, long, short, short];
    let mut runs: Vec<Vec<RegRun>> = vec![Vec::new(); methods.len()];
    println!(
        "Boston housing, UCI protocol: {splits} random 90/10 splits (seeds 0–{}), 13-50-1 networks, {short} or {long} epochs",
        splits - 1
    );
    for seed in 0..splits {
        let (train, test) = Split::Fraction { test: 0.1, seed }.apply(&data)?;
        let (x, y) = (train.x.to_tensor()?, train.values()?.to_tensor()?);
        let (xt, yt) = (test.x.to_tensor()?, test.values()?.to_tensor()?);
        let yv = yt.to_vec()?;
        let cfg = |c: &TrainConfig| TrainConfig { seed, ..c.clone() };
        let d = x.shape()[1];

        // Deterministic network with a learned noise level (also Laplace's starting point).
        let t = Instant::now();
        let model = Regressor::new(mlp(d, 1, None, seed)?, 1)?.standardized_on(&x, &y)?;
        model.fit(&x, &y, &cfg(&det), |_| {})?;
        let det_ms = ms_since(t);
        let t = Instant::now();
        let r = model.evaluate(&xt, &yt, 1, seed)?;
        runs[0].push(RegRun {
            rmse: r.rmse as f64,
            loglik: r.loglik as f64,
            train_ms: det_ms,
            predict_ms: ms_since(t),
        });

        // Last-layer Laplace on that network.
        let t = Instant::now();
        let mut la = LastLayerLaplace::from_regressor(model)?;
        la.fit(&x, LaplaceStructure::Auto)?;
        let la_ms = det_ms + ms_since(t);
        let t = Instant::now();
        let p = la.predict_regression(&xt)?;
        let ll = gaussian_mixture_log_likelihood_hetero(
            std::slice::from_ref(&p.mean),
            std::slice::from_ref(&p.std),
            &yv,
            1,
        )?;
        runs[4].push(RegRun {
            rmse: rmse(&p.mean, &yv)? as f64,
            loglik: ll as f64,
            train_ms: la_ms,
            predict_ms: ms_since(t),
        });

        // Bayes by Backprop.
        let t = Instant::now();
        let model = Regressor::new(MlpSpec::new(d, vec![50], 1).build(seed)?, 1)?.standardized_on(&x, &y)?;
        model.fit(&x, &y, &cfg(&bbb), |_| {})?;
        let ms = ms_since(t);
        let t = Instant::now();
        let r = model.evaluate(&xt, &yt, draws, seed)?;
        runs[1].push(RegRun { rmse: r.rmse as f64, loglik: r.loglik as f64, train_ms: ms, predict_ms: ms_since(t) });

        // MC dropout (p = 0.05, 100 passes).
        let t = Instant::now();
        let model = Regressor::new(McDropout::new(mlp(d, 1, Some(0.05), seed)?), 1)?.standardized_on(&x, &y)?;
        model.fit(&x, &y, &cfg(&dropout), |_| {})?;
        let ms = ms_since(t);
        let t = Instant::now();
        let r = model.evaluate(&xt, &yt, draws, seed)?;
        runs[2].push(RegRun { rmse: r.rmse as f64, loglik: r.loglik as f64, train_ms: ms, predict_ms: ms_since(t) });

        // Deep ensemble of 5 Gaussian members.
        let t = Instant::now();
        let ens = DeepEnsemble::regression(5, 1, seed, |s| mlp(d, 2, None, s))?.standardized_on(&x, &y)?;
        ens.fit(&x, &y, &cfg(&det))?;
        let ms = ms_since(t);
        let t = Instant::now();
        let r = ens.evaluate(&xt, &yt, 1, seed)?;
        runs[3].push(RegRun { rmse: r.rmse as f64, loglik: r.loglik as f64, train_ms: ms, predict_ms: ms_since(t) });
    }
    let det_train = mean_se(&runs[0].iter().map(|r| r.train_ms).collect::<Vec<_>>()).0;
    println!("{:<20} {:>16} {:>18} {:>10} {:>10}", "method", "RMSE (k$)", "log-lik", "train ms", "pred ms");
    for ((m, rs), epochs) in methods.iter().zip(&runs).zip(method_epochs) {
        let col = |f: fn(&RegRun) -> f64| mean_se(&rs.iter().map(f).collect::<Vec<_>>());
        let ((rm, rse), (lm, lse)) = (col(|r| r.rmse), col(|r| r.loglik));
        let (tr, pr) = (col(|r| r.train_ms).0, col(|r| r.predict_ms).0);
        println!("{m:<20} {rm:>8.3} ± {rse:<5.3} {lm:>9.3} ± {lse:<5.3} {tr:>10.1} {pr:>10.2}");
        if args.json {
            println!(
                "{{\"dataset\":\"boston_uci\",\"method\":\"{m}\",\"splits\":{splits},\"split_seeds\":\"0-{}\",\"epochs\":{epochs},\"rmse\":{},\"rmse_se\":{},\"loglik\":{},\"loglik_se\":{},\"train_ms\":{},\"predict_ms\":{},\"train_ms_vs_deterministic\":{}}}",
                splits - 1,
                num(rm),
                num(rse),
                num(lm),
                num(lse),
                num(tr),
                num(pr),
                num(tr / det_train)
            );
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- MNIST

/// LeNet as [`bayesian_lenet`] but deterministic (torch-style
/// initialisation), with dropout after the two hidden linear layers when
/// `dropout` is given; the logits come from the `Linear` named `fc3`.
fn lenet(seed: u64, dropout: Option<f32>) -> Result<Sequential> {
    let r = &mut StdRng::seed_from_u64(seed);
    let drop = |net: Sequential| -> Result<Sequential> {
        Ok(match dropout {
            Some(p) => net.push(Dropout::new(p)?),
            None => net,
        })
    };
    let net = Sequential::new()
        .push(Standardize::new(MNIST_MEAN, MNIST_STD)?)
        .push_named("conv1", Conv2d::new(1, 6, (5, 5), r)?)
        .push(ReLU)
        .push(MaxPool2d::new(2))
        .push_named("conv2", Conv2d::new(6, 16, (5, 5), r)?)
        .push(ReLU)
        .push(MaxPool2d::new(2))
        .push(Flatten)
        .push_named("fc1", Linear::new(256, 120, true, r)?)
        .push(ReLU);
    let net = drop(net)?.push_named("fc2", Linear::new(120, 84, true, r)?).push(ReLU);
    Ok(drop(net)?.push_named("fc3", Linear::new(84, 10, true, r)?))
}

/// Test, noise and rotated predictions of one method, with its costs.
struct ClassRun {
    test: ClassPrediction,
    noise: ClassPrediction,
    rotated: ClassPrediction,
    train_ms: f64,
    predict_ms: f64,
}

fn mnist(args: &Args) -> Result<()> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/data/mnist10k");
    let all = Mnist::load(dir, "train")?;
    let test = Mnist::load(dir, "test")?;
    let n_train = all.len() - 1000;
    let img = |v: &[f32]| Tensor::from_vec(v.to_vec(), &[v.len() / 784, 1, 28, 28]);
    let x = img(&all.images[..n_train * 784])?;
    let labels = all.labels[..n_train].to_vec();
    let x_val = img(&all.images[n_train * 784..])?;
    let val_labels = all.labels[n_train..].to_vec();
    let xt = img(&test.images)?;
    let (noise, rotated) = out_of_distribution(&test.images, 1000, 0x4015E);
    let (xn, xr) = (img(&noise)?, img(&rotated)?);
    let epochs = if args.quick { 1 } else { 3 };
    let draws = 20;
    let det = TrainConfig { epochs, batch_size: 64, lr: 1e-3, lr_final: 1e-3, sample_nbr: 1, ..TrainConfig::default() };
    println!(
        "MNIST LeNet: {n_train} train / 1000 held out / {} test digits; OOD: 1000 noise, 1000 rotated; {epochs} epochs",
        test.len()
    );
    let names = digit_names();
    let k = 10;
    let mut rows: Vec<(&str, ClassRun)> = Vec::new();
    let predict3 = |f: &dyn Fn(&Tensor) -> Result<ClassPrediction>| -> Result<(ClassPrediction, f64, ClassPrediction, ClassPrediction)> {
        let t = Instant::now();
        let p = f(&xt)?;
        let ms = ms_since(t);
        Ok((p, ms, f(&xn)?, f(&xr)?))
    };

    // Deterministic LeNet.
    let t = Instant::now();
    let clf = Classifier::new(lenet(0, None)?, names.clone())?;
    clf.fit(&x, &labels, &det, |_| {})?;
    let det_ms = ms_since(t);
    let (p, ms, pn, pr) = predict3(&|x| clf.predict(x, 1, 0))?;
    rows.push(("deterministic", ClassRun { test: p, noise: pn, rotated: pr, train_ms: det_ms, predict_ms: ms }));

    // Temperature scaling on the held-out digits.
    let t = Instant::now();
    let logits = |x: &Tensor| -> Result<Vec<f32>> { clf.net.predict_draws(x, 1, 0)?[0].to_vec() };
    let temp = TemperatureScaling::fit(&logits(&x_val)?, k, &val_labels)?;
    let ts_ms = det_ms + ms_since(t);
    println!("fitted temperature {:.3}", temp.temperature());
    let (p, ms, pn, pr) = predict3(&|x| ClassPrediction::from_draws(k, vec![temp.probs(&logits(x)?, k)?]))?;
    rows.push((
        "deterministic_temperature",
        ClassRun { test: p, noise: pn, rotated: pr, train_ms: ts_ms, predict_ms: ms },
    ));

    // Last-layer Laplace (Kronecker-factored: 850 weights), probit and sampled.
    let t = Instant::now();
    let mut la = LastLayerLaplace::from_classifier(clf)?;
    la.fit(&x, LaplaceStructure::Auto)?;
    let la_ms = det_ms + ms_since(t);
    println!("last-layer Laplace prior precision {:.3}", la.prior_precision());
    let (p, ms, pn, pr) = predict3(&|x| la.predict_probit(x))?;
    rows.push((
        "last_layer_laplace_probit",
        ClassRun { test: p, noise: pn, rotated: pr, train_ms: la_ms, predict_ms: ms },
    ));
    let (p, ms, pn, pr) = predict3(&|x| la.predict_sampled(x, draws, 1))?;
    rows.push((
        "last_layer_laplace_sampled",
        ClassRun { test: p, noise: pn, rotated: pr, train_ms: la_ms, predict_ms: ms },
    ));

    // SWAG from the trained network: more epochs of SGD.
    let clf = Classifier::new(la.into_network(), names.clone())?;
    let t = Instant::now();
    let swag_cfg = SwagConfig { epochs: epochs.max(2), batch_size: 64, lr: 0.01, rank: 10, ..SwagConfig::default() };
    let swag = Swag::collect_classifier(&clf, &x, &labels, &swag_cfg)?;
    let swag_ms = det_ms + ms_since(t);
    let (p, ms, pn, pr) = predict3(&|x| swag.predict_classifier(&clf, x, draws, 2))?;
    rows.push(("swag", ClassRun { test: p, noise: pn, rotated: pr, train_ms: swag_ms, predict_ms: ms }));

    // MC dropout.
    let t = Instant::now();
    let clf = Classifier::new(McDropout::new(lenet(0, Some(0.25))?), names.clone())?;
    clf.fit(&x, &labels, &det, |_| {})?;
    let ms_train = ms_since(t);
    let (p, ms, pn, pr) = predict3(&|x| clf.predict(x, draws, 3))?;
    rows.push(("mc_dropout", ClassRun { test: p, noise: pn, rotated: pr, train_ms: ms_train, predict_ms: ms }));

    // Deep ensemble of 5.
    let t = Instant::now();
    let ens = DeepEnsemble::classification(5, names.clone(), 0, |s| lenet(s, None))?;
    ens.fit(&x, &labels, &det)?;
    let ms_train = ms_since(t);
    let (p, ms, pn, pr) = predict3(&|x| ens.predict(x, 1, 4))?;
    rows.push(("deep_ensemble_5", ClassRun { test: p, noise: pn, rotated: pr, train_ms: ms_train, predict_ms: ms }));

    // IVON.
    let t = Instant::now();
    let clf = Classifier::new(lenet(0, None)?, names.clone())?;
    let ivon_cfg = IvonConfig { epochs, batch_size: 64, lr: 0.1, hess_init: 0.1, ..IvonConfig::default() };
    let ivon = Ivon::fit_classifier(&clf, &x, &labels, &ivon_cfg)?;
    let ms_train = ms_since(t);
    let (p, ms, pn, pr) = predict3(&|x| ivon.predict_classifier(&clf, x, draws, 5))?;
    rows.push(("ivon", ClassRun { test: p, noise: pn, rotated: pr, train_ms: ms_train, predict_ms: ms }));

    // Bayes by Backprop (the mnist_lenet example's model and settings).
    let t = Instant::now();
    let clf = Classifier::new(bayesian_lenet(&mut StdRng::seed_from_u64(0))?, names.clone())?;
    clf.fit(&x, &labels, &TrainConfig { sample_nbr: 3, ..det.clone() }, |_| {})?;
    let ms_train = ms_since(t);
    let (p, ms, pn, pr) = predict3(&|x| clf.predict(x, draws, 6))?;
    rows.push(("bayes_by_backprop", ClassRun { test: p, noise: pn, rotated: pr, train_ms: ms_train, predict_ms: ms }));

    println!(
        "{:<28} {:>7} {:>7} {:>7} {:>7} {:>9} {:>9} {:>9} {:>9} {:>9} {:>8}",
        "method", "acc", "NLL", "Brier", "ECE", "noise H", "noise MI", "rot H", "rot MI", "train ms", "pred ms"
    );
    let tl = &test.labels;
    for (m, r) in &rows {
        let acc = accuracy(&r.test.probs, k, tl)?;
        let nll = class_nll(&r.test.probs, k, tl)?;
        let brier = brier_score(&r.test.probs, k, tl)?;
        let ece = expected_calibration_error(&r.test.probs, k, tl, 15)?;
        let nh = ood_auroc(&r.test.entropy, &r.noise.entropy)?;
        // One draw has no mutual information (what is left is rounding).
        let single = r.test.draws.len() == 1;
        let by_mi = |out: &ClassPrediction| -> Result<f32> {
            if single {
                Ok(f32::NAN)
            } else {
                ood_auroc(&r.test.mutual_information, &out.mutual_information)
            }
        };
        let nmi = by_mi(&r.noise)?;
        let rh = ood_auroc(&r.test.entropy, &r.rotated.entropy)?;
        let rmi = by_mi(&r.rotated)?;
        println!(
            "{m:<28} {acc:>7.4} {nll:>7.4} {brier:>7.4} {ece:>7.4} {nh:>9.3} {nmi:>9.3} {rh:>9.3} {rmi:>9.3} {:>9.0} {:>8.0}",
            r.train_ms, r.predict_ms
        );
        if args.json {
            println!(
                "{{\"dataset\":\"mnist_lenet\",\"method\":\"{m}\",\"epochs\":{epochs},\"accuracy\":{},\"nll\":{},\"brier\":{},\"ece\":{},\"auroc_noise_entropy\":{},\"auroc_noise_mi\":{},\"auroc_rotated_entropy\":{},\"auroc_rotated_mi\":{},\"train_ms\":{},\"predict_ms\":{},\"train_ms_vs_deterministic\":{}}}",
                num(acc as f64),
                num(nll as f64),
                num(brier as f64),
                num(ece as f64),
                num(nh as f64),
                num(nmi as f64),
                num(rh as f64),
                num(rmi as f64),
                num(r.train_ms),
                num(r.predict_ms),
                num(r.train_ms / det_ms)
            );
        }
    }
    Ok(())
}
