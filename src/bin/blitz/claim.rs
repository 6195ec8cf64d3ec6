//! `--out`: everything about the output file is settled before any work
//! starts, so that a long run never fails at its end for a reason that was
//! known at its start.

use blitz::layers::model::Method;
use blitz::layers::output::{check_output, remove_stray_temporaries, reserve_space, OutputLock};
use blitz::layers::MlpSpec;
use blitz::prelude::{Error, Result};
use std::path::{Path, PathBuf};

/// An output this process alone writes until it is dropped.
#[derive(Debug)]
pub struct Claim {
    path: PathBuf,
    _lock: OutputLock,
}

/// What may already stand at the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    /// A regular file there is replaced (predict, `fit --force`).
    Replace,
    /// A regular file there is continued (`fit --resume`); nothing there is
    /// reported when the run reads it.
    Resume,
    /// A file there is refused (`fit` without `--resume` or `--force`).
    Refuse,
}

/// A library error about the output (it names the path) as one about `--out`.
fn bad(e: Error) -> Error {
    Error::invalid("--out", e.to_string())
}

/// Whether two paths name the same existing file.
fn same_file(a: &str, b: &str) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

/// Takes `out` for this process: refuses one of the `inputs`, anything but
/// a regular file (a link, a device, a pipe, a folder), a file that
/// `existing` does not allow, and an output another blitz process holds;
/// then removes the temporary files that killed runs left beside it.
///
/// # Errors
/// [`Error::InvalidArgument`] for `--out`, naming `out` and the reason.
pub fn claim(out: &str, inputs: &[&str], existing: Existing) -> Result<Claim> {
    let path = Path::new(out);
    if let Some(i) = inputs.iter().find(|i| same_file(out, i)) {
        return Err(Error::invalid("--out", format!("{out} is the input {i}: it would be overwritten")));
    }
    check_output(path).map_err(bad)?;
    let lock = OutputLock::acquire(path).map_err(bad)?;
    // Again, now that no other blitz process can be changing it.
    check_output(path).map_err(bad)?;
    if existing == Existing::Refuse && std::fs::symlink_metadata(path).is_ok() {
        return Err(Error::invalid(
            "--out",
            format!("{out} exists: --resume to continue the run that wrote it, --force to replace it"),
        ));
    }
    let removed = remove_stray_temporaries(path).map_err(bad)?;
    if removed > 0 {
        crate::print::info(&format!("note: removed {removed} temporary file(s) of {out} left by an earlier run"));
    }
    Ok(Claim { path: path.to_path_buf(), _lock: lock })
}

/// The size of the model file of `spec` by `method` with Adam's state, in
/// bytes: every weight and bias of Bayes by Backprop has a mean and a rho,
/// and each of those two moments; a deterministic network's has a value
/// and two moments (MC dropout); an ensemble's members are saved without
/// their optimizer.
pub fn model_file_bytes(spec: &MlpSpec, method: Method) -> u64 {
    const METADATA: u64 = 16 << 10;
    let per_weight = match method {
        Method::Bbb => 6 * 4,
        Method::McDropout { .. } => 3 * 4,
        // A regression member has two outputs: at most twice the weights.
        Method::Ensemble { members } => (members as u64).saturating_mul(2 * 4),
        // The means and the Hessian estimates, of up to twice the weights.
        Method::Ivon => 2 * 2 * 4,
        // The mean, the variances and 20 deviation columns, of up to twice the weights.
        Method::Swag => 22 * 2 * 4,
        // The weights, and a full curvature of at most 300² values.
        Method::Laplace => 2 * 4,
    };
    let curvature = if method == Method::Laplace { 300 * 300 * 4 } else { 0 };
    crate::budget::weights(spec).saturating_mul(per_weight).saturating_add(METADATA).saturating_add(curvature)
}

impl Claim {
    /// Checks that a file of `bytes` fits beside the output now.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for `--out` when the space is not there.
    pub fn reserve(&self, bytes: u64) -> Result<()> {
        reserve_space(&self.path, bytes).map_err(bad)
    }
}
