//! One CUDA device as blitz uses it: a context, one stream that every kernel
//! and copy is queued on (so ops are ordered without events), the compiled
//! modules and the cuBLAS handle, all made on first use and kept for the
//! process.
//!
//! Missing libraries: cudarc loads the driver, NVRTC and cuBLAS with
//! `dlopen` on first call and *panics* when one is absent. So
//! [`device`] first checks `is_culib_present()` for the driver and NVRTC
//! (cuBLAS when a cuBLAS GEMM is asked for) and returns [`Error::Cuda`]
//! naming the missing library; as a last resort the context creation runs
//! under `catch_unwind`, turning a missing *symbol* (a driver older than the
//! bindings) into an error too.

use super::nvrtc::{self, Image};
use super::sources::Source;
use crate::{Error, Result};
use cudarc::driver::{result as dresult, sys as dsys, CudaContext, CudaFunction, CudaModule, CudaStream, LaunchConfig};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

/// Threads per block of the element-wise kernels.
pub(crate) const THREADS: u32 = 256;
/// Upper bound on blocks of a grid-stride launch.
const MAX_BLOCKS: u64 = 65_535;
/// Blocks of the two-pass reductions (a fixed number, so sums are reproducible).
pub(crate) const REDUCE_BLOCKS: u32 = 1024;

/// A driver error as blitz's error.
pub(crate) fn drv(what: &str) -> impl Fn(dresult::DriverError) -> Error + '_ {
    move |e| Error::Cuda(format!("{what}: {e}"))
}

/// A CUDA device in use by this process.
pub(crate) struct DeviceCtx {
    ordinal: usize,
    cc: (i32, i32),
    stream: Arc<CudaStream>,
    ctx: Arc<CudaContext>,
    modules: Mutex<HashMap<&'static str, Arc<CudaModule>>>,
    functions: Mutex<HashMap<(&'static str, &'static str), CudaFunction>>,
    blas: Mutex<Option<Arc<cudarc::cublas::CudaBlas>>>,
}

impl std::fmt::Debug for DeviceCtx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cuda:{} (sm_{}{})", self.ordinal, self.cc.0, self.cc.1)
    }
}

/// Whether the driver library (`libcuda.so.1`) can be loaded, checked once.
fn driver_present() -> bool {
    static PRESENT: OnceLock<bool> = OnceLock::new();
    // SAFETY: only tries to dlopen the library under its candidate names.
    *PRESENT.get_or_init(|| unsafe { dsys::is_culib_present() })
}

/// Checks that device `ordinal` can be used: driver library, NVRTC, a device
/// with that ordinal. Does not create a context.
///
/// # Errors
/// [`Error::Cuda`] naming what is missing.
pub(crate) fn check(ordinal: usize) -> Result<()> {
    if !driver_present() {
        return Err(Error::Cuda(
            "the NVIDIA driver library (libcuda.so.1) was not found: this machine has no usable CUDA driver".into(),
        ));
    }
    nvrtc::nvrtc_available()?;
    let count = guarded("cuInit", || {
        dresult::init().map_err(drv("cuInit"))?;
        dresult::device::get_count().map_err(drv("cuDeviceGetCount"))
    })?;
    if ordinal >= count.max(0) as usize {
        return Err(Error::Cuda(format!("no CUDA device with ordinal {ordinal} ({count} present)")));
    }
    Ok(())
}

/// Runs `f`, turning a panic from the bindings (a missing symbol) into an error.
fn guarded<T>(what: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|p| {
        let msg = p
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        Err(Error::Cuda(format!("{what} failed inside the CUDA bindings: {msg}")))
    })
}

/// The process-wide context of device `ordinal`, created on first use.
///
/// # Errors
/// [`check`]'s errors; context or stream creation failures.
pub(crate) fn device(ordinal: usize) -> Result<Arc<DeviceCtx>> {
    static DEVICES: OnceLock<Mutex<HashMap<usize, Arc<DeviceCtx>>>> = OnceLock::new();
    let map = DEVICES.get_or_init(Default::default);
    if let Some(d) = map.lock().map_err(poisoned)?.get(&ordinal) {
        return Ok(d.clone());
    }
    check(ordinal)?;
    let dev = guarded("CUDA context creation", || {
        let ctx = CudaContext::new(ordinal).map_err(drv("cuDevicePrimaryCtxRetain"))?;
        // SAFETY: blitz queues all work of a device on the one stream below, so
        // the per-allocation events cudarc uses to order streams are not needed.
        unsafe { ctx.disable_event_tracking() };
        if ctx.has_async_alloc() {
            // Only speed depends on it: where the driver refuses, the pool keeps
            // its default and everything still works.
            keep_pool_memory(&ctx).ok();
        }
        let cc = ctx.compute_capability().map_err(drv("compute capability"))?;
        let stream = ctx.default_stream();
        Ok(Arc::new(DeviceCtx {
            ordinal,
            cc,
            stream,
            ctx,
            modules: Mutex::default(),
            functions: Mutex::default(),
            blas: Mutex::default(),
        }))
    })?;
    Ok(map.lock().map_err(poisoned)?.entry(ordinal).or_insert(dev).clone())
}

/// Stream-ordered allocations (`cuMemAllocAsync`) come from the device's memory
/// pool, which by default hands its free memory back to the driver at every
/// synchronisation; the next allocation then maps it again. A training step
/// synchronises and allocates every step, so that cost ~0.1 ms a step (the
/// sample + KL call measured 0.31 ms against 0.21 ms with the memory kept).
/// Keep it: freed blocks stay in the pool for blitz's next allocations. The
/// pool is the device's (process-wide): other CUDA users of the process
/// share the setting, and memory freed by blitz goes back to the driver only
/// when the process ends (it stays available to blitz meanwhile).
fn keep_pool_memory(ctx: &CudaContext) -> Result<()> {
    use cudarc::driver::sys;
    let mut pool: sys::CUmemoryPool = std::ptr::null_mut();
    let mut keep = u64::MAX;
    // SAFETY: `pool` is a valid out-pointer; the attribute takes a u64 by pointer.
    unsafe {
        sys::cuDeviceGetMemPool(&mut pool, ctx.cu_device()).result().map_err(drv("cuDeviceGetMemPool"))?;
        sys::cuMemPoolSetAttribute(
            pool,
            sys::CUmemPool_attribute::CU_MEMPOOL_ATTR_RELEASE_THRESHOLD,
            (&mut keep as *mut u64).cast(),
        )
        .result()
        .map_err(drv("cuMemPoolSetAttribute"))
    }
}

fn poisoned<T>(_: T) -> Error {
    Error::Cuda("a CUDA cache lock was poisoned by an earlier panic".into())
}

impl DeviceCtx {
    /// The device ordinal.
    pub(crate) fn ordinal(&self) -> usize {
        self.ordinal
    }

    /// "name (sm_XY)" of the device.
    pub(crate) fn describe(&self) -> String {
        let name = self.ctx.name().unwrap_or_else(|_| "unknown GPU".into());
        format!("{name} (sm_{}{})", self.cc.0, self.cc.1)
    }

    /// The stream all of this device's work goes to.
    pub(crate) fn stream(&self) -> &Arc<CudaStream> {
        &self.stream
    }

    /// Kernel `name` of `src`, compiling and loading the module on first use.
    ///
    /// # Errors
    /// Compilation or module load failures.
    pub(crate) fn function(&self, src: Source, name: &'static str) -> Result<CudaFunction> {
        if let Some(f) = self.functions.lock().map_err(poisoned)?.get(&(src.name, name)) {
            return Ok(f.clone());
        }
        let module = self.module(src)?;
        let f = module.load_function(name).map_err(drv(name))?;
        self.functions.lock().map_err(poisoned)?.insert((src.name, name), f.clone());
        Ok(f)
    }

    fn module(&self, src: Source) -> Result<Arc<CudaModule>> {
        // Held across compilation: two threads never compile the same source twice.
        let mut modules = self.modules.lock().map_err(poisoned)?;
        if let Some(m) = modules.get(src.name) {
            return Ok(m.clone());
        }
        let image = nvrtc::compile_for_device(src, self.cc)?;
        let bytes = match image {
            Image::Cubin(b) | Image::Ptx(b) => b,
        };
        let m = self.ctx.load_module(cudarc::nvrtc::Ptx::from_binary(bytes)).map_err(drv("cuModuleLoadData"))?;
        modules.insert(src.name, m.clone());
        Ok(m)
    }

    /// The cuBLAS handle on this device's stream, created on first use.
    ///
    /// # Errors
    /// [`Error::Cuda`] when `libcublas` is missing or the handle cannot be made.
    pub(crate) fn blas(&self) -> Result<Arc<cudarc::cublas::CudaBlas>> {
        let mut slot = self.blas.lock().map_err(poisoned)?;
        if let Some(b) = slot.as_ref() {
            return Ok(b.clone());
        }
        // SAFETY: only tries to dlopen the library under its candidate names.
        if !unsafe { cudarc::cublas::sys::is_culib_present() } {
            return Err(Error::Cuda(
                "cuBLAS not found (libcublas.so.13 or .so.12): install it (e.g. `pip install nvidia-cublas`) and add \
                 its lib folder to LD_LIBRARY_PATH, or select GemmBackend::Tiled"
                    .into(),
            ));
        }
        let stream = self.stream.clone();
        let b = guarded("cuBLAS", || {
            cudarc::cublas::CudaBlas::new(stream).map_err(|e| Error::Cuda(format!("cublasCreate: {e}")))
        })?;
        let b = Arc::new(b);
        *slot = Some(b.clone());
        Ok(b)
    }
}

/// A 1-D grid-stride launch over `n` items.
pub(crate) fn grid(n: u64) -> LaunchConfig {
    let blocks = n.div_ceil(THREADS as u64).clamp(1, MAX_BLOCKS) as u32;
    LaunchConfig { grid_dim: (blocks, 1, 1), block_dim: (THREADS, 1, 1), shared_mem_bytes: 0 }
}

/// One 256-thread block per row, grid-stride over `rows`.
pub(crate) fn rows_grid(rows: u64) -> LaunchConfig {
    let blocks = rows.clamp(1, MAX_BLOCKS) as u32;
    LaunchConfig { grid_dim: (blocks, 1, 1), block_dim: (THREADS, 1, 1), shared_mem_bytes: 0 }
}
