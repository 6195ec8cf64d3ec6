//! The variant enums of every kernel family, each generated from one table
//! by [`variant_table!`]: the enum, its list, each variant's name (as the
//! registry and the bench print it), its description, and the test that
//! verifies it. The test is named by its function in `variant_tests.rs`,
//! and a test build of the crate resolves every one of them (a renamed or
//! deleted test is a compile error there).

/// An enum of variants from a table of (variant, name, description, test).
macro_rules! variant_table {
    (
        $(#[$meta:meta])*
        pub enum $ty:ident (default $default:ident) {
            $( $(#[$vmeta:meta])* $var:ident = $name:literal, $desc:literal, $test:ident; )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $ty {
            $( $(#[$vmeta])* $var, )*
        }

        impl Default for $ty {
            /// The variant [`crate::Context::default`] picks.
            fn default() -> $ty {
                $ty::$default
            }
        }

        impl $ty {
            /// Every variant, in table order.
            pub const ALL: [$ty; [$($name),*].len()] = [$($ty::$var),*];

            /// Its name in the registry and the bench.
            pub const fn name(self) -> &'static str {
                match self {
                    $($ty::$var => $name,)*
                }
            }

            /// What it computes and how, as the registry lists it.
            pub const fn description(self) -> &'static str {
                match self {
                    $($ty::$var => $desc,)*
                }
            }

            /// The test that compares it with its family's reference, as
            /// `file::function`.
            pub const fn verified_by(self) -> &'static str {
                match self {
                    $($ty::$var => concat!("kernels/src/variant_tests.rs::", stringify!($test)),)*
                }
            }
        }

        // Every named test resolves in a test build.
        #[cfg(test)]
        const _: () = {
            $( let _: fn() = crate::variant_tests::$test; )*
        };
    };
}

variant_table! {
    /// CPU matrix products.
    pub enum GemmVariant (default Auto) {
        /// The matrix-vector loop when one side is a vector (m = 1 or n = 1),
        /// `matrixmultiply`'s packed kernel otherwise (split over the threads when large).
        Auto = "auto", "matrix-vector loop for m = 1 or n = 1, matrixmultiply's packed kernel otherwise",
            every_gemm_variant_matches_the_reference_on_the_same_input;
        /// `matrixmultiply`'s packed kernel for every shape.
        Packed = "packed", "matrixmultiply's packed sgemm for every shape, split over the threads when large",
            every_gemm_variant_matches_the_reference_on_the_same_input;
        /// blitz's own packed GEMM (`cpu::gemm_blocked`): the five BLIS loops
        /// (NC = 2048, KC = 256, MC = 192), A and B packed into zero-padded
        /// panels, an 8×32 AVX-512 / 6×16 AVX2 / 4×16 portable microkernel
        /// chosen at run time. The same bits on any thread count and on every
        /// microkernel; other bits than [`GemmVariant::Packed`]'s. Opt-in.
        Blocked = "blocked", "blitz's own BLIS-style packed GEMM (8x32 AVX-512 / 6x16 AVX2 / 4x16 portable tiles), split over the threads when large",
            every_gemm_variant_matches_the_reference_on_the_same_input;
        /// The matrix-vector loops (dot products with eight accumulators, row
        /// axpys) for every shape: fast when one side is a vector, correct (and
        /// slow) on any shape.
        MatrixVector = "matrix_vector", "dot products with eight accumulators / row axpys (any shape; fast on vectors)",
            every_gemm_variant_matches_the_reference_on_the_same_input;
        /// [`crate::reference::gemm`]: the triple loop.
        Reference = "reference", "the triple loop in f64 (reference::gemm)",
            every_gemm_variant_matches_the_reference_on_the_same_input;
    }
}

variant_table! {
    /// CPU element-wise ops (unary, scalar, broadcasting binary; forward and backward).
    pub enum ElementwiseVariant (default Fast) {
        /// Vectorised loops (AVX-512 / AVX2 builds chosen at run time, `fastmath`
        /// exp / ln / softplus / sigmoid), split over the threads when large.
        Fast = "fast", "vectorised loops (fastmath exp/ln/softplus/sigmoid), split over the threads when large",
            both_elementwise_variants_agree_forward_and_backward;
        /// [`crate::reference::elementwise`]: one element at a time with the
        /// standard library's functions, one thread (CPU only: a GPU runs its kernels).
        Reference = "reference", "one element at a time with std's functions (reference::elementwise)",
            both_elementwise_variants_agree_forward_and_backward;
    }
}

variant_table! {
    /// CPU standard normals (Philox4x32-10 + Box-Muller), for [`crate::ops::normal_in`].
    pub enum NormalsVariant (default Best) {
        /// The widest path this CPU has: AVX-512 intrinsics where present, else the
        /// portable batch compiled for the best vector width. The same bits on every CPU.
        Best = "best",
            "Philox4x32-10 + Box-Muller, 16 blocks at a time: AVX-512 intrinsics where present, else the portable batch",
            the_normals_variants_agree_portable_bit_for_bit_reference_within_1e_5;
        /// The portable batch in the baseline build (no target features, no intrinsics):
        /// bit for bit [`NormalsVariant::Best`].
        Portable = "portable", "the same batch in the baseline build, no intrinsics (same bits)",
            the_normals_variants_agree_portable_bit_for_bit_reference_within_1e_5;
        /// One draw at a time with the standard library's `ln`, `sin`, `cos`
        /// (`cpu::random::normal_at`): the definition; the fast paths agree to ~1e-6.
        Reference = "reference", "one draw at a time with std's ln/sin/cos (cpu::random::normal_at)",
            the_normals_variants_agree_portable_bit_for_bit_reference_within_1e_5;
    }
}

variant_table! {
    /// The draw w = mu + softplus(rho)·eps and its Monte Carlo KL (the fused
    /// sampler) and how its backward gets eps back.
    pub enum SamplerVariant (default FusedSaved) {
        /// One fused pass; on the CPU the forward also keeps two factors per
        /// weight so that the backward need not make eps and softplus again (the
        /// GPU, bound by memory, regenerates).
        FusedSaved = "fused_saved", "one pass draws w and sums the KL; the CPU keeps two factors for the backward",
            every_sampler_variant_matches_the_reference_and_the_others_on_the_same_input;
        /// One fused pass; the backward regenerates eps from (seed, offset).
        FusedRegenerate = "fused_regenerate", "one pass draws w and sums the KL; the backward regenerates eps",
            every_sampler_variant_matches_the_reference_and_the_others_on_the_same_input;
        /// Separate kernels: the normals, softplus, a product and a sum, then the
        /// KL of the drawn weights; the backward composes the KL's and the
        /// draw's gradients.
        Unfused = "unfused", "normals, softplus, product, sum, then the KL of w: separate kernels",
            every_sampler_variant_matches_the_reference_and_the_others_on_the_same_input;
        /// [`reference::reparam`](crate::reference::reparam): one scalar loop per
        /// quantity, one thread, the definition the others are tested against
        /// (CPU only).
        Reference = "reference", "reference::reparam: scalar loops, one thread (CPU only)",
            every_sampler_variant_matches_the_reference_and_the_others_on_the_same_input;
    }
}

variant_table! {
    /// Convolution.
    pub enum ConvVariant (default Auto) {
        /// The direct loops where they are expected to win (`cpu::conv_direct::suits`:
        /// small kernels, few channels, unit width stride, an AVX2+FMA CPU), im2col + GEMM elsewhere.
        Auto = "auto", "direct loops where they win (small kernels and channel counts), im2col + GEMM elsewhere",
            every_conv_variant_matches_the_reference;
        /// The direct loops (CPU only; unit stride along the width only).
        Direct = "direct", "direct loops, no intermediate matrix (unit stride along the width only; CPU only)",
            every_conv_variant_matches_the_reference;
        /// im2col + GEMM (the only GPU path).
        Im2col = "im2col", "im2col + one GEMM per group for the whole batch",
            every_conv_variant_matches_the_reference;
        /// [`crate::reference::conv`]: the definition, loop by loop (CPU only).
        Reference = "reference", "the definition, loop by loop, in f64 (reference::conv; CPU only)",
            every_conv_variant_matches_the_reference;
    }
}

variant_table! {
    /// The GEMM implementation used for matrix products on a GPU.
    pub enum GemmBackend (default Cublas) {
        /// NVIDIA's cuBLAS (`cublasSgemmStridedBatched`), row-major by operand swap.
        Cublas = "cublas", "cuBLAS sgemm (strided batched), row-major by operand swap",
            both_gpu_gemms_match_the_cpu;
        /// blitz's own register-blocked shared-memory kernel (`cu/gemm.cu`: 128×128 or 64×64 tiles).
        Tiled = "tiled", "blitz's register-blocked shared-memory kernel (cu/gemm.cu)",
            both_gpu_gemms_match_the_cpu;
    }
}

variant_table! {
    /// The math of the GPU's normal sampler, fused reparameterisation and fused
    /// sample + KL kernels. The CPU always runs its own math.
    pub enum SamplerMath (default Fast) {
        /// The hardware sin/cos, exp and square root, an atanh-series ln, a fitted
        /// polynomial for softplus's log1p, the hardware ln for the KL terms,
        /// fused multiply-adds and flush-to-zero: the same Philox bits as the CPU,
        /// normals within 5e-6 of the CPU's (weights within 2e-7 relative).
        Fast = "fast", "hardware sin/cos/exp/sqrt, contraction, flush-to-zero: the CPU's draws within 5e-6",
            exact_gpu_math_draws_the_cpus_bits_and_fast_math_within_5e_6;
        /// The CPU's `ln`, `sin`/`cos`, `exp`, `log1p` replayed operation for
        /// operation with IEEE divisions and no contraction: sampled weights equal
        /// the CPU's bit for bit, at several times the instruction count.
        Exact = "exact", "the CPU's ln/sin/cos/exp replayed, no contraction: the CPU's draws bit for bit",
            exact_gpu_math_draws_the_cpus_bits_and_fast_math_within_5e_6;
    }
}
