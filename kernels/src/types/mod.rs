//! Device-neutral types: what an op is and its sizes, shared by the CPU and
//! CUDA kernels (neither backend owns them). The arithmetic lives with each
//! backend; the op codes the CUDA kernels switch on come from the tables in
//! `types/elementwise.rs` (each op enum is generated from one table).

pub(crate) mod elementwise;
pub(crate) mod geometry;
pub(crate) mod prior;

#[cfg(feature = "cuda")]
pub(crate) use elementwise::cuda_op_tables;
pub use elementwise::{BinaryOp, ScalarKind, ScalarOp, UnaryOp};
pub use geometry::{ConvGeom, ConvGrads, PoolGeom};
pub use prior::{PriorSpec, LN_SQRT_2PI, MIN_SIGMA};

/// Which operand is read transposed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transpose {
    /// Read A as Aᵀ (A is stored k×m).
    pub a: bool,
    /// Read B as Bᵀ (B is stored n×k).
    pub b: bool,
}

impl Transpose {
    /// A·B.
    pub const NN: Transpose = Transpose { a: false, b: false };
    /// A·Bᵀ.
    pub const NT: Transpose = Transpose { a: false, b: true };
    /// Aᵀ·B.
    pub const TN: Transpose = Transpose { a: true, b: false };
}

/// Hyperparameters of one Adam step (bias corrections already folded in by the caller).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamStep {
    /// Learning rate times the bias correction √(1−β₂ᵗ)/(1−β₁ᵗ).
    pub step_size: f32,
    /// β₁.
    pub beta1: f32,
    /// β₂.
    pub beta2: f32,
    /// ε, added to √v̂ (scaled by √(1−β₂ᵗ) to match the textbook form).
    pub eps_hat: f32,
    /// L2 weight decay added to the gradient.
    pub weight_decay: f32,
}
