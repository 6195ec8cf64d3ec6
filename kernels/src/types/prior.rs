//! The priors the fused sampler+KL kernels evaluate, and their per-element constants.

/// ln √(2π).
pub const LN_SQRT_2PI: f32 = 0.918_938_5;

/// The smallest prior standard deviation accepted (10⁻¹⁸). The KL divides
/// by 2σ²: at 10⁻¹⁸ that factor is 5·10³⁵, two orders of magnitude below
/// `f32::MAX` (weights up to about 25 in size keep every term finite);
/// below about 4·10⁻²⁰ it is infinite for every weight, and a subnormal σ
/// squares to 0.
pub const MIN_SIGMA: f32 = 1e-18;

/// A prior the fused kernel can evaluate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PriorSpec {
    /// N(0, sigma²).
    Gaussian {
        /// Standard deviation (finite, at least [`MIN_SIGMA`]).
        sigma: f32,
    },
    /// pi·N(0, sigma1²) + (1 − pi)·N(0, sigma2²).
    ScaleMixture {
        /// Weight of the first component, in [0, 1].
        pi: f32,
        /// Standard deviation of the first component (as `Gaussian`'s).
        sigma1: f32,
        /// Standard deviation of the second component (as `Gaussian`'s).
        sigma2: f32,
    },
}

impl PriorSpec {
    /// Whether the parameters are usable: finite sigmas of at least
    /// [`MIN_SIGMA`] (a subnormal or tiny sigma makes the KL infinite), pi
    /// in [0, 1].
    pub fn is_valid(&self) -> bool {
        let pos = |s: f32| s >= MIN_SIGMA && s.is_finite();
        match *self {
            PriorSpec::Gaussian { sigma } => pos(sigma),
            PriorSpec::ScaleMixture { pi, sigma1, sigma2 } => (0.0..=1.0).contains(&pi) && pos(sigma1) && pos(sigma2),
        }
    }
}

/// The prior reduced to per-element constants: two components with
/// log-densities c_k − h_k·w² (h_k = 1/(2 s_k²)), log-weights folded into c_k.
/// A single Gaussian is written as two equal halves, so the GPU runs one
/// branch-free loop for every prior; the CPU loops are also compiled for the
/// single Gaussian alone (`single`), which skips the log-sum-exp's exp and log.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Consts {
    pub(crate) ca: f32,
    pub(crate) ha: f32,
    pub(crate) cb: f32,
    pub(crate) hb: f32,
    /// The prior is one Gaussian, log p(w) = `c1` − `ha`·w².
    pub(crate) single: bool,
    pub(crate) c1: f32,
}

impl Consts {
    pub(crate) fn new(spec: PriorSpec) -> Consts {
        let gauss = |s: f32| (-s.ln() - LN_SQRT_2PI, 0.5 / (s * s));
        // A weight-0 component contributes nothing (and ln 0 would poison the sum).
        let single = |s: f32| {
            let (c, h) = gauss(s);
            let half = c - std::f32::consts::LN_2;
            Consts { ca: half, ha: h, cb: half, hb: h, single: true, c1: c }
        };
        match spec {
            PriorSpec::Gaussian { sigma } => single(sigma),
            PriorSpec::ScaleMixture { pi: 1.0, sigma1, .. } => single(sigma1),
            PriorSpec::ScaleMixture { pi: 0.0, sigma2, .. } => single(sigma2),
            PriorSpec::ScaleMixture { pi, sigma1, sigma2 } => {
                let ((ca, ha), (cb, hb)) = (gauss(sigma1), gauss(sigma2));
                Consts { ca: ca + pi.ln(), ha, cb: cb + (1.0 - pi).ln(), hb, single: false, c1: 0.0 }
            }
        }
    }
}
