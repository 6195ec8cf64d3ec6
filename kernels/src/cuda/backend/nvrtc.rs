//! Run-time compilation of the kernel sources with NVRTC, without touching a
//! GPU: `compile` needs only `libnvrtc`, which is why CI can check every
//! source on a machine with no driver.
//!
//! Output is a cubin for the device's own architecture (`sm_XY`), so the
//! driver does not have to JIT PTX — a PTX made by an NVRTC newer than the
//! driver would be refused. When NVRTC does not know that architecture,
//! [`compile_for_device`] falls back to PTX for NVRTC's default target.
//! No `--use_fast_math`; each source names its own float options
//! ([`super::sources::Source::options`]): `--fmad=false` wherever the CPU's
//! rounding must be reproduced (the exact sampler's `ln`, `sin`, `cos`).

use super::sources::{program_text, Source};
use crate::{Error, Result};
use cudarc::nvrtc::{result, sys};
use std::ffi::{CStr, CString};
use std::sync::OnceLock;

/// What a compilation produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Image {
    /// SASS for one architecture.
    Cubin(Vec<u8>),
    /// PTX text (NUL-terminated), JIT-compiled by the driver.
    Ptx(Vec<u8>),
}

/// Whether `libnvrtc` can be loaded, checked once. cudarc panics when a
/// dynamically loaded library is missing, so this runs before any NVRTC call.
///
/// # Errors
/// [`Error::Cuda`] naming the library and how to provide it.
pub(crate) fn nvrtc_available() -> Result<()> {
    static PRESENT: OnceLock<bool> = OnceLock::new();
    // SAFETY: only tries to dlopen the library under its candidate names.
    if *PRESENT.get_or_init(|| unsafe { sys::is_culib_present() }) {
        Ok(())
    } else {
        Err(Error::Cuda(
            "NVRTC not found (libnvrtc.so.13 or libnvrtc.so.12): install the CUDA toolkit, or `pip install \
             nvidia-cuda-nvrtc` and add its nvidia/cu13/lib folder to LD_LIBRARY_PATH"
                .into(),
        ))
    }
}

/// NVRTC's (major, minor) version.
///
/// # Errors
/// NVRTC missing.
#[cfg_attr(not(test), allow(dead_code))] // read by the NVRTC compile tests
pub(crate) fn nvrtc_version() -> Result<(i32, i32)> {
    nvrtc_available()?;
    let (mut major, mut minor) = (0, 0);
    // SAFETY: two valid out-pointers; the library is present (checked above).
    unsafe { sys::nvrtcVersion(&mut major, &mut minor) }
        .result()
        .map_err(|e| Error::Cuda(format!("nvrtcVersion: {e:?}")))?;
    Ok((major, minor))
}

/// Compiles `src` (with the common prelude) for `arch`: `"sm_90"` gives a
/// cubin, `"compute_90"` or `None` gives PTX.
///
/// # Errors
/// NVRTC missing, or the compiler's log when the source does not compile.
pub(crate) fn compile(src: Source, arch: Option<&str>) -> Result<Image> {
    compile_program(src.name, &program_text(src), arch, src.options)
}

/// Compiles an arbitrary program text (used by tests to prove that a broken
/// kernel is refused).
///
/// # Errors
/// As [`compile`].
#[cfg_attr(not(test), allow(dead_code))] // used by the NVRTC compile tests
pub(crate) fn compile_text(name: &str, text: &str, arch: Option<&str>) -> Result<Image> {
    compile_program(name, text, arch, super::sources::EXACT)
}

/// Compiles `text` with the extra NVRTC `options`.
fn compile_program(name: &str, text: &str, arch: Option<&str>, options: &[&str]) -> Result<Image> {
    nvrtc_available()?;
    let fail = |what: &str, e: &dyn std::fmt::Debug| Error::Cuda(format!("NVRTC {what} of `{name}`: {e:?}"));
    let c_src = CString::new(text).map_err(|e| fail("source", &e))?;
    let c_name = CString::new(format!("{name}.cu")).map_err(|e| fail("name", &e))?;
    let prog = result::create_program(&c_src, Some(&c_name)).map_err(|e| fail("create", &e))?;
    // Per source: the exact sampler's math must round as the CPU's does.
    let mut opts = vec!["--std=c++17".to_string()];
    opts.extend(options.iter().map(|o| o.to_string()));
    if let Some(a) = arch {
        opts.push(format!("--gpu-architecture={a}"));
    }
    let cubin = arch.is_some_and(|a| a.starts_with("sm_"));
    // SAFETY: `prog` was created above and is destroyed exactly once below;
    // `c_src`/`c_name` outlive it.
    let out = unsafe {
        let compiled = result::compile_program(prog, &opts);
        let out = match compiled {
            Err(e) => {
                let log = result::get_program_log(prog)
                    .map(|l| CStr::from_ptr(l.as_ptr()).to_string_lossy().into_owned())
                    .unwrap_or_default();
                Err(Error::Cuda(format!("NVRTC could not compile `{name}` ({e:?}):\n{log}")))
            }
            Ok(()) if cubin => get_cubin(prog).map(Image::Cubin).map_err(|e| fail("cubin", &e)),
            Ok(()) => result::get_ptx(prog)
                .map(|p| Image::Ptx(p.iter().map(|&c| c as u8).collect()))
                .map_err(|e| fail("ptx", &e)),
        };
        let _ = result::destroy_program(prog);
        out
    };
    out
}

/// # Safety
/// `prog` must be a successfully compiled program.
unsafe fn get_cubin(prog: sys::nvrtcProgram) -> std::result::Result<Vec<u8>, result::NvrtcError> {
    let mut size = 0usize;
    sys::nvrtcGetCUBINSize(prog, &mut size).result()?;
    let mut buf = vec![0u8; size];
    sys::nvrtcGetCUBIN(prog, buf.as_mut_ptr().cast()).result()?;
    Ok(buf)
}

/// Compiles `src` for a device of compute capability `cc`: a cubin for
/// `sm_XY`, else PTX for NVRTC's default architecture.
///
/// # Errors
/// Both attempts failed (both messages are kept).
pub(crate) fn compile_for_device(src: Source, cc: (i32, i32)) -> Result<Image> {
    let arch = format!("sm_{}{}", cc.0, cc.1);
    match compile(src, Some(&arch)) {
        Ok(img) => Ok(img),
        Err(first) => compile(src, None).map_err(|second| Error::Cuda(format!("{first}\nPTX fallback: {second}"))),
    }
}
