//! # blitz-layers
//!
//! Bayes-by-Backprop layers on blitz's autograd, with BLiTZ's names:
//!
//! - [`Module`], [`Sequential`], [`Linear`], activations, [`Dropout`];
//! - [`BayesianLinear`] (weights N(mu, softplus(rho)²)) and its options;
//! - [`prior`]: the [`Prior`] trait, [`ScaleMixture`], [`Gaussian`], [`Laplace`], [`StudentT`];
//! - [`kl`]: Monte Carlo and closed-form KL, chosen per layer with [`KlMode`];
//! - [`estimator`]: `sample_elbo`, `freeze`, `mfvi_forward`, `moped`, ... for
//!   every module through [`VariationalEstimator`], and [`minibatch_weight`];
//! - [`metrics`]: RMSE, coverage, predictive log-likelihood, accuracy, NLL,
//!   Brier score, entropy, mutual information, calibration;
//! - [`data`]: delimited text (any delimiter, header, gzip, targets by
//!   name), splits, standardisation, seeded mini-batches;
//! - [`regression::Regressor`] and [`classification::Classifier`]: training
//!   ([`train`]), prediction with its uncertainty and evaluation for any
//!   module and input shape; [`mlp::MlpSpec`]: a Bayesian MLP from a few numbers;
//! - [`checkpoint`]: safetensors files with BLiTZ's parameter names;
//! - [`model`]: the model files `blitz fit` writes: [`Model::load`], [`Model::predict`];
//! - [`uncertainty`]: MC dropout, deep ensembles, last-layer Laplace,
//!   SWAG, IVON and temperature scaling: uncertainty beyond Bayes by Backprop.
#![warn(missing_docs)]

pub mod activation;
pub mod bayesian_linear;
pub mod checkpoint;
pub mod classification;
pub mod conv;
pub mod convert;
pub mod data;
pub mod dropout;
pub mod embedding;
pub mod estimator;
pub mod gradient_estimator;
pub mod gru;
pub mod kl;
pub mod linear;
pub mod lstm;
pub mod metrics;
pub mod mlp;
pub mod model;
pub mod module;
mod noise;
mod options;
pub mod output;
pub mod pool;
pub mod posterior;
pub mod prior;
pub mod recurrent;
pub mod regression;
pub mod sequential;
mod tensorfile;
pub mod train;
pub mod uncertainty;

pub use activation::{LogSoftmax, ReLU, Sigmoid, Softmax, Softplus, Standardize, Tanh};
pub use bayesian_linear::{BayesianLinear, BayesianLinearOptions};
pub use checkpoint::{load_module, save_module, Checkpoint};
pub use classification::{ClassPrediction, ClassificationMetrics, Classifier};
pub use conv::{
    BayesianConv1d, BayesianConv2d, BayesianConv3d, BayesianConvOptions, Conv1d, Conv2d, Conv3d, ConvParams,
};
pub use dropout::Dropout;
pub use embedding::{BayesianEmbedding, BayesianEmbeddingOptions, Embedding};
pub use estimator::{minibatch_weight, ElboParts, Targets, VariationalEstimator};
pub use gradient_estimator::Estimator;
pub use gru::{BayesianGRU, GRU};
pub use kl::KlMode;
pub use linear::Linear;
pub use lstm::{BayesianLSTM, LstmState, LSTM};
pub use mlp::MlpSpec;
pub use model::{Model, Prediction};
pub use module::{params, to_device, BayesianModule, Module};
pub use noise::radial_noise;
pub use output::OutputLock;
pub use pool::{AvgPool1d, AvgPool2d, Flatten, MaxPool1d, MaxPool2d};
pub use prior::{Gaussian, Laplace, Prior, ScaleMixture, StudentT};
pub use recurrent::BayesianRecurrentOptions;
pub use regression::{RegressionMetrics, RegressionPrediction, Regressor};
pub use sequential::Sequential;
pub use train::{CheckpointEvery, Progress, TrainConfig, TrainSummary};
pub use uncertainty::{
    DeepEnsemble, GaussianRegressor, Ivon, IvonConfig, LaplaceStructure, LastLayerLaplace, McDropout, Swag, SwagConfig,
    TemperatureScaled, TemperatureScaling,
};
