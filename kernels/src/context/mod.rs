//! The execution context: which variant of each kernel family runs, and on
//! which threads. A value passed down (to the `ops::*_in` entry points, held
//! by an autograd tape), never a process-wide switch, so two variants of one
//! family run side by side in one process. [`Context::default`] picks the
//! fastest verified variant of each family on this machine. Every
//! `ops::*_in` entry point takes one: there is no default-context form.
//! [`crate::registry`] lists every family,
//! its variants and what this machine can run.

use crate::{Error, Result};
use std::sync::Arc;

/// Chunk length of the CPU's parallel element-wise loops and of the partial
/// sums of its reductions. It fixes the order of the partial sums, and so
/// the bits: a constant, not part of [`ThreadSplit`].
pub const CHUNK: usize = 1 << 14;

/// Weights per chunk of the CPU's fused sampler + KL loops. It fixes the
/// order of the partial sums, and so the bits, and is a constant: whether
/// the chunks run on several threads is [`ThreadSplit::sampler`]'s decision.
pub const KL_CHUNK: usize = 1 << 12;

mod variants;

pub use variants::{
    ConvVariant, ElementwiseVariant, GemmBackend, GemmVariant, NormalsVariant, SamplerMath, SamplerVariant,
};

/// When a CPU loop is split over the threads: the sizes from which waking
/// threads pays. A per-context choice, passed down to the kernels (as a
/// parameter, like `faer`'s `Par`), never a process-wide switch.
///
/// It decides only *whether* a loop runs on several threads, never how the
/// work is cut: element-wise loops and reductions always work in chunks of
/// `CHUNK` (2¹⁴) elements and the fused sampler + KL in chunks of `KL_CHUNK`
/// (2¹²) weights, and partial sums are added in chunk order whether the
/// chunks ran on one thread or many. The chunk sizes fix the order of the
/// partial sums, and therefore the bits, so they are constants, not part of
/// the policy: every policy gives the same bits ([`crate::registry::thresholds`]
/// lists both kinds). Build one with struct update syntax:
///
/// ```
/// use blitz_kernels::context::{Context, ThreadSplit};
/// let quiet = Context { split: ThreadSplit { gemm: usize::MAX, ..ThreadSplit::default() }, ..Context::default() };
/// assert_ne!(quiet, Context::default());
/// assert_eq!(ThreadSplit::sequential().heavy, usize::MAX);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ThreadSplit {
    /// Elements from which an arithmetic-heavy element-wise loop (exp, ln,
    /// softplus, a power, the normals, the separate reparameterisation), a
    /// reduction or a row loop (pooling, im2col, padding) is split.
    pub heavy: usize,
    /// Elements from which a memory-bound element-wise loop (an add, a
    /// compare, a product, ReLU, an optimiser step) is split.
    pub light: usize,
    /// Weights from which the fused sampler + KL (forward and backward, and
    /// the KL at given weights) is split.
    pub sampler: usize,
    /// Multiply-adds from which a packed GEMM is cut into one block per thread.
    pub gemm: usize,
    /// Multiply-adds from which the direct convolution splits images (or,
    /// for the weight gradient, output channels) over the threads.
    pub conv: usize,
}

impl ThreadSplit {
    /// Never split: every loop runs on the calling thread.
    pub const fn sequential() -> ThreadSplit {
        ThreadSplit { heavy: usize::MAX, light: usize::MAX, sampler: usize::MAX, gemm: usize::MAX, conv: usize::MAX }
    }

    /// Split whenever there is more than one chunk: element-wise loops and
    /// reductions above one `CHUNK` (2¹⁴ elements), the sampler above one
    /// `KL_CHUNK` (2¹² weights), and every GEMM and direct convolution whose
    /// shape can be cut (for tests, and to measure the cost of waking threads).
    pub const fn eager() -> ThreadSplit {
        ThreadSplit { heavy: CHUNK + 1, light: CHUNK + 1, sampler: KL_CHUNK + 1, gemm: 0, conv: 0 }
    }
}

impl Default for ThreadSplit {
    /// 2¹⁵ elements for heavy loops, 2¹⁶ for memory-bound ones, 2¹³ weights
    /// for the sampler, 2²² multiply-adds for a GEMM and 2²⁰ for the direct
    /// convolution. How they were measured is in BENCHMARKS.md, "Thread
    /// split thresholds".
    fn default() -> ThreadSplit {
        ThreadSplit { heavy: 1 << 15, light: 1 << 16, sampler: 2 * KL_CHUNK, gemm: 1 << 22, conv: 1 << 20 }
    }
}

/// Which threads run the CPU kernels. Results do not depend on it: work is
/// cut into chunks of fixed sizes and partial sums are added in chunk order.
/// Whether a loop uses them at all is [`ThreadSplit`]'s decision.
#[derive(Clone, Default)]
pub enum Threads {
    /// rayon's global pool (its size: `RAYON_NUM_THREADS`, else one per core).
    /// A loop is split only from the sizes [`Context::split`] sets.
    #[default]
    Global,
    /// A pool of its own (e.g. one thread, to measure a kernel alone).
    Pool(Arc<rayon::ThreadPool>),
}

impl Threads {
    /// A pool of `n` threads of its own.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for `n == 0` or when the pool cannot be started.
    pub fn fixed(n: usize) -> Result<Threads> {
        if n == 0 {
            return Err(Error::invalid("threads", "a pool needs at least one thread"));
        }
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .map(|p| Threads::Pool(Arc::new(p)))
            .map_err(|e| Error::invalid("threads", format!("cannot start {n} threads: {e}")))
    }

    /// The number of threads that run the kernels.
    pub fn count(&self) -> usize {
        match self {
            Threads::Global => rayon::current_num_threads(),
            Threads::Pool(p) => p.current_num_threads(),
        }
    }
}

impl std::fmt::Debug for Threads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Threads::Global => write!(f, "Global({})", rayon::current_num_threads()),
            Threads::Pool(p) => write!(f, "Pool({})", p.current_num_threads()),
        }
    }
}

impl PartialEq for Threads {
    fn eq(&self, other: &Threads) -> bool {
        match (self, other) {
            (Threads::Global, Threads::Global) => true,
            (Threads::Pool(a), Threads::Pool(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

/// Which variant of each kernel family runs, and on which threads. Cheap to
/// clone. Build one with struct update syntax:
///
/// ```
/// use blitz_kernels::context::{Context, GemmVariant};
/// let reference = Context { gemm: GemmVariant::Reference, ..Context::default() };
/// assert_ne!(reference, Context::default());
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Context {
    /// CPU matrix products.
    pub gemm: GemmVariant,
    /// CPU element-wise ops.
    pub elementwise: ElementwiseVariant,
    /// CPU standard normals drawn on their own ([`crate::ops::normal_in`]).
    pub normals: NormalsVariant,
    /// The fused draw + KL and its backward.
    pub sampler: SamplerVariant,
    /// Convolution.
    pub conv: ConvVariant,
    /// GPU matrix products.
    pub gpu_gemm: GemmBackend,
    /// GPU sampler math.
    pub gpu_sampler: SamplerMath,
    /// CPU threads.
    pub threads: Threads,
    /// When a CPU loop is split over [`Context::threads`].
    pub split: ThreadSplit,
}

impl Context {
    /// Runs `f` on this context's threads: inside it every parallel CPU loop,
    /// of these kernels or of any other rayon code, uses them. With
    /// [`Threads::Global`] it just calls `f`.
    pub fn install<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        match &self.threads {
            Threads::Global => f(),
            Threads::Pool(p) => p.install(|| {
                #[cfg(test)]
                count_install();
                f()
            }),
        }
    }
}

/// Closures run by [`Context::install`] on a pool of its own, by the pool's
/// size (tests only: shows that an entry point's CPU kernel ran on its
/// context's threads, whether or not it split a loop).
#[cfg(test)]
static INSTALLS_BY_POOL_SIZE: std::sync::Mutex<Vec<usize>> = std::sync::Mutex::new(Vec::new());

#[cfg(test)]
fn count_install() {
    let pool = rayon::current_num_threads();
    let mut by_pool = INSTALLS_BY_POOL_SIZE.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if by_pool.len() <= pool {
        by_pool.resize(pool + 1, 0);
    }
    by_pool[pool] += 1;
}

/// The closures run so far on pools of `threads` threads (tests only).
#[cfg(test)]
pub(crate) fn installs_on_pools_of(threads: usize) -> usize {
    let by_pool = INSTALLS_BY_POOL_SIZE.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    by_pool.get(threads).copied().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fixed_pool_runs_its_closure_on_its_own_threads() {
        let one = Context { threads: Threads::fixed(1).unwrap(), ..Context::default() };
        assert_eq!(one.install(rayon::current_num_threads), 1);
        assert_eq!(one.threads.count(), 1);
        assert!(Threads::fixed(0).is_err());
        assert_eq!(Context::default().install(|| 7), 7);
        assert_ne!(one, Context::default());
        assert_eq!(one.clone(), one);
    }
}
