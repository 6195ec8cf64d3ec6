//! Which GEMM the CUDA backend runs: cuBLAS or the hand-written tiled kernel.
//! A process-wide switch (the benches flip it to compare the two); present in
//! every build so code that sets it compiles without the `cuda` feature.

use std::sync::atomic::{AtomicU8, Ordering};

/// The GEMM implementation used for matrix products on a GPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum GemmBackend {
    /// NVIDIA's cuBLAS (`cublasSgemmStridedBatched`), row-major by operand swap.
    #[default]
    Cublas,
    /// blitz's own register-blocked shared-memory kernel (`cu/gemm.cu`: 128×128 or 64×64 tiles).
    Tiled,
}

static BACKEND: AtomicU8 = AtomicU8::new(0);

/// Selects the GEMM for every later GPU matrix product in this process.
pub fn set_gemm_backend(b: GemmBackend) {
    BACKEND.store(matches!(b, GemmBackend::Tiled) as u8, Ordering::Relaxed);
}

/// The GEMM currently selected (default [`GemmBackend::Cublas`]).
pub fn gemm_backend() -> GemmBackend {
    if BACKEND.load(Ordering::Relaxed) == 1 {
        GemmBackend::Tiled
    } else {
        GemmBackend::Cublas
    }
}
