//! The self-describing model file that `blitz fit` writes, read and used
//! by any program: a checkpoint whose metadata holds the architecture, the
//! task, the column names, the class labels, the feature transforms and
//! the standardisation statistics, so that the model is rebuilt from the
//! file alone.
//!
//! [`Model::load`] reads and checks a file (every check `blitz predict`
//! makes, with the same typed errors), [`Model::predict`] predicts from
//! rows of feature values, and [`Model::table`] writes the prediction
//! table `blitz predict` prints, byte for byte:
//!
//! ```no_run
//! use blitz_layers::model::Model;
//! # fn main() -> blitz_autograd::Result<()> {
//! let model = Model::load("boston.safetensors")?;
//! let row = [0.006f32, 18.0, 2.31, 0.0, 0.538, 6.575, 65.2, 4.09, 1.0, 296.0, 15.3, 396.9, 4.98];
//! let p = model.predict(&[row], 100, 0)?;
//! print!("{}", model.table(&p));
//! # Ok(()) }
//! ```

mod calibration;
mod draws;
mod ivon;
mod laplace;
mod method;
mod swag;
mod table;
mod trained;

pub use crate::mlp::plain_mlp;
pub use calibration::{Calibration, Conformal, Truth, DEFAULT_ALPHA, KEY_CONFORMAL};
pub use draws::DEFAULT_DRAW_CACHE;
pub use ivon::{IvonPosterior, KEY_IVON};
pub use laplace::{LaplaceModel, KEY_LAPLACE};
pub use method::{
    FitTargets, Method, DEFAULT_DROPOUT, DEFAULT_MEMBERS, KEY_DROPOUT, KEY_MEMBERS, KEY_METHOD, MAX_MEMBERS,
};
pub use swag::{SwagModel, KEY_SWAG, SWAG_DEVIATIONS, SWAG_MEAN, SWAG_VARIANCE};
pub use table::Prediction;
pub use trained::{fit_ivon, fit_laplace, fit_swag, Trained, PLAIN_MLP};

use crate::checkpoint::{decode_string_list as decode_list, encode_string_list as encode_list, Checkpoint};
use crate::classification::Classifier;
use crate::data::{ColumnRef, Dataset, Delimiter, ReadOptions, Standardizer, Table, TargetKind};
use crate::mlp::MlpSpec;
use crate::regression::Regressor;
use blitz_autograd::{Error, Result};
use std::collections::BTreeMap;
use std::path::Path;

/// Metadata key of the task (`regression` or `classification`).
pub const KEY_TASK: &str = "blitz.task";
/// Metadata key of the feature columns' names (a JSON list).
pub const KEY_FEATURES: &str = "blitz.features";
/// Metadata key of the target column's name.
pub const KEY_TARGET: &str = "blitz.target";
/// Metadata key of the class labels (a JSON list; empty for a regression).
pub const KEY_CLASSES: &str = "blitz.classes";
/// Metadata key of the features taken ln(1 + x) of (a JSON list).
pub const KEY_LOG1P: &str = "blitz.log1p";
/// Metadata key of the settings of the run that wrote the file.
pub const KEY_SETTINGS: &str = "blitz.fit_settings";
/// Metadata key of the seed of the run that wrote the file.
pub const KEY_SEED: &str = "blitz.seed";
/// Metadata key of the settings `blitz fit --tune` chose on validation rows
/// carved from the training rows, with every candidate's validation score
/// (JSON text); absent when the run was not tuned. Nothing reads it back:
/// it says how the file's settings were chosen.
pub const KEY_TUNED: &str = "blitz.tuned";

/// The task a model is trained for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Task {
    /// One numeric target: a Gaussian likelihood with a learned noise level.
    Regression,
    /// Class labels: a softmax over the classes.
    Classification,
}

impl Task {
    /// `regression` or `classification`, as written in the file.
    pub fn name(self) -> &'static str {
        match self {
            Task::Regression => "regression",
            Task::Classification => "classification",
        }
    }
}

/// What a model file says about the model and its data.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelFile {
    /// The task.
    pub task: Task,
    /// The network.
    pub spec: MlpSpec,
    /// The feature columns, by name, in the network's input order.
    pub features: Vec<String>,
    /// The target column's name.
    pub target: String,
    /// The class labels, in the network's output order (empty for a regression).
    pub classes: Vec<String>,
    /// The features taken ln(1 + x) of before standardising.
    pub log1p: Vec<String>,
    /// The options that decide a run's result, for a resumed run to compare.
    pub settings: String,
    /// The seed of the run (the initialisation of an untrained model).
    pub seed: u64,
    /// The split-conformal calibration (`blitz fit --conformal F`), if any.
    pub conformal: Option<Calibration>,
    /// How the network is uncertain (`blitz fit --method`), and its settings.
    pub method: Method,
}

/// A trained or loaded model of either task.
pub enum Fitted {
    /// A regression model.
    Regression(Regressor),
    /// A classifier.
    Classification(Classifier),
}

impl std::fmt::Debug for Fitted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fitted::Regression(m) => m.fmt(f),
            Fitted::Classification(_) => f.write_str("Classifier"),
        }
    }
}

impl Fitted {
    /// Restores parameters and statistics from a checkpoint of this model.
    ///
    /// # Errors
    /// As [`Regressor::restore`] and [`Classifier::restore`].
    pub fn restore(&mut self, ck: &Checkpoint) -> Result<()> {
        match self {
            Fitted::Regression(m) => m.restore(ck),
            Fitted::Classification(m) => m.restore(ck),
        }
    }
}

impl ModelFile {
    /// The metadata a model file carries besides the statistics and the
    /// training state: the spec, the task, the columns, the classes, the
    /// transforms, the settings and the seed.
    pub fn metadata(&self) -> BTreeMap<String, String> {
        let mut ck = Checkpoint::new();
        self.spec.to_metadata(&mut ck);
        let mut m = ck.metadata().clone();
        if self.method != Method::Bbb {
            m.insert("model".into(), PLAIN_MLP.into());
        }
        self.method.to_metadata(&mut m);
        m.insert(KEY_TASK.into(), self.task.name().into());
        m.insert(KEY_FEATURES.into(), encode_list(&self.features));
        m.insert(KEY_TARGET.into(), self.target.clone());
        m.insert(KEY_CLASSES.into(), encode_list(&self.classes));
        m.insert(KEY_LOG1P.into(), encode_list(&self.log1p));
        m.insert(KEY_SETTINGS.into(), self.settings.clone());
        m.insert(KEY_SEED.into(), self.seed.to_string());
        if let Some(c) = &self.conformal {
            c.to_metadata(&mut m);
        }
        m
    }

    /// The description a model file carries, checked against itself, the
    /// statistics and the tensors (names, shapes, finite values; see
    /// [`MlpSpec::from_metadata`]) before anything is built from it.
    ///
    /// # Errors
    /// [`Error::Parse`] naming the file and the key or tensor at fault;
    /// [`Error::NonFinite`]; [`Error::TooLarge`] for a network that would
    /// not fit in memory.
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
        let method = Method::from_metadata(meta, ck.source())?;
        let spec = match method {
            Method::Bbb => MlpSpec::from_metadata(ck)?,
            _ => {
                let spec = MlpSpec::sizes_from_metadata(ck, PLAIN_MLP)?;
                trained::check_tensors(ck, &spec, task, method)?;
                spec
            }
        };
        let file = ModelFile {
            task,
            spec,
            features: list(KEY_FEATURES)?,
            target: get(KEY_TARGET)?.clone(),
            classes: list(KEY_CLASSES)?,
            log1p: list(KEY_LOG1P)?,
            settings: get(KEY_SETTINGS)?.clone(),
            seed: get(KEY_SEED)?.parse().map_err(|_| bad(format!("metadata {KEY_SEED} is not a number")))?,
            conformal: None,
            method,
        };
        let outputs = file.spec.outputs;
        let file = ModelFile { conformal: Calibration::from_metadata(meta, task, outputs, ck.source())?, ..file };
        file.check(ck)?;
        Ok(file)
    }

    /// The description's parts against each other and the statistics the
    /// checkpoint holds (which `blitz fit` always writes).
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

    /// An untrained Bayes by Backprop model of this description, whatever
    /// [`ModelFile::method`] says ([`ModelFile::build_trained`] builds the
    /// method's).
    ///
    /// # Errors
    /// As [`MlpSpec::build`].
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

    /// The feature transforms (`log1p`) applied to `data`.
    ///
    /// # Errors
    /// [`Error::Parse`] naming the data's source for a value ≤ −1 in a
    /// `log1p` column.
    pub fn transform(&self, mut data: Dataset) -> Result<Dataset> {
        self.transform_table(&mut data.x, &data.feature_names, &data.source)?;
        Ok(data)
    }

    /// [`ModelFile::transform`] on a table whose columns are `names`.
    fn transform_table(&self, x: &mut Table, names: &[String], source: &str) -> Result<()> {
        let cols: Vec<usize> = self.log1p.iter().filter_map(|c| names.iter().position(|f| f == c)).collect();
        x.log1p_columns(&cols).map_err(|e| Error::Parse { path: source.to_string(), message: format!("--log1p: {e}") })
    }
}

/// A model file ready to predict: its description, the model, and (for
/// Bayes by Backprop) the network prepared for many draws (sigma =
/// softplus(rho) computed once).
/// `Send + Sync`: threads may share one and call [`Model::predict`] at once.
#[derive(Debug)]
pub struct Model {
    file: ModelFile,
    trained: Trained,
    net: Option<draws::Network>,
}

impl Model {
    /// Reads and checks the model file at `path`.
    ///
    /// # Errors
    /// [`Error::Io`] when it cannot be read; [`Error::Parse`],
    /// [`Error::NonFinite`] or [`Error::TooLarge`] naming the file and
    /// what is wrong (the errors of `blitz predict`).
    pub fn load(path: impl AsRef<Path>) -> Result<Model> {
        Model::from_checkpoint(&Checkpoint::load(path)?)
    }

    /// A model file's bytes; `source` names them in errors.
    ///
    /// # Errors
    /// As [`Model::load`].
    pub fn from_bytes(bytes: &[u8], source: &str) -> Result<Model> {
        let ck = Checkpoint::from_bytes(bytes, source)?;
        ck.verify_seal()?;
        crate::checkpoint::check_format_version(&ck)?;
        Model::from_checkpoint(&ck)
    }

    /// The model a loaded checkpoint describes.
    ///
    /// # Errors
    /// As [`ModelFile::from_checkpoint`] and [`Fitted::restore`].
    pub fn from_checkpoint(ck: &Checkpoint) -> Result<Model> {
        let file = ModelFile::from_checkpoint(ck)?;
        let mut trained = file.build_trained()?;
        trained.restore(ck)?;
        let net = trained.bbb().map(|fitted| draws::Network::new(&file, fitted)).transpose()?;
        Ok(Model { file, trained, net })
    }

    /// What the file says about the model and its data.
    pub fn file(&self) -> &ModelFile {
        &self.file
    }

    /// The task.
    pub fn task(&self) -> Task {
        self.file.task
    }

    /// The feature columns, in the order [`Model::predict`] takes them.
    pub fn features(&self) -> &[String] {
        &self.file.features
    }

    /// The class labels (empty for a regression).
    pub fn classes(&self) -> &[String] {
        &self.file.classes
    }

    /// The Bayes by Backprop model itself (for evaluation, or to train
    /// further); `None` for a file of another method ([`Model::trained`]).
    pub fn fitted(&self) -> Option<&Fitted> {
        self.trained.bbb()
    }

    /// The model itself, whichever method wrote the file.
    pub fn trained(&self) -> &Trained {
        &self.trained
    }

    /// How the file's network is uncertain.
    pub fn method(&self) -> Method {
        self.file.method
    }

    /// Reads the delimited file at `path` (delimiter and header detected)
    /// for this model: its feature columns by name, as `blitz predict`.
    ///
    /// # Errors
    /// As [`crate::data::read_delimited`].
    pub fn read_data(&self, path: &str) -> Result<Dataset> {
        crate::data::read_delimited(path, &self.file.read_options(Delimiter::Auto, None, false))
    }

    /// The same model predicting on `ctx`: its kernel variants and threads
    /// (by default [`Context::default`](blitz_kernels::context::Context),
    /// rayon's global pool). The bits of a prediction do not depend on it.
    pub fn with_context(mut self, ctx: blitz_kernels::context::Context) -> Model {
        self.trained.set_context(&ctx);
        if let Some(net) = &mut self.net {
            net.ctx = ctx;
        }
        self
    }

    /// The same model keeping at most `bytes` of drawn weights between calls
    /// (by default [`DEFAULT_DRAW_CACHE`]; 0 keeps none). A draw is a
    /// function of its name (seed, draw), so a call with the seed and draw
    /// count of the call before takes the weights that call drew instead of
    /// drawing them again: the same bits, without the normals. Calls whose
    /// draws need more than `bytes` draw their weights each time. Bayes by
    /// Backprop's models keep their draws; the other methods' predictions
    /// draw through their own networks, and this changes nothing for them.
    pub fn with_draw_cache(mut self, bytes: usize) -> Model {
        if let Some(net) = &mut self.net {
            net.cache_limit = bytes;
        }
        self
    }

    /// The prediction of the transformed rows `x`, by the file's method.
    fn predict_table(&self, x: &Table, draws: usize, seed: u64) -> Result<Prediction> {
        match &self.net {
            Some(net) => net.predict(&self.file, x, draws, seed),
            None => self.trained.predict(&x.to_tensor()?, draws, seed),
        }
    }

    /// The predictive distribution of `rows` (each one value per feature,
    /// in [`Model::features`]' order and the data's own units) from `draws`
    /// weight draws named by `seed`. The same bits as `blitz predict` on a
    /// file of these rows.
    ///
    /// # Errors
    /// [`Error::InvalidShape`] for a row of another length; the errors of
    /// [`Model::predict_dataset`].
    pub fn predict<R: AsRef<[f32]>>(&self, rows: &[R], draws: usize, seed: u64) -> Result<Prediction> {
        let cols = self.file.features.len();
        let mut data = Vec::with_capacity(rows.len().saturating_mul(cols));
        for (i, r) in rows.iter().enumerate() {
            let r = r.as_ref();
            if r.len() != cols {
                return Err(Error::InvalidShape {
                    op: "Model::predict",
                    shape: vec![r.len()],
                    reason: format!("row {i} has {} values, the model takes {cols} features", r.len()),
                });
            }
            data.extend_from_slice(r);
        }
        let mut x = Table { data, rows: rows.len(), cols };
        self.file.transform_table(&mut x, &self.file.features, "<rows>")?;
        self.predict_table(&x, draws, seed)
    }

    /// [`Model::predict`] on data read for this model ([`Model::read_data`]),
    /// transforms not yet applied.
    ///
    /// # Errors
    /// [`Error::Parse`] for a value the transforms refuse; [`Error::Empty`]
    /// for no rows; [`Error::ShapeMismatch`] for data of other columns;
    /// [`Error::NonFinite`] naming the row and column of a value that is not
    /// finite; [`Error::InvalidArgument`] for `draws == 0`;
    /// [`Error::TooLarge`] when the draws would not fit in memory.
    pub fn predict_dataset(&self, data: &Dataset, draws: usize, seed: u64) -> Result<Prediction> {
        let mut x = data.x.clone();
        self.file.transform_table(&mut x, &data.feature_names, &data.source)?;
        self.predict_table(&x, draws, seed)
    }

    /// [`Model::predict`] on a table of features in [`Model::features`]'
    /// order whose transforms are applied already ([`ModelFile::transform`]).
    ///
    /// # Errors
    /// As [`Model::predict_dataset`].
    pub fn predict_transformed(&self, x: &Table, draws: usize, seed: u64) -> Result<Prediction> {
        self.predict_table(x, draws, seed)
    }

    /// The prediction table `blitz predict` prints: a CSV header, then one
    /// line per row.
    ///
    /// A calibrated model (`blitz fit --conformal F`) adds the columns
    /// `lower_conformal` and `upper_conformal` (regression) or `set`, the
    /// classes of the prediction set joined by `|` (classification).
    pub fn table(&self, p: &Prediction) -> String {
        table::csv(p, &self.file.classes, self.file.conformal.as_ref().map(|c| &c.rule))
    }

    /// Writes [`Model::table`] to `w`.
    ///
    /// # Errors
    /// [`Error::Io`] when the writer fails.
    pub fn write_table(&self, p: &Prediction, w: &mut dyn std::io::Write) -> Result<()> {
        w.write_all(self.table(p).as_bytes())
            .and_then(|()| w.flush())
            .map_err(|e| Error::Io { path: "<output>".into(), message: e.to_string() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_model_is_send_and_sync() {
        fn both<T: Send + Sync>() {}
        both::<Model>();
    }
}
