//! The ELBO estimator: BLiTZ's `variational_estimator` decorator as a trait
//! that every [`Module`] has (blanket impl).
//!
//! # The KL scale
//! Training minimises `likelihood + complexity_cost_weight · KL`, where the
//! likelihood part is the criterion's value (a *mean* over the batch for
//! [`blitz_autograd::loss`]) and KL is the *sum* over all weights. For the
//! ELBO of N training examples per example, pass
//! `complexity_cost_weight = 1 / N_train` — the default we recommend and
//! the examples use. BLiTZ's default of 1 weighs the KL N times too much,
//! and the network then learns nothing. Blundell's per-minibatch weights
//! are available as [`minibatch_weight`] (multiply them by `M / N_train`
//! with a mean likelihood, M being the number of batches).

use crate::module::Module;
use blitz_autograd::{Error, Result, Tape, Tensor, Var};
use blitz_kernels::{ops, Buffer, Context};

/// Something that labels a batch: it knows how many examples it covers, so
/// a batch of 16 inputs with 15 labels is refused before any work.
pub trait Targets {
    /// The number of examples (the first axis).
    fn batch_len(&self) -> usize;

    /// Whether every target is finite (class labels always are), checked
    /// on the threads of `ctx`.
    ///
    /// # Errors
    /// Device failures reading the values.
    fn all_finite(&self, ctx: &Context) -> Result<bool> {
        let _ = ctx;
        Ok(true)
    }
}

impl Targets for Var {
    fn batch_len(&self) -> usize {
        self.shape().first().copied().unwrap_or(1)
    }

    fn all_finite(&self, ctx: &Context) -> Result<bool> {
        self.value().all_finite(ctx)
    }
}

impl Targets for Tensor {
    fn batch_len(&self) -> usize {
        self.shape().first().copied().unwrap_or(1)
    }

    fn all_finite(&self, ctx: &Context) -> Result<bool> {
        Tensor::all_finite(self, ctx)
    }
}

impl Targets for [usize] {
    fn batch_len(&self) -> usize {
        self.len()
    }
}

impl Targets for Vec<usize> {
    fn batch_len(&self) -> usize {
        self.len()
    }
}

/// The parts of a Monte Carlo ELBO estimate (BLiTZ's `sample_elbo_detailed_loss`).
#[derive(Debug, Clone)]
pub struct ElboParts {
    /// The predictions of each draw, shape `[sample_nbr, ...output shape]`.
    pub predictions: Tensor,
    /// likelihood + complexity (what to back-propagate).
    pub total: Var,
    /// The criterion's value, averaged over draws.
    pub likelihood: Var,
    /// complexity_cost_weight · KL, averaged over draws.
    pub complexity: Var,
}

/// BLiTZ's estimator API, for every module.
pub trait VariationalEstimator: Module {
    /// The Monte Carlo ELBO loss: the mean over `sample_nbr` forward passes
    /// of `criterion(prediction, y) + complexity_cost_weight · KL`.
    /// Regression: `model.sample_elbo(&x, &y, loss::mse, 3, 1.0 / n)`;
    /// classification: `model.sample_elbo(&x, &labels[..], loss::cross_entropy, 3, 1.0 / n)`.
    ///
    /// # Errors
    /// As [`VariationalEstimator::sample_elbo_detailed`].
    fn sample_elbo<Y, F>(
        &self,
        x: &Var,
        y: &Y,
        criterion: F,
        sample_nbr: usize,
        complexity_cost_weight: f32,
    ) -> Result<Var>
    where
        Y: Targets + ?Sized,
        F: Fn(&Var, &Y) -> Result<Var>,
    {
        Ok(self.sample_elbo_detailed(x, y, criterion, sample_nbr, complexity_cost_weight)?.total)
    }

    /// The ELBO loss with its parts and the predictions of every draw. Any
    /// complexity already on `x`'s tape is discarded first.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for `sample_nbr == 0` or a negative or
    /// non-finite weight; [`Error::ShapeMismatch`] when `y` does not label
    /// as many examples as `x` holds; [`Error::NonFinite`] naming the input,
    /// the labels or the loss (likelihood or complexity) when it holds a NaN
    /// or an infinity; errors of the forward pass and criterion.
    fn sample_elbo_detailed<Y, F>(
        &self,
        x: &Var,
        y: &Y,
        criterion: F,
        sample_nbr: usize,
        complexity_cost_weight: f32,
    ) -> Result<ElboParts>
    where
        Y: Targets + ?Sized,
        F: Fn(&Var, &Y) -> Result<Var>,
    {
        if sample_nbr == 0 {
            return Err(Error::invalid("sample_nbr", "0: at least one draw is needed"));
        }
        if !(complexity_cost_weight >= 0.0 && complexity_cost_weight.is_finite()) {
            return Err(Error::invalid("complexity_cost_weight", format!("{complexity_cost_weight}: must be ≥ 0")));
        }
        if !x.tape().wants_complexity() {
            return Err(Error::invalid(
                "tape",
                "x is on a Tape::predict, which computes no KL: use Tape::new or no_grad",
            ));
        }
        let n = x.shape().first().copied().unwrap_or(1);
        if y.batch_len() != n {
            return Err(Error::ShapeMismatch { op: "sample_elbo", lhs: x.shape().to_vec(), rhs: vec![y.batch_len()] });
        }
        if !x.value().all_finite(&x.tape().context())? {
            return Err(Error::NonFinite { what: "input of sample_elbo".into() });
        }
        if !y.all_finite(&x.tape().context())? {
            return Err(Error::NonFinite { what: "labels (targets) of sample_elbo".into() });
        }
        let tape = x.tape();
        tape.take_complexity()?;
        let (mut lik, mut kl): (Option<Var>, Option<Var>) = (None, None);
        // Each draw's predictions stay where they are (no device-to-host copy,
        // which on a GPU would wait for the step): stacked once at the end.
        let mut preds: Vec<Tensor> = Vec::with_capacity(sample_nbr);
        for _ in 0..sample_nbr {
            let p = self.forward(x)?;
            let l = criterion(&p, y)?;
            let k = tape.take_complexity()?;
            preds.push(p.value().clone());
            lik = Some(match lik {
                None => l,
                Some(a) => a.add(&l)?,
            });
            kl = Some(match kl {
                None => k,
                Some(a) => a.add(&k)?,
            });
        }
        let inv = 1.0 / sample_nbr as f32;
        let (Some(lik), Some(kl)) = (lik, kl) else { unreachable!("sample_nbr > 0 was checked") };
        let likelihood = lik.mul_scalar(inv)?;
        let complexity = kl.mul_scalar(inv * complexity_cost_weight)?;
        let total = likelihood.add(&complexity)?;
        // One bad step would poison the parameters through the optimizer: refuse it here, saying which part.
        for (part, v) in [("likelihood", &likelihood), ("complexity (KL)", &complexity)] {
            if !v.value().all_finite(&v.tape().context())? {
                return Err(Error::NonFinite { what: format!("loss of sample_elbo: the {part} term") });
            }
        }
        let mut shape = vec![sample_nbr];
        shape.extend(preds[0].shape());
        let buffers: Vec<&Buffer> = preds.iter().map(Tensor::buffer).collect();
        let stacked =
            ops::concat_axis_in(&total.tape().context(), &buffers, &vec![preds[0].numel(); sample_nbr], 1, 1)?;
        Ok(ElboParts { predictions: Tensor::from_buffer(stacked, &shape)?, total, likelihood, complexity })
    }

    /// KL(q ‖ p) of the current posteriors in closed form, summed over the
    /// Bayesian layers, on `tape` (differentiable). For the Monte Carlo KL of
    /// a forward pass, read `tape.complexity()` after it instead.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when a layer's prior has no closed form.
    fn nn_kl_divergence(&self, tape: &Tape) -> Result<Var> {
        let mut total = tape.constant(Tensor::scalar(0.0));
        let mut err = None;
        self.visit_bayesian(&mut |b| {
            if err.is_some() {
                return;
            }
            match b.kl(tape) {
                Ok(Some(k)) => match total.add(&k) {
                    Ok(t) => total = t,
                    Err(e) => err = Some(e),
                },
                Ok(None) => {
                    err = Some(Error::invalid("prior", "no closed-form KL; use tape.complexity() after a forward"))
                }
                Err(e) => err = Some(e),
            }
        });
        match err {
            Some(e) => Err(e),
            None => Ok(total),
        }
    }

    /// Predict with the posterior means (no sampling, no KL).
    fn freeze(&self) {
        self.visit_bayesian(&mut |b| b.set_frozen(true));
    }

    /// Sample the weights again.
    fn unfreeze(&self) {
        self.visit_bayesian(&mut |b| b.set_frozen(false));
    }

    /// Mean and standard deviation (unbiased, as torch's `std`; 0 for one
    /// draw) of `sample_nbr` forward passes (give `x` on a `Tape::predict`
    /// to record nothing and skip the KL terms).
    /// The draws are named by `x`'s tape.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for `sample_nbr == 0`; forward errors.
    fn mfvi_forward(&self, x: &Var, sample_nbr: usize) -> Result<(Tensor, Tensor)> {
        if sample_nbr == 0 {
            return Err(Error::invalid("sample_nbr", "0: at least one draw is needed"));
        }
        let mut shape = Vec::new();
        let mut draws = Vec::with_capacity(sample_nbr);
        for _ in 0..sample_nbr {
            let p = self.forward(&x.detach())?;
            shape = p.shape().to_vec();
            draws.push(p.value().to_vec()?);
        }
        x.tape().take_complexity()?;
        let k = draws[0].len();
        let s = sample_nbr as f64;
        let mut mean = vec![0f32; k];
        let mut std = vec![0f32; k];
        for j in 0..k {
            let m = draws.iter().map(|d| d[j] as f64).sum::<f64>() / s;
            let v = if sample_nbr > 1 {
                draws.iter().map(|d| (d[j] as f64 - m).powi(2)).sum::<f64>() / (s - 1.0)
            } else {
                0.0
            };
            mean[j] = m as f32;
            std[j] = v.sqrt() as f32;
        }
        Ok((Tensor::from_vec(mean, &shape)?, Tensor::from_vec(std, &shape)?))
    }

    /// `draws` predictions of `x`, each from its own weight draw: the Monte
    /// Carlo samples of the predictive distribution (BLiTZ users write
    /// `torch.stack([model(x) for _ in range(n)])`).
    ///
    /// Draw `i` runs on its own [`Tape::predict`] named by
    /// [`draw_seed`]`(seed, i)`, with the kernel variants and threads of
    /// `ctx`: no KL terms, nothing recorded, and the result depends on `seed`
    /// alone, not on the thread count. On the CPU the draws run side by side
    /// on the threads of `ctx` (one pass of a small model is too short to
    /// split, its draws are not); on a GPU in turn.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for `draws == 0`; forward errors (when
    /// several draws fail on the CPU, one of their errors).
    fn predict_draws(&self, ctx: &Context, x: &Tensor, draws: usize, seed: u64) -> Result<Vec<Tensor>> {
        use rayon::prelude::*;
        if draws == 0 {
            return Err(Error::invalid("draws", "0: at least one draw is needed"));
        }
        let one = |i: usize| -> Result<Tensor> {
            let tape = Tape::predict(draw_seed(seed, i as u64)).with_context(ctx.clone());
            Ok(self.forward(&tape.constant(x.clone()))?.value().clone())
        };
        if x.device() == blitz_autograd::Device::Cpu {
            ctx.install(|| (0..draws).into_par_iter().map(one).collect())
        } else {
            (0..draws).map(one).collect()
        }
    }

    /// MOPED (Krishnan et al. 2020): sets sigma = `delta`·|mu| in every
    /// Bayesian layer, then unfreezes.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] unless `delta > 0`.
    fn moped(&self, delta: f32) -> Result<()> {
        let mut res = Ok(());
        self.visit_bayesian(&mut |b| {
            if res.is_ok() {
                res = b.moped(delta);
            }
        });
        res?;
        self.unfreeze();
        Ok(())
    }
}

impl<M: Module + ?Sized> VariationalEstimator for M {}

/// The tape seed of draw `i` of [`VariationalEstimator::predict_draws`]:
/// SplitMix64's finaliser applied to `seed`, then to that plus `i` golden-ratio
/// steps, so neighbouring seeds do not share draws shifted by one.
pub fn draw_seed(seed: u64, i: u64) -> u64 {
    let mix = |mut z: u64| {
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    mix(mix(seed).wrapping_add(i.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15)))
}

/// Blundell's minibatch weight π_i = 2^(M−i−1) / (2^M − 1) for batch `i`
/// (0-based) of `M`: early batches carry most of the KL; the weights sum to 1.
///
/// # Errors
/// [`Error::InvalidArgument`] unless `batch_idx < num_batches`.
pub fn minibatch_weight(batch_idx: usize, num_batches: usize) -> Result<f32> {
    if batch_idx >= num_batches {
        return Err(Error::invalid("batch_idx", format!("{batch_idx}: must be below num_batches = {num_batches}")));
    }
    // 2^(−i−1) / (1 − 2^(−M)): the same value without overflow for large M.
    let num = (-(batch_idx as f64) - 1.0).exp2();
    let den = 1.0 - (-(num_batches as f64)).exp2();
    Ok((num / den) as f32)
}
