//! What the options of every Bayesian layer share. `BayesianLinearOptions`,
//! `BayesianConvOptions`, `BayesianRecurrentOptions` and
//! `BayesianEmbeddingOptions` hold BLiTZ's posterior and prior fields under
//! BLiTZ's names (`prior_sigma_1`, `prior_sigma_2`, `prior_pi`,
//! `posterior_mu_init`, `posterior_rho_init`, `freeze`) plus a custom `prior`,
//! the `kl` mode and the `estimator`; this module gives them one builder, one
//! `Debug` and one way of turning those fields into a prior.

use crate::kl::KlMode;
use crate::prior::{Prior, ScaleMixture};
use blitz_autograd::{Error, Result};
use std::sync::Arc;

/// The prior a layer samples against: `custom` when given, else BLiTZ's scale
/// mixture pi·N(0, sigma1²) + (1 − pi)·N(0, sigma2²).
///
/// # Errors
/// [`Error::InvalidArgument`] for bad mixture numbers (sigma ≤ 0, pi outside
/// [0, 1]), or for closed-form KL with a prior that is not a zero-mean Gaussian.
pub(crate) fn resolve_prior(
    custom: &Option<Arc<dyn Prior>>,
    pi: f32,
    sigma1: f32,
    sigma2: f32,
    kl: KlMode,
) -> Result<Arc<dyn Prior>> {
    let prior: Arc<dyn Prior> = match custom {
        Some(p) => p.clone(),
        None => Arc::new(ScaleMixture::new(pi, sigma1, sigma2)?),
    };
    if kl == KlMode::ClosedForm && prior.gaussian_sigma().is_none() {
        return Err(Error::invalid(
            "kl",
            format!("closed-form KL needs a zero-mean Gaussian prior, not {}", prior.describe()),
        ));
    }
    Ok(prior)
}

/// Implements `Debug` (the shared fields, then `$extra`) and the builder
/// methods `with_prior`, `with_rho_init`, `with_kl`, `with_estimator` — and
/// `without_bias` when the first argument is `bias` — for a layer's options.
macro_rules! posterior_options {
    ($t:ident $(, bias: $bias:ident)? $(, extra: [$($extra:ident),*])?) => {
        impl std::fmt::Debug for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($t))
                    $(.field(stringify!($bias), &self.$bias))?
                    .field("prior_sigma_1", &self.prior_sigma_1)
                    .field("prior_sigma_2", &self.prior_sigma_2)
                    .field("prior_pi", &self.prior_pi)
                    .field("posterior_mu_init", &self.posterior_mu_init)
                    .field("posterior_rho_init", &self.posterior_rho_init)
                    .field("freeze", &self.freeze)
                    .field("prior", &self.prior.as_ref().map(|p| p.describe()))
                    .field("kl", &self.kl)
                    .field("estimator", &self.estimator)
                    $($(.field(stringify!($extra), &self.$extra))*)?
                    .finish()
            }
        }

        impl $t {
            /// Uses `prior` instead of the scale mixture.
            pub fn with_prior(mut self, prior: impl $crate::prior::Prior + 'static) -> Self {
                self.prior = Some(std::sync::Arc::new(prior));
                self
            }

            /// Sets the initial rho mean.
            pub fn with_rho_init(mut self, rho: f32) -> Self {
                self.posterior_rho_init = rho;
                self
            }

            /// Sets the KL estimator.
            pub fn with_kl(mut self, kl: $crate::kl::KlMode) -> Self {
                self.kl = kl;
                self
            }

            /// Sets the estimator (each layer says which ones it takes).
            pub fn with_estimator(mut self, estimator: $crate::gradient_estimator::Estimator) -> Self {
                self.estimator = estimator;
                self
            }

            $(
                /// Without bias parameters.
                pub fn without_bias(mut self) -> Self {
                    self.$bias = false;
                    self
                }
            )?

            /// The prior these options describe (see [`resolve_prior`](crate::options)).
            pub(crate) fn resolve_prior(&self) -> blitz_autograd::Result<std::sync::Arc<dyn $crate::prior::Prior>> {
                $crate::options::resolve_prior(&self.prior, self.prior_pi, self.prior_sigma_1, self.prior_sigma_2, self.kl)
            }
        }
    };
}

pub(crate) use posterior_options;
