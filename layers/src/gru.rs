//! GRU layers on `[batch, seq, features]`: Bayesian [`BayesianGRU`] and
//! deterministic [`GRU`], both running [`gru_sequence`].
//!
//! The standard three gates (Cho et al. 2014), in the order r, z, n of the
//! weight columns: r = σ(x·W_r + h·U_r + b_r), z = σ(x·W_z + h·U_z + b_z),
//! n = tanh(x·W_n + b_n + r∘(h·U_n)), h' = (1 − z)∘n + z∘h.
//! (BLiTZ allocates four gates and reads the wrong slice for n.)

use crate::module::{BayesianModule, Module};
use crate::recurrent::{
    check_sequence, project_inputs, stack_steps, state_or_zeros, step, BayesianGates, BayesianRecurrentOptions, Gates,
};
use blitz_autograd::{Error, Param, Result, Tape, Var};
use rand::Rng;

/// Runs a GRU over `x` `[batch, seq, in]` with `w_ih` `[in, 3h]`, `w_hh`
/// `[h, 3h]`, an optional `bias` `[3h]` and an optional initial h (zeros
/// otherwise). Returns the hidden states `[batch, seq, h]` and the final h.
///
/// # Errors
/// [`Error::InvalidShape`] / [`Error::ShapeMismatch`] for inconsistent shapes.
pub fn gru_sequence(x: &Var, w_ih: &Var, w_hh: &Var, bias: Option<&Var>, h0: Option<&Var>) -> Result<(Var, Var)> {
    let hidden = w_hh.shape().first().copied().unwrap_or(0);
    let in_features = w_ih.shape().first().copied().unwrap_or(0);
    // Checked: a wrapped 3·hidden would match a zero-element weight.
    let g = hidden.checked_mul(3).unwrap_or(0);
    if g == 0 || w_ih.shape() != [in_features, g] || w_hh.shape() != [hidden, g] {
        return Err(Error::ShapeMismatch { op: "gru", lhs: w_ih.shape().to_vec(), rhs: w_hh.shape().to_vec() });
    }
    if let Some(b) = bias {
        if b.shape() != [3 * hidden] {
            return Err(Error::ShapeMismatch { op: "gru bias", lhs: b.shape().to_vec(), rhs: vec![3 * hidden] });
        }
    }
    let (batch, seq) = check_sequence("gru", x, in_features)?;
    let mut h = state_or_zeros("gru h0", x, h0, batch, hidden)?;
    let xp = project_inputs(x, w_ih, bias)?;
    let mut hs = Vec::with_capacity(seq);
    for t in 0..seq {
        let xt = step(&xp, t)?;
        let hp = h.matmul(w_hh)?;
        let rz = xt.slice(1, 0, 2 * hidden)?.add(&hp.slice(1, 0, 2 * hidden)?)?.sigmoid()?;
        let (r, z) = (rz.slice(1, 0, hidden)?, rz.slice(1, hidden, hidden)?);
        let n = xt.slice(1, 2 * hidden, hidden)?.add(&r.mul(&hp.slice(1, 2 * hidden, hidden)?)?)?.tanh()?;
        // (1 − z)∘n + z∘h = n + z∘(h − n).
        h = n.add(&z.mul(&h.sub(&n)?)?)?;
        hs.push(h.clone());
    }
    Ok((stack_steps(&hs)?, h))
}

/// BLiTZ's `BayesianGRU(in_features, out_features)` with the standard gates:
/// Gaussian weights, one draw per sequence, KL added to the tape.
pub struct BayesianGRU {
    gates: BayesianGates,
}

impl std::fmt::Debug for BayesianGRU {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "BayesianGRU({} -> {}, prior: {}, {:?})",
            self.gates.in_features,
            self.gates.hidden,
            self.gates.prior.describe(),
            self.gates.estimator
        )
    }
}

impl BayesianGRU {
    /// A layer with BLiTZ's defaults.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a zero size; [`Error::ShapeOverflow`]
    /// or [`Error::TooLarge`] for sizes whose parameters cannot be held.
    pub fn new(in_features: usize, hidden: usize, rng: &mut impl Rng) -> Result<BayesianGRU> {
        Self::with_options(in_features, hidden, BayesianRecurrentOptions::default(), rng)
    }

    /// A layer with the given options (`peephole` is refused: it is an LSTM option).
    ///
    /// # Errors
    /// As [`BayesianLSTM::with_options`](crate::BayesianLSTM::with_options), and
    /// [`Error::InvalidArgument`] for `peephole`.
    pub fn with_options(
        in_features: usize,
        hidden: usize,
        options: BayesianRecurrentOptions,
        rng: &mut impl Rng,
    ) -> Result<BayesianGRU> {
        if options.peephole {
            return Err(Error::invalid("peephole", "a GRU has no cell state to peep at"));
        }
        Ok(BayesianGRU { gates: BayesianGates::new("BayesianGRU", in_features, hidden, 3, &options, rng)? })
    }

    /// The output sequence `[batch, seq, hidden]` and the final h.
    ///
    /// # Errors
    /// Shape mismatches of `x` or `h0`.
    pub fn forward_with_state(&self, x: &Var, h0: Option<&Var>) -> Result<(Var, Var)> {
        check_sequence("BayesianGRU", x, self.gates.in_features)?;
        let (w_ih, w_hh, b) = self.gates.sample(x.tape())?;
        gru_sequence(x, &w_ih, &w_hh, b.as_ref(), h0)
    }

    /// (mu, rho) of weight_ih `[in, 3h]`, weight_hh `[h, 3h]` and bias `[3h]`.
    pub fn weights(&self) -> ((&Param, &Param), (&Param, &Param), Option<(&Param, &Param)>) {
        self.gates.params()
    }
}

impl Module for BayesianGRU {
    fn forward(&self, x: &Var) -> Result<Var> {
        Ok(self.forward_with_state(x, None)?.0)
    }

    fn visit_params(&self, prefix: &str, f: &mut dyn FnMut(&str, &Param)) {
        self.gates.visit_params(prefix, f)
    }

    fn visit_bayesian(&self, f: &mut dyn FnMut(&dyn BayesianModule)) {
        f(self);
    }
}

impl BayesianModule for BayesianGRU {
    fn set_frozen(&self, frozen: bool) {
        self.gates.set_frozen(frozen)
    }
    fn is_frozen(&self) -> bool {
        self.gates.is_frozen()
    }
    fn moped(&self, delta: f32) -> Result<()> {
        self.gates.moped(delta)
    }
    fn kl(&self, tape: &Tape) -> Result<Option<Var>> {
        self.gates.kl(tape)
    }
}

/// A deterministic GRU with the same layout as [`BayesianGRU`].
#[derive(Debug)]
pub struct GRU {
    gates: Gates,
}

impl GRU {
    /// Initialised like torch, U(−1/√hidden, 1/√hidden).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a zero size; [`Error::ShapeOverflow`]
    /// or [`Error::TooLarge`] for sizes whose parameters cannot be held.
    pub fn new(in_features: usize, hidden: usize, bias: bool, rng: &mut impl Rng) -> Result<GRU> {
        Ok(GRU { gates: Gates::new("GRU", in_features, hidden, 3, bias, rng)? })
    }

    /// The output sequence `[batch, seq, hidden]` and the final h.
    ///
    /// # Errors
    /// Shape mismatches of `x` or `h0`.
    pub fn forward_with_state(&self, x: &Var, h0: Option<&Var>) -> Result<(Var, Var)> {
        check_sequence("GRU", x, self.gates.in_features)?;
        let (w_ih, w_hh, b) = self.gates.on(x.tape());
        gru_sequence(x, &w_ih, &w_hh, b.as_ref(), h0)
    }

    /// weight_ih `[in, 3h]`, weight_hh `[h, 3h]`, bias `[3h]`.
    pub fn weights(&self) -> (&Param, &Param, Option<&Param>) {
        (&self.gates.weight_ih, &self.gates.weight_hh, self.gates.bias.as_ref())
    }
}

impl Module for GRU {
    fn forward(&self, x: &Var) -> Result<Var> {
        Ok(self.forward_with_state(x, None)?.0)
    }

    fn visit_params(&self, prefix: &str, f: &mut dyn FnMut(&str, &Param)) {
        self.gates.visit_params(prefix, f)
    }
}
