//! The IDX reader on good, gzipped, truncated, wrong-magic, oversized and
//! empty files, and the MNIST loader on the shipped subset.

use blitz_layers::data::idx::{parse_idx, read_idx, IdxError, Mnist};
use flate2::write::GzEncoder;
use flate2::Compression;
use std::io::Write;
use std::path::PathBuf;

/// A 2×3 array of bytes in IDX form.
fn sample() -> Vec<u8> {
    let mut b = vec![0, 0, 0x08, 2, 0, 0, 0, 2, 0, 0, 0, 3];
    b.extend_from_slice(&[0, 1, 2, 253, 254, 255]);
    b
}

fn temp_file(name: &str, bytes: &[u8]) -> PathBuf {
    let p = std::env::temp_dir().join(format!("blitz-idx-{}-{name}", std::process::id()));
    std::fs::write(&p, bytes).unwrap();
    p
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

#[cfg(feature = "gzip")]
#[test]
fn reads_plain_and_gzipped_files() {
    for (name, bytes) in [("plain", sample()), ("gz", gzip(&sample()))] {
        let a = read_idx(temp_file(name, &bytes)).unwrap();
        assert_eq!(a.dims, vec![2, 3]);
        assert_eq!(a.data, vec![0.0, 1.0, 2.0, 253.0, 254.0, 255.0]);
    }
}

#[test]
fn reads_big_endian_wider_types() {
    let mut b = vec![0, 0, 0x0B, 1, 0, 0, 0, 2];
    b.extend_from_slice(&(-2i16).to_be_bytes());
    b.extend_from_slice(&300i16.to_be_bytes());
    assert_eq!(parse_idx(&b, "i16").unwrap().data, vec![-2.0, 300.0]);
    let mut b = vec![0, 0, 0x0D, 1, 0, 0, 0, 1];
    b.extend_from_slice(&1.5f32.to_be_bytes());
    assert_eq!(parse_idx(&b, "f32").unwrap().data, vec![1.5]);
}

#[test]
fn empty_file_is_an_error() {
    assert!(matches!(read_idx(temp_file("empty", &[])), Err(IdxError::Empty { .. })));
}

#[test]
fn wrong_magic_is_an_error() {
    let mut b = sample();
    b[0] = 1;
    assert!(matches!(parse_idx(&b, "x"), Err(IdxError::BadMagic { found: [1, 0, 8, 2], .. })));
    let mut b = sample();
    b[2] = 0x42; // unknown type code
    assert!(matches!(parse_idx(&b, "x"), Err(IdxError::BadMagic { .. })));
    // A text file is not IDX either.
    assert!(matches!(read_idx(temp_file("text", b"hello world\n")), Err(IdxError::BadMagic { .. })));
}

#[test]
fn truncated_files_are_errors() {
    let full = sample();
    for cut in [2, 7, 11, full.len() - 1] {
        let r = parse_idx(&full[..cut], "cut");
        assert!(matches!(r, Err(IdxError::Truncated { .. })), "cut at {cut}: {r:?}");
    }
    let gz = gzip(&full[..full.len() - 2]);
    if cfg!(feature = "gzip") {
        assert!(matches!(read_idx(temp_file("cut.gz", &gz)), Err(IdxError::Truncated { expected: 18, found: 16, .. })));
    }
    // A gzip stream cut short is an I/O (decoder) error, not a panic.
    let gz = gzip(&full);
    assert!(read_idx(temp_file("cutstream.gz", &gz[..gz.len() / 2])).is_err());
}

#[test]
fn extra_bytes_and_absurd_dimensions_are_errors() {
    let mut b = sample();
    b.push(7);
    assert!(matches!(parse_idx(&b, "x"), Err(IdxError::SizeMismatch { .. })));
    // Dimensions announcing 2^32·2^32·… bytes must fail before allocating anything.
    let b = vec![0, 0, 0x0E, 3, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 1];
    assert!(matches!(parse_idx(&b, "x"), Err(IdxError::SizeMismatch { .. } | IdxError::Truncated { .. })));
}

#[test]
fn errors_convert_to_the_workspace_error() {
    let e: blitz_autograd::Error = parse_idx(&[], "f").unwrap_err().into();
    assert!(matches!(e, blitz_autograd::Error::Parse { .. }));
    let missing = Mnist::load("/nonexistent-dir", "train").unwrap_err();
    assert!(matches!(missing, blitz_autograd::Error::Io { .. }));
}

#[cfg(feature = "gzip")] // the shipped files are gzipped
#[test]
fn loads_the_shipped_mnist_subset() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../data/mnist10k");
    let test = Mnist::load(dir, "test").unwrap();
    assert_eq!((test.len(), test.rows, test.cols), (2000, 28, 28));
    assert!(test.images.iter().all(|&p| (0.0..=1.0).contains(&p)));
    assert!(test.labels.iter().all(|&l| l < 10));
    let (x, y) = test.batch(&[0, 5]).unwrap();
    assert_eq!(x.shape(), &[2, 1, 28, 28]);
    assert_eq!(y.len(), 2);
    assert!(test.batch(&[2000]).is_err());
}
