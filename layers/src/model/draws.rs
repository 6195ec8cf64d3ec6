//! The network of a model file prepared for many draws: each layer's means
//! and sigma = softplus(rho) held once, so that a draw is the fused
//! w = mu + sigma·eps, one product and the activation, straight on the
//! kernels. The kernels, the draw names (seed, offset) and the rows per
//! product are those of [`Regressor::predict`] and [`Classifier::predict`]
//! on a [`blitz_autograd::Tape::predict`], so every value has the same bits.
//!
//! [`Regressor::predict`]: crate::regression::Regressor::predict
//! [`Classifier::predict`]: crate::classification::Classifier::predict

use super::{Fitted, ModelFile, Prediction, Task};
use crate::classification::ClassPrediction;
use crate::data::{Standardizer, Table};
use crate::estimator::draw_seed;
use crate::module::params;
use crate::regression::RegressionPrediction;
use crate::train::{check_draws, checked_inputs, example_count};
use blitz_autograd::{Device, Error, Result};
use blitz_kernels::context::Context;
use blitz_kernels::{ops, Buffer, Transpose, UnaryOp};
use std::sync::{Arc, Mutex};

/// Rows per product: those of the predictors' chunks (`PREDICT_ROWS` of
/// regression and classification), which the products' bits depend on.
const CHUNK_ROWS: usize = 4096;

/// Multiply-adds of a call below which the draws run on the calling thread
/// (a hand-off to the pool costs more than they do).
const SERIAL_WORK: usize = 1 << 21;

/// The bytes of drawn weights a [`super::Model`] keeps by default
/// ([`super::Model::with_draw_cache`]): 16 MiB, enough for 100 draws of a
/// network of 40,000 weights (the README's Boston networks have 751 and 7,681).
pub const DEFAULT_DRAW_CACHE: usize = 16 << 20;

/// The weights and biases of every draw of one call (named by its seed),
/// each layer's `(w, b)` in a draw's order: what a later call with the same
/// seed and draw count uses instead of drawing them again (the same values:
/// a draw is a function of its name).
#[derive(Debug)]
struct Drawn {
    seed: u64,
    draws: Vec<Vec<(Buffer, Buffer)>>,
}

/// One Bayesian linear layer, ready to draw: its sizes and where its
/// weights and bias lie in a draw ([`Network`]'s flat `mu` and `sigma`).
#[derive(Debug)]
struct Layer {
    inputs: usize,
    outputs: usize,
    /// Where the weights and the bias start in a draw's stream of normals
    /// (as [`blitz_autograd::Tape::draw`] hands them out: blocks of four),
    /// which are also their places in the flat buffers.
    w_at: usize,
    b_at: usize,
}

/// The network of a loaded model, its statistics and noise level.
#[derive(Debug)]
pub(super) struct Network {
    layers: Vec<Layer>,
    /// Every layer's means and sigma = softplus(rho), each weight at its
    /// offset in the draw's stream of normals (zeros in the gaps between
    /// tensors, which start at multiples of four): one fused
    /// w = mu + sigma·eps draws the whole network.
    mu: Buffer,
    sigma: Buffer,
    x_scale: Standardizer,
    y_scale: Option<Standardizer>,
    /// Each output's noise standard deviation (regression only).
    noise: Vec<f32>,
    /// Multiply-adds of one draw of one row (weights drawn, products).
    work_per_row: usize,
    /// Where the draws run (variants and threads).
    pub(super) ctx: Context,
    /// The most bytes of drawn weights kept between calls (0: none).
    pub(super) cache_limit: usize,
    /// The draws of the last call that fitted in `cache_limit`.
    cache: Mutex<Option<Arc<Drawn>>>,
}

impl Network {
    /// The network of `fitted` (restored from a file `file` describes).
    pub(super) fn new(file: &ModelFile, fitted: &Fitted) -> Result<Network> {
        let (net, x_scale, y_scale, noise) = match fitted {
            Fitted::Regression(m) => (&m.net, &m.x_scale, m.y_scale.clone(), m.noise_std()?),
            Fitted::Classification(m) => (&m.net, &m.x_scale, None, Vec::new()),
        };
        let x_scale = x_scale.clone().ok_or_else(|| Error::invalid("model", "no x_scale statistics"))?;
        let named = params(net);
        let host = |name: String| -> Result<Buffer> {
            let (_, p) = named
                .iter()
                .find(|(n, _)| *n == name)
                .ok_or_else(|| Error::invalid("model", format!("no parameter {name}")))?;
            Buffer::from_host(p.value().to_vec()?, Device::Cpu)
        };
        let mut widths = vec![file.spec.inputs];
        widths.extend(&file.spec.hidden);
        widths.push(file.spec.outputs);
        let (mut layers, mut work) = (Vec::new(), 0usize);
        let (mut mu, mut sigma) = (Vec::new(), Vec::new());
        // Appends a tensor at the next multiple of four (its offset in the stream).
        let mut place = |m: Vec<f32>, s: Vec<f32>| {
            let at = mu.len().next_multiple_of(4);
            mu.resize(at, 0.0);
            sigma.resize(at, 0.0);
            mu.extend(m);
            sigma.extend(s);
            at
        };
        for (i, w) in widths.windows(2).enumerate() {
            let (inputs, outputs) = (w[0], w[1]);
            let name = |part: &str| format!("fc{}.{part}", i + 1);
            let softplus = |b: Buffer| ops::unary_in(&Context::default(), UnaryOp::Softplus, &b)?.into_vec();
            let (w_mu, b_mu) = (host(name("weight_mu"))?.into_vec()?, host(name("bias_mu"))?.into_vec()?);
            // The spec check bounded the weights by the memory: no overflow.
            work = work.saturating_add(w_mu.len().saturating_mul(2));
            let w_at = place(w_mu, softplus(host(name("weight_rho"))?)?);
            let b_at = place(b_mu, softplus(host(name("bias_rho"))?)?);
            layers.push(Layer { inputs, outputs, w_at, b_at });
        }
        let (mu, sigma) = (Buffer::from_host(mu, Device::Cpu)?, Buffer::from_host(sigma, Device::Cpu)?);
        Ok(Network {
            layers,
            mu,
            sigma,
            x_scale,
            y_scale,
            noise,
            work_per_row: work,
            ctx: Context::default(),
            cache_limit: DEFAULT_DRAW_CACHE,
            cache: Mutex::new(None),
        })
    }

    /// The predictive distribution of the rows of `x` (transformed, not
    /// standardised), with the checks and errors of the task's predictor.
    pub(super) fn predict(&self, file: &ModelFile, x: &Table, draws: usize, seed: u64) -> Result<Prediction> {
        let xt = x.to_tensor()?;
        let k = file.spec.outputs;
        match file.task {
            Task::Regression => {
                let n = example_count("Regressor (inputs vs the training inputs' features)", &xt, Some(&self.x_scale))?;
                check_draws("Regressor::predict", draws, n, k, CHUNK_ROWS, 6)?;
                let xs = checked_inputs("Regressor::predict", &xt, Some(&self.x_scale))?.to_vec()?;
                let op = "Regressor::predict (network output vs [rows, outputs])";
                let mut means = self.draws(op, &xs, n, draws, seed, false)?;
                if let Some(s) = &self.y_scale {
                    for d in &mut means {
                        s.unapply(d)?;
                    }
                }
                Ok(Prediction::Regression(RegressionPrediction::from_draws(k, means, &self.noise)))
            }
            Task::Classification => {
                let n =
                    example_count("Classifier (inputs vs the training inputs' features)", &xt, Some(&self.x_scale))?;
                check_draws("Classifier::predict", draws, n, k, CHUNK_ROWS, 2)?;
                let xs = checked_inputs("Classifier::predict", &xt, Some(&self.x_scale))?.to_vec()?;
                let op = "Classifier::predict (logits vs [rows, classes])";
                let probs = self.draws(op, &xs, n, draws, seed, true)?;
                Ok(Prediction::Classification(ClassPrediction::from_draws(k, probs)?))
            }
        }
    }

    /// Each draw's outputs `[n, outputs]` (softmax when `softmax`) for the
    /// standardised rows `xs`, in chunks of [`CHUNK_ROWS`] rows.
    fn draws(
        &self,
        op: &'static str,
        xs: &[f32],
        n: usize,
        draws: usize,
        seed: u64,
        softmax: bool,
    ) -> Result<Vec<Vec<f32>>> {
        let width = self.layers.last().map_or(0, |l| l.outputs);
        let cols = self.layers.first().map_or(0, |l| l.inputs);
        check_draws(op, draws, n, width, CHUNK_ROWS, 0)?;
        let mut out: Vec<Vec<f32>> =
            if n > CHUNK_ROWS { vec![Vec::with_capacity(n.saturating_mul(width)); draws] } else { Vec::new() };
        let drawn = self.drawn(seed, draws)?;
        let mut start = 0;
        while start < n {
            let m = CHUNK_ROWS.min(n - start);
            let part = Buffer::from_host(xs[start * cols..(start + m) * cols].to_vec(), Device::Cpu)?;
            let one = |i: usize| -> Result<Vec<f32>> {
                let y = match &drawn {
                    Some(d) => self.forward(&part, m, &d.draws[i])?,
                    None => self.forward(&part, m, &self.weights(draw_seed(seed, i as u64))?)?,
                };
                if softmax {
                    ops::softmax_in(&self.ctx, &y, width, false)?.into_vec()
                } else {
                    y.into_vec()
                }
            };
            let work = self.work_per_row.saturating_mul(m + 1).saturating_mul(draws);
            let parts: Vec<Vec<f32>> = if work < SERIAL_WORK {
                (0..draws).map(one).collect::<Result<_>>()?
            } else {
                use rayon::prelude::*;
                self.ctx.install(|| (0..draws).into_par_iter().map(one).collect::<Result<_>>())?
            };
            if m == n {
                // One chunk: its draws are the outputs (no copy).
                return Ok(parts);
            }
            for (d, p) in out.iter_mut().zip(parts) {
                d.extend(p);
            }
            start += m;
        }
        Ok(out)
    }

    /// The weights of the `draws` draws named by `seed`, kept from an
    /// earlier call or drawn now and kept, when they fit in `cache_limit`
    /// bytes; `None` when they do not (each draw then draws its own).
    fn drawn(&self, seed: u64, draws: usize) -> Result<Option<Arc<Drawn>>> {
        let bytes = self.mu.len().saturating_mul(draws).saturating_mul(std::mem::size_of::<f32>());
        if bytes > self.cache_limit {
            return Ok(None);
        }
        // A poisoned lock (a thread panicked while holding it) is a miss, never a panic here.
        let kept = self.cache.lock().ok().and_then(|c| c.clone());
        if let Some(d) = kept.filter(|d| d.seed == seed && d.draws.len() == draws) {
            return Ok(Some(d));
        }
        let one = |i: usize| self.weights(draw_seed(seed, i as u64));
        let all: Vec<Vec<(Buffer, Buffer)>> = if self.work_per_row.saturating_mul(draws) < SERIAL_WORK {
            (0..draws).map(one).collect::<Result<_>>()?
        } else {
            use rayon::prelude::*;
            self.ctx.install(|| (0..draws).into_par_iter().map(one).collect::<Result<_>>())?
        };
        let d = Arc::new(Drawn { seed, draws: all });
        if let Ok(mut c) = self.cache.lock() {
            *c = Some(Arc::clone(&d));
        }
        Ok(Some(d))
    }

    /// Every layer's weights and bias in the draw named by `seed`: the whole
    /// network in one fused draw, then cut into its tensors.
    fn weights(&self, seed: u64) -> Result<Vec<(Buffer, Buffer)>> {
        let all = ops::reparam_forward_sigma_in(&self.ctx, &self.mu, &self.sigma, seed, 0)?;
        let all = all.as_cpu("Model::predict")?;
        let part = |at: usize, len: usize| Buffer::from_host(all[at..at + len].to_vec(), Device::Cpu);
        self.layers.iter().map(|l| Ok((part(l.w_at, l.inputs * l.outputs)?, part(l.b_at, l.outputs)?))).collect()
    }

    /// The network with the drawn weights `wb` (each layer's `(w, b)`) on
    /// the `m` rows of `x`: `[m, outputs]`.
    fn forward(&self, x: &Buffer, m: usize, wb: &[(Buffer, Buffer)]) -> Result<Buffer> {
        let mut h: Option<Buffer> = None;
        for (i, (l, (w, b))) in self.layers.iter().zip(wb).enumerate() {
            let mut c = ops::gemm_in(&self.ctx, h.as_ref().unwrap_or(x), w, 1, m, l.inputs, l.outputs, Transpose::NT)?;
            ops::add_rows_in(&self.ctx, &mut c, b)?;
            if i + 1 < self.layers.len() {
                c = ops::unary_in(&self.ctx, UnaryOp::Relu, &c)?;
            }
            h = Some(c);
        }
        h.ok_or_else(|| Error::invalid("model", "a network without layers"))
    }
}
