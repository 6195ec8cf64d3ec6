//! What `fit` adds to the library's model file ([`blitz::layers::model`]):
//! the task and the description a run trains from its options, the
//! training settings, the check that a checkpoint continues this very run,
//! and the figures as JSON.

use crate::args::{FitArgs, Task};
use blitz::layers::data::{Dataset, ReadOptions, Table, Target, TargetKind};
use blitz::layers::model::{
    fit_ivon, fit_laplace, fit_swag, Calibration, Conformal, FitTargets, Fitted, ModelFile, Prediction, Trained, Truth,
    KEY_SETTINGS,
};
use blitz::layers::uncertainty::{ConformalClassifier, ConformalRegressor, IvonConfig, SwagConfig};
use blitz::prelude::*;

/// Training steps the default epoch count aims at.
const DEFAULT_STEPS: usize = 24_000;

/// Regression when every target cell is a number; classification when most
/// are not. When most are numbers and a few are not, those few are errors
/// (`NA`, `?`): the file is read again with a numeric target so that the
/// first of them is reported with its line and column.
pub fn decide_task(asked: Option<Task>, data: &Dataset, opts: &ReadOptions) -> Result<Task> {
    if let Some(t) = asked {
        return Ok(t);
    }
    let (labels, names) = data.classes()?;
    let numeric: Vec<bool> = names.iter().map(|n| n.parse::<f32>().is_ok_and(f32::is_finite)).collect();
    if numeric.iter().all(|&b| b) {
        let distinct_integers = names.len() <= 20 && names.iter().all(|n| n.parse::<i64>().is_ok());
        if distinct_integers && labels.len() >= 4 * names.len() {
            crate::print::info(&format!(
                "note: the target takes {} integer values: trained as regression (--task classification for classes)",
                names.len()
            ));
        }
        return Ok(Task::Regression);
    }
    let numeric_rows = labels.iter().filter(|&&l| numeric[l]).count();
    if 2 * numeric_rows > labels.len() {
        let numeric_opts = ReadOptions { target_kind: TargetKind::Numeric, ..opts.clone() };
        blitz::layers::data::read_delimited(&data.source, &numeric_opts)?;
    }
    Ok(Task::Classification)
}

/// `data` (read with a categorical target) with the target the task needs.
pub fn with_task(mut data: Dataset, task: Task) -> Result<Dataset> {
    if let (Task::Regression, Some(Target::Classes { labels, names })) = (task, &data.y) {
        let values: Vec<f32> = names
            .iter()
            .map(|n| match n.parse::<f32>() {
                Ok(v) if v.is_finite() => Ok(v),
                _ => Err(Error::Parse {
                    path: data.source.clone(),
                    message: format!(
                        "target column {}: {n:?} is not a finite number (use --task classification for labels)",
                        data.target_names.join(",")
                    ),
                }),
            })
            .collect::<Result<_>>()?;
        let y = labels.iter().map(|&l| values[l]).collect::<Vec<f32>>();
        let rows = y.len();
        data.y = Some(Target::Values(Table { data: y, rows, cols: 1 }));
    }
    Ok(data)
}

/// The model `fit` trains for `train`, whose [`data_fingerprint`] (taken
/// before the transforms) is `fingerprint`: `--tune` describes its final
/// run once the settings are chosen, from rows already transformed.
pub fn for_rows(train: &Dataset, task: Task, a: &FitArgs, fingerprint: u64) -> Result<ModelFile> {
    for c in &a.log1p {
        if !train.feature_names.contains(c) {
            return Err(Error::invalid(
                "--log1p",
                format!("{c:?} is not a feature column ({})", train.feature_names.join(", ")),
            ));
        }
    }
    let classes = match (&train.y, task) {
        (Some(Target::Classes { names, .. }), Task::Classification) => names.clone(),
        _ => Vec::new(),
    };
    if task == Task::Classification && classes.len() < 2 {
        return Err(Error::invalid(
            "--target",
            format!("{} class(es) in the training rows: at least two", classes.len()),
        ));
    }
    let outputs = if task == Task::Regression { 1 } else { classes.len() };
    let spec =
        MlpSpec { prior_sigma: a.prior_sigma, ..MlpSpec::new(train.feature_names.len(), a.hidden.clone(), outputs) };
    let mut file = ModelFile {
        task,
        spec,
        features: train.feature_names.clone(),
        target: train.target_names.first().cloned().unwrap_or_default(),
        classes,
        log1p: a.log1p.clone(),
        settings: String::new(),
        seed: a.seed,
        conformal: None,
        method: a.method,
    };
    let c = train_config(&file, a, train.rows());
    file.settings = format!(
        "target={} task={} sizes={} prior_sigma={} epochs={} batch={} lr={} lr_final={} sample_nbr={} seed={} split={:?} test_file={:?} log1p={:?} conformal={:?} alpha={} train_rows={} data={:016x}",
        file.target,
        task.name(),
        file.spec.describe(),
        a.prior_sigma,
        c.epochs,
        c.batch_size,
        c.lr,
        c.lr_final,
        c.sample_nbr,
        c.seed,
        a.split,
        a.test_file,
        a.log1p,
        a.conformal,
        a.alpha,
        train.rows(),
        fingerprint
    ) + &a.method.settings();
    Ok(file)
}

/// The training settings: the options given, defaults sized to the data.
pub fn train_config(file: &ModelFile, a: &FitArgs, rows: usize) -> TrainConfig {
    let batch_size = a.batch_size.unwrap_or(if rows < 2000 { 16 } else { 64 });
    let per_epoch = rows.div_ceil(batch_size.max(1)).max(1);
    let epochs = a.epochs.unwrap_or_else(|| DEFAULT_STEPS.div_ceil(per_epoch).clamp(10, 1000));
    TrainConfig {
        epochs,
        batch_size,
        lr: a.lr,
        lr_final: a.lr_final,
        sample_nbr: a.sample_nbr,
        kl_weight: None,
        seed: a.seed,
        device: a.device,
        max_steps: None,
        // An ensemble's members would share the file: it is written once, at the end.
        checkpoint: a.out.as_ref().filter(|_| file.method.checkpoints()).map(|out| CheckpointEvery {
            path: out.into(),
            every_epochs: a.checkpoint_every,
            metadata: file.metadata(),
        }),
        context: Default::default(),
    }
}

/// The checkpoint at `out` when it continues this very run and is a
/// valid model file (see [`ModelFile::from_checkpoint`]).
pub fn resumable(this: &ModelFile, out: &str) -> Result<Checkpoint> {
    if !std::path::Path::new(out).exists() {
        return Err(Error::invalid(
            "--resume",
            format!("{out} does not exist: nothing to resume (run without --resume)"),
        ));
    }
    let ck = Checkpoint::load(out)?;
    let theirs = ck.metadata().get(KEY_SETTINGS).cloned().unwrap_or_default();
    if theirs != this.settings {
        return Err(Error::invalid(
            "--resume",
            format!("{out} was written by another run ({theirs}); this run is ({})", this.settings),
        ));
    }
    // Everything a model file must hold, checked before training writes to it.
    let file = ModelFile::from_checkpoint(&ck)?;
    if file.spec != this.spec || file.features != this.features || file.classes != this.classes {
        return Err(Error::invalid(
            "--resume",
            format!(
                "{out} describes another model ({}) than this run ({})",
                file.spec.describe(),
                this.spec.describe()
            ),
        ));
    }
    Ok(ck)
}

/// Trains on `train` (fresh: standardisation statistics from it; resumed: from the checkpoint).
pub fn fit(
    file: &ModelFile,
    trained: &mut Trained,
    train: &Dataset,
    config: &TrainConfig,
    resume: Option<&Checkpoint>,
    progress: &mut dyn FnMut(&Progress),
) -> Result<TrainSummary> {
    let x = train.x.to_tensor()?;
    let x_scale = || Standardizer::fit(&train.x);
    // The same calls on Bayes by Backprop's models and MC dropout's (other
    // types, the same methods): fresh, with the statistics of `train`, or resumed.
    macro_rules! regression {
        ($m:ident) => {{
            let y = train.values()?.to_tensor()?;
            match resume {
                Some(ck) => $m.resume(ck, &x, &y, config, progress),
                None => {
                    $m.x_scale = Some(x_scale()?);
                    $m.y_scale = Some(Standardizer::fit(train.values()?)?);
                    $m.fit(&x, &y, config, progress)
                }
            }
        }};
    }
    macro_rules! classification {
        ($m:ident) => {{
            let (labels, _) = train.classes()?;
            match resume {
                Some(ck) => $m.resume(ck, &x, labels, config, progress),
                None => {
                    $m.x_scale = Some(x_scale()?);
                    $m.fit(&x, labels, config, progress)
                }
            }
        }};
    }
    match trained {
        Trained::Bbb(Fitted::Regression(m)) => regression!(m),
        Trained::Bbb(Fitted::Classification(m)) => classification!(m),
        Trained::McDropoutRegression(m) => regression!(m),
        Trained::McDropoutClassification(m) => classification!(m),
        Trained::EnsembleRegression(e) => {
            let y = train.values()?.to_tensor()?;
            let (xs, ys) = (x_scale()?, Standardizer::fit(train.values()?)?);
            for m in e.members_mut() {
                m.x_scale = Some(xs.clone());
                m.y_scale = Some(ys.clone());
            }
            ensemble_summary(e.fit(&x, &y, config)?, progress)
        }
        Trained::EnsembleClassification(e) => {
            let (labels, _) = train.classes()?;
            let xs = x_scale()?;
            for m in e.members_mut() {
                m.x_scale = Some(xs.clone());
            }
            ensemble_summary(e.fit(&x, labels, config)?, progress)
        }
        Trained::IvonRegression(..) | Trained::IvonClassification(..) => {
            let cfg = ivon_config(config);
            let start = std::time::Instant::now();
            let mut y = None;
            let targets = fit_targets(file.task, train, &mut y)?;
            let (t, steps) = fit_ivon(file, &x, targets, &cfg)?;
            *trained = t;
            let ms = start.elapsed().as_secs_f64() * 1e3 / steps.max(1) as f64;
            let s = TrainSummary { steps, epochs: cfg.epochs, ms_per_step: ms, nll: f32::NAN, kl: 0.0 };
            ensemble_summary(vec![s], progress)
        }
        Trained::SwagRegression(_) | Trained::SwagClassification(_) => {
            let mut y = None;
            let targets = fit_targets(file.task, train, &mut y)?;
            let swag = SwagConfig {
                batch_size: config.batch_size,
                seed: config.seed,
                context: config.context.clone(),
                ..SwagConfig::default()
            };
            let (t, summary) = fit_swag(file, &x, targets, config, &swag, progress)?;
            *trained = t;
            Ok(summary)
        }
        Trained::LaplaceRegression(_) | Trained::LaplaceClassification(_) => {
            let mut y = None;
            let targets = fit_targets(file.task, train, &mut y)?;
            let (t, summary) = fit_laplace(file, &x, targets, config, progress)?;
            *trained = t;
            Ok(summary)
        }
    }
}

/// The targets of `train` as the methods fitted from [`FitTargets`] take
/// them (IVON, SWAG, Laplace); `y` holds a regression's values.
fn fit_targets<'a>(task: Task, train: &'a Dataset, y: &'a mut Option<Tensor>) -> Result<FitTargets<'a>> {
    Ok(match task {
        Task::Regression => FitTargets::Values(y.insert(train.values()?.to_tensor()?)),
        Task::Classification => FitTargets::Labels(train.classes()?.0),
    })
}

/// IVON's settings for a run: the epochs, batches and seed of `config` (the
/// one rule every method shares), IVON's own defaults for the rest
/// ([`IvonConfig::default`]: step size 0.1, λ the training rows).
pub fn ivon_config(config: &TrainConfig) -> IvonConfig {
    IvonConfig {
        epochs: config.epochs,
        batch_size: config.batch_size,
        seed: config.seed,
        context: config.context.clone(),
        ..IvonConfig::default()
    }
}

/// One summary of an ensemble's members (trained side by side, each the
/// same number of epochs and steps): the last epoch's mean loss, reported
/// once as the final epoch's progress.
fn ensemble_summary(s: Vec<TrainSummary>, progress: &mut dyn FnMut(&Progress)) -> Result<TrainSummary> {
    let n = s.len().max(1);
    let first = s.first().ok_or_else(|| Error::invalid("ensemble members", "0: at least one member"))?;
    let summary = TrainSummary {
        steps: first.steps,
        epochs: first.epochs,
        ms_per_step: s.iter().map(|m| m.ms_per_step).sum::<f64>() / n as f64,
        nll: s.iter().map(|m| m.nll).sum::<f32>() / n as f32,
        kl: 0.0,
    };
    progress(&Progress {
        epoch: summary.epochs,
        epochs: summary.epochs,
        steps: summary.steps,
        nll: summary.nll,
        kl: 0.0,
        ms_per_step: summary.ms_per_step,
    });
    Ok(summary)
}

/// The test figures as JSON keys.
pub fn evaluate(
    trained: &Trained,
    conformal: Option<&Calibration>,
    data: &Dataset,
    draws: usize,
    seed: u64,
) -> Result<Vec<(&'static str, String)>> {
    let x = data.x.to_tensor()?;
    let classification = matches!(
        trained,
        Trained::Bbb(Fitted::Classification(_))
            | Trained::McDropoutClassification(_)
            | Trained::EnsembleClassification(_)
            | Trained::IvonClassification(..)
            | Trained::SwagClassification(_)
            | Trained::LaplaceClassification(_)
    );
    let (mut figures, p, truth) = if classification {
        let (labels, _) = data.classes()?;
        let Prediction::Classification(p) = trained.predict(&x, draws, seed)? else {
            return Err(Error::invalid("evaluate", "a classifier predicted no class probabilities"));
        };
        let r = p.metrics(labels)?;
        let f = vec![
            ("test_acc", json_num(r.accuracy)),
            ("nll", json_num(r.nll)),
            ("brier", json_num(r.brier)),
            ("ece", json_num(r.ece)),
            ("mean_entropy", json_num(r.mean_entropy)),
            ("mean_mi", json_num(r.mean_mi)),
        ];
        (f, Prediction::Classification(p), Truth::Labels(labels))
    } else {
        let y = data.values()?;
        let (p, r) = trained.evaluate_regression(&x, &y.data, draws, seed)?;
        let f = vec![
            ("test_rmse", json_num(r.rmse)),
            ("coverage_2sd", json_num(r.coverage_2sd)),
            ("test_loglik", json_num(r.loglik)),
            ("mean_epistemic_std", json_num(r.mean_epistemic_std)),
            ("mean_aleatoric_std", json_num(r.mean_aleatoric_std)),
        ];
        (f, Prediction::Regression(p), Truth::Values(&y.data))
    };
    if let Some(c) = conformal {
        figures.extend(c.figures(&p, truth)?.into_iter().map(|(k, v)| (k, json_num(v))));
    }
    Ok(figures)
}

/// Calibrates split-conformal intervals (or sets) of `fitted` on the
/// held-out rows `cal` (transformed like the training rows), predicting
/// them with `draws` draws named by `seed`.
///
/// # Errors
/// As the prediction and [`ConformalRegressor::calibrate`] /
/// [`ConformalClassifier::calibrate`].
pub fn calibrate(trained: &Trained, cal: &Dataset, draws: usize, seed: u64, alpha: f32) -> Result<Calibration> {
    let x = cal.x.to_tensor()?;
    let rule = match trained.predict(&x, draws, seed)? {
        Prediction::Regression(p) => Conformal::Regression(ConformalRegressor::calibrate(
            &p.mean,
            &p.std,
            &cal.values()?.data,
            p.outputs,
            alpha,
        )?),
        Prediction::Classification(p) => {
            let (labels, _) = cal.classes()?;
            Conformal::Classification(ConformalClassifier::calibrate(&p.probs, p.classes, labels, alpha)?)
        }
    };
    Ok(Calibration { rule, draws, seed })
}

/// FNV-1a over the training rows' values, targets and column names: a
/// resumed run must train on the very same data.
pub fn data_fingerprint(d: &Dataset) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    };
    for v in &d.x.data {
        eat(&v.to_bits().to_le_bytes());
    }
    match &d.y {
        Some(Target::Values(t)) => t.data.iter().for_each(|v| eat(&v.to_bits().to_le_bytes())),
        Some(Target::Classes { labels, names }) => {
            labels.iter().for_each(|l| eat(&l.to_le_bytes()));
            names.iter().for_each(|n| eat(n.as_bytes()));
        }
        None => {}
    }
    d.feature_names.iter().chain(&d.target_names).for_each(|n| eat(n.as_bytes()));
    h
}

/// A number for the JSON line: `null` when it is not finite (JSON has no NaN).
pub fn json_num(v: f32) -> String {
    if v.is_finite() {
        format!("{v:.4}")
    } else {
        "null".into()
    }
}

/// A JSON string literal.
pub fn json_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `{"k":v,...}` from keys and already-encoded values.
pub fn json_line(pairs: &[(&str, String)]) -> String {
    let body: Vec<String> = pairs.iter().map(|(k, v)| format!("{}:{v}", json_str(k))).collect();
    format!("{{{}}}", body.join(","))
}

/// The figures as one human line.
pub fn describe_figures(f: &[(&str, String)]) -> String {
    f.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join("  ")
}

/// One line on a calibration: its level, rows and threshold.
pub fn describe_calibration(c: &Calibration) -> String {
    let (what, q) = match &c.rule {
        Conformal::Regression(r) => ("intervals mean ± q·std", r.quantiles()[0]),
        Conformal::Classification(k) => ("prediction sets of cumulative probability ≤ q", k.quantile()),
    };
    let warn = if q.is_finite() { "" } else { " (too few calibration rows for this level: unbounded)" };
    format!("conformal: {what}, q = {q:.4} from {} calibration rows, coverage ≥ {}{warn}", c.rows(), 1.0 - c.alpha())
}

/// Adds `file`'s calibration to the model file written at `out` (sealed
/// again, written atomically).
///
/// # Errors
/// As [`Checkpoint::load`] and [`Checkpoint::save`].
pub fn add_calibration(file: &ModelFile, out: &str) -> Result<()> {
    let mut ck = Checkpoint::load(out)?;
    let mut meta = std::collections::BTreeMap::new();
    if let Some(c) = &file.conformal {
        c.to_metadata(&mut meta);
    }
    for (k, v) in meta {
        ck.set_metadata(k, v);
    }
    ck.seal();
    ck.save(out)
}
