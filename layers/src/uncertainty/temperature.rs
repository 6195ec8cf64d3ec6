//! Temperature scaling (Guo et al. 2017): one positive number T that
//! divides a trained classifier's logits, fitted on held-out examples by
//! their negative log-likelihood. It changes no prediction (the arg max of
//! z/T is that of z) and often repairs most of a network's
//! over-confidence for the price of one held-out pass.
//!
//! The fit minimises, over β = 1/T, the mean NLL
//! f(β) = (1/n) Σᵢ [ln Σ_c exp(β z_ic) − β z_i,yᵢ], which is convex in β
//! (f''(β) is the mean variance of the logits under softmax(βz)), by
//! Newton steps kept inside a bracket of the root of f'. The result is
//! exact to double precision and needs no learning rate.

use crate::module::{BayesianModule, Module};
use blitz_autograd::{Error, Param, Result, Var};

/// A fitted (or chosen) temperature.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TemperatureScaling {
    temperature: f32,
}

/// The mean NLL of β·logits and its first two derivatives in β, in f64.
fn nll_and_derivatives(beta: f64, logits: &[f32], classes: usize, labels: &[usize]) -> (f64, f64, f64) {
    let (mut f, mut d1, mut d2) = (0f64, 0f64, 0f64);
    let mut p = vec![0f64; classes];
    for (row, &y) in logits.chunks(classes).zip(labels) {
        let m = row.iter().fold(f64::NEG_INFINITY, |m, &z| m.max(beta * z as f64));
        let mut s = 0f64;
        for (q, &z) in p.iter_mut().zip(row) {
            *q = (beta * z as f64 - m).exp();
            s += *q;
        }
        let (mut ez, mut ez2) = (0f64, 0f64);
        for (q, &z) in p.iter().zip(row) {
            let w = q / s;
            ez += w * z as f64;
            ez2 += w * (z as f64) * (z as f64);
        }
        f += m + s.ln() - beta * row[y] as f64;
        d1 += ez - row[y] as f64;
        d2 += (ez2 - ez * ez).max(0.0);
    }
    let n = labels.len() as f64;
    (f / n, d1 / n, d2 / n)
}

fn check(logits: &[f32], classes: usize, labels: &[usize]) -> Result<()> {
    let op = "TemperatureScaling (logits [n, classes] vs labels)";
    if classes < 2 {
        return Err(Error::invalid("classes", format!("{classes}: at least two classes")));
    }
    if logits.is_empty() || labels.is_empty() {
        return Err(Error::Empty { op });
    }
    if logits.len() != labels.len() * classes {
        return Err(Error::ShapeMismatch { op, lhs: vec![logits.len()], rhs: vec![labels.len(), classes] });
    }
    if let Some(&l) = labels.iter().find(|&&l| l >= classes) {
        return Err(Error::IndexOutOfRange { op, index: l, len: classes });
    }
    if logits.iter().any(|z| !z.is_finite()) {
        return Err(Error::NonFinite { what: "logits for temperature scaling".into() });
    }
    Ok(())
}

impl TemperatureScaling {
    /// A chosen temperature.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] unless `temperature > 0` and finite: a
    /// temperature ≤ 0 would flip or erase the ranking of the classes.
    pub fn new(temperature: f32) -> Result<TemperatureScaling> {
        if !(temperature > 0.0 && temperature.is_finite()) {
            return Err(Error::invalid("temperature", format!("{temperature}: must be positive and finite")));
        }
        Ok(TemperatureScaling { temperature })
    }

    /// Fits T on held-out `logits` (`[n, classes]` row-major, the network's
    /// raw outputs, not probabilities) and their `labels`, by minimising
    /// the mean NLL of softmax(z/T).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for fewer than two classes, or when no
    /// positive finite T is optimal: the logits predict the labels no better
    /// than uniform (the NLL falls as T → ∞) or every label's logit is its
    /// row's maximum, ties included (it falls as T → 0);
    /// [`Error::ShapeMismatch`] unless there are `classes` logits per
    /// label; [`Error::IndexOutOfRange`] for a label ≥ classes;
    /// [`Error::NonFinite`] for a NaN or infinite logit (or 1/T
    /// overflowing while the optimum is bracketed, which finite logits
    /// cannot cause);
    /// [`Error::Empty`] for no examples.
    pub fn fit(logits: &[f32], classes: usize, labels: &[usize]) -> Result<TemperatureScaling> {
        check(logits, classes, labels)?;
        let d1 = |b: f64| nll_and_derivatives(b, logits, classes, labels).1;
        if d1(0.0) >= 0.0 {
            return Err(Error::invalid(
                "temperature fit",
                "the logits predict these labels no better than uniform: the NLL is least as T → ∞",
            ));
        }
        // As β → ∞ a row adds (max_c z_c − z_y)/n to f' (its softmax
        // weight goes to its largest logits). If every label's logit is its
        // row's maximum (ties included) every row's term stays ≤ 0, so
        // f' < 0 for every β and the NLL falls as T → 0; otherwise some row
        // keeps f' positive in the limit and a finite optimum exists.
        let separated = logits.chunks(classes).zip(labels).all(|(row, &y)| row.iter().all(|&z| z <= row[y]));
        if separated {
            return Err(Error::invalid(
                "temperature fit",
                "the logits separate these labels perfectly: the NLL falls as T → 0",
            ));
        }
        // Bracket the root of f' (f' is increasing: f is convex). The
        // doubling ends: once β times the smallest gap between a row's
        // largest logit and another exceeds ~745, every smaller weight
        // underflows and f' equals its positive limit exactly. No absolute
        // cap on β: sharp logits with small gaps need a large β. Only if
        // β itself overflows (not reachable from finite f32 logits) is the
        // fit refused.
        let (mut lo, mut hi) = (0f64, 1f64);
        while d1(hi) < 0.0 {
            lo = hi;
            hi *= 2.0;
            if !hi.is_finite() {
                return Err(Error::NonFinite { what: "temperature fit: 1/T overflowed while bracketing".into() });
            }
        }
        let mut beta = if lo > 0.0 { (lo + hi) / 2.0 } else { hi.min(1.0) };
        for _ in 0..200 {
            let (_, g, h) = nll_and_derivatives(beta, logits, classes, labels);
            if g < 0.0 {
                lo = beta;
            } else {
                hi = beta;
            }
            if g.abs() < 1e-12 || hi - lo < 1e-14 * hi {
                break;
            }
            let newton = beta - g / h;
            beta = if h > 0.0 && newton > lo && newton < hi { newton } else { (lo + hi) / 2.0 };
        }
        TemperatureScaling::new((1.0 / beta) as f32)
    }

    /// The temperature T.
    pub fn temperature(&self) -> f32 {
        self.temperature
    }

    /// softmax(z / T) of each row of `logits` (`[n, classes]` row-major).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for `classes == 0`; [`Error::InvalidShape`]
    /// unless the length is a multiple of `classes`.
    pub fn probs(&self, logits: &[f32], classes: usize) -> Result<Vec<f32>> {
        if classes == 0 {
            return Err(Error::invalid("classes", "0: at least one class"));
        }
        if !logits.len().is_multiple_of(classes) {
            return Err(Error::InvalidShape {
                op: "TemperatureScaling::probs",
                shape: vec![logits.len()],
                reason: format!("not rows of {classes} logits"),
            });
        }
        let beta = 1.0 / self.temperature as f64;
        let mut out = Vec::with_capacity(logits.len());
        for row in logits.chunks(classes) {
            let m = row.iter().fold(f64::NEG_INFINITY, |m, &z| m.max(beta * z as f64));
            let e: Vec<f64> = row.iter().map(|&z| (beta * z as f64 - m).exp()).collect();
            let s: f64 = e.iter().sum();
            out.extend(e.iter().map(|v| (v / s) as f32));
        }
        Ok(out)
    }

    /// The mean NLL of `labels` under softmax(z / T), in nats.
    ///
    /// # Errors
    /// As [`TemperatureScaling::fit`]'s checks of the data.
    pub fn nll(&self, logits: &[f32], classes: usize, labels: &[usize]) -> Result<f32> {
        check(logits, classes, labels)?;
        Ok(nll_and_derivatives(1.0 / self.temperature as f64, logits, classes, labels).0 as f32)
    }

    /// `net` with its logits divided by T, as a [`Module`], so that a
    /// [`Classifier`](crate::classification::Classifier) or any other code
    /// that takes a module predicts with the calibrated probabilities.
    pub fn wrap<M: Module>(&self, net: M) -> TemperatureScaled<M> {
        TemperatureScaled { net, temperature: self.temperature }
    }
}

/// A network whose outputs (logits) are divided by a fixed temperature;
/// made by [`TemperatureScaling::wrap`]. Its parameters are the network's,
/// under the same names, so checkpoints of the two are interchangeable.
#[derive(Debug)]
pub struct TemperatureScaled<M: Module> {
    /// The network producing the logits.
    pub net: M,
    temperature: f32,
}

impl<M: Module> TemperatureScaled<M> {
    /// The temperature the logits are divided by.
    pub fn temperature(&self) -> f32 {
        self.temperature
    }
}

impl<M: Module> Module for TemperatureScaled<M> {
    fn forward(&self, x: &Var) -> Result<Var> {
        self.net.forward(x)?.mul_scalar(1.0 / self.temperature)
    }

    fn visit_params(&self, prefix: &str, f: &mut dyn FnMut(&str, &Param)) {
        self.net.visit_params(prefix, f);
    }

    fn visit_bayesian(&self, f: &mut dyn FnMut(&dyn BayesianModule)) {
        self.net.visit_bayesian(f);
    }

    fn set_training(&self, training: bool) {
        self.net.set_training(training);
    }

    fn set_dropout(&self, active: bool) {
        self.net.set_dropout(active);
    }
}
