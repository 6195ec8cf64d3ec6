//! Sizes that come from outside (a file, a flag, a public function's
//! argument) are checked here before anything is allocated: element counts
//! with checked arithmetic ([`checked_numel`]), and the bytes an input asks
//! for against the memory this process may use ([`check_memory`]).
//!
//! The limit is `BLITZ_MEMORY_LIMIT` when it is set (bytes, or with a
//! `K`/`M`/`G`/`T` suffix, powers of 1024), else the memory the system
//! reports available (`MemAvailable` of `/proc/meminfo` on Linux), else
//! [`FALLBACK_LIMIT`].

use crate::{Error, Result};

/// Requests up to this size are not compared with the limit (the check reads
/// `/proc/meminfo`): small tensors cost nothing to check.
pub const UNCHECKED_BYTES: u64 = 64 << 20;

/// The limit where neither the environment nor the system says one (16 GiB).
pub const FALLBACK_LIMIT: u64 = 16 << 30;

/// The element count of `shape`, refused with [`Error::ShapeOverflow`] when
/// it (or its size in `f32` bytes) does not fit in `usize`.
///
/// # Errors
/// [`Error::ShapeOverflow`] naming `op` and the shape.
pub fn checked_numel(op: &'static str, shape: &[usize]) -> Result<usize> {
    let n = shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .filter(|n| n.checked_mul(std::mem::size_of::<f32>()).is_some_and(|b| b <= isize::MAX as usize));
    n.ok_or_else(|| Error::ShapeOverflow { op, shape: shape.to_vec() })
}

/// `a · b · …` in `u64`, saturating: a byte estimate that can only err high.
pub fn product_saturating(factors: &[usize]) -> u64 {
    factors.iter().fold(1u64, |acc, &f| acc.saturating_mul(f as u64))
}

/// The bytes of `count` f32 values, saturating.
pub fn f32_bytes(count: usize) -> u64 {
    (count as u64).saturating_mul(4)
}

/// Refuses with [`Error::TooLarge`] an allocation of `bytes` above
/// [`memory_limit`]; `what` names it and the input that asked for it, and is
/// only built when the request is refused.
///
/// # Errors
/// [`Error::TooLarge`].
pub fn check_memory(bytes: u64, what: impl FnOnce() -> String) -> Result<()> {
    if bytes <= UNCHECKED_BYTES {
        return Ok(());
    }
    let limit = memory_limit();
    if bytes > limit {
        return Err(Error::TooLarge { what: what(), bytes, limit });
    }
    Ok(())
}

/// The memory this process may ask for at once (see the module docs).
pub fn memory_limit() -> u64 {
    if let Some(v) = std::env::var("BLITZ_MEMORY_LIMIT").ok().and_then(|v| parse_bytes(&v)) {
        return v;
    }
    available_memory().unwrap_or(FALLBACK_LIMIT)
}

/// `MemAvailable` of `/proc/meminfo`, in bytes.
fn available_memory() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// `"123"`, `"4K"`, `"1.5G"`, … in bytes (powers of 1024); `None` when it is
/// not such a number.
pub fn parse_bytes(s: &str) -> Option<u64> {
    let s = s.trim();
    let (num, scale) = match s.char_indices().last()? {
        (i, c) if c.is_ascii_alphabetic() => {
            let p = match c.to_ascii_uppercase() {
                'K' => 1u64 << 10,
                'M' => 1 << 20,
                'G' => 1 << 30,
                'T' => 1 << 40,
                'B' => 1,
                _ => return None,
            };
            (&s[..i], p)
        }
        _ => (s, 1),
    };
    let v: f64 = num.trim().parse().ok()?;
    let bytes = v * scale as f64;
    (v.is_finite() && v >= 0.0 && bytes < u64::MAX as f64).then_some(bytes as u64)
}

pub use crate::error::human_bytes;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numel_overflow_is_an_error_not_a_wrap() {
        assert_eq!(checked_numel("t", &[3, 4]).unwrap(), 12);
        assert_eq!(checked_numel("t", &[]).unwrap(), 1);
        assert_eq!(checked_numel("t", &[0, usize::MAX]).unwrap(), 0);
        assert!(matches!(checked_numel("t", &[1 << 32, 1 << 32]), Err(Error::ShapeOverflow { .. })));
        // Fits in usize but not in bytes.
        assert!(checked_numel("t", &[usize::MAX / 2]).is_err());
    }

    #[test]
    fn byte_sizes_parse_and_print() {
        assert_eq!(parse_bytes("4096"), Some(4096));
        assert_eq!(parse_bytes("2K"), Some(2048));
        assert_eq!(parse_bytes("1.5g"), Some(3 << 29));
        assert_eq!(parse_bytes("x"), None);
        assert_eq!(parse_bytes("-1"), None);
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(52 << 30), "52.0 GiB");
    }

    #[test]
    fn small_requests_pass_and_huge_ones_are_refused_by_name() {
        assert!(check_memory(1 << 20, || unreachable!()).is_ok());
        let e = check_memory(u64::MAX, || "--hidden 1e12".into()).unwrap_err();
        assert!(matches!(e, Error::TooLarge { .. }));
        assert!(e.to_string().starts_with("--hidden 1e12: needs"), "{e}");
    }
}
