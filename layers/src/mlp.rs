//! A Bayesian multi-layer perceptron described by a few numbers, which a
//! checkpoint can carry: the model the `blitz` command trains, and a quick
//! start for any tabular problem.

use crate::bayesian_linear::{BayesianLinear, BayesianLinearOptions};
use crate::checkpoint::Checkpoint;
use crate::kl::KlMode;
use crate::prior::Gaussian;
use crate::{Dropout, Linear, ReLU, Sequential};
use blitz_autograd::{Error, Result};
use rand::rngs::StdRng;
use rand::SeedableRng;

/// `inputs → hidden[0] → … → outputs`, BayesianLinear layers with ReLU
/// between them, prior N(0, `prior_sigma`²) with the closed-form KL, and
/// posteriors starting at sigma = softplus(`rho_init`). Layers are named
/// `fc1`, `fc2`, … (`fc1.weight_mu`, …).
#[derive(Debug, Clone, PartialEq)]
pub struct MlpSpec {
    /// Input features.
    pub inputs: usize,
    /// Units of each hidden layer (empty: a Bayesian linear model).
    pub hidden: Vec<usize>,
    /// Outputs (1 for one regression target, the class count for a classifier).
    pub outputs: usize,
    /// The prior's standard deviation.
    pub prior_sigma: f32,
    /// The posteriors' initial rho.
    pub rho_init: f32,
}

impl MlpSpec {
    /// The recommended settings: prior N(0, 1), rho init −5 (sigma ≈ 0.0067:
    /// the network starts close to a deterministic one and widens where the
    /// data allow).
    pub fn new(inputs: usize, hidden: Vec<usize>, outputs: usize) -> MlpSpec {
        MlpSpec { inputs, hidden, outputs, prior_sigma: 1.0, rho_init: -5.0 }
    }

    /// The network, its initial means drawn from a generator seeded with `seed`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a zero size or a bad prior or rho.
    pub fn build(&self, seed: u64) -> Result<Sequential> {
        if self.inputs == 0 || self.outputs == 0 || self.hidden.contains(&0) {
            return Err(Error::invalid(
                "mlp sizes",
                format!("{}: every layer needs at least one unit", self.describe()),
            ));
        }
        let mut rng = StdRng::seed_from_u64(seed);
        let opts = BayesianLinearOptions::default()
            .with_rho_init(self.rho_init)
            .with_prior(Gaussian::new(self.prior_sigma)?)
            .with_kl(KlMode::ClosedForm);
        let mut net = Sequential::new();
        let mut width = self.inputs;
        for (i, &h) in self.hidden.iter().enumerate() {
            net =
                net.push_named(format!("fc{}", i + 1), BayesianLinear::with_options(width, h, opts.clone(), &mut rng)?);
            net = net.push(ReLU);
            width = h;
        }
        let last = format!("fc{}", self.hidden.len() + 1);
        Ok(net.push_named(last, BayesianLinear::with_options(width, self.outputs, opts, &mut rng)?))
    }

    /// "13-50-50-1".
    pub fn describe(&self) -> String {
        let mut sizes = vec![self.inputs];
        sizes.extend(&self.hidden);
        sizes.push(self.outputs);
        sizes.iter().map(usize::to_string).collect::<Vec<_>>().join("-")
    }

    /// Records the spec in checkpoint metadata (`model = bayesian_mlp`, `model.sizes`, …).
    pub fn to_metadata(&self, ck: &mut Checkpoint) {
        ck.set_metadata("model", "bayesian_mlp");
        ck.set_metadata("model.sizes", self.describe());
        ck.set_metadata("model.prior_sigma", self.prior_sigma.to_string());
        ck.set_metadata("model.rho_init", self.rho_init.to_string());
    }

    /// The spec recorded by [`MlpSpec::to_metadata`], checked against the
    /// checkpoint's tensors before anything is built: every layer's
    /// `weight_mu`, `weight_rho`, `bias_mu` and `bias_rho` must be stored
    /// with the shape the sizes imply (and no other `fc*` tensor), hold
    /// finite values, and every rho ≥ [`MIN_RHO`]; the memory the network
    /// takes is estimated first.
    ///
    /// # Errors
    /// [`Error::Parse`] naming the file and the key (or tensor) when the
    /// checkpoint holds no such model, a value is malformed or does not
    /// match the tensors; [`Error::NonFinite`] naming a tensor;
    /// [`Error::TooLarge`] for a network that would not fit in memory.
    pub fn from_metadata(ck: &Checkpoint) -> Result<MlpSpec> {
        let spec = MlpSpec::sizes_from_metadata(ck, "bayesian_mlp")?;
        spec.check_tensors(ck)?;
        Ok(spec)
    }

    /// The spec recorded by [`MlpSpec::to_metadata`] (with `model = model`),
    /// its values checked but not the tensors: for the networks of other
    /// methods, whose tensors their own loaders check.
    pub(crate) fn sizes_from_metadata(ck: &Checkpoint, model: &str) -> Result<MlpSpec> {
        let bad = |m: String| Error::Parse { path: ck.source().to_string(), message: m };
        let meta = ck.metadata();
        let get = |k: &str| {
            meta.get(k).ok_or_else(|| bad(format!("metadata {k} is missing: not a model written by `blitz fit`")))
        };
        if get("model")? != model {
            return Err(bad(format!("model {:?}: only {model} is known", get("model")?)));
        }
        let sizes: Vec<usize> = get("model.sizes")?
            .split('-')
            .map(|s| s.parse().map_err(|_| bad(format!("model.sizes: {s:?} is not a size"))))
            .collect::<Result<_>>()?;
        if sizes.len() < 2 {
            return Err(bad("model.sizes: needs inputs and outputs".into()));
        }
        if sizes.contains(&0) {
            return Err(bad(format!("model.sizes: {}: every layer needs at least one unit", get("model.sizes")?)));
        }
        let num =
            |k: &str| -> Result<f32> { get(k)?.parse().map_err(|_| bad(format!("metadata {k} is not a number"))) };
        let prior_sigma = num("model.prior_sigma")?;
        if !(prior_sigma.is_finite() && prior_sigma >= f32::MIN_POSITIVE) {
            return Err(bad(format!("metadata model.prior_sigma = {prior_sigma}: must be a positive normal number")));
        }
        let rho_init = num("model.rho_init")?;
        if !rho_init.is_finite() {
            return Err(bad(format!("metadata model.rho_init = {rho_init}: must be finite")));
        }
        let spec = MlpSpec {
            inputs: sizes[0],
            hidden: sizes[1..sizes.len() - 1].to_vec(),
            outputs: sizes[sizes.len() - 1],
            prior_sigma,
            rho_init,
        };
        Ok(spec)
    }

    /// The name and shape of every parameter of [`MlpSpec::build`]'s network.
    pub fn param_shapes(&self) -> Vec<(String, Vec<usize>)> {
        let mut widths = vec![self.inputs];
        widths.extend(&self.hidden);
        widths.push(self.outputs);
        let mut out = Vec::new();
        for (i, w) in widths.windows(2).enumerate() {
            let (inp, o) = (w[0], w[1]);
            for part in ["weight", "bias"] {
                let shape = if part == "weight" { vec![o, inp] } else { vec![o] };
                for stat in ["mu", "rho"] {
                    out.push((format!("fc{}.{part}_{stat}", i + 1), shape.clone()));
                }
            }
        }
        out
    }

    /// See [`MlpSpec::from_metadata`].
    fn check_tensors(&self, ck: &Checkpoint) -> Result<()> {
        use blitz_kernels::limits::{check_memory, checked_numel, f32_bytes};
        let bad = |m: String| Error::Parse { path: ck.source().to_string(), message: m };
        let expected = self.param_shapes();
        let mut problems = Vec::new();
        for (name, shape) in &expected {
            match ck.tensor(name) {
                None => problems.push(format!("tensor {name} (shape {shape:?} for model.sizes) is missing")),
                Some((s, _)) if s != &shape[..] => {
                    problems.push(format!("tensor {name}: shape {s:?} in the file, model.sizes implies {shape:?}"))
                }
                Some(_) => {}
            }
        }
        for name in ck.names() {
            if name.starts_with("fc") && !expected.iter().any(|(n, _)| n == name) {
                problems.push(format!("tensor {name} is not part of model.sizes {}", self.describe()));
            }
        }
        if !problems.is_empty() {
            return Err(bad(problems.join("; ")));
        }
        // The shapes match stored tensors, so they fit in the file; the
        // network takes their size again, and training twice more (Adam).
        let mut total = 0usize;
        for (name, shape) in &expected {
            let n = checked_numel("model.sizes", shape)?;
            total = total.checked_add(n).ok_or(Error::ShapeOverflow { op: "model.sizes", shape: shape.clone() })?;
            ck.check_finite([name.as_str()])?;
            let (_, data) = ck.tensor(name).unwrap_or_default();
            if name.ends_with("_rho") {
                if let Some((i, r)) = data.iter().enumerate().find(|(_, &r)| r < MIN_RHO) {
                    return Err(bad(format!(
                        "tensor {name}: element {i} is {r}, below {MIN_RHO} (sigma = softplus(rho) would not be a normal f32)"
                    )));
                }
            }
        }
        check_memory(f32_bytes(total).saturating_mul(3), || {
            format!("model.sizes {} of {}", self.describe(), ck.source())
        })
    }
}

/// `spec`'s sizes as a deterministic network with `outputs` outputs:
/// [`Linear`] layers `fc1`, `fc2`, … with ReLU between them, and after each
/// ReLU a [`Dropout`] of `dropout` when given; the initial weights drawn
/// from a generator seeded with `seed`.
///
/// # Errors
/// [`Error::InvalidArgument`] for a zero size or a bad drop probability.
pub fn plain_mlp(spec: &MlpSpec, outputs: usize, seed: u64, dropout: Option<f32>) -> Result<Sequential> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut net = Sequential::new();
    let mut width = spec.inputs;
    for (i, &h) in spec.hidden.iter().enumerate() {
        net = net.push_named(format!("fc{}", i + 1), Linear::new(width, h, true, &mut rng)?).push(ReLU);
        if let Some(p) = dropout {
            net = net.push(Dropout::new(p)?);
        }
        width = h;
    }
    Ok(net.push_named(format!("fc{}", spec.hidden.len() + 1), Linear::new(width, outputs, true, &mut rng)?))
}

/// The smallest rho a loaded Bayesian layer may hold: softplus(−80) ≈ e^−80
/// ≈ 1.8e−35 is still a normal f32, so sigma and its log are finite.
pub const MIN_RHO: f32 = -80.0;
