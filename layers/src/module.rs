//! The `Module` trait: what every layer and model implements.
//!
//! A module is immutable during a forward pass (`&self`). What a pass
//! produces besides its output — random draws and the complexity cost (KL) —
//! goes through the [`Tape`](blitz_autograd::Tape) of its input, never onto
//! the module, so one model can be shared between threads (`Send + Sync`).

use blitz_autograd::{Device, Param, Result, Var};

/// A layer or a model: a forward pass and a visitor over named parameters.
pub trait Module: Send + Sync {
    /// Forward pass. Random draws are named by `x.tape().draw(n)`; KL terms
    /// go to `x.tape().add_complexity(&kl)`.
    ///
    /// # Errors
    /// Shape, device or tape mismatches of the input.
    fn forward(&self, x: &Var) -> Result<Var>;

    /// Visits each parameter with its dotted name, BLiTZ naming:
    /// `"l1.weight_mu"`, `"l1.weight_rho"`, `"l1.bias_mu"`, ...
    /// `prefix` is the module's own name ("" at the top).
    fn visit_params(&self, prefix: &str, f: &mut dyn FnMut(&str, &Param));

    /// Visits the Bayesian layers inside (for freeze/unfreeze, MOPED,
    /// closed-form KL). Default: none.
    fn visit_bayesian(&self, _f: &mut dyn FnMut(&dyn BayesianModule)) {}

    /// Switches training / evaluation mode (dropout). Default: nothing.
    fn set_training(&self, _training: bool) {}

    /// Switches only the [`Dropout`](crate::Dropout) layers inside on or
    /// off, leaving every other layer's mode as it is (MC dropout keeps
    /// dropout on at prediction this way). Containers forward it to their
    /// children. Default: nothing (a layer with no dropout inside).
    fn set_dropout(&self, _active: bool) {}

    /// The concrete layer, for conversions ([`crate::convert`]). Default: `None`.
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        None
    }
}

/// A layer whose weights are distributions (Gaussian posterior, sigma = softplus(rho)).
pub trait BayesianModule: Send + Sync {
    /// Frozen: forward uses the posterior means and adds no complexity cost.
    fn set_frozen(&self, frozen: bool);

    /// Whether the layer is frozen.
    fn is_frozen(&self) -> bool;

    /// MOPED: sets rho so that sigma = `delta`·|mu| for every weight and bias.
    ///
    /// # Errors
    /// [`blitz_autograd::Error::InvalidArgument`] unless `delta > 0` and finite.
    fn moped(&self, delta: f32) -> Result<()>;

    /// KL(q ‖ p) of the current posterior in closed form, on `tape`, when the
    /// prior allows it (Gaussian); `None` otherwise.
    ///
    /// # Errors
    /// Kernel failures.
    fn kl(&self, tape: &blitz_autograd::Tape) -> Result<Option<Var>>;
}

/// Joins a prefix and a local name with a dot ("" prefix: the name alone).
pub fn join_name(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

/// Every parameter of `m` with its dotted name, in visiting order.
pub fn params(m: &dyn Module) -> Vec<(String, Param)> {
    let mut out = Vec::new();
    m.visit_params("", &mut |name, p| out.push((name.to_string(), p.clone())));
    out
}

/// Moves every parameter of `m` to `device`.
///
/// # Errors
/// [`blitz_autograd::Error::CudaNotCompiled`] / `Cuda` for an unusable device.
pub fn to_device(m: &dyn Module, device: Device) -> Result<()> {
    for (_, p) in params(m) {
        p.set(p.value().to(device)?)?;
    }
    Ok(())
}
