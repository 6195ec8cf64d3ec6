//! Reference variants: the executable definition of each kernel family, in
//! plain scalar Rust (no macros, no intrinsics, no `unsafe`, no threads),
//! short enough to check by reading. Every fast path is tested against them,
//! bit for bit where the design promises bits and within a stated tolerance
//! elsewhere (see each family's tests and [`crate::registry`]). They are
//! selectable like any other variant ([`crate::context`]) where a family has
//! an `ops` entry point taking a context.
//!
//! Slices shorter than their shapes make these functions panic (by indexing):
//! they are definitions, not user-facing entry points.

pub mod conv;
pub mod elementwise;
pub mod gemm;
// pub mod reparam; (issue 18: the scalar sampler / posterior / prior / KL reference, added at merge)
