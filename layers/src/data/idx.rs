//! The IDX format of MNIST (LeCun et al.), plain or gzipped, and an MNIST
//! loader on top of it.
//!
//! An IDX file is: two zero bytes, a type byte, a rank byte, one big-endian
//! `u32` per dimension, then the values in row-major order, big-endian. The
//! reader checks every part and never allocates more than the file can hold:
//! for a gzipped file the decompressed size is bounded by deflate's maximum
//! ratio (1032:1) times the compressed length.

use blitz_autograd::{Error, Tensor};
use std::fmt;
use std::path::Path;

/// What is wrong with an IDX file.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum IdxError {
    /// The file could not be read (or the gzip stream is corrupt).
    Io {
        /// The file.
        path: String,
        /// The operating system's or decoder's message.
        message: String,
    },
    /// The file has no bytes at all.
    Empty {
        /// The file.
        path: String,
    },
    /// The first four bytes are not `00 00 type rank` with a known type.
    BadMagic {
        /// The file.
        path: String,
        /// The bytes found.
        found: [u8; 4],
    },
    /// The file ends before its header or its values do.
    Truncated {
        /// The file.
        path: String,
        /// Bytes the header announces (header included).
        expected: u64,
        /// Bytes present.
        found: u64,
    },
    /// More bytes than the header announces, or two files that must agree do not.
    SizeMismatch {
        /// The file.
        path: String,
        /// What disagrees.
        message: String,
    },
}

impl fmt::Display for IdxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdxError::Io { path, message } => write!(f, "{path}: {message}"),
            IdxError::Empty { path } => write!(f, "{path}: empty file"),
            IdxError::BadMagic { path, found } => write!(f, "{path}: not an IDX file (magic bytes {found:02x?})"),
            IdxError::Truncated { path, expected, found } => {
                write!(f, "{path}: truncated: {found} bytes where the header announces {expected}")
            }
            IdxError::SizeMismatch { path, message } => write!(f, "{path}: {message}"),
        }
    }
}

impl std::error::Error for IdxError {}

impl From<IdxError> for Error {
    fn from(e: IdxError) -> Error {
        match e {
            IdxError::Io { path, message } => Error::Io { path, message },
            other => {
                let path = match &other {
                    IdxError::Empty { path }
                    | IdxError::BadMagic { path, .. }
                    | IdxError::Truncated { path, .. }
                    | IdxError::SizeMismatch { path, .. }
                    | IdxError::Io { path, .. } => path.clone(),
                };
                Error::Parse { path, message: other.to_string() }
            }
        }
    }
}

/// An IDX array: its dimensions and its values converted to `f32`.
#[derive(Debug, Clone, PartialEq)]
pub struct IdxArray {
    /// The dimensions, outermost first.
    pub dims: Vec<usize>,
    /// The values in row-major order.
    pub data: Vec<f32>,
}

/// Bytes per value of an IDX type code, if known.
fn elem_size(code: u8) -> Option<usize> {
    match code {
        0x08 | 0x09 => Some(1),
        0x0B => Some(2),
        0x0C | 0x0D => Some(4),
        0x0E => Some(8),
        _ => None,
    }
}

/// Deflate cannot expand data by more than about this factor.
#[cfg(feature = "gzip")]
const MAX_INFLATE_RATIO: u64 = 1032;

/// Parses IDX bytes (already decompressed). `path` names the source in errors.
///
/// # Errors
/// [`IdxError::Empty`], [`IdxError::BadMagic`], [`IdxError::Truncated`],
/// [`IdxError::SizeMismatch`] (bytes after the announced values).
pub fn parse_idx(bytes: &[u8], path: &str) -> Result<IdxArray, IdxError> {
    let p = || path.to_string();
    if bytes.is_empty() {
        return Err(IdxError::Empty { path: p() });
    }
    let (dims, code, header) = parse_header(bytes, path)?;
    let size = elem_size(code).expect("checked by parse_header");
    let count = dims.iter().try_fold(1u64, |a, &d| a.checked_mul(d as u64));
    let expected = count.and_then(|c| c.checked_mul(size as u64)).and_then(|b| b.checked_add(header as u64));
    let Some(expected) = expected else {
        return Err(IdxError::SizeMismatch { path: p(), message: format!("dimensions {dims:?} overflow") });
    };
    let found = bytes.len() as u64;
    if found < expected {
        return Err(IdxError::Truncated { path: p(), expected, found });
    }
    if found > expected {
        return Err(IdxError::SizeMismatch {
            path: p(),
            message: format!("{} bytes after the {expected} that dimensions {dims:?} announce", found - expected),
        });
    }
    let body = &bytes[header..];
    let data = match code {
        0x08 => body.iter().map(|&b| b as f32).collect(),
        0x09 => body.iter().map(|&b| b as i8 as f32).collect(),
        0x0B => body.chunks_exact(2).map(|c| i16::from_be_bytes([c[0], c[1]]) as f32).collect(),
        0x0C => body.chunks_exact(4).map(|c| i32::from_be_bytes([c[0], c[1], c[2], c[3]]) as f32).collect(),
        0x0D => body.chunks_exact(4).map(|c| f32::from_be_bytes([c[0], c[1], c[2], c[3]])).collect(),
        _ => body.chunks_exact(8).map(|c| f64::from_be_bytes(c.try_into().expect("8 bytes")) as f32).collect(),
    };
    Ok(IdxArray { dims, data })
}

/// (dimensions, type code, header length) of the start of an IDX file.
fn parse_header(bytes: &[u8], path: &str) -> Result<(Vec<usize>, u8, usize), IdxError> {
    let p = || path.to_string();
    if bytes.len() < 4 {
        return Err(IdxError::Truncated { path: p(), expected: 4, found: bytes.len() as u64 });
    }
    let magic = [bytes[0], bytes[1], bytes[2], bytes[3]];
    if magic[0] != 0 || magic[1] != 0 || elem_size(magic[2]).is_none() || magic[3] == 0 {
        return Err(IdxError::BadMagic { path: p(), found: magic });
    }
    let header = 4 + 4 * magic[3] as usize;
    if bytes.len() < header {
        return Err(IdxError::Truncated { path: p(), expected: header as u64, found: bytes.len() as u64 });
    }
    let dims =
        bytes[4..header].chunks_exact(4).map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize).collect();
    Ok((dims, magic[2], header))
}

/// Reads an IDX file, gunzipping it first when it starts with the gzip magic.
///
/// # Errors
/// As [`parse_idx`]; [`IdxError::Io`] when the file cannot be read or its
/// gzip stream is corrupt.
pub fn read_idx(path: impl AsRef<Path>) -> Result<IdxArray, IdxError> {
    let path = path.as_ref();
    let name = path.display().to_string();
    let io = |e: std::io::Error| IdxError::Io { path: name.clone(), message: e.to_string() };
    let raw = std::fs::read(path).map_err(io)?;
    if super::gzip::is_gzip(&raw) {
        let out = gunzip_idx(&raw, &name)?;
        parse_idx(&out, &name)
    } else {
        parse_idx(&raw, &name)
    }
}

/// The decompressed IDX file: the size is unknown until the header is
/// read, so it is bounded by what deflate can produce from this many bytes.
#[cfg(feature = "gzip")]
fn gunzip_idx(raw: &[u8], name: &str) -> Result<Vec<u8>, IdxError> {
    use flate2::read::GzDecoder;
    use std::io::Read;
    let limit = (raw.len() as u64).saturating_mul(MAX_INFLATE_RATIO);
    let mut out = Vec::with_capacity(raw.len().saturating_mul(4));
    GzDecoder::new(raw)
        .take(limit)
        .read_to_end(&mut out)
        .map_err(|e| IdxError::Io { path: name.to_string(), message: e.to_string() })?;
    Ok(out)
}

/// Without the `gzip` feature: a clear refusal.
#[cfg(not(feature = "gzip"))]
fn gunzip_idx(_raw: &[u8], name: &str) -> Result<Vec<u8>, IdxError> {
    Err(IdxError::Io {
        path: name.to_string(),
        message: "is gzip-compressed, and this build of blitz has no `gzip` feature".into(),
    })
}

/// An MNIST split: images scaled to [0, 1] (as torchvision's `ToTensor`)
/// and their labels.
#[derive(Debug, Clone)]
pub struct Mnist {
    /// `len·rows·cols` pixels in [0, 1], image after image.
    pub images: Vec<f32>,
    /// One label in 0..10 per image.
    pub labels: Vec<usize>,
    /// Image height.
    pub rows: usize,
    /// Image width.
    pub cols: usize,
}

impl Mnist {
    /// Loads `{split}-images-idx3-ubyte[.gz]` and `{split}-labels-idx1-ubyte[.gz]`
    /// from `dir` (`split` is "train" or "test", or "t10k" for the original names).
    ///
    /// # Errors
    /// [`Error::Io`] for a missing or unreadable file; [`Error::Parse`] for a
    /// malformed one (see [`IdxError`]), images that are not rank 3 of bytes,
    /// labels that are not rank 1 or not below 10, or counts that differ.
    pub fn load(dir: impl AsRef<Path>, split: &str) -> blitz_autograd::Result<Mnist> {
        let dir = dir.as_ref();
        let find = |stem: &str| {
            let gz = dir.join(format!("{stem}.gz"));
            if gz.exists() {
                gz
            } else {
                dir.join(stem)
            }
        };
        let (ip, lp) = (find(&format!("{split}-images-idx3-ubyte")), find(&format!("{split}-labels-idx1-ubyte")));
        let images = read_idx(&ip)?;
        let labels = read_idx(&lp)?;
        let mismatch =
            |path: &Path, message: String| IdxError::SizeMismatch { path: path.display().to_string(), message };
        if images.dims.len() != 3 {
            return Err(mismatch(&ip, format!("images must have 3 dimensions, found {:?}", images.dims)).into());
        }
        if labels.dims.len() != 1 || labels.dims[0] != images.dims[0] {
            return Err(mismatch(&lp, format!("labels {:?} do not match images {:?}", labels.dims, images.dims)).into());
        }
        let mut lab = Vec::with_capacity(labels.data.len());
        for (i, &l) in labels.data.iter().enumerate() {
            if !(0.0..10.0).contains(&l) || l.fract() != 0.0 {
                return Err(mismatch(&lp, format!("label {l} at index {i} is not a digit")).into());
            }
            lab.push(l as usize);
        }
        let px: Vec<f32> = images.data.iter().map(|&v| v / 255.0).collect();
        Ok(Mnist { images: px, labels: lab, rows: images.dims[1], cols: images.dims[2] })
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no images.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The first `n` images (all of them when `n` is larger).
    pub fn truncate(mut self, n: usize) -> Mnist {
        let n = n.min(self.len());
        self.labels.truncate(n);
        self.images.truncate(n * self.rows * self.cols);
        self
    }

    /// The images at `idx` as a `[len, 1, rows, cols]` tensor, and their labels.
    ///
    /// # Errors
    /// [`Error::IndexOutOfRange`] for an index past the end.
    pub fn batch(&self, idx: &[usize]) -> blitz_autograd::Result<(Tensor, Vec<usize>)> {
        let px = self.rows * self.cols;
        let mut data = Vec::with_capacity(idx.len() * px);
        let mut labels = Vec::with_capacity(idx.len());
        for &i in idx {
            if i >= self.len() {
                return Err(Error::IndexOutOfRange { op: "Mnist::batch", index: i, len: self.len() });
            }
            data.extend_from_slice(&self.images[i * px..(i + 1) * px]);
            labels.push(self.labels[i]);
        }
        Ok((Tensor::from_vec(data, &[idx.len(), 1, self.rows, self.cols])?, labels))
    }
}
