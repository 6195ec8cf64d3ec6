//! The reparameterisation trick as two tape ops on the scalar reference
//! (`blitz_kernels::reference::reparam`): the same weights as the fused ops,
//! bit for bit, with forward and backward written one weight at a time.
//! They run on the host (values on a GPU are copied over and back), for
//! reading and testing, not for speed.
//!
//! - [`Var::reference_sample`]: w = mu + softplus(rho)·eps(seed, offset);
//!   backward ∂w/∂mu = 1, ∂w/∂rho = eps·sigmoid(rho).
//! - [`Var::reference_mc_kl`]: Σ ln q(w) − ln p(w) of that same draw, a
//!   separate entry on the tape whose gradient (eps held fixed) adds to the
//!   sample's in the backward loop.

use crate::{Tensor, Var};
use blitz_kernels::reference::reparam as reference;
use blitz_kernels::{PriorSpec, Result};

impl Var {
    /// Draws w = mu + softplus(rho)·eps(seed, offset) on the scalar
    /// reference path. `self` is mu. The same bits as [`Var::reparam_sample`]
    /// on the CPU.
    ///
    /// # Errors
    /// [`blitz_kernels::Error::ShapeMismatch`] when mu and rho differ in
    /// shape; device or tape mismatches.
    pub fn reference_sample(&self, rho: &Var, seed: u64, offset: u64) -> Result<Var> {
        self.check_same_shape("reference_sample", rho)?;
        self.check_same_device("reference_sample", rho)?;
        let (mu_v, rho_v) = (self.value().to_vec()?, rho.value().to_vec()?);
        let mut w = vec![0.0; mu_v.len()];
        reference::sample_all(&mu_v, &rho_v, seed, offset, &mut w);
        let (shape, device) = (self.shape().to_vec(), self.device());
        let value = Tensor::from_vec(w, &shape)?.to(device)?;
        self.tape().record(
            "reference_sample",
            value,
            &[self, rho],
            Box::new(move |g, needs| {
                let n = rho_v.len();
                let (mut g_mu, mut g_rho) = (vec![0.0; n], vec![0.0; n]);
                reference::sample_all_backward(&rho_v, &g.to_vec()?, seed, offset, &mut g_mu, &mut g_rho);
                let back = |v: Vec<f32>| Tensor::from_vec(v, &shape)?.to(device);
                Ok(vec![needs[0].then(|| back(g_mu)).transpose()?, needs[1].then(|| back(g_rho)).transpose()?])
            }),
        )
    }

    /// The Monte Carlo KL Σ [ln q(w_i) − ln p(w_i)] of the weights
    /// [`Var::reference_sample`] draws with the same (seed, offset), on the
    /// scalar reference path. `self` is mu. Shape `[]`.
    ///
    /// # Errors
    /// [`blitz_kernels::Error::ShapeMismatch`] when mu and rho differ in
    /// shape; [`blitz_kernels::Error::InvalidArgument`] for an invalid prior;
    /// device or tape mismatches.
    pub fn reference_mc_kl(&self, rho: &Var, seed: u64, offset: u64, prior: PriorSpec) -> Result<Var> {
        self.check_same_shape("reference_mc_kl", rho)?;
        self.check_same_device("reference_mc_kl", rho)?;
        if !prior.is_valid() {
            return Err(blitz_kernels::Error::invalid(
                "prior",
                format!(
                    "{prior:?}: sigmas must be finite and at least {}, pi in [0, 1]",
                    blitz_kernels::types::MIN_SIGMA
                ),
            ));
        }
        let (mu_v, rho_v) = (self.value().to_vec()?, rho.value().to_vec()?);
        let kl = reference::mc_kl(&mu_v, &rho_v, seed, offset, prior) as f32;
        let (shape, device) = (self.shape().to_vec(), self.device());
        self.tape().record(
            "reference_mc_kl",
            Tensor::scalar(kl).to(device)?,
            &[self, rho],
            Box::new(move |g, needs| {
                let n = mu_v.len();
                let (mut g_mu, mut g_rho) = (vec![0.0; n], vec![0.0; n]);
                reference::mc_kl_backward(&mu_v, &rho_v, g.item()?, seed, offset, prior, &mut g_mu, &mut g_rho);
                let back = |v: Vec<f32>| Tensor::from_vec(v, &shape)?.to(device);
                Ok(vec![needs[0].then(|| back(g_mu)).transpose()?, needs[1].then(|| back(g_rho)).transpose()?])
            }),
        )
    }
}
