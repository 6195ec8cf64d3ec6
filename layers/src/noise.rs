//! The noise the gradient estimators and the radial posterior draw, named
//! by (seed, offset) like every draw: made on the host from the Philox
//! normals, so that it is the same on every device.

use blitz_autograd::{Device, Result, Tensor};
use blitz_kernels::{ops, Context};

/// `n` values of the radial noise r·eps/‖eps‖ named by (seed, offset): eps
/// is the first `n` normals (its direction is uniform on the sphere) and the
/// radius r = |z| uses normal `n` (half-normal). Shape `[n]`, on `device`;
/// the normals are made on the threads of `ctx`.
///
/// # Errors
/// [`blitz_autograd::Error::Empty`] for `n == 0`; CUDA failures.
pub fn radial_noise(ctx: &Context, device: Device, seed: u64, offset: u64, n: usize) -> Result<Tensor> {
    if n == 0 {
        return Err(blitz_autograd::Error::Empty { op: "radial_noise" });
    }
    let z = host_normals(ctx, seed, offset, n + 1)?;
    let norm = z[..n].iter().map(|v| (*v as f64).powi(2)).sum::<f64>().sqrt().max(1e-30);
    let scale = (z[n].abs() as f64 / norm) as f32;
    Tensor::from_vec(z[..n].iter().map(|v| v * scale).collect(), &[n])?.to(device)
}

/// Random ±1 signs of the given shape named by (seed, offset): the signs of normals.
///
/// # Errors
/// [`blitz_autograd::Error::InvalidShape`] never for a valid shape; CUDA failures.
pub(crate) fn random_signs(ctx: &Context, device: Device, seed: u64, offset: u64, shape: &[usize]) -> Result<Tensor> {
    let n = blitz_kernels::limits::checked_numel("random_signs", shape)?;
    let z = host_normals(ctx, seed, offset, n)?;
    Tensor::from_vec(z.iter().map(|v| if *v < 0.0 { -1.0 } else { 1.0 }).collect(), shape)?.to(device)
}

/// Normals made on the host (the same Philox stream on every device).
fn host_normals(ctx: &Context, seed: u64, offset: u64, n: usize) -> Result<Vec<f32>> {
    ops::normal_in(ctx, Device::Cpu, seed, offset, n)?.into_vec()
}
