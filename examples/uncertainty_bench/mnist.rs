//! The MNIST section: LeNet and each method on the shipped digits, with the
//! two out-of-distribution sets.

use crate::cli::Args;
use crate::json::num;
use crate::mnist_models::{bayesian_lenet, digit_names, out_of_distribution, MNIST_MEAN, MNIST_STD};
use crate::paths::MNIST_DIR;
use crate::timing::ms_since;
use blitz::layers::data::idx::Mnist;
use blitz::layers::metrics::{accuracy, brier_score, class_nll, expected_calibration_error, ood_auroc};
use blitz::prelude::*;
use std::time::Instant;

/// LeNet as [`bayesian_lenet`] but deterministic (torch-style
/// initialisation), with dropout after the two hidden linear layers when
/// `dropout` is given; the logits come from the `Linear` named `fc3`.
pub fn lenet(seed: u64, dropout: Option<f32>) -> Result<Sequential> {
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

/// IVON's settings for LeNet on the MNIST digits, for `epochs` passes.
///
/// Chosen on the 1000 held-out digits (validation NLL, never the test
/// digits) from lr ∈ {0.1, 0.2}, h₀ ∈ {0.3, 1}, δ ∈ {10⁻⁴, 10⁻³},
/// β₂ ∈ {0.999, 0.9999}, 6 epochs: lr 0.2, h₀ 1 (the authors' default),
/// δ 10⁻³, β₂ 0.9999. λ is the training-set size.
pub fn mnist_ivon_config(epochs: usize) -> IvonConfig {
    IvonConfig {
        epochs,
        batch_size: 64,
        lr: 0.2,
        hess_init: 1.0,
        beta2: 0.9999,
        weight_decay: 1e-3,
        ..IvonConfig::default()
    }
}

/// Test, noise and rotated predictions of one method, with its costs.
struct ClassRun {
    test: ClassPrediction,
    noise: ClassPrediction,
    rotated: ClassPrediction,
    train_ms: f64,
    predict_ms: f64,
}

/// The shipped MNIST digits as the bench uses them: the first 7000 training
/// digits, the last 1000 held out (temperature scaling), the 2000 test digits,
/// and the two out-of-distribution sets made from the test digits (1000
/// uniform-noise images, 1000 rotated digits).
pub struct MnistSets {
    /// The first 7000 training digits.
    pub x: Tensor,
    /// Their labels.
    pub labels: Vec<usize>,
    /// The last 1000 training digits, held out.
    pub x_val: Tensor,
    /// Their labels.
    pub val_labels: Vec<usize>,
    /// The 2000 test digits.
    pub xt: Tensor,
    /// Their labels.
    pub test_labels: Vec<usize>,
    /// 1000 images of uniform noise.
    pub xn: Tensor,
    /// The first 1000 test digits rotated by 90°.
    pub xr: Tensor,
}

impl MnistSets {
    /// Reads the shipped digits and makes the two out-of-distribution sets.
    pub fn load() -> Result<MnistSets> {
        let (all, test) = (Mnist::load(MNIST_DIR, "train")?, Mnist::load(MNIST_DIR, "test")?);
        let n_train = all.len() - 1000;
        let (noise, rotated) = out_of_distribution(&test.images, 1000, 0x4015E);
        Ok(MnistSets {
            x: images(&all.images[..n_train * 784])?,
            labels: all.labels[..n_train].to_vec(),
            x_val: images(&all.images[n_train * 784..])?,
            val_labels: all.labels[n_train..].to_vec(),
            xt: images(&test.images)?,
            test_labels: test.labels,
            xn: images(&noise)?,
            xr: images(&rotated)?,
        })
    }

    /// Training digits.
    pub fn n_train(&self) -> usize {
        self.labels.len()
    }
}

/// Flat 28×28 images as an `[N, 1, 28, 28]` tensor.
pub fn images(v: &[f32]) -> Result<Tensor> {
    Tensor::from_vec(v.to_vec(), &[v.len() / 784, 1, 28, 28])
}

/// SWAG as the bench runs it: the deterministic network pre-trained for the
/// epochs SWAG's collection leaves, then `swag_epochs` of constant-rate SGD
/// collecting the moments.
pub fn fit_swag(d: &MnistSets, det: &TrainConfig, swag_epochs: usize) -> Result<(Classifier<Sequential>, Swag)> {
    let clf = Classifier::new(lenet(0, None)?, digit_names())?;
    clf.fit(&d.x, &d.labels, &TrainConfig { epochs: det.epochs - swag_epochs, ..det.clone() }, |_| {})?;
    let swag = Swag::collect_classifier(&clf, &d.x, &d.labels, &swag_config(swag_epochs))?;
    Ok((clf, swag))
}

/// The bench's SWAG collection: `epochs` of SGD at 0.01 on batches of 64, rank 10.
pub fn swag_config(epochs: usize) -> SwagConfig {
    SwagConfig { epochs, batch_size: 64, lr: 0.01, rank: 10, ..SwagConfig::default() }
}

/// Runs the MNIST section and prints its table (and JSON lines).
pub fn mnist(args: &Args) -> Result<()> {
    let d = MnistSets::load()?;
    let (x, labels, x_val, val_labels) = (&d.x, &d.labels, &d.x_val, &d.val_labels);
    let (xt, xn, xr) = (&d.xt, &d.xn, &d.xr);
    let n_train = d.n_train();
    // Every method gets the same number of passes over the training digits:
    // SWAG's are split between pre-training and collecting.
    let (epochs, swag_epochs) = if args.quick { (3, 2) } else { (6, 3) };
    let draws = 20;
    let det = TrainConfig { epochs, batch_size: 64, lr: 1e-3, lr_final: 1e-3, sample_nbr: 1, ..TrainConfig::default() };
    println!(
        "MNIST LeNet: {n_train} train / {} held out / {} test digits; OOD: 1000 noise, 1000 rotated; {epochs} epochs",
        val_labels.len(),
        d.test_labels.len()
    );
    let names = digit_names();
    let k = 10;
    let mut rows: Vec<(&str, ClassRun)> = Vec::new();
    let predict3 = |f: &dyn Fn(&Tensor) -> Result<ClassPrediction>| -> Result<(ClassPrediction, f64, ClassPrediction, ClassPrediction)> {
        let t = Instant::now();
        let p = f(xt)?;
        let ms = ms_since(t);
        Ok((p, ms, f(xn)?, f(xr)?))
    };

    // Deterministic LeNet.
    let t = Instant::now();
    let clf = Classifier::new(lenet(0, None)?, names.clone())?;
    clf.fit(x, labels, &det, |_| {})?;
    let det_ms = ms_since(t);
    let (p, ms, pn, pr) = predict3(&|x| clf.predict(x, 1, 0))?;
    rows.push(("deterministic", ClassRun { test: p, noise: pn, rotated: pr, train_ms: det_ms, predict_ms: ms }));

    // Temperature scaling on the held-out digits.
    let t = Instant::now();
    let logits = |x: &Tensor| -> Result<Vec<f32>> { clf.net.predict_draws(&clf.context, x, 1, 0)?[0].to_vec() };
    let temp = TemperatureScaling::fit(&logits(x_val)?, k, val_labels)?;
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
    la.fit(x, LaplaceStructure::Auto)?;
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

    // SWAG.
    let t = Instant::now();
    let (clf, swag) = fit_swag(&d, &det, swag_epochs)?;
    let swag_ms = ms_since(t);
    let (p, ms, pn, pr) = predict3(&|x| swag.predict_classifier(&clf, x, draws, 2))?;
    rows.push(("swag", ClassRun { test: p, noise: pn, rotated: pr, train_ms: swag_ms, predict_ms: ms }));

    // MC dropout.
    let t = Instant::now();
    let clf = Classifier::new(McDropout::new(lenet(0, Some(0.25))?), names.clone())?;
    clf.fit(x, labels, &det, |_| {})?;
    let ms_train = ms_since(t);
    let (p, ms, pn, pr) = predict3(&|x| clf.predict(x, draws, 3))?;
    rows.push(("mc_dropout", ClassRun { test: p, noise: pn, rotated: pr, train_ms: ms_train, predict_ms: ms }));

    // Deep ensemble of 5.
    let t = Instant::now();
    let ens = DeepEnsemble::classification(5, names.clone(), 0, |s| lenet(s, None))?;
    ens.fit(x, labels, &det)?;
    let ms_train = ms_since(t);
    let (p, ms, pn, pr) = predict3(&|x| ens.predict(x, 1, 4))?;
    rows.push(("deep_ensemble_5", ClassRun { test: p, noise: pn, rotated: pr, train_ms: ms_train, predict_ms: ms }));

    // The ensemble with one temperature on the log of its mean probabilities
    // (softmax(ln p̄ / T) ∝ p̄^(1/T)), fitted on the held-out digits; the
    // entropy is the calibrated mean's, the MI (members' disagreement) and
    // the draws stay the ensemble's.
    let t = Instant::now();
    let log_mean =
        |p: &ClassPrediction| -> Vec<f32> { p.probs.iter().map(|&q| q.max(f32::MIN_POSITIVE).ln()).collect() };
    let ens_temp = TemperatureScaling::fit(&log_mean(&ens.predict(x_val, 1, 4)?), k, val_labels)?;
    let ens_ts_ms = ms_train + ms_since(t);
    println!("ensemble temperature {:.3}", ens_temp.temperature());
    let calibrated = |x: &Tensor| -> Result<ClassPrediction> {
        let p = ens.predict(x, 1, 4)?;
        let probs = ens_temp.probs(&log_mean(&p), k)?;
        // p̄^(1/T) keeps each row's order (same predicted class); the entropy is the calibrated one's.
        let entropy =
            probs.chunks(k).map(|r| r.iter().filter(|&&q| q > 0.0).map(|&q| -q * q.ln()).sum::<f32>()).collect();
        Ok(ClassPrediction { probs, entropy, ..p })
    };
    let (p, ms, pn, pr) = predict3(&calibrated)?;
    rows.push((
        "deep_ensemble_5_temperature",
        ClassRun { test: p, noise: pn, rotated: pr, train_ms: ens_ts_ms, predict_ms: ms },
    ));

    // IVON.
    let t = Instant::now();
    let clf = Classifier::new(lenet(0, None)?, names.clone())?;
    let ivon_cfg = mnist_ivon_config(epochs);
    let ivon = Ivon::fit_classifier(&clf, x, labels, &ivon_cfg)?;
    let ms_train = ms_since(t);
    let (p, ms, pn, pr) = predict3(&|x| ivon.predict_classifier(&clf, x, draws, 5))?;
    rows.push(("ivon", ClassRun { test: p, noise: pn, rotated: pr, train_ms: ms_train, predict_ms: ms }));

    // Bayes by Backprop (the mnist_lenet example's model and settings).
    let t = Instant::now();
    let clf = Classifier::new(bayesian_lenet(&mut StdRng::seed_from_u64(0))?, names.clone())?;
    clf.fit(x, labels, &TrainConfig { sample_nbr: 3, ..det.clone() }, |_| {})?;
    let ms_train = ms_since(t);
    let (p, ms, pn, pr) = predict3(&|x| clf.predict(x, draws, 6))?;
    rows.push(("bayes_by_backprop", ClassRun { test: p, noise: pn, rotated: pr, train_ms: ms_train, predict_ms: ms }));

    println!(
        "{:<28} {:>7} {:>7} {:>7} {:>7} {:>9} {:>9} {:>9} {:>9} {:>9} {:>8}",
        "method", "acc", "NLL", "Brier", "ECE", "noise H", "noise MI", "rot H", "rot MI", "train ms", "pred ms"
    );
    let tl = &d.test_labels;
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
