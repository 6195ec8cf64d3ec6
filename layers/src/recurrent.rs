//! What the LSTM and GRU share: their options (BLiTZ's names and defaults),
//! the gate weights — Bayesian or deterministic — stored as BLiTZ stores
//! them (`weight_ih` `[in, gates·hidden]`, `weight_hh` `[hidden, gates·hidden]`,
//! `bias` `[gates·hidden]`), and the input checks.

use crate::gradient_estimator::Estimator;
use crate::kl::KlMode;
use crate::module::join_name;
use crate::options::posterior_options;
use crate::posterior::GaussianParam;
use crate::prior::Prior;
use blitz_autograd::{Error, Param, Result, Tape, Tensor, Var};
use rand::Rng;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Options of [`BayesianLSTM`](crate::BayesianLSTM) and
/// [`BayesianGRU`](crate::BayesianGRU), BLiTZ's names and defaults.
#[derive(Clone)]
pub struct BayesianRecurrentOptions {
    /// Whether the layer has a bias (false: no bias parameters at all).
    pub bias: bool,
    /// Scale of the mixture's first component (default 0.1).
    pub prior_sigma_1: f32,
    /// Scale of the mixture's second component (default 0.002).
    pub prior_sigma_2: f32,
    /// Weight of the first component, in [0, 1] (default 1).
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
    /// Reparameterisation (default) or Radial: the weights are shared across
    /// time steps, so the per-example estimators do not apply.
    pub estimator: Estimator,
    /// LSTM only: the gates read the previous cell state instead of the
    /// hidden state (BLiTZ's peephole), the same in training and frozen mode.
    pub peephole: bool,
}

impl Default for BayesianRecurrentOptions {
    fn default() -> Self {
        BayesianRecurrentOptions {
            bias: true,
            prior_sigma_1: 0.1,
            prior_sigma_2: 0.002,
            prior_pi: 1.0,
            posterior_mu_init: 0.0,
            posterior_rho_init: -6.0,
            freeze: false,
            prior: None,
            kl: KlMode::MonteCarlo,
            estimator: Estimator::Reparameterisation,
            peephole: false,
        }
    }
}

posterior_options!(BayesianRecurrentOptions, bias: bias, extra: [peephole]);

impl BayesianRecurrentOptions {
    /// With BLiTZ's peephole (LSTM only).
    pub fn with_peephole(mut self) -> Self {
        self.peephole = true;
        self
    }
}

/// Checks `x` is `[batch, seq, in_features]` with batch, seq > 0; returns (batch, seq).
pub(crate) fn check_sequence(op: &'static str, x: &Var, in_features: usize) -> Result<(usize, usize)> {
    match x.shape() {
        [b, t, i] if *i == in_features && *b > 0 && *t > 0 => Ok((*b, *t)),
        [_, _, _] => Err(Error::ShapeMismatch { op, lhs: x.shape().to_vec(), rhs: vec![0, 0, in_features] }),
        s => Err(Error::InvalidShape { op, shape: s.to_vec(), reason: "expects [batch, seq, features]".into() }),
    }
}

/// Checks a state is `[batch, hidden]`, or makes zeros of that shape.
pub(crate) fn state_or_zeros(op: &'static str, x: &Var, s: Option<&Var>, batch: usize, hidden: usize) -> Result<Var> {
    match s {
        Some(s) if s.shape() == [batch, hidden] => Ok(s.clone()),
        Some(s) => Err(Error::ShapeMismatch { op, lhs: s.shape().to_vec(), rhs: vec![batch, hidden] }),
        None => Ok(x.constant_like(Tensor::zeros(&[batch, hidden])?.to(x.device())?)),
    }
}

/// The input projection x·W_ih (+ b) of every time step at once, `[batch, seq, gates·hidden]`.
pub(crate) fn project_inputs(x: &Var, w_ih: &Var, bias: Option<&Var>) -> Result<Var> {
    let (b, t, i) = (x.shape()[0], x.shape()[1], x.shape()[2]);
    let p = x.reshape(&[b * t, i])?.matmul(w_ih)?;
    let p = match bias {
        Some(bias) => p.add(bias)?,
        None => p,
    };
    p.reshape(&[b, t, w_ih.shape()[1]])
}

/// Step `t` of a projection: `[batch, width]`.
pub(crate) fn step(p: &Var, t: usize) -> Result<Var> {
    let (b, w) = (p.shape()[0], p.shape()[2]);
    p.slice(1, t, 1)?.reshape(&[b, w])
}

/// Stacks per-step `[batch, hidden]` outputs into `[batch, seq, hidden]`.
pub(crate) fn stack_steps(hs: &[Var]) -> Result<Var> {
    let rows: Vec<Var> = hs.iter().map(|h| h.reshape(&[h.shape()[0], 1, h.shape()[1]])).collect::<Result<_>>()?;
    Var::concat(&rows.iter().collect::<Vec<_>>(), 1)
}

/// The three gate tensors of one pass: (weight_ih, weight_hh, bias).
pub(crate) type GateWeights = (Var, Var, Option<Var>);

/// Bayesian gate weights of a recurrent layer.
pub(crate) struct BayesianGates {
    pub in_features: usize,
    pub hidden: usize,
    weight_ih: GaussianParam,
    weight_hh: GaussianParam,
    bias: Option<GaussianParam>,
    pub prior: Arc<dyn Prior>,
    pub kl: KlMode,
    pub estimator: Estimator,
    frozen: AtomicBool,
}

impl BayesianGates {
    pub(crate) fn new(
        op: &'static str,
        in_features: usize,
        hidden: usize,
        gates: usize,
        o: &BayesianRecurrentOptions,
        rng: &mut impl Rng,
    ) -> Result<BayesianGates> {
        if in_features == 0 || hidden == 0 {
            return Err(Error::invalid("features", format!("{op}: {in_features} -> {hidden}: sizes must be > 0")));
        }
        for (name, v) in [("posterior_mu_init", o.posterior_mu_init), ("posterior_rho_init", o.posterior_rho_init)] {
            if !v.is_finite() {
                return Err(Error::invalid(name, format!("{v}: must be finite")));
            }
        }
        if !matches!(o.estimator, Estimator::Reparameterisation | Estimator::Radial) {
            return Err(Error::invalid(
                "estimator",
                format!("{op}: {:?} needs per-example weights; use Reparameterisation or Radial", o.estimator),
            ));
        }
        let prior = o.resolve_prior()?;
        let (m, r) = (o.posterior_mu_init, o.posterior_rho_init);
        let g = crate::linear::gate_width(op, gates, hidden)?;
        let sizes = || format!("{in_features} -> {hidden}");
        crate::linear::check_params(op, sizes, &[&[in_features, g], &[hidden, g], &[g]], 2)?;
        Ok(BayesianGates {
            in_features,
            hidden,
            weight_ih: GaussianParam::init("weight_ih", &[in_features, g], m, r, rng)?,
            weight_hh: GaussianParam::init("weight_hh", &[hidden, g], m, r, rng)?,
            bias: if o.bias { Some(GaussianParam::init("bias", &[g], m, r, rng)?) } else { None },
            prior,
            kl: o.kl,
            estimator: o.estimator,
            frozen: AtomicBool::new(o.freeze),
        })
    }

    /// One draw of the weights for a whole sequence (the means when frozen).
    pub(crate) fn sample(&self, tape: &Tape) -> Result<GateWeights> {
        let frozen = self.is_frozen();
        let draw = |p: &GaussianParam| match self.estimator {
            Estimator::Radial => p.sample_radial(tape, frozen, &*self.prior),
            _ => p.sample(tape, frozen, &*self.prior, self.kl),
        };
        Ok((draw(&self.weight_ih)?, draw(&self.weight_hh)?, self.bias.as_ref().map(draw).transpose()?))
    }

    pub(crate) fn parts(&self) -> impl Iterator<Item = &GaussianParam> {
        [&self.weight_ih, &self.weight_hh].into_iter().chain(self.bias.as_ref())
    }

    /// (mu, rho) of weight_ih, weight_hh and bias.
    pub(crate) fn params(&self) -> ((&Param, &Param), (&Param, &Param), Option<(&Param, &Param)>) {
        (
            (&self.weight_ih.mu, &self.weight_ih.rho),
            (&self.weight_hh.mu, &self.weight_hh.rho),
            self.bias.as_ref().map(|b| (&b.mu, &b.rho)),
        )
    }

    pub(crate) fn visit_params(&self, prefix: &str, f: &mut dyn FnMut(&str, &Param)) {
        for part in self.parts() {
            f(&join_name(prefix, part.mu.name()), &part.mu);
            f(&join_name(prefix, part.rho.name()), &part.rho);
        }
    }

    pub(crate) fn set_frozen(&self, frozen: bool) {
        self.frozen.store(frozen, Ordering::Relaxed);
    }

    pub(crate) fn is_frozen(&self) -> bool {
        self.frozen.load(Ordering::Relaxed)
    }

    pub(crate) fn moped(&self, delta: f32) -> Result<()> {
        if !(delta > 0.0 && delta.is_finite()) {
            return Err(Error::invalid("delta", format!("{delta}: must be positive and finite")));
        }
        self.parts().try_for_each(|p| p.moped(delta))
    }

    pub(crate) fn kl(&self, tape: &Tape) -> Result<Option<Var>> {
        let Some(s) = self.prior.gaussian_sigma() else { return Ok(None) };
        let mut total: Option<Var> = None;
        for p in self.parts() {
            let term = p.closed_form_kl(tape, s)?;
            total = Some(match total {
                None => term,
                Some(t) => t.add(&term)?,
            });
        }
        Ok(total)
    }
}

/// Deterministic gate weights, initialised like torch: U(−1/√hidden, 1/√hidden).
#[derive(Debug)]
pub(crate) struct Gates {
    pub in_features: usize,
    pub weight_ih: Param,
    pub weight_hh: Param,
    pub bias: Option<Param>,
}

impl Gates {
    pub(crate) fn new(
        op: &'static str,
        in_features: usize,
        hidden: usize,
        gates: usize,
        bias: bool,
        rng: &mut impl Rng,
    ) -> Result<Gates> {
        if in_features == 0 || hidden == 0 {
            return Err(Error::invalid("features", format!("{op}: {in_features} -> {hidden}: sizes must be > 0")));
        }
        let k = 1.0 / (hidden as f32).sqrt();
        let g = crate::linear::gate_width(op, gates, hidden)?;
        let sizes = || format!("{in_features} -> {hidden}");
        crate::linear::check_params(op, sizes, &[&[in_features, g], &[hidden, g], &[g]], 1)?;
        Ok(Gates {
            in_features,
            weight_ih: Param::new("weight_ih", Tensor::rand_uniform(&[in_features, g], -k, k, rng)?),
            weight_hh: Param::new("weight_hh", Tensor::rand_uniform(&[hidden, g], -k, k, rng)?),
            bias: if bias { Some(Param::new("bias", Tensor::rand_uniform(&[g], -k, k, rng)?)) } else { None },
        })
    }

    pub(crate) fn on(&self, tape: &Tape) -> GateWeights {
        (tape.param(&self.weight_ih), tape.param(&self.weight_hh), self.bias.as_ref().map(|b| tape.param(b)))
    }

    pub(crate) fn visit_params(&self, prefix: &str, f: &mut dyn FnMut(&str, &Param)) {
        f(&join_name(prefix, "weight_ih"), &self.weight_ih);
        f(&join_name(prefix, "weight_hh"), &self.weight_hh);
        if let Some(b) = &self.bias {
            f(&join_name(prefix, "bias"), b);
        }
    }
}
