//! Adam (Kingma & Ba 2015) with optional L2 weight decay.

use super::{check_finite, check_positive, check_unit, Optimizer};
use crate::Gradients;
use blitz_kernels::{ops, AdamStep, Buffer, Error, Result};

/// First and second moments of one parameter.
#[derive(Debug, Clone)]
pub struct AdamMoments {
    /// Parameter id.
    pub id: u64,
    /// Running mean of gradients.
    pub m: Buffer,
    /// Running mean of squared gradients.
    pub v: Buffer,
}

/// Adam: m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g², p ← p − lr·m̂/(√v̂ + ε).
#[derive(Debug)]
pub struct Adam {
    lr: f32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    weight_decay: f32,
    t: u64,
    moments: Vec<AdamMoments>,
}

impl Adam {
    /// Adam with PyTorch's defaults (β = (0.9, 0.999), ε = 1e-8, no decay).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a non-positive learning rate.
    pub fn new(lr: f32) -> Result<Adam> {
        Self::with_params(lr, 0.9, 0.999, 1e-8, 0.0)
    }

    /// Adam with every hyperparameter given.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming the bad hyperparameter.
    pub fn with_params(lr: f32, beta1: f32, beta2: f32, eps: f32, weight_decay: f32) -> Result<Adam> {
        check_positive("learning rate", lr)?;
        check_unit("beta1", beta1)?;
        check_unit("beta2", beta2)?;
        check_positive("eps", eps)?;
        if !(weight_decay >= 0.0 && weight_decay.is_finite()) {
            return Err(Error::invalid("weight decay", format!("{weight_decay}")));
        }
        Ok(Adam { lr, beta1, beta2, eps, weight_decay, t: 0, moments: Vec::new() })
    }

    /// Steps taken so far.
    pub fn steps(&self) -> u64 {
        self.t
    }

    /// The moment buffers (for checkpoints).
    pub fn moments(&self) -> &[AdamMoments] {
        &self.moments
    }

    /// (β₁, β₂, ε, weight decay), for checkpoints.
    pub fn hyperparameters(&self) -> (f32, f32, f32, f32) {
        (self.beta1, self.beta2, self.eps, self.weight_decay)
    }

    /// Replaces the step count and the moments (a checkpoint being resumed):
    /// the next step then continues exactly where the saved run stopped.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] when a parameter's `m` and `v` differ in
    /// length; [`Error::InvalidArgument`] when an id appears twice.
    pub fn set_state(&mut self, steps: u64, moments: Vec<AdamMoments>) -> Result<()> {
        for (i, s) in moments.iter().enumerate() {
            if s.m.len() != s.v.len() {
                return Err(Error::ShapeMismatch { op: "Adam::set_state", lhs: vec![s.m.len()], rhs: vec![s.v.len()] });
            }
            if moments[..i].iter().any(|o| o.id == s.id) {
                return Err(Error::invalid("moments", format!("parameter id {} appears twice", s.id)));
            }
        }
        self.t = steps;
        self.moments = moments;
        Ok(())
    }
}

impl Optimizer for Adam {
    fn step(&mut self, grads: &Gradients) -> Result<()> {
        check_finite(grads)?;
        self.t += 1;
        let t = self.t as i32;
        let bc1 = 1.0 - (self.beta1 as f64).powi(t);
        let bc2 = 1.0 - (self.beta2 as f64).powi(t);
        // Folding the bias corrections into one step size and a scaled ε is
        // algebraically the textbook update, with two fewer divisions per element.
        let h = AdamStep {
            step_size: (self.lr as f64 * bc2.sqrt() / bc1) as f32,
            beta1: self.beta1,
            beta2: self.beta2,
            eps_hat: (self.eps as f64 * bc2.sqrt()) as f32,
            weight_decay: self.weight_decay,
        };
        for (p, g) in grads.params() {
            let slot = match self.moments.iter().position(|s| s.id == p.id()) {
                Some(i) => i,
                None => {
                    let zeros = Buffer::zeros(g.numel(), g.device())?;
                    self.moments.push(AdamMoments { id: p.id(), m: zeros.clone(), v: zeros });
                    self.moments.len() - 1
                }
            };
            let s = &mut self.moments[slot];
            p.update(|w| ops::adam_step_in(grads.context(), w, &mut s.m, &mut s.v, g.buffer(), h))?;
        }
        Ok(())
    }

    fn learning_rate(&self) -> f32 {
        self.lr
    }

    fn set_learning_rate(&mut self, lr: f32) {
        self.lr = lr;
    }
}
