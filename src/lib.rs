//! # blitz
//!
//! Bayesian neural-network layers (Bayes by Backprop) in Rust, on a small
//! tape-based autograd and its own CPU (and CUDA) kernels. This facade
//! re-exports the workspace's crates:
//!
//! - [`kernels`]: compute on raw buffers, no autograd;
//! - [`autograd`]: `Tensor`, `Tape`/`Var`, losses, optimizers;
//! - [`layers`]: modules, Bayesian layers, priors, KL, the ELBO estimator.
//!
//! Most programs need only `use blitz::prelude::*;`: your own data in
//! twenty lines (a file with a header and a `price` column):
//!
//! ```no_run
//! use blitz::prelude::*;
//!
//! fn main() -> Result<()> {
//!     let data = read_delimited("houses.csv.gz", &ReadOptions::default().with_target(ColumnRef::name("price")))?;
//!     let (train, test) = Split::Fraction { test: 0.2, seed: 0 }.apply(&data)?;
//!     let (x, y) = (train.x.to_tensor()?, train.values()?.to_tensor()?);
//!     let net = MlpSpec::new(x.shape()[1], vec![50], 1).build(0)?;
//!     let model = Regressor::new(net, 1)?.standardized_on(&x, &y)?;
//!     model.fit(&x, &y, &TrainConfig::default(), |p| eprintln!("epoch {} nll {:.3}", p.epoch, p.nll))?;
//!     let m = model.evaluate(&test.x.to_tensor()?, &test.values()?.to_tensor()?, 100, 0)?;
//!     println!("test RMSE {:.3}, ±2σ coverage {:.3}", m.rmse, m.coverage_2sd);
//!     let p = model.predict(&test.x.to_tensor()?, 100, 0)?;
//!     println!("first: {:.2} ± {:.2} (epistemic {:.2})", p.mean[0], p.std[0], p.epistemic_std[0]);
//!     Ok(())
//! }
//! ```
#![warn(missing_docs)]

pub use blitz_autograd as autograd;
pub use blitz_kernels as kernels;
pub use blitz_layers as layers;
/// A model file written by `blitz fit`, loaded to predict: see [`layers::model`].
pub use blitz_layers::model::{Model, Prediction};
/// The `rand` crate blitz is built with (layers take `&mut impl rand::Rng`):
/// use this one, so that your generator's version always matches.
pub use rand;
pub mod tour;

/// The names most programs use.
pub mod prelude {
    pub use blitz_autograd::loss;
    pub use blitz_autograd::optim::{clip_grad_norm, Adam, Optimizer, Sgd};
    pub use blitz_autograd::{Device, Error, Gradients, Param, Result, Tape, Tensor, Var};
    pub use blitz_layers::data::{
        read_delimited, ColumnRef, Dataset, Delimiter, ReadOptions, Split, Standardizer, Table, Target,
    };
    pub use blitz_layers::uncertainty::{
        DeepEnsemble, GaussianRegressor, Ivon, IvonConfig, LaplaceStructure, LastLayerLaplace, McDropout, Swag,
        SwagConfig, TemperatureScaled, TemperatureScaling,
    };
    pub use blitz_layers::{
        load_module, minibatch_weight, save_module, to_device, AvgPool1d, AvgPool2d, BayesianConv1d, BayesianConv2d,
        BayesianConv3d, BayesianConvOptions, BayesianEmbedding, BayesianEmbeddingOptions, BayesianGRU, BayesianLSTM,
        BayesianLinear, BayesianLinearOptions, BayesianModule, BayesianRecurrentOptions, Checkpoint, CheckpointEvery,
        ClassPrediction, ClassificationMetrics, Classifier, Conv1d, Conv2d, Conv3d, ConvParams, Dropout, Embedding,
        Estimator, Flatten, Gaussian, KlMode, Laplace, Linear, LogSoftmax, MaxPool1d, MaxPool2d, MlpSpec, Module,
        Prior, Progress, ReLU, RegressionMetrics, RegressionPrediction, Regressor, ScaleMixture, Sequential, Sigmoid,
        Softmax, Softplus, Standardize, StudentT, Tanh, TrainConfig, TrainSummary, VariationalEstimator, GRU, LSTM,
    };
    pub use rand::rngs::StdRng;
    pub use rand::{Rng, RngExt, SeedableRng};
}
