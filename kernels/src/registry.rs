//! The registry: every kernel family, its variants, whether each can run on
//! this machine (CPU features, a usable GPU), which one [`Context::default`]
//! picks, and the test that verifies it against the family's reference; and
//! the size thresholds that decide how (never what) the CPU kernels compute:
//! the split decisions a [`Context`] carries ([`ThreadSplit`]) and the fixed chunk sizes and pool limits.
//!
//! ```
//! for family in blitz_kernels::registry::families() {
//!     for v in &family.variants {
//!         println!("{} {} available={} default={}", family.name, v.name, v.available, v.default);
//!     }
//! }
//! ```

use crate::buffer::Cpu;
use crate::context::{
    Context, ConvVariant, ElementwiseVariant, GemmBackend, GemmVariant, NormalsVariant, SamplerMath, SamplerVariant,
    ThreadSplit,
};

/// Where a family runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// The CPU kernels.
    Cpu,
    /// The CUDA kernels.
    Gpu,
}

/// One variant of a family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variant {
    /// Its name (as the bench prints it).
    pub name: &'static str,
    /// What it is.
    pub description: &'static str,
    /// Whether this machine can run it (and, if not, why not in `note`).
    pub available: bool,
    /// What this machine runs for it, or why it cannot.
    pub note: String,
    /// Whether [`Context::default`] picks it.
    pub default: bool,
    /// The test that compares it with the family's reference (`file::test`;
    /// a test build of the crate resolves it).
    pub verified_by: &'static str,
}

/// A kernel family: one operation, several ways to compute it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Family {
    /// Its name: `gemm`, `elementwise`, `normals`, `sampler`, `conv`, `gpu_gemm`, `gpu_sampler`.
    pub name: &'static str,
    /// Where it runs.
    pub backend: Backend,
    /// The [`Context`] field that chooses among the variants.
    pub context_field: &'static str,
    /// Its variants.
    pub variants: Vec<Variant>,
}

/// Whether this CPU has AVX-512F and FMA.
fn avx512() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Whether this CPU has AVX2 and FMA.
fn avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Whether CUDA device 0 can be used, and the reason when not.
fn gpu() -> (bool, String) {
    match crate::cuda::device::available(0) {
        Ok(()) => (true, crate::cuda::device::name(0).unwrap_or_else(|_| "CUDA device 0".into())),
        Err(e) => (false, format!("no usable GPU: {e}")),
    }
}

/// A CPU variant as the table describes it, runnable here.
fn cpu_variant(name: &'static str, description: &'static str, default: bool, verified_by: &'static str) -> Variant {
    Variant { name, description, available: true, note: "portable Rust".into(), default, verified_by }
}

/// Every family and its variants, as this machine sees them. Names,
/// descriptions and verifying tests come from the variant tables of
/// [`crate::context`]; this adds what this machine can run.
pub fn families() -> Vec<Family> {
    let d = Context::default();
    let simd = if avx512() {
        "AVX-512 + FMA"
    } else if avx2() {
        "AVX2 + FMA"
    } else {
        "baseline SIMD"
    };
    macro_rules! cpu {
        ($v:expr, $default:expr) => {
            cpu_variant($v.name(), $v.description(), $v == $default, $v.verified_by())
        };
    }
    let gemm = GemmVariant::ALL
        .iter()
        .map(|&v| {
            let mut var = cpu!(v, d.gemm);
            if v != GemmVariant::Reference {
                var.note = format!("compiled for {simd}");
            }
            var
        })
        .collect();
    let elementwise = ElementwiseVariant::ALL
        .iter()
        .map(|&v| {
            let mut var = cpu!(v, d.elementwise);
            if v == ElementwiseVariant::Fast {
                var.note = format!("compiled for {simd}");
            }
            var
        })
        .collect();
    let normals = NormalsVariant::ALL
        .iter()
        .map(|&v| {
            let mut var = cpu!(v, d.normals);
            var.note = match v {
                NormalsVariant::Best if avx512() => "runs the AVX-512 path".to_string(),
                NormalsVariant::Best => format!("runs the portable batch ({simd})"),
                NormalsVariant::Portable => "baseline build".to_string(),
                NormalsVariant::Reference => "portable Rust".to_string(),
            };
            var
        })
        .collect();
    let sampler = SamplerVariant::ALL.iter().map(|&v| cpu!(v, d.sampler)).collect();
    let conv = ConvVariant::ALL
        .iter()
        .map(|&v| {
            let mut var = cpu!(v, d.conv);
            if v == ConvVariant::Direct && !avx2() {
                var.note = "no AVX2+FMA here: correct, but Auto does not pick it".into();
            }
            var
        })
        .collect();
    let (gpu_ok, gpu_note) = gpu();
    let gpu_variant = |name, description, default, verified_by| Variant {
        name,
        description,
        available: gpu_ok,
        note: gpu_note.clone(),
        default,
        verified_by,
    };
    let gpu_gemm = GemmBackend::ALL
        .iter()
        .map(|&v| gpu_variant(v.name(), v.description(), v == d.gpu_gemm, v.verified_by()))
        .collect();
    let gpu_sampler = SamplerMath::ALL
        .iter()
        .map(|&v| gpu_variant(v.name(), v.description(), v == d.gpu_sampler, v.verified_by()))
        .collect();
    vec![
        Family { name: "gemm", backend: Backend::Cpu, context_field: "gemm", variants: gemm },
        Family { name: "elementwise", backend: Backend::Cpu, context_field: "elementwise", variants: elementwise },
        Family { name: "normals", backend: Backend::Cpu, context_field: "normals", variants: normals },
        Family { name: "sampler", backend: Backend::Cpu, context_field: "sampler", variants: sampler },
        Family { name: "conv", backend: Backend::Cpu, context_field: "conv", variants: conv },
        Family { name: "gpu_gemm", backend: Backend::Gpu, context_field: "gpu_gemm", variants: gpu_gemm },
        Family { name: "gpu_sampler", backend: Backend::Gpu, context_field: "gpu_sampler", variants: gpu_sampler },
    ]
}

/// A size that decides how a kernel runs (never what it computes: work is
/// cut into chunks of fixed sizes, so results do not depend on threads or
/// on the thread policy). Listed so that nothing decides silently.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Threshold {
    /// Its name in the source (a field of [`ThreadSplit`] or a constant).
    pub name: &'static str,
    /// Its value: for a per-context choice, the [`ThreadSplit::default`] value.
    pub value: usize,
    /// What it counts and decides.
    pub decides: &'static str,
    /// Where it lives.
    pub source: &'static str,
    /// The [`Context`] field that chooses it per context
    /// (`"split.heavy"`, ...), or `None` for a fixed constant: the chunk
    /// sizes (they fix the order of partial sums, and so the bits), the
    /// convolution's auto rule (a variant choice) and the buffer pool's limits.
    pub context_field: Option<&'static str>,
}

/// Every size threshold of the CPU kernels and of the buffer pool: first the
/// split decisions a [`Context`] carries (at their
/// [`ThreadSplit::default`] values), then the fixed constants.
pub fn thresholds() -> Vec<Threshold> {
    let d = ThreadSplit::default();
    let ctx = "kernels/src/context/mod.rs";
    let t = |name, value, decides, source, context_field| Threshold { name, value, decides, source, context_field };
    let mut all = vec![
        t("ThreadSplit::heavy", d.heavy, "elements from which an arithmetic-heavy element-wise loop, a reduction or a row loop is split over the threads", ctx, Some("split.heavy")),
        t("ThreadSplit::light", d.light, "elements from which a memory-bound element-wise loop (add, compare, product, an optimiser step) is split over the threads", ctx, Some("split.light")),
        t("ThreadSplit::sampler", d.sampler, "weights from which the fused sampler + KL is split over the threads", ctx, Some("split.sampler")),
        t("ThreadSplit::gemm", d.gemm, "multiply-adds from which a packed GEMM is cut into one block per thread", ctx, Some("split.gemm")),
        t("ThreadSplit::conv", d.conv, "multiply-adds from which the direct convolution splits images (or output channels) over the threads", ctx, Some("split.conv")),
        t("CHUNK", crate::context::CHUNK, "elements per parallel chunk and per partial sum of the element-wise loops and reductions (fixes the bits)", "kernels/src/context/mod.rs", None),
        t("KL_CHUNK", crate::context::KL_CHUNK, "weights per chunk and per partial sum of the fused sampler + KL (fixes the bits)", "kernels/src/context/mod.rs", None),
    ];
    all.extend(
        Cpu::FIXED_THRESHOLDS.iter().map(|&(name, value, decides, source)| t(name, value, decides, source, None)),
    );
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_family_has_exactly_one_default_and_every_cpu_variant_runs_here() {
        let fams = families();
        assert_eq!(fams.len(), 7);
        for f in &fams {
            assert_eq!(f.variants.iter().filter(|v| v.default).count(), 1, "{}", f.name);
            assert!(f.variants.iter().any(|v| v.name == "reference" || f.backend == Backend::Gpu));
            if f.backend == Backend::Cpu {
                assert!(f.variants.iter().all(|v| v.available), "{}", f.name);
            }
            for v in &f.variants {
                assert!(v.verified_by.contains("::"), "{} {}", f.name, v.name);
            }
        }
        let t = thresholds();
        assert_eq!(t.len(), 13);
        let d = ThreadSplit::default();
        let chosen: Vec<usize> = t.iter().filter(|t| t.context_field.is_some()).map(|t| t.value).collect();
        assert_eq!(chosen, [d.heavy, d.light, d.sampler, d.gemm, d.conv]);
        assert!(t.iter().any(|t| t.name == "CHUNK" && t.context_field.is_none()));
        assert!(t.iter().all(|t| t.value > 0
            && std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/..")).join(t.source).is_file()));
        if cfg!(not(feature = "cuda")) {
            let gpu = fams.iter().find(|f| f.name == "gpu_gemm").unwrap();
            assert!(gpu.variants.iter().all(|v| !v.available && v.note.contains("no usable GPU")));
        }
    }
}
