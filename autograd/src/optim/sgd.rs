//! Stochastic gradient descent with momentum and L2 weight decay.

use super::{check_finite, check_positive, check_unit, Optimizer};
use crate::Gradients;
use blitz_kernels::{ops, Buffer, Error, Result};

/// SGD: `buf = momentum·buf + (g + wd·p)`, `p -= lr·buf`.
#[derive(Debug)]
pub struct Sgd {
    lr: f32,
    momentum: f32,
    weight_decay: f32,
    /// Momentum buffers by parameter id.
    velocity: Vec<(u64, Buffer)>,
}

impl Sgd {
    /// Plain SGD.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a non-positive learning rate.
    pub fn new(lr: f32) -> Result<Sgd> {
        Self::with_momentum(lr, 0.0, 0.0)
    }

    /// SGD with momentum in [0, 1) and weight decay ≥ 0.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming the bad hyperparameter.
    pub fn with_momentum(lr: f32, momentum: f32, weight_decay: f32) -> Result<Sgd> {
        check_positive("learning rate", lr)?;
        check_unit("momentum", momentum)?;
        if !(weight_decay >= 0.0 && weight_decay.is_finite()) {
            return Err(Error::invalid("weight decay", format!("{weight_decay}")));
        }
        Ok(Sgd { lr, momentum, weight_decay, velocity: Vec::new() })
    }
}

impl Optimizer for Sgd {
    fn step(&mut self, grads: &Gradients) -> Result<()> {
        check_finite(grads)?;
        for (p, g) in grads.params() {
            let slot = match self.velocity.iter().position(|(id, _)| *id == p.id()) {
                Some(i) => i,
                None => {
                    self.velocity.push((p.id(), Buffer::zeros(g.numel(), g.device())?));
                    self.velocity.len() - 1
                }
            };
            let buf = &mut self.velocity[slot].1;
            let (lr, mom, wd) = (self.lr, self.momentum, self.weight_decay);
            p.update(|w| ops::sgd_step_in(grads.context(), w, buf, g.buffer(), lr, mom, wd))?;
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
