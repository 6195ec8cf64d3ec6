//! The CUDA C sources of every kernel, one module per concern. Each is
//! compiled by NVRTC with [`COMMON`] in front of it, on first use per device.

/// Types, the grid-stride loop, the shape descriptor and the guarded scalar
/// functions shared by every source.
pub(crate) const COMMON: &str = include_str!("../cu/common.cuh");

/// A kernel source: a name for logs and caches, and its CUDA C text (without [`COMMON`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Source {
    /// Short name, e.g. `"elementwise"`.
    pub name: &'static str,
    /// CUDA C text.
    pub text: &'static str,
    /// NVRTC options beside the language standard and the architecture.
    pub options: &'static [&'static str],
}

/// No a·b + c contraction: float math rounds as the CPU's scalar code does.
pub(crate) const EXACT: &[&str] = &["--fmad=false"];
/// Contraction allowed (sums that need not match the CPU bit for bit).
pub(crate) const CONTRACTED: &[&str] = &["--fmad=true"];
/// Contraction, flush-to-zero (no subnormal fix-ups around the hardware ln /
/// exp) and the hardware square root: the fast sampler, whose values are never
/// subnormal.
pub(crate) const FAST: &[&str] = &["--fmad=true", "--ftz=true", "--prec-sqrt=false"];

/// Unary, scalar and broadcasting binary kernels.
pub(crate) const ELEMENTWISE: Source =
    Source { name: "elementwise", text: include_str!("../cu/elementwise.cu"), options: EXACT };
/// Sums, axis reductions, max and the sum back to a broadcast shape.
pub(crate) const REDUCE: Source = Source { name: "reduce", text: include_str!("../cu/reduce.cu"), options: EXACT };
/// Row softmax and log-softmax.
pub(crate) const SOFTMAX: Source = Source { name: "softmax", text: include_str!("../cu/softmax.cu"), options: EXACT };
/// Permute, slice, concat, index-select, row gathers.
pub(crate) const LAYOUT: Source = Source { name: "layout", text: include_str!("../cu/layout.cu"), options: EXACT };
/// The hand-written tiled GEMM (contracted: its sums need not match the CPU bit for bit).
pub(crate) const GEMM: Source = Source { name: "gemm", text: include_str!("../cu/gemm.cu"), options: CONTRACTED };
/// Philox4x32-10, Box-Muller and the fused reparameterisation.
pub(crate) const RANDOM: Source = Source { name: "random", text: include_str!("../cu/random.cu"), options: EXACT };
/// [`RANDOM`] with cheaper math, contraction and flush-to-zero: the same
/// Philox bits, normals within 5e-6 of the exact ones, half the instructions
/// (selected by [`crate::context::SamplerMath::Fast`]).
pub(crate) const RANDOM_FAST: Source = Source {
    name: "random_fast",
    text: concat!("#define BLITZ_FAST_SAMPLER 1\n", include_str!("../cu/random.cu")),
    options: FAST,
};
/// Optimizer steps.
pub(crate) const OPTIM: Source = Source { name: "optim", text: include_str!("../cu/optim.cu"), options: EXACT };

/// Convolution: im2col, col2im and the layout moves around the GEMM.
pub(crate) const CONV: Source = Source { name: "conv", text: include_str!("../cu/conv.cu"), options: EXACT };
/// Max and average pooling.
pub(crate) const POOL: Source = Source { name: "pool", text: include_str!("../cu/pool.cu"), options: EXACT };

/// Every source, for the compile test and for warming a device.
#[cfg_attr(not(test), allow(dead_code))] // the NVRTC compile tests walk every source
pub(crate) const ALL: &[Source] = &[ELEMENTWISE, REDUCE, SOFTMAX, LAYOUT, GEMM, RANDOM, RANDOM_FAST, OPTIM, CONV, POOL];

/// The full program text NVRTC sees for `src`: [`COMMON`], the op tables
/// ([`crate::types::cuda_op_tables`]) and the source.
pub(crate) fn program_text(src: Source) -> String {
    program_text_with_tables(src, &crate::types::cuda_op_tables())
}

/// [`program_text`] with other op tables: lets a test show that a table row
/// without its CUDA device functions does not compile.
pub(crate) fn program_text_with_tables(src: Source, tables: &str) -> String {
    format!("{COMMON}\n{tables}\n// ---- {} ----\n{}", src.name, src.text)
}
