//! Writes the shipped MNIST digits as gzip-compressed CSV, the form most
//! people's image data arrives in: a header `label,p0,…,p783`, then one row
//! per image (pixels in [0, 1], row after row).
//!
//! ```text
//! cargo run --release --example export_mnist_csv -- OUT_DIR
//! cargo run --release -- fit OUT_DIR/train.csv.gz --target label --task classification --test-file OUT_DIR/test.csv.gz
//! ```

use blitz::layers::data::idx::Mnist;
use blitz::prelude::*;
use std::io::Write;

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let out = std::env::args().nth(1).ok_or_else(|| Error::invalid("arguments", "give the output folder"))?;
    let data = concat!(env!("CARGO_MANIFEST_DIR"), "/data/mnist10k");
    std::fs::create_dir_all(&out).map_err(|e| Error::Io { path: out.clone(), message: e.to_string() })?;
    for split in ["train", "test"] {
        let m = Mnist::load(data, split)?;
        let px = m.rows * m.cols;
        let mut text = String::from("label");
        for i in 0..px {
            text.push_str(&format!(",p{i}"));
        }
        text.push('\n');
        for (img, label) in m.images.chunks(px).zip(&m.labels) {
            text.push_str(&label.to_string());
            for v in img {
                // Four decimals: within 5e-5 of the k/255 pixel values, a quarter of the file.
                text.push_str(&format!(",{}", (v * 1e4).round() / 1e4));
            }
            text.push('\n');
        }
        let path = std::path::Path::new(&out).join(format!("{split}.csv.gz"));
        blitz::layers::output::atomic_write(&path, |f| {
            let mut z = flate2::write::GzEncoder::new(f, flate2::Compression::default());
            z.write_all(text.as_bytes())?;
            z.finish().map(|_| ())
        })?;
        println!("{}: {} images", path.display(), m.len());
    }
    Ok(())
}
