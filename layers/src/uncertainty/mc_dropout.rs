//! MC dropout (Gal & Ghahramani 2016): a network trained with dropout is
//! read as an approximate Bayesian posterior by keeping dropout on at
//! prediction and averaging T stochastic passes; their spread is the
//! epistemic uncertainty.
//!
//! [`Dropout`](crate::Dropout) draws its mask from the tape's named normal
//! draws whenever the layer is in training mode, on any tape — the
//! prediction tapes of [`VariationalEstimator::predict_draws`] included —
//! so draw i of a prediction is named by (seed, i) and repeats exactly.
//! [`McDropout`] pins every dropout layer inside on for every pass (by
//! [`Module::set_dropout`], whatever [`Module::set_training`] is later
//! told) and leaves every other layer's mode to `set_training`, which it
//! forwards, so wrapped in it
//! a deterministic network becomes a model for
//! [`Classifier`](crate::classification::Classifier) and
//! [`Regressor`](crate::regression::Regressor), whose `predict(x, draws, seed)`
//! then returns T = `draws` dropout passes.

use crate::estimator::VariationalEstimator;
use crate::module::{BayesianModule, Module};
use blitz_autograd::{Context, Error, Param, Result, Tensor, Var};

/// A network whose dropout stays on in every pass, training and prediction alike.
#[derive(Debug)]
pub struct McDropout<M: Module> {
    /// The network (with [`Dropout`](crate::Dropout) layers; without any,
    /// every draw is the same).
    pub net: M,
    /// The kernel variants and threads its passes run on (by default [`Context::default`]).
    pub context: Context,
}

impl<M: Module> McDropout<M> {
    /// Wraps `net`, switching its dropout layers on (and nothing else).
    pub fn new(net: M) -> McDropout<M> {
        net.set_dropout(true);
        McDropout { net, context: Context::default() }
    }

    /// This wrapper with its predictions on the kernel variants and threads of
    /// `ctx` (the same bits on any thread count).
    pub fn with_context(mut self, ctx: Context) -> Self {
        self.context = ctx;
        self
    }

    /// T = `draws` dropout passes over `x` (`[n, ...]`), pass i named by
    /// (`seed`, i): the raw outputs, one tensor per pass.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for `draws == 0` (no draw, no estimate);
    /// the network's shape errors.
    pub fn predict(&self, x: &Tensor, draws: usize, seed: u64) -> Result<Vec<Tensor>> {
        if draws == 0 {
            return Err(Error::invalid("draws", "0: MC dropout needs at least one pass (T ≥ 1)"));
        }
        self.predict_draws(&self.context, x, draws, seed)
    }

    /// The mean over T = `draws` passes (as [`McDropout::predict`]) and the
    /// standard deviation across them (1/T normalisation), elementwise,
    /// each shaped as one pass's output.
    ///
    /// # Errors
    /// As [`McDropout::predict`].
    pub fn predict_mean_std(&self, x: &Tensor, draws: usize, seed: u64) -> Result<(Tensor, Tensor)> {
        let outs = self.predict(x, draws, seed)?;
        let shape = outs[0].shape().to_vec();
        let vals = outs.iter().map(Tensor::to_vec).collect::<Result<Vec<_>>>()?;
        let t = draws as f64;
        let (mut mean, mut std) = (Vec::with_capacity(vals[0].len()), Vec::with_capacity(vals[0].len()));
        for j in 0..vals[0].len() {
            let m = vals.iter().map(|v| v[j] as f64).sum::<f64>() / t;
            let var = vals.iter().map(|v| (v[j] as f64 - m).powi(2)).sum::<f64>() / t;
            mean.push(m as f32);
            std.push(var.sqrt() as f32);
        }
        Ok((Tensor::from_vec(mean, &shape)?, Tensor::from_vec(std, &shape)?))
    }
}

impl<M: Module> Module for McDropout<M> {
    fn forward(&self, x: &Var) -> Result<Var> {
        // Re-pinned on each pass: code that switches the inner network to
        // evaluation mode directly must not silently turn MC dropout off.
        self.net.set_dropout(true);
        self.net.forward(x)
    }

    fn visit_params(&self, prefix: &str, f: &mut dyn FnMut(&str, &Param)) {
        self.net.visit_params(prefix, f);
    }

    fn visit_bayesian(&self, f: &mut dyn FnMut(&dyn BayesianModule)) {
        self.net.visit_bayesian(f);
    }

    /// Forwarded to the network's other layers; its dropout layers stay
    /// on (MC dropout means dropout on in evaluation too).
    fn set_training(&self, training: bool) {
        self.net.set_training(training);
        self.net.set_dropout(true);
    }

    /// Ignored: the dropout layers stay on.
    fn set_dropout(&self, _active: bool) {}
}
