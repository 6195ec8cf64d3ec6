//! Embedding tables: Bayesian [`BayesianEmbedding`] (BLiTZ's) and
//! deterministic [`Embedding`], both looking rows up with [`embedding_lookup`].
//!
//! The input is a tensor of indices stored as `f32` (any shape); the output
//! appends the embedding axis. Rows at `padding_idx` come out as zeros and
//! receive no gradient, as in torch.

use crate::gradient_estimator::Estimator;
use crate::kl::KlMode;
use crate::module::{join_name, BayesianModule, Module};
use crate::options::posterior_options;
use crate::posterior::GaussianParam;
use crate::prior::Prior;
use blitz_autograd::{Error, Param, Result, Tape, Tensor, Var};
use rand::Rng;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The indices held by `x`, checked to be whole numbers below `num_embeddings`.
///
/// # Errors
/// [`Error::InvalidArgument`] for a negative, fractional or non-finite
/// value; [`Error::IndexOutOfRange`] for one ≥ `num_embeddings`.
pub fn indices(x: &Var, num_embeddings: usize) -> Result<Vec<usize>> {
    x.value()
        .to_vec()?
        .iter()
        .map(|&v| {
            if !(v.is_finite() && v >= 0.0 && v.fract() == 0.0) {
                return Err(Error::invalid("indices", format!("{v}: must be a whole number ≥ 0")));
            }
            let i = v as usize;
            if i >= num_embeddings {
                return Err(Error::IndexOutOfRange { op: "embedding", index: i, len: num_embeddings });
            }
            Ok(i)
        })
        .collect()
}

/// Rows `idx` of `weight` `[num, dim]` as `[idx.len(), dim]`; rows equal to
/// `padding_idx` are zeros (and pass no gradient). Differentiable in `weight`.
///
/// # Errors
/// [`Error::InvalidShape`] unless `weight` is 2-d; [`Error::IndexOutOfRange`].
pub fn embedding_lookup(weight: &Var, idx: &[usize], padding_idx: Option<usize>) -> Result<Var> {
    if weight.shape().len() != 2 {
        return Err(Error::InvalidShape {
            op: "embedding",
            shape: weight.shape().to_vec(),
            reason: "expects a [num_embeddings, dim] table".into(),
        });
    }
    let rows = weight.index_select(0, idx)?;
    match padding_idx {
        Some(p) if idx.contains(&p) => {
            let mask: Vec<f32> = idx.iter().map(|&i| if i == p { 0.0 } else { 1.0 }).collect();
            rows.mul(&weight.constant_like(Tensor::from_vec(mask, &[idx.len(), 1])?.to(weight.device())?))
        }
        _ => Ok(rows),
    }
}

fn check_sizes(num: usize, dim: usize, padding_idx: Option<usize>) -> Result<()> {
    if num == 0 || dim == 0 {
        return Err(Error::invalid("embedding", format!("{num} × {dim}: sizes must be > 0")));
    }
    if let Some(p) = padding_idx.filter(|&p| p >= num) {
        return Err(Error::invalid("padding_idx", format!("{p}: must be below num_embeddings = {num}")));
    }
    Ok(())
}

/// Looks up `x`'s indices in `weight`; output shape `x.shape() + [dim]`.
fn lookup(x: &Var, weight: &Var, padding_idx: Option<usize>) -> Result<Var> {
    let (num, dim) = (weight.shape()[0], weight.shape()[1]);
    let idx = indices(x, num)?;
    let mut shape = x.shape().to_vec();
    shape.push(dim);
    embedding_lookup(weight, &idx, padding_idx)?.reshape(&shape)
}

/// Options of [`BayesianEmbedding`], BLiTZ's names and defaults.
#[derive(Clone)]
pub struct BayesianEmbeddingOptions {
    /// The row that embeds to zeros (default none).
    pub padding_idx: Option<usize>,
    /// Scale of the mixture's first component (default 0.1).
    pub prior_sigma_1: f32,
    /// Scale of the mixture's second component (default 0.002).
    pub prior_sigma_2: f32,
    /// Weight of the first component (default 1).
    pub prior_pi: f32,
    /// Mean of the initial posterior means (default 0).
    pub posterior_mu_init: f32,
    /// Mean of the initial rho (default −6).
    pub posterior_rho_init: f32,
    /// Start frozen (default false).
    pub freeze: bool,
    /// A custom prior; when set, the three `prior_*` numbers are ignored.
    pub prior: Option<Arc<dyn Prior>>,
    /// How the KL is estimated (default Monte Carlo).
    pub kl: KlMode,
    /// Reparameterisation (default) or Radial.
    pub estimator: Estimator,
}

posterior_options!(BayesianEmbeddingOptions, extra: [padding_idx]);

impl Default for BayesianEmbeddingOptions {
    fn default() -> Self {
        BayesianEmbeddingOptions {
            padding_idx: None,
            prior_sigma_1: 0.1,
            prior_sigma_2: 0.002,
            prior_pi: 1.0,
            posterior_mu_init: 0.0,
            posterior_rho_init: -6.0,
            freeze: false,
            prior: None,
            kl: KlMode::MonteCarlo,
            estimator: Estimator::Reparameterisation,
        }
    }
}

/// BLiTZ's `BayesianEmbedding(num_embeddings, embedding_dim, padding_idx)`:
/// a Gaussian table, one draw per forward, KL added to the tape.
pub struct BayesianEmbedding {
    weight: GaussianParam,
    padding_idx: Option<usize>,
    prior: Arc<dyn Prior>,
    kl: KlMode,
    estimator: Estimator,
    frozen: AtomicBool,
}

impl std::fmt::Debug for BayesianEmbedding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "BayesianEmbedding({:?}, padding_idx: {:?}, prior: {})",
            self.weight.mu.value().shape(),
            self.padding_idx,
            self.prior.describe()
        )
    }
}

impl BayesianEmbedding {
    /// A table with BLiTZ's defaults and an optional padding row.
    ///
    /// # Errors
    /// As [`BayesianEmbedding::with_options`].
    pub fn new(
        num_embeddings: usize,
        embedding_dim: usize,
        padding_idx: Option<usize>,
        rng: &mut impl Rng,
    ) -> Result<BayesianEmbedding> {
        let options = BayesianEmbeddingOptions { padding_idx, ..Default::default() };
        Self::with_options(num_embeddings, embedding_dim, options, rng)
    }

    /// A table with the given options.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a zero size, `padding_idx` out of
    /// range, a bad prior, or an estimator other than Reparameterisation and
    /// Radial; [`Error::ShapeOverflow`] or [`Error::TooLarge`] for sizes
    /// whose parameters cannot be held ([`blitz_kernels::limits`]).
    pub fn with_options(
        num_embeddings: usize,
        embedding_dim: usize,
        o: BayesianEmbeddingOptions,
        rng: &mut impl Rng,
    ) -> Result<BayesianEmbedding> {
        check_sizes(num_embeddings, embedding_dim, o.padding_idx)?;
        if !matches!(o.estimator, Estimator::Reparameterisation | Estimator::Radial) {
            return Err(Error::invalid("estimator", format!("{:?}: an embedding is a lookup", o.estimator)));
        }
        let prior = o.resolve_prior()?;
        let shape = [num_embeddings, embedding_dim];
        let sizes = || format!("{num_embeddings} × {embedding_dim}");
        crate::linear::check_params("BayesianEmbedding", sizes, &[&shape], 2)?;
        Ok(BayesianEmbedding {
            weight: GaussianParam::init("weight", &shape, o.posterior_mu_init, o.posterior_rho_init, rng)?,
            padding_idx: o.padding_idx,
            prior,
            kl: o.kl,
            estimator: o.estimator,
            frozen: AtomicBool::new(o.freeze),
        })
    }

    /// (weight_mu, weight_rho), `[num_embeddings, embedding_dim]`.
    pub fn weight(&self) -> (&Param, &Param) {
        (&self.weight.mu, &self.weight.rho)
    }
}

impl Module for BayesianEmbedding {
    fn forward(&self, x: &Var) -> Result<Var> {
        let tape = x.tape();
        let frozen = self.is_frozen();
        let w = match self.estimator {
            Estimator::Radial => self.weight.sample_radial(tape, frozen, &*self.prior)?,
            _ => self.weight.sample(tape, frozen, &*self.prior, self.kl)?,
        };
        lookup(x, &w, self.padding_idx)
    }

    fn visit_params(&self, prefix: &str, f: &mut dyn FnMut(&str, &Param)) {
        f(&join_name(prefix, self.weight.mu.name()), &self.weight.mu);
        f(&join_name(prefix, self.weight.rho.name()), &self.weight.rho);
    }

    fn visit_bayesian(&self, f: &mut dyn FnMut(&dyn BayesianModule)) {
        f(self);
    }
}

impl BayesianModule for BayesianEmbedding {
    fn set_frozen(&self, frozen: bool) {
        self.frozen.store(frozen, Ordering::Relaxed);
    }
    fn is_frozen(&self) -> bool {
        self.frozen.load(Ordering::Relaxed)
    }
    fn moped(&self, delta: f32) -> Result<()> {
        if !(delta > 0.0 && delta.is_finite()) {
            return Err(Error::invalid("delta", format!("{delta}: must be positive and finite")));
        }
        self.weight.moped(delta)
    }
    fn kl(&self, tape: &Tape) -> Result<Option<Var>> {
        self.prior.gaussian_sigma().map(|s| self.weight.closed_form_kl(tape, s)).transpose()
    }
}

/// A deterministic embedding table, initialised like torch: N(0, 1), the
/// padding row zero.
#[derive(Debug)]
pub struct Embedding {
    weight: Param,
    padding_idx: Option<usize>,
}

impl Embedding {
    /// A `[num_embeddings, embedding_dim]` table.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a zero size or `padding_idx` out of
    /// range; [`Error::ShapeOverflow`] or [`Error::TooLarge`] as
    /// [`BayesianEmbedding::with_options`].
    pub fn new(
        num_embeddings: usize,
        embedding_dim: usize,
        padding_idx: Option<usize>,
        rng: &mut impl Rng,
    ) -> Result<Embedding> {
        check_sizes(num_embeddings, embedding_dim, padding_idx)?;
        let sizes = || format!("{num_embeddings} × {embedding_dim}");
        crate::linear::check_params("Embedding", sizes, &[&[num_embeddings, embedding_dim]], 1)?;
        let mut w = Tensor::randn(&[num_embeddings, embedding_dim], 0.0, 1.0, rng)?.to_vec()?;
        if let Some(p) = padding_idx {
            w[p * embedding_dim..(p + 1) * embedding_dim].fill(0.0);
        }
        let weight = Param::new("weight", Tensor::from_vec(w, &[num_embeddings, embedding_dim])?);
        Ok(Embedding { weight, padding_idx })
    }

    /// The table `[num_embeddings, embedding_dim]`.
    pub fn weight(&self) -> &Param {
        &self.weight
    }
}

impl Module for Embedding {
    fn forward(&self, x: &Var) -> Result<Var> {
        lookup(x, &x.tape().param(&self.weight), self.padding_idx)
    }

    fn visit_params(&self, prefix: &str, f: &mut dyn FnMut(&str, &Param)) {
        f(&join_name(prefix, "weight"), &self.weight);
    }
}
