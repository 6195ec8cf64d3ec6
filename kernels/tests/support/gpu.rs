//! The skip rule of the GPU test files, in one place (each includes this file
//! with `#[path]`: test targets of different crates cannot share a module).

use blitz_kernels::cuda;

/// Whether GPU 0 can be used. Without one the test prints why and passes —
/// unless `BLITZ_REQUIRE_GPU=1` (set by scripts/gpu-check.sh on the GPU
/// machine), where a skip would hide a broken backend, so it fails instead.
pub fn gpu_or_skip(test: &str) -> bool {
    match cuda::device::available(0) {
        Ok(()) => true,
        Err(e) if std::env::var("BLITZ_REQUIRE_GPU").is_ok_and(|v| v == "1") => {
            panic!("BLITZ_REQUIRE_GPU=1 but the GPU cannot be used: {e}")
        }
        Err(e) => {
            eprintln!("SKIPPED {test}: no usable GPU ({e})");
            false
        }
    }
}
