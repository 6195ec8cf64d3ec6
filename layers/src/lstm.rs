//! LSTM layers on `[batch, seq, features]`: Bayesian [`BayesianLSTM`] (BLiTZ's)
//! and deterministic [`LSTM`], both running [`lstm_sequence`].
//!
//! Gates in BLiTZ's order i, f, g, o: i, f, o = sigmoid, g = tanh,
//! c' = f∘c + i∘g, h' = o∘tanh(c'). With `peephole` the gates read the cell
//! state c instead of h (BLiTZ's variant); the output is o∘tanh(c') in
//! training and frozen mode alike (BLiTZ uses sigmoid when frozen).

use crate::module::{BayesianModule, Module};
use crate::recurrent::{
    check_sequence, project_inputs, stack_steps, state_or_zeros, step, BayesianGates, BayesianRecurrentOptions, Gates,
};
use blitz_autograd::{Error, Param, Result, Tape, Var};
use rand::Rng;

/// The final state (h, c), each `[batch, hidden]`.
pub type LstmState = (Var, Var);

/// Runs an LSTM over `x` `[batch, seq, in]` with `w_ih` `[in, 4h]`,
/// `w_hh` `[h, 4h]`, an optional `bias` `[4h]` and an optional initial
/// (h, c) (zeros otherwise). Returns the hidden states `[batch, seq, h]` and
/// the final (h, c). Differentiable in every input.
///
/// # Errors
/// [`Error::InvalidShape`] / [`Error::ShapeMismatch`] for inconsistent shapes.
pub fn lstm_sequence(
    x: &Var,
    w_ih: &Var,
    w_hh: &Var,
    bias: Option<&Var>,
    state: Option<(&Var, &Var)>,
    peephole: bool,
) -> Result<(Var, LstmState)> {
    let hidden = w_hh.shape().first().copied().unwrap_or(0);
    let in_features = w_ih.shape().first().copied().unwrap_or(0);
    let mismatch = || Error::ShapeMismatch { op: "lstm", lhs: w_ih.shape().to_vec(), rhs: w_hh.shape().to_vec() };
    // Checked: a wrapped 4·hidden would match a zero-element weight.
    let g = hidden.checked_mul(4).ok_or_else(mismatch)?;
    if w_ih.shape() != [in_features, g] || w_hh.shape() != [hidden, g] || hidden == 0 {
        return Err(mismatch());
    }
    if let Some(b) = bias {
        if b.shape() != [4 * hidden] {
            return Err(Error::ShapeMismatch { op: "lstm bias", lhs: b.shape().to_vec(), rhs: vec![4 * hidden] });
        }
    }
    let (batch, seq) = check_sequence("lstm", x, in_features)?;
    let mut h = state_or_zeros("lstm h0", x, state.map(|s| s.0), batch, hidden)?;
    let mut c = state_or_zeros("lstm c0", x, state.map(|s| s.1), batch, hidden)?;
    let xp = project_inputs(x, w_ih, bias)?;
    let mut hs = Vec::with_capacity(seq);
    for t in 0..seq {
        let recur = if peephole { &c } else { &h };
        let gates = step(&xp, t)?.add(&recur.matmul(w_hh)?)?;
        let i = gates.slice(1, 0, hidden)?.sigmoid()?;
        let f = gates.slice(1, hidden, hidden)?.sigmoid()?;
        let g = gates.slice(1, 2 * hidden, hidden)?.tanh()?;
        let o = gates.slice(1, 3 * hidden, hidden)?.sigmoid()?;
        c = f.mul(&c)?.add(&i.mul(&g)?)?;
        h = o.mul(&c.tanh()?)?;
        hs.push(h.clone());
    }
    Ok((stack_steps(&hs)?, (h, c)))
}

/// BLiTZ's `BayesianLSTM(in_features, out_features)`: Gaussian gate weights,
/// one draw per sequence, KL added to the tape.
pub struct BayesianLSTM {
    gates: BayesianGates,
    peephole: bool,
}

impl std::fmt::Debug for BayesianLSTM {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "BayesianLSTM({} -> {}, peephole: {}, prior: {}, {:?})",
            self.gates.in_features,
            self.gates.hidden,
            self.peephole,
            self.gates.prior.describe(),
            self.gates.estimator
        )
    }
}

impl BayesianLSTM {
    /// A layer with BLiTZ's defaults.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a zero size; [`Error::ShapeOverflow`]
    /// or [`Error::TooLarge`] for sizes whose parameters cannot be held.
    pub fn new(in_features: usize, hidden: usize, rng: &mut impl Rng) -> Result<BayesianLSTM> {
        Self::with_options(in_features, hidden, BayesianRecurrentOptions::default(), rng)
    }

    /// A layer with the given options.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a zero size, a bad prior, non-finite
    /// inits, closed-form KL with a non-Gaussian prior, or an estimator other
    /// than Reparameterisation and Radial; [`Error::ShapeOverflow`] or
    /// [`Error::TooLarge`] for sizes whose parameters cannot be held.
    pub fn with_options(
        in_features: usize,
        hidden: usize,
        options: BayesianRecurrentOptions,
        rng: &mut impl Rng,
    ) -> Result<BayesianLSTM> {
        let gates = BayesianGates::new("BayesianLSTM", in_features, hidden, 4, &options, rng)?;
        Ok(BayesianLSTM { gates, peephole: options.peephole })
    }

    /// The output sequence `[batch, seq, hidden]` and the final (h, c).
    ///
    /// # Errors
    /// Shape mismatches of `x` or the state.
    pub fn forward_with_state(&self, x: &Var, state: Option<(&Var, &Var)>) -> Result<(Var, LstmState)> {
        check_sequence("BayesianLSTM", x, self.gates.in_features)?;
        let (w_ih, w_hh, b) = self.gates.sample(x.tape())?;
        lstm_sequence(x, &w_ih, &w_hh, b.as_ref(), state, self.peephole)
    }

    /// (mu, rho) of weight_ih `[in, 4h]`, weight_hh `[h, 4h]` and bias `[4h]`.
    pub fn weights(&self) -> ((&Param, &Param), (&Param, &Param), Option<(&Param, &Param)>) {
        self.gates.params()
    }
}

impl Module for BayesianLSTM {
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

impl BayesianModule for BayesianLSTM {
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

/// A deterministic LSTM with the same layout as [`BayesianLSTM`].
#[derive(Debug)]
pub struct LSTM {
    gates: Gates,
    peephole: bool,
}

impl LSTM {
    /// Initialised like torch, U(−1/√hidden, 1/√hidden).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a zero size; [`Error::ShapeOverflow`]
    /// or [`Error::TooLarge`] for sizes whose parameters cannot be held.
    pub fn new(in_features: usize, hidden: usize, bias: bool, rng: &mut impl Rng) -> Result<LSTM> {
        Ok(LSTM { gates: Gates::new("LSTM", in_features, hidden, 4, bias, rng)?, peephole: false })
    }

    /// With BLiTZ's peephole (the gates read c instead of h).
    pub fn with_peephole(mut self, peephole: bool) -> Self {
        self.peephole = peephole;
        self
    }

    /// The output sequence `[batch, seq, hidden]` and the final (h, c).
    ///
    /// # Errors
    /// Shape mismatches of `x` or the state.
    pub fn forward_with_state(&self, x: &Var, state: Option<(&Var, &Var)>) -> Result<(Var, LstmState)> {
        check_sequence("LSTM", x, self.gates.in_features)?;
        let (w_ih, w_hh, b) = self.gates.on(x.tape());
        lstm_sequence(x, &w_ih, &w_hh, b.as_ref(), state, self.peephole)
    }

    /// weight_ih `[in, 4h]`, weight_hh `[h, 4h]`, bias `[4h]`.
    pub fn weights(&self) -> (&Param, &Param, Option<&Param>) {
        (&self.gates.weight_ih, &self.gates.weight_hh, self.gates.bias.as_ref())
    }
}

impl Module for LSTM {
    fn forward(&self, x: &Var) -> Result<Var> {
        Ok(self.forward_with_state(x, None)?.0)
    }

    fn visit_params(&self, prefix: &str, f: &mut dyn FnMut(&str, &Param)) {
        self.gates.visit_params(prefix, f)
    }
}
