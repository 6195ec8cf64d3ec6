//! Gzip input, decompressed within the memory limit: a stream that would
//! inflate past [`blitz_kernels::limits::memory_limit`] (a gzip bomb) is
//! refused with [`Error::TooLarge`] instead of filling the machine. Without
//! the `gzip` feature, a gzip file is refused with a message that says so.

use blitz_autograd::{Error, Result};

/// Whether `bytes` start with the gzip magic number.
pub(crate) fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0x1f, 0x8b])
}

/// The decompressed bytes of the gzip file `name` (every member of a
/// multi-member file, as `gzip -d` does).
#[cfg(feature = "gzip")]
pub(crate) fn gunzip(bytes: &[u8], name: &str) -> Result<Vec<u8>> {
    use std::io::Read;
    let limit = blitz_kernels::limits::memory_limit();
    let mut out = Vec::new();
    // One byte past the limit tells a stream that reaches it from one that exceeds it.
    flate2::read::MultiGzDecoder::new(bytes)
        .take(limit.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|e| Error::Parse { path: name.to_string(), message: format!("not a valid gzip file: {e}") })?;
    if out.len() as u64 > limit {
        return Err(Error::TooLarge { what: format!("{name}: decompressed"), bytes: out.len() as u64, limit });
    }
    Ok(out)
}

/// Without the `gzip` feature: a clear refusal.
#[cfg(not(feature = "gzip"))]
pub(crate) fn gunzip(_bytes: &[u8], name: &str) -> Result<Vec<u8>> {
    Err(Error::Parse {
        path: name.to_string(),
        message: "is gzip-compressed, and this build of blitz has no `gzip` feature: decompress it first".into(),
    })
}
