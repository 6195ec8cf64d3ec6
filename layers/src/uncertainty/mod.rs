//! Uncertainty beyond Bayes by Backprop, on the same engine and metrics.
//!
//! Which to use when:
//!
//! - [`TemperatureScaling`] — you have a trained classifier (any, Bayesian
//!   or not) and a held-out set, and want calibrated probabilities
//!   (lower NLL and ECE) for the cost of one pass. It changes no
//!   prediction and gives no epistemic uncertainty: it cannot flag
//!   out-of-distribution inputs better than the network already does.
//! - [`McDropout`] — the network was trained with dropout: T passes with
//!   dropout on give a mean and an epistemic spread (mutual information)
//!   for T times the prediction cost and no extra training.
//! - [`DeepEnsemble`] — the most reliable uncertainty of these when you can
//!   afford M trainings (on M threads at once): members from different
//!   seeds disagree away from the data. For regression the members are
//!   [`GaussianRegressor`]s, each predicting a mean and a variance.
//! - [`LastLayerLaplace`] — you already have a trained deterministic
//!   network ending in a linear layer and want uncertainty without
//!   training again: seconds after training, a Gaussian posterior on the
//!   last layer with its prior tuned by the marginal likelihood; the probit
//!   prediction costs one pass.
//! - [`Swag`] — a trained network and a few more epochs of SGD to spare:
//!   a Gaussian over all the weights from the SGD iterates (mean, diagonal
//!   and low-rank covariance), better calibrated than the network alone;
//!   prediction costs one pass per draw.
//! - [`Ivon`] — training from scratch and wanting a posterior for about
//!   the price of Adam: IVON learns a mean-field Gaussian over every weight
//!   of a deterministic network; predict at the mean (one pass) or average
//!   draws.
//! - [`ConformalRegressor`] / [`ConformalClassifier`] — on top of any of
//!   these: held-out rows turn the predictive std into intervals (or the
//!   probabilities into sets) whose coverage is at least 1 − α in finite
//!   samples, whatever the model.
//! - Combine them: [`TemperatureScaling`] fits on any logits, and the logs
//!   of averaged probabilities are logits (softmax(ln p) = p), so MC
//!   dropout's or an ensemble's mean can be temperature-scaled too.
//!
//! `examples/uncertainty_bench.rs` compares them on Boston (UCI protocol)
//! and MNIST (LeNet) with one fixed setting per method; its figures, and
//! what they do and do not show, are in BENCHMARKS.md.
//!
//! Every method repeats bit for bit from its seed, and refuses bad
//! settings (T = 0 passes, M = 0 members, a temperature ≤ 0, a network
//! without a last linear layer for Laplace) with a typed
//! [`Error`](blitz_autograd::Error).

pub mod conformal;
pub mod ensemble;
pub mod ivon;
pub mod laplace;
mod linalg;
pub mod mc_dropout;
pub mod swag;
pub mod temperature;

/// Runs `predict(draw seed)` once for each of `draws` posterior draws, after
/// `set(draw seed)` has put draw i (named by (`seed`, i)) into the network,
/// then `restore`s the network, whether or not a prediction failed: the
/// draw loop of the methods that sample weights into a deterministic
/// network (SWAG, IVON).
pub(crate) fn over_draws<T>(
    draws: usize,
    seed: u64,
    mut set: impl FnMut(u64) -> blitz_autograd::Result<()>,
    restore: impl FnOnce() -> blitz_autograd::Result<()>,
    mut predict: impl FnMut(u64) -> blitz_autograd::Result<T>,
) -> blitz_autograd::Result<Vec<T>> {
    if draws == 0 {
        return Err(blitz_autograd::Error::invalid("draws", "0: at least one draw is needed"));
    }
    let out = (0..draws)
        .map(|i| {
            let s = crate::estimator::draw_seed(seed, i as u64);
            set(s)?;
            predict(s)
        })
        .collect();
    restore()?;
    out
}

pub use conformal::{coverage_and_width, set_coverage_and_size, ConformalClassifier, ConformalRegressor};
pub use ensemble::{member_seed, DeepEnsemble, GaussianRegressor};
pub use ivon::{Ivon, IvonConfig};
pub use laplace::{Curvature, LaplaceStructure, LastLayerLaplace};
pub use mc_dropout::McDropout;
pub use swag::{Swag, SwagConfig};
pub use temperature::{TemperatureScaled, TemperatureScaling};
