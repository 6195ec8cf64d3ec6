//! One weight draw and its Monte Carlo KL as a fused op with two outputs.
//!
//! A tape entry has one output, so the op records two entries that share one
//! backward pass: first `kl` (parents mu, rho), then `w` (parent: the kl
//! entry). The reverse sweep reaches `w` first; its rule only stashes ∂L/∂w
//! and hands the kl entry a zero (w does not depend on kl), so the kl entry
//! is always visited when either output is used. The kl entry's rule then
//! writes (∂L/∂mu, ∂L/∂rho) for both outputs: on a GPU it regenerates eps once;
//! on the CPU, where making eps and softplus is the expensive part, the
//! forward pass kept two per-weight factors for it instead.
//!
//! [`Var::kl_at`] is the same KL for weights already drawn by
//! [`Var::reparam_sample`] (eps regenerated in the forward pass only).

use crate::{Tensor, Var};
use blitz_kernels::{ops, Error, PriorSpec, Result};
use std::cell::RefCell;
use std::rc::Rc;

fn check_prior(op: &'static str, prior: PriorSpec) -> Result<()> {
    if prior.is_valid() {
        Ok(())
    } else {
        Err(Error::invalid(
            "prior",
            format!(
                "{op}: {prior:?} needs finite sigmas of at least {} and pi in [0, 1]",
                blitz_kernels::types::MIN_SIGMA
            ),
        ))
    }
}

impl Var {
    /// Draws w = mu + softplus(rho)·eps(seed, offset) and returns it with
    /// KL ≈ Σ [log q(w) − log p(w)] (shape `[]`), in one pass. `self` is mu.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] when mu and rho differ in shape;
    /// [`Error::InvalidArgument`] for a bad prior; device or tape mismatches;
    /// CUDA failures.
    pub fn sample_with_kl(&self, rho: &Var, seed: u64, offset: u64, prior: PriorSpec) -> Result<(Var, Var)> {
        self.check_same_shape("sample_with_kl", rho)?;
        check_prior("sample_with_kl", prior)?;
        self.check_same_device("sample_with_kl", rho)?;
        let (mu_v, rho_v) = (self.value().clone(), rho.value().clone());
        // A recording tape keeps what the CPU backward needs (see
        // ops::sample_kl_forward_saving); an inference pass keeps nothing.
        let ctx = self.tape().context();
        let (w_buf, kl_buf, factors) = if self.tape().is_recording() {
            ops::sample_kl_forward_saving_in(&ctx, mu_v.buffer(), rho_v.buffer(), seed, offset, prior)?
        } else {
            let (w, kl) = ops::sample_kl_forward_in(&ctx, mu_v.buffer(), rho_v.buffer(), seed, offset, prior)?;
            (w, kl, None)
        };
        let w_value = mu_v.with_buffer(w_buf);
        // The CPU backward reads the draw with its factors; the GPU's regenerates both.
        let saved = factors.map(|f| (f, w_value.clone()));
        let kl_value = Tensor::from_parts(kl_buf, Vec::new());
        // The zero the w entry hands to the kl entry, on the kl's device.
        let zero = kl_value.full_like(0.0)?;

        // ∂L/∂w, left by the w entry's rule for the kl entry's rule (same sweep).
        let stash: Rc<RefCell<Option<Tensor>>> = Rc::default();
        let stash_kl = stash.clone();
        let kl = self.tape().record(
            "sample_with_kl.kl",
            kl_value,
            &[self, rho],
            Box::new(move |g, needs| {
                let g_w = stash_kl.borrow_mut().take();
                let g_w = g_w.as_ref().map(Tensor::buffer);
                let (gm, gr) = match &saved {
                    Some((f, w)) => ops::sample_kl_backward_saved_in(&ctx, w.buffer(), f, g_w, g.buffer(), prior)?,
                    None => ops::sample_kl_backward_in(
                        &ctx,
                        mu_v.buffer(),
                        rho_v.buffer(),
                        g_w,
                        g.buffer(),
                        seed,
                        offset,
                        prior,
                    )?,
                };
                Ok(vec![needs[0].then(|| mu_v.with_buffer(gm)), needs[1].then(|| mu_v.with_buffer(gr))])
            }),
        )?;
        let w = self.tape().record(
            "sample_with_kl.w",
            w_value,
            &[&kl],
            Box::new(move |g, _| {
                *stash.borrow_mut() = Some(g.clone());
                Ok(vec![Some(zero.clone())])
            }),
        )?;
        Ok((w, kl))
    }

    /// Σ [log q(w) − log p(w)] (shape `[]`) for weights `self` drawn by
    /// `mu.reparam_sample(rho, seed, offset)`: one pass, eps regenerated.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] when w and rho differ in shape;
    /// [`Error::InvalidArgument`] for a bad prior; device or tape mismatches;
    /// CUDA failures.
    pub fn kl_at(&self, rho: &Var, seed: u64, offset: u64, prior: PriorSpec) -> Result<Var> {
        let ctx = self.tape().context();
        self.check_same_shape("kl_at", rho)?;
        check_prior("kl_at", prior)?;
        self.check_same_device("kl_at", rho)?;
        let (w_v, rho_v) = (self.value().clone(), rho.value().clone());
        let kl =
            Tensor::from_parts(ops::kl_at_in(&ctx, w_v.buffer(), rho_v.buffer(), seed, offset, prior)?, Vec::new());
        self.tape().record(
            "kl_at",
            kl,
            &[self, rho],
            Box::new(move |g, needs| {
                let (gw, gr) = ops::kl_at_backward_in(&ctx, w_v.buffer(), rho_v.buffer(), g.buffer(), prior)?;
                Ok(vec![needs[0].then(|| w_v.with_buffer(gw)), needs[1].then(|| w_v.with_buffer(gr))])
            }),
        )
    }
}
