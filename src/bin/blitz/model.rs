//! The self-describing model file: a checkpoint whose metadata holds the
//! architecture, the task, the column names, the class labels, the
//! feature transforms and the standardisation statistics, so `predict` and
//! `evaluate` rebuild the model from the file alone.

use crate::args::{FitArgs, Task};
use blitz::layers::data::{ColumnRef, Dataset, Delimiter, ReadOptions, Table, Target, TargetKind};
use blitz::layers::{decode_string_list as decode_list, encode_string_list as encode_list};
use blitz::prelude::*;

const KEY_TASK: &str = "blitz.task";
const KEY_FEATURES: &str = "blitz.features";
const KEY_TARGET: &str = "blitz.target";
const KEY_CLASSES: &str = "blitz.classes";
const KEY_LOG1P: &str = "blitz.log1p";
const KEY_SETTINGS: &str = "blitz.fit_settings";

/// Training steps the default epoch count aims at.
const DEFAULT_STEPS: usize = 24_000;

/// What a model file says about the model and its data.
#[derive(Debug, Clone)]
pub struct ModelFile {
    pub task: Task,
    pub spec: MlpSpec,
    pub features: Vec<String>,
    pub target: String,
    pub classes: Vec<String>,
    pub log1p: Vec<String>,
    /// The options that decide a run's result, for `--resume` to compare.
    pub settings: String,
    pub seed: u64,
}

/// A trained or loaded model of either task.
pub enum Fitted {
    Regression(Regressor),
    Classification(Classifier),
}

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

impl ModelFile {
    /// The model `fit` trains for `train`.
    pub fn for_data(train: &Dataset, task: Task, a: &FitArgs) -> Result<ModelFile> {
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
        let spec = MlpSpec {
            prior_sigma: a.prior_sigma,
            ..MlpSpec::new(train.feature_names.len(), a.hidden.clone(), outputs)
        };
        let mut file = ModelFile {
            task,
            spec,
            features: train.feature_names.clone(),
            target: train.target_names.first().cloned().unwrap_or_default(),
            classes,
            log1p: a.log1p.clone(),
            settings: String::new(),
            seed: a.seed,
        };
        let c = file.train_config(a, train.rows());
        file.settings = format!(
            "target={} task={} sizes={} prior_sigma={} epochs={} batch={} lr={} lr_final={} sample_nbr={} seed={} split={:?} test_file={:?} log1p={:?} train_rows={} data={:016x}",
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
            train.rows(),
            data_fingerprint(train)
        );
        Ok(file)
    }

    /// The training settings: the options given, defaults sized to the data.
    pub fn train_config(&self, a: &FitArgs, rows: usize) -> TrainConfig {
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
            checkpoint: a.out.as_ref().map(|out| CheckpointEvery {
                path: out.into(),
                every_epochs: a.checkpoint_every,
                metadata: self.metadata(),
            }),
        }
    }

    fn metadata(&self) -> std::collections::BTreeMap<String, String> {
        let mut ck = Checkpoint::new();
        self.spec.to_metadata(&mut ck);
        let mut m = ck.metadata().clone();
        m.insert(KEY_TASK.into(), self.task.name().into());
        m.insert(KEY_FEATURES.into(), encode_list(&self.features));
        m.insert(KEY_TARGET.into(), self.target.clone());
        m.insert(KEY_CLASSES.into(), encode_list(&self.classes));
        m.insert(KEY_LOG1P.into(), encode_list(&self.log1p));
        m.insert(KEY_SETTINGS.into(), self.settings.clone());
        m.insert("blitz.seed".into(), self.seed.to_string());
        m
    }

    /// The description a model file carries, checked against itself, the
    /// statistics and the tensors (names, shapes, finite values; see
    /// [`MlpSpec::from_metadata`]) before anything is built from it.
    pub fn from_checkpoint(ck: &Checkpoint) -> Result<ModelFile> {
        let bad = |m: String| Error::Parse { path: ck.source().to_string(), message: m };
        let meta = ck.metadata();
        let get = |k: &str| {
            meta.get(k).ok_or_else(|| bad(format!("metadata {k} is missing: not a model written by `blitz fit`")))
        };
        let list = |k: &str| -> Result<Vec<String>> {
            decode_list(get(k)?).ok_or_else(|| bad(format!("metadata {k} is malformed")))
        };
        let task = match get(KEY_TASK)?.as_str() {
            "regression" => Task::Regression,
            "classification" => Task::Classification,
            other => return Err(bad(format!("task {other:?} is unknown"))),
        };
        let file = ModelFile {
            task,
            spec: MlpSpec::from_metadata(ck)?,
            features: list(KEY_FEATURES)?,
            target: get(KEY_TARGET)?.clone(),
            classes: list(KEY_CLASSES)?,
            log1p: list(KEY_LOG1P)?,
            settings: get(KEY_SETTINGS)?.clone(),
            seed: get("blitz.seed")?.parse().map_err(|_| bad("metadata blitz.seed is not a number".into()))?,
        };
        file.check(ck)?;
        Ok(file)
    }

    /// The description's parts against each other and the statistics the
    /// checkpoint holds (which `blitz fit` always writes), before anything
    /// is built from it.
    fn check(&self, ck: &Checkpoint) -> Result<()> {
        let bad = |m: String| Error::Parse { path: ck.source().to_string(), message: m };
        ck.verify_seal()?;
        if self.spec.inputs != self.features.len() {
            return Err(bad(format!(
                "model.sizes has {} inputs but {KEY_FEATURES} names {}",
                self.spec.inputs,
                self.features.len()
            )));
        }
        let mut seen = std::collections::HashMap::new();
        for (i, f) in self.features.iter().enumerate() {
            if let Some(j) = seen.insert(f.as_str(), i) {
                return Err(bad(format!("{KEY_FEATURES}: features {} and {} are both named {f:?}", j + 1, i + 1)));
            }
        }
        if let Some(i) = self.features.iter().position(|f| *f == self.target) {
            return Err(bad(format!("{KEY_FEATURES}: feature {} is the target {:?}", i + 1, self.target)));
        }
        if let Some(c) = self.log1p.iter().find(|c| !self.features.contains(c)) {
            return Err(bad(format!("{KEY_LOG1P}: {c:?} is not a feature")));
        }
        match self.task {
            Task::Regression if self.spec.outputs != 1 => {
                return Err(bad(format!("model.sizes has {} outputs; a regression has 1", self.spec.outputs)))
            }
            Task::Classification => {
                let distinct: std::collections::BTreeSet<&String> = self.classes.iter().collect();
                if self.classes.len() < 2 || distinct.len() != self.classes.len() {
                    return Err(bad(format!(
                        "{KEY_CLASSES}: {} names, {} distinct: at least two distinct classes",
                        self.classes.len(),
                        distinct.len()
                    )));
                }
                if self.spec.outputs != self.classes.len() {
                    return Err(bad(format!(
                        "model.sizes has {} outputs but {KEY_CLASSES} names {}",
                        self.spec.outputs,
                        self.classes.len()
                    )));
                }
            }
            Task::Regression => {}
        }
        let mut scales = vec![("x_scale", self.spec.inputs)];
        if self.task == Task::Regression {
            scales.push(("y_scale", 1));
        }
        for (key, cols) in scales {
            match Standardizer::from_metadata(ck, key)? {
                None => {
                    return Err(bad(format!(
                        "metadata {key}.mean/{key}.std are missing: `blitz fit` always writes them"
                    )))
                }
                Some(s) if s.cols() != cols => {
                    return Err(bad(format!("metadata {key}: {} columns, the model has {cols}", s.cols())))
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    /// The checkpoint at `out` when it continues this very run and is a
    /// valid model file (see [`ModelFile::from_checkpoint`]).
    pub fn resumable(&self, out: &str) -> Result<Checkpoint> {
        if !std::path::Path::new(out).exists() {
            return Err(Error::invalid(
                "--resume",
                format!("{out} does not exist: nothing to resume (run without --resume)"),
            ));
        }
        let ck = Checkpoint::load(out)?;
        let theirs = ck.metadata().get(KEY_SETTINGS).cloned().unwrap_or_default();
        if theirs != self.settings {
            return Err(Error::invalid(
                "--resume",
                format!("{out} was written by another run ({theirs}); this run is ({})", self.settings),
            ));
        }
        // Everything a model file must hold, checked before training writes to it.
        let file = ModelFile::from_checkpoint(&ck)?;
        if file.spec != self.spec || file.features != self.features || file.classes != self.classes {
            return Err(Error::invalid(
                "--resume",
                format!(
                    "{out} describes another model ({}) than this run ({})",
                    file.spec.describe(),
                    self.spec.describe()
                ),
            ));
        }
        Ok(ck)
    }

    /// An untrained model of this description.
    pub fn build(&self) -> Result<Fitted> {
        let net = self.spec.build(self.seed)?;
        Ok(match self.task {
            Task::Regression => Fitted::Regression(Regressor::new(net, 1)?),
            Task::Classification => Fitted::Classification(Classifier::new(net, self.classes.clone())?),
        })
    }

    /// How to read data for this model: its features by name, and its
    /// target when `with_target`.
    pub fn read_options(&self, delimiter: Delimiter, header_rows: Option<usize>, with_target: bool) -> ReadOptions {
        let mut o = ReadOptions {
            delimiter,
            header_rows,
            features: Some(self.features.iter().map(ColumnRef::name).collect()),
            ..ReadOptions::default()
        };
        if with_target {
            o.targets = vec![ColumnRef::name(self.target.clone())];
            o.target_kind = match self.task {
                Task::Regression => TargetKind::Numeric,
                Task::Classification => TargetKind::Categorical { known: Some(self.classes.clone()) },
            };
        }
        o
    }

    /// The feature transforms (`--log1p`) applied to `data`.
    pub fn transform(&self, mut data: Dataset) -> Result<Dataset> {
        let cols: Vec<usize> =
            self.log1p.iter().filter_map(|c| data.feature_names.iter().position(|f| f == c)).collect();
        data.x
            .log1p_columns(&cols)
            .map_err(|e| Error::Parse { path: data.source.clone(), message: format!("--log1p: {e}") })?;
        Ok(data)
    }
}

impl Fitted {
    /// Trains on `train` (fresh: standardisation statistics from it; resumed: from the checkpoint).
    pub fn fit(
        &mut self,
        train: &Dataset,
        config: &TrainConfig,
        resume: Option<&Checkpoint>,
        progress: &mut dyn FnMut(&Progress),
    ) -> Result<TrainSummary> {
        let x = train.x.to_tensor()?;
        match self {
            Fitted::Regression(m) => {
                let y = train.values()?.to_tensor()?;
                match resume {
                    Some(ck) => m.resume(ck, &x, &y, config, progress),
                    None => {
                        m.x_scale = Some(Standardizer::fit(&train.x)?);
                        m.y_scale = Some(Standardizer::fit(train.values()?)?);
                        m.fit(&x, &y, config, progress)
                    }
                }
            }
            Fitted::Classification(m) => {
                let (labels, _) = train.classes()?;
                match resume {
                    Some(ck) => m.resume(ck, &x, labels, config, progress),
                    None => {
                        m.x_scale = Some(Standardizer::fit(&train.x)?);
                        m.fit(&x, labels, config, progress)
                    }
                }
            }
        }
    }

    pub fn restore(&mut self, ck: &Checkpoint) -> Result<()> {
        match self {
            Fitted::Regression(m) => m.restore(ck),
            Fitted::Classification(m) => m.restore(ck),
        }
    }

    /// The test figures as JSON keys.
    pub fn evaluate(&self, data: &Dataset, draws: usize, seed: u64) -> Result<Vec<(&'static str, String)>> {
        let x = data.x.to_tensor()?;
        Ok(match self {
            Fitted::Regression(m) => {
                let r = m.evaluate(&x, &data.values()?.to_tensor()?, draws, seed)?;
                vec![
                    ("test_rmse", json_num(r.rmse)),
                    ("coverage_2sd", json_num(r.coverage_2sd)),
                    ("test_loglik", json_num(r.loglik)),
                    ("mean_epistemic_std", json_num(r.mean_epistemic_std)),
                    ("mean_aleatoric_std", json_num(r.mean_aleatoric_std)),
                ]
            }
            Fitted::Classification(m) => {
                let (labels, _) = data.classes()?;
                let r = m.evaluate(&x, labels, draws, seed)?;
                vec![
                    ("test_acc", json_num(r.accuracy)),
                    ("nll", json_num(r.nll)),
                    ("brier", json_num(r.brier)),
                    ("ece", json_num(r.ece)),
                    ("mean_entropy", json_num(r.mean_entropy)),
                    ("mean_mi", json_num(r.mean_mi)),
                ]
            }
        })
    }

    /// A CSV header and one row of cells per input row.
    pub fn predict_rows(&self, data: &Dataset, draws: usize, seed: u64) -> Result<(Vec<String>, Vec<Vec<String>>)> {
        let x = data.x.to_tensor()?;
        Ok(match self {
            Fitted::Regression(m) => {
                let p = m.predict(&x, draws, seed)?;
                let header = ["mean", "std", "epistemic_std", "aleatoric_std", "lower_2sd", "upper_2sd"];
                let rows = (0..data.rows())
                    .map(|i| {
                        [p.mean[i], p.std[i], p.epistemic_std[i], p.aleatoric_std[i], p.lower_2sd[i], p.upper_2sd[i]]
                            .iter()
                            .map(|v| format!("{v}"))
                            .collect()
                    })
                    .collect();
                (header.iter().map(|s| s.to_string()).collect(), rows)
            }
            Fitted::Classification(m) => {
                let p = m.predict(&x, draws, seed)?;
                let k = p.classes;
                let mut header = vec!["predicted".to_string()];
                header.extend(m.class_names.iter().map(|c| csv_cell(&format!("p_{c}"))));
                header.extend(["entropy".to_string(), "mi".to_string()]);
                let rows = (0..data.rows())
                    .map(|i| {
                        let mut r = vec![csv_cell(&m.class_names[p.predicted[i]])];
                        r.extend(p.probs[i * k..(i + 1) * k].iter().map(|v| format!("{v}")));
                        r.push(format!("{}", p.entropy[i]));
                        r.push(format!("{}", p.mutual_information[i]));
                        r
                    })
                    .collect();
                (header, rows)
            }
        })
    }
}

/// FNV-1a over the training rows' values, targets and column names: a
/// resumed run must train on the very same data.
fn data_fingerprint(d: &Dataset) -> u64 {
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
fn json_num(v: f32) -> String {
    if v.is_finite() {
        format!("{v:.4}")
    } else {
        "null".into()
    }
}

/// A CSV cell, quoted when it holds a comma, a quote or a line break.
fn csv_cell(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
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
