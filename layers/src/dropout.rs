//! Dropout: zeroes each element with probability p during training and scales
//! the rest by 1/(1 − p); the identity in evaluation mode. The mask comes from
//! the tape's named normal draws (eps < Φ⁻¹(p) drops), so a pass is
//! reproducible from the tape's seed.

use crate::module::Module;
use blitz_autograd::{Device, Error, Param, Result, Tensor, Var};
use blitz_kernels::ops;
use std::sync::atomic::{AtomicBool, Ordering};

/// Inverse of the standard normal CDF (Acklam's rational approximation,
/// relative error below 1.2e-9), for 0 < p < 1.
fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -39.696_830_286_653_76,
        220.946_098_424_520_5,
        -275.928_510_446_968_7,
        138.357_751_867_269,
        -30.664_798_066_147_16,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -54.476_098_798_224_06,
        161.585_836_858_040_9,
        -155.698_979_859_886_6,
        66.801_311_887_719_72,
        -13.280_681_552_885_72,
    ];
    const C: [f64; 6] = [
        -0.007_784_894_002_430_293,
        -0.322_396_458_041_136_5,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] =
        [0.007_784_695_709_041_462, 0.322_467_129_070_039_8, 2.445_134_137_142_996, 3.754_408_661_907_416];
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < 0.02425 {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - 0.02425 {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

/// Inverted dropout with drop probability `p`.
#[derive(Debug)]
pub struct Dropout {
    p: f32,
    threshold: f32,
    training: AtomicBool,
}

impl Dropout {
    /// Dropout with drop probability `p` in [0, 1), in training mode.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for `p` outside [0, 1).
    pub fn new(p: f32) -> Result<Dropout> {
        if !(0.0..1.0).contains(&p) {
            return Err(Error::invalid("dropout p", format!("{p}: must be in [0, 1)")));
        }
        let threshold = if p == 0.0 { f32::NEG_INFINITY } else { normal_quantile(p as f64) as f32 };
        Ok(Dropout { p, threshold, training: AtomicBool::new(true) })
    }
}

impl Module for Dropout {
    fn forward(&self, x: &Var) -> Result<Var> {
        if !self.training.load(Ordering::Relaxed) || self.p == 0.0 {
            return Ok(x.clone());
        }
        let n = x.value().numel();
        let (seed, offset) = x.tape().draw(n);
        let eps = ops::normal_in(&x.tape().context(), Device::Cpu, seed, offset, n)?.to_vec()?;
        let keep = 1.0 / (1.0 - self.p);
        let mask: Vec<f32> = eps.iter().map(|&e| if e < self.threshold { 0.0 } else { keep }).collect();
        let mask = Tensor::from_vec(mask, x.shape())?.to(x.device())?;
        x.mul(&x.constant_like(mask))
    }

    fn visit_params(&self, _prefix: &str, _f: &mut dyn FnMut(&str, &Param)) {}

    fn set_training(&self, training: bool) {
        self.training.store(training, Ordering::Relaxed);
    }

    fn set_dropout(&self, active: bool) {
        self.training.store(active, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::normal_quantile;

    #[test]
    fn quantile_known_values() {
        assert!(normal_quantile(0.5).abs() < 1e-9);
        assert!((normal_quantile(0.975) - 1.959_963_985).abs() < 1e-6);
        assert!((normal_quantile(0.01) + 2.326_347_874).abs() < 1e-6);
    }
}
