//! Convolution layers over 1, 2 or 3 spatial axes: deterministic
//! [`Conv1d`]/[`Conv2d`]/[`Conv3d`] and Bayes-by-Backprop
//! [`BayesianConv1d`]/[`BayesianConv2d`]/[`BayesianConv3d`] with BLiTZ's
//! options and defaults. One generic type per kind, `R` = number of spatial axes.
//!
//! Arguments follow torch.nn: `(in_channels, out_channels, kernel_size)`,
//! then [`ConvParams`] with stride, padding, dilation and groups in torch's
//! order (BLiTZ puts groups before stride). `kernel_size` is a number or a tuple.

use crate::gradient_estimator::{AffineLayer, Estimator, FeatureAxis};
use crate::kl::KlMode;
use crate::linear::check_params;
use crate::module::{join_name, BayesianModule, Module};
use crate::options::posterior_options;
use crate::posterior::GaussianParam;
use crate::prior::Prior;
/// The geometry of a convolution (stride, padding, dilation, groups), as torch.nn takes it.
pub use blitz_autograd::ConvParams;
use blitz_autograd::{Dims, Error, Param, Result, Tape, Tensor, Var};
use rand::Rng;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The weight shape `[out, in/groups, kernel...]` after checking the sizes.
fn weight_shape<const R: usize>(
    name: &'static str,
    in_channels: usize,
    out_channels: usize,
    kernel_size: &Dims,
    p: &ConvParams,
) -> Result<Vec<usize>> {
    if !(1..=3).contains(&R) {
        return Err(Error::invalid("R", format!("{name}: {R} spatial axes; 1, 2 or 3 are supported")));
    }
    if in_channels == 0 || out_channels == 0 {
        return Err(Error::invalid("channels", format!("{name}: {in_channels} -> {out_channels}: sizes must be > 0")));
    }
    if p.groups == 0 || !in_channels.is_multiple_of(p.groups) || !out_channels.is_multiple_of(p.groups) {
        return Err(Error::invalid(
            "groups",
            format!("{name}: {} groups must divide {in_channels} and {out_channels} channels", p.groups),
        ));
    }
    let k = kernel_size.expand("kernel_size", R, 1)?;
    if k.contains(&0) {
        return Err(Error::invalid("kernel_size", format!("{name}: {:?} has a zero", kernel_size.0)));
    }
    // Check the other arguments' arity now rather than at the first forward.
    p.stride.expand("stride", R, 1)?;
    p.padding.expand("padding", R, 0)?;
    p.dilation.expand("dilation", R, 1)?;
    let mut shape = vec![out_channels, in_channels / p.groups];
    shape.extend_from_slice(&k[3 - R..]);
    Ok(shape)
}

fn conv<const R: usize>(x: &Var, w: &Var, b: Option<&Var>, p: &ConvParams) -> Result<Var> {
    match R {
        1 => x.conv1d(w, b, p),
        2 => x.conv2d(w, b, p),
        _ => x.conv3d(w, b, p),
    }
}

/// A deterministic convolution over `R` spatial axes; weight `[out, in/groups, kernel...]`.
#[derive(Debug)]
pub struct Conv<const R: usize> {
    params: ConvParams,
    weight: Param,
    bias: Option<Param>,
}

/// 1d convolution of `[N, C, W]`.
pub type Conv1d = Conv<1>;
/// 2d convolution of `[N, C, H, W]`.
pub type Conv2d = Conv<2>;
/// 3d convolution of `[N, C, D, H, W]`.
pub type Conv3d = Conv<3>;

impl<const R: usize> Conv<R> {
    /// Stride 1, no padding, with bias, initialised like torch:
    /// U(−1/√fan_in, 1/√fan_in), fan_in = in/groups · kernel volume.
    ///
    /// # Errors
    /// As [`Conv::with_params`].
    pub fn new(
        in_channels: usize,
        out_channels: usize,
        kernel_size: impl Into<Dims>,
        rng: &mut impl Rng,
    ) -> Result<Self> {
        Self::with_params(in_channels, out_channels, kernel_size, ConvParams::default(), true, rng)
    }

    /// A layer with explicit stride, padding, dilation, groups and bias.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for zero sizes, groups that do not divide
    /// the channels, or a kernel/stride/padding/dilation with the wrong number
    /// of values; [`Error::ShapeOverflow`] or [`Error::TooLarge`] for sizes
    /// whose parameters cannot be held ([`blitz_kernels::limits`]).
    pub fn with_params(
        in_channels: usize,
        out_channels: usize,
        kernel_size: impl Into<Dims>,
        params: ConvParams,
        bias: bool,
        rng: &mut impl Rng,
    ) -> Result<Self> {
        let shape = weight_shape::<R>("Conv", in_channels, out_channels, &kernel_size.into(), &params)?;
        let sizes = || format!("{in_channels} -> {out_channels}, weight {shape:?}");
        check_params("Conv", sizes, &[&shape, &[out_channels]], 1)?;
        let fan_in: usize = shape[1..].iter().product();
        let bound = 1.0 / (fan_in as f32).sqrt();
        let weight = Param::new("weight", Tensor::rand_uniform(&shape, -bound, bound, rng)?);
        let bias = if bias {
            Some(Param::new("bias", Tensor::rand_uniform(&[out_channels], -bound, bound, rng)?))
        } else {
            None
        };
        Ok(Conv { params, weight, bias })
    }

    /// The weight `[out, in/groups, kernel...]`.
    pub fn weight(&self) -> &Param {
        &self.weight
    }

    /// The bias `[out]`, if any.
    pub fn bias(&self) -> Option<&Param> {
        self.bias.as_ref()
    }

    /// Stride, padding, dilation and groups.
    pub fn conv_params(&self) -> &ConvParams {
        &self.params
    }
}

impl<const R: usize> Module for Conv<R> {
    fn forward(&self, x: &Var) -> Result<Var> {
        let tape = x.tape();
        let b = self.bias.as_ref().map(|b| tape.param(b));
        conv::<R>(x, &tape.param(&self.weight), b.as_ref(), &self.params)
    }

    fn visit_params(&self, prefix: &str, f: &mut dyn FnMut(&str, &Param)) {
        f(&join_name(prefix, "weight"), &self.weight);
        if let Some(b) = &self.bias {
            f(&join_name(prefix, "bias"), b);
        }
    }

    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }
}

/// Options of a Bayesian convolution, BLiTZ's names and defaults
/// (`prior_sigma_2` = 0.002 and `posterior_rho_init` = −6 for 2d and 3d,
/// −7 for 1d: use [`BayesianConvOptions::conv1d`]).
#[derive(Clone)]
pub struct BayesianConvOptions {
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
    /// Mean of the initial rho (default −6; −7 for 1d).
    pub posterior_rho_init: f32,
    /// Start frozen: predict with the means (default false).
    pub freeze: bool,
    /// A custom prior; when set, the three `prior_*` numbers are ignored.
    pub prior: Option<Arc<dyn Prior>>,
    /// How the KL is estimated (default Monte Carlo, as BLiTZ).
    pub kl: KlMode,
    /// How the output is sampled (default reparameterisation, as BLiTZ).
    pub estimator: Estimator,
}

impl Default for BayesianConvOptions {
    fn default() -> Self {
        BayesianConvOptions {
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
        }
    }
}

posterior_options!(BayesianConvOptions, bias: bias);

impl BayesianConvOptions {
    /// BLiTZ's defaults for `BayesianConv1d` (rho init −7).
    pub fn conv1d() -> Self {
        BayesianConvOptions { posterior_rho_init: -7.0, ..Self::default() }
    }

    /// BLiTZ's defaults for a layer with `R` spatial axes.
    pub fn for_rank(rank: usize) -> Self {
        if rank == 1 {
            Self::conv1d()
        } else {
            Self::default()
        }
    }
}

/// A convolution with Gaussian weights over `R` spatial axes: each forward
/// draws w = mu + softplus(rho)·eps (fused kernel) and adds its KL to the tape.
pub struct BayesianConv<const R: usize> {
    params: ConvParams,
    weight: GaussianParam,
    bias: Option<GaussianParam>,
    prior: Arc<dyn Prior>,
    kl: KlMode,
    estimator: Estimator,
    frozen: AtomicBool,
}

/// BLiTZ's `BayesianConv1d` on `[N, C, W]`.
pub type BayesianConv1d = BayesianConv<1>;
/// BLiTZ's `BayesianConv2d` on `[N, C, H, W]`.
pub type BayesianConv2d = BayesianConv<2>;
/// BLiTZ's `BayesianConv3d` on `[N, C, D, H, W]`.
pub type BayesianConv3d = BayesianConv<3>;

impl<const R: usize> std::fmt::Debug for BayesianConv<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "BayesianConv{R}d(weight {:?}, {:?}, bias: {}, prior: {}, kl: {:?})",
            self.weight.mu.value().shape(),
            self.params,
            self.bias.is_some(),
            self.prior.describe(),
            self.kl
        )
    }
}

impl<const R: usize> BayesianConv<R> {
    /// Stride 1, no padding, BLiTZ's defaults for this rank.
    ///
    /// # Errors
    /// As [`BayesianConv::with_options`].
    pub fn new(
        in_channels: usize,
        out_channels: usize,
        kernel_size: impl Into<Dims>,
        rng: &mut impl Rng,
    ) -> Result<Self> {
        Self::with_options(
            in_channels,
            out_channels,
            kernel_size,
            ConvParams::default(),
            BayesianConvOptions::for_rank(R),
            rng,
        )
    }

    /// A layer with explicit geometry and options; mu ~ N(mu_init, 0.1), rho ~ N(rho_init, 0.1).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for zero sizes, groups that do not divide
    /// the channels, arguments with the wrong number of values, a bad prior
    /// (sigma ≤ 0, pi outside [0, 1]), non-finite inits, or closed-form KL
    /// with a non-Gaussian prior; [`Error::ShapeOverflow`] or
    /// [`Error::TooLarge`] for sizes whose parameters cannot be held.
    pub fn with_options(
        in_channels: usize,
        out_channels: usize,
        kernel_size: impl Into<Dims>,
        params: ConvParams,
        options: BayesianConvOptions,
        rng: &mut impl Rng,
    ) -> Result<Self> {
        let shape = weight_shape::<R>("BayesianConv", in_channels, out_channels, &kernel_size.into(), &params)?;
        let sizes = || format!("{in_channels} -> {out_channels}, weight {shape:?}");
        check_params("BayesianConv", sizes, &[&shape, &[out_channels]], 2)?;
        for (name, v) in
            [("posterior_mu_init", options.posterior_mu_init), ("posterior_rho_init", options.posterior_rho_init)]
        {
            if !v.is_finite() {
                return Err(Error::invalid(name, format!("{v}: must be finite")));
            }
        }
        let prior = options.resolve_prior()?;
        let (m, r) = (options.posterior_mu_init, options.posterior_rho_init);
        let weight = GaussianParam::init("weight", &shape, m, r, rng)?;
        let bias = if options.bias { Some(GaussianParam::init("bias", &[out_channels], m, r, rng)?) } else { None };
        Ok(BayesianConv {
            params,
            weight,
            bias,
            prior,
            kl: options.kl,
            estimator: options.estimator,
            frozen: AtomicBool::new(options.freeze),
        })
    }

    /// (weight_mu, weight_rho), shape `[out, in/groups, kernel...]`.
    pub fn weight(&self) -> (&Param, &Param) {
        (&self.weight.mu, &self.weight.rho)
    }

    /// (bias_mu, bias_rho), shape `[out]`, if the layer has a bias.
    pub fn bias(&self) -> Option<(&Param, &Param)> {
        self.bias.as_ref().map(|b| (&b.mu, &b.rho))
    }

    /// The prior.
    pub fn prior(&self) -> &dyn Prior {
        &*self.prior
    }

    fn parts(&self) -> impl Iterator<Item = &GaussianParam> {
        std::iter::once(&self.weight).chain(self.bias.as_ref())
    }
}

impl<const R: usize> Module for BayesianConv<R> {
    fn forward(&self, x: &Var) -> Result<Var> {
        let layer = AffineLayer {
            weight: &self.weight,
            bias: self.bias.as_ref(),
            prior: &*self.prior,
            kl: self.kl,
            estimator: self.estimator,
            frozen: self.is_frozen(),
            axis: FeatureAxis::Channels,
        };
        layer.forward(x, |x, w, b| conv::<R>(x, w, b, &self.params))
    }

    fn visit_params(&self, prefix: &str, f: &mut dyn FnMut(&str, &Param)) {
        for part in self.parts() {
            f(&join_name(prefix, part.mu.name()), &part.mu);
            f(&join_name(prefix, part.rho.name()), &part.rho);
        }
    }

    fn visit_bayesian(&self, f: &mut dyn FnMut(&dyn BayesianModule)) {
        f(self);
    }
}

impl<const R: usize> BayesianModule for BayesianConv<R> {
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
        self.parts().try_for_each(|p| p.moped(delta))
    }

    fn kl(&self, tape: &Tape) -> Result<Option<Var>> {
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
