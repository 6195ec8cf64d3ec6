//! The Boston section: each method's grid, chosen per split on validation
//! rows, then trained on the split's training rows and scored on its test rows.

use crate::cli::Args;
use crate::json::num;
use crate::paths::BOSTON_CSV;
use crate::timing::ms_since;
use blitz::layers::metrics::{gaussian_mixture_log_likelihood_hetero, rmse};
use blitz::prelude::*;
use std::time::Instant;

fn mean_se(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    let var = if v.len() > 1 { v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0) } else { 0.0 };
    (m, (var / n).sqrt())
}

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
pub const GAL_METHOD: &str = "mc_dropout_gal";
const GAL_TAUS: [f32; 3] = [0.1, 0.15, 0.2];

/// The Boston methods, in table order.
pub const BOSTON_METHODS: [&str; 7] =
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

/// Runs the Boston section and prints its table (and JSON lines).
pub fn boston(args: &Args) -> Result<()> {
    let data = read_delimited(BOSTON_CSV, &ReadOptions::default().with_target(ColumnRef::name("MEDV")))?;
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
