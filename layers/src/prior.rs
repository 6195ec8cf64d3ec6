//! Priors over weights: the `Prior` trait and four ready ones.
//!
//! Every `log_prob` is the true log-density summed over the weights — no
//! `+ 1e-6` inside a logarithm (it flattens the gradient in the tails) and no
//! stray `−0.5` per element. The scale mixture is evaluated by log-sum-exp.

use blitz_autograd::{Error, PriorSpec, Result, Tensor, Var};
use blitz_kernels::types::MIN_SIGMA;

/// ln √(2π).
const LN_SQRT_2PI: f32 = 0.918_938_5;

/// A prior p(w) over a layer's weights.
pub trait Prior: Send + Sync {
    /// Σᵢ ln p(wᵢ), differentiable in `w`; shape `[]`.
    ///
    /// # Errors
    /// Kernel failures.
    fn log_prob(&self, w: &Var) -> Result<Var>;

    /// The standard deviation when the prior is a zero-mean Gaussian, which
    /// enables the closed-form KL. Default: `None`.
    fn gaussian_sigma(&self) -> Option<f32> {
        None
    }

    /// The prior as the fused sample+KL kernel's [`PriorSpec`], when it has
    /// one (Gaussian, scale mixture). Default: `None` (the tape-op path).
    fn spec(&self) -> Option<PriorSpec> {
        None
    }

    /// A short description, e.g. `"N(0, 1)"`.
    fn describe(&self) -> String;
}

/// A scale (sigma, Laplace's and Student's scale, nu): finite and at least
/// [`MIN_SIGMA`]; a subnormal or tiny one makes log p(w), and so the KL,
/// infinite (it divides by the scale, or its square).
fn positive(name: &'static str, v: f32) -> Result<f32> {
    if v >= MIN_SIGMA && v.is_finite() {
        Ok(v)
    } else {
        Err(Error::invalid(name, format!("{v:e}: must be finite and at least {MIN_SIGMA:e}")))
    }
}

/// Σ ln N(wᵢ; 0, sigma) from the squares: −n·(ln sigma + ln √(2π)) − Σw²/(2 sigma²).
fn gaussian_log_prob(w: &Var, sigma: f32) -> Result<Var> {
    let n = w.value().numel() as f32;
    w.square()?.sum()?.mul_scalar(-0.5 / (sigma * sigma))?.add_scalar(-n * (sigma.ln() + LN_SQRT_2PI))
}

/// A zero-mean Gaussian N(0, sigma²).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gaussian {
    sigma: f32,
}

impl Gaussian {
    /// N(0, sigma²).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] unless `sigma` is finite and at least
    /// [`MIN_SIGMA`] (10⁻¹⁸: below it the KL is infinite).
    pub fn new(sigma: f32) -> Result<Gaussian> {
        Ok(Gaussian { sigma: positive("sigma", sigma)? })
    }

    /// The standard deviation.
    pub fn sigma(&self) -> f32 {
        self.sigma
    }
}

impl Prior for Gaussian {
    fn log_prob(&self, w: &Var) -> Result<Var> {
        gaussian_log_prob(w, self.sigma)
    }
    fn gaussian_sigma(&self) -> Option<f32> {
        Some(self.sigma)
    }
    fn spec(&self) -> Option<PriorSpec> {
        Some(PriorSpec::Gaussian { sigma: self.sigma })
    }
    fn describe(&self) -> String {
        format!("N(0, {})", self.sigma)
    }
}

/// BLiTZ's default prior: pi·N(0, sigma1²) + (1 − pi)·N(0, sigma2²).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScaleMixture {
    pi: f32,
    sigma1: f32,
    sigma2: f32,
}

impl ScaleMixture {
    /// The mixture pi·N(0, sigma1²) + (1 − pi)·N(0, sigma2²).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] unless both sigmas are finite and at least
    /// [`MIN_SIGMA`] and `pi` is in [0, 1].
    pub fn new(pi: f32, sigma1: f32, sigma2: f32) -> Result<ScaleMixture> {
        if !(0.0..=1.0).contains(&pi) {
            return Err(Error::invalid("prior_pi", format!("{pi}: must be in [0, 1]")));
        }
        Ok(ScaleMixture { pi, sigma1: positive("prior_sigma_1", sigma1)?, sigma2: positive("prior_sigma_2", sigma2)? })
    }

    /// (pi, sigma1, sigma2).
    pub fn params(&self) -> (f32, f32, f32) {
        (self.pi, self.sigma1, self.sigma2)
    }
}

impl Prior for ScaleMixture {
    fn log_prob(&self, w: &Var) -> Result<Var> {
        // A weight-0 component contributes nothing (and ln 0 would poison the sum).
        if self.pi == 1.0 {
            return gaussian_log_prob(w, self.sigma1);
        }
        if self.pi == 0.0 {
            return gaussian_log_prob(w, self.sigma2);
        }
        // Component log-densities a = ln pi + ln N(w; 0, s1), b = ln(1−pi) + ln N(w; 0, s2).
        let sq = w.square()?;
        let ca = self.pi.ln() - self.sigma1.ln() - LN_SQRT_2PI;
        let cb = (1.0 - self.pi).ln() - self.sigma2.ln() - LN_SQRT_2PI;
        let a = sq.mul_scalar(-0.5 / (self.sigma1 * self.sigma1))?.add_scalar(ca)?;
        let b = sq.mul_scalar(-0.5 / (self.sigma2 * self.sigma2))?.add_scalar(cb)?;
        // log-sum-exp with the shift m = max(a, b) held constant: the result's
        // gradient does not depend on m, so no differentiable max is needed.
        let (av, bv) = (a.value().to_vec()?, b.value().to_vec()?);
        let m: Vec<f32> = av.iter().zip(&bv).map(|(x, y)| x.max(*y)).collect();
        let m_sum: f64 = m.iter().map(|&v| v as f64).sum();
        let m = w.constant_like(Tensor::from_vec(m, w.shape())?.to(w.device())?);
        let lse = a.sub(&m)?.exp()?.add(&b.sub(&m)?.exp()?)?.log()?;
        lse.sum()?.add_scalar(m_sum as f32)
    }
    fn gaussian_sigma(&self) -> Option<f32> {
        if self.pi == 1.0 {
            Some(self.sigma1)
        } else if self.pi == 0.0 {
            Some(self.sigma2)
        } else {
            None
        }
    }
    fn spec(&self) -> Option<PriorSpec> {
        Some(PriorSpec::ScaleMixture { pi: self.pi, sigma1: self.sigma1, sigma2: self.sigma2 })
    }
    fn describe(&self) -> String {
        format!("{}·N(0, {}) + {}·N(0, {})", self.pi, self.sigma1, 1.0 - self.pi, self.sigma2)
    }
}

/// A zero-centred Laplace prior, p(w) = exp(−|w|/b) / (2b).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Laplace {
    scale: f32,
}

impl Laplace {
    /// Laplace(0, scale).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] unless `scale` is finite and at least [`MIN_SIGMA`].
    pub fn new(scale: f32) -> Result<Laplace> {
        Ok(Laplace { scale: positive("scale", scale)? })
    }
}

impl Prior for Laplace {
    fn log_prob(&self, w: &Var) -> Result<Var> {
        let n = w.value().numel() as f32;
        w.abs()?.sum()?.mul_scalar(-1.0 / self.scale)?.add_scalar(-n * (2.0 * self.scale).ln())
    }
    fn describe(&self) -> String {
        format!("Laplace(0, {})", self.scale)
    }
}

/// A zero-centred Student-t prior with `nu` degrees of freedom and a scale.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StudentT {
    nu: f32,
    scale: f32,
}

impl StudentT {
    /// Student-t(nu) scaled by `scale`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] unless `nu` and `scale` are finite and at
    /// least [`MIN_SIGMA`].
    pub fn new(nu: f32, scale: f32) -> Result<StudentT> {
        Ok(StudentT { nu: positive("nu", nu)?, scale: positive("scale", scale)? })
    }
}

/// ln Γ(x) for x > 0 (Lanczos, g = 7, nine terms; ~1e-13 relative).
pub(crate) fn ln_gamma(x: f64) -> f64 {
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection: Γ(x)Γ(1−x) = π / sin(πx).
        return (std::f64::consts::PI / (std::f64::consts::PI * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let t = x + 7.5;
    let s = C[1..].iter().enumerate().fold(C[0], |acc, (i, c)| acc + c / (x + 1.0 + i as f64));
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + s.ln()
}

impl Prior for StudentT {
    fn log_prob(&self, w: &Var) -> Result<Var> {
        // ln p = lnΓ((ν+1)/2) − lnΓ(ν/2) − ½ ln(νπ) − ln s − (ν+1)/2 · ln(1 + (w/s)²/ν).
        let (nu, s) = (self.nu as f64, self.scale as f64);
        let c = ln_gamma((nu + 1.0) / 2.0) - ln_gamma(nu / 2.0) - 0.5 * (nu * std::f64::consts::PI).ln() - s.ln();
        let n = w.value().numel() as f32;
        let z = w.square()?.mul_scalar(1.0 / (self.nu * self.scale * self.scale))?.log1p()?;
        z.sum()?.mul_scalar(-(self.nu + 1.0) / 2.0)?.add_scalar(n * c as f32)
    }
    fn describe(&self) -> String {
        format!("StudentT(nu {}, scale {})", self.nu, self.scale)
    }
}

#[cfg(test)]
mod tests {
    use super::ln_gamma;

    #[test]
    fn ln_gamma_known_values() {
        assert!((ln_gamma(1.0)).abs() < 1e-12);
        assert!((ln_gamma(5.0) - 24f64.ln()).abs() < 1e-12);
        assert!((ln_gamma(0.5) - std::f64::consts::PI.sqrt().ln()).abs() < 1e-12);
    }
}
