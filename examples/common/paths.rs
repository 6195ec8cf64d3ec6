#![allow(dead_code)] // each example uses some of these
//! Where the examples find the shipped data.

/// The shipped Boston housing table (506 rows, target `MEDV`).
pub const BOSTON_CSV: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data/boston_house_prices.csv");

/// The shipped MNIST digits (8000 training, 2000 test).
pub const MNIST_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data/mnist10k");

/// The shipped data folder, found from the build's source tree or the working directory.
pub fn default_data_dir() -> String {
    let built = concat!(env!("CARGO_MANIFEST_DIR"), "/data");
    if std::path::Path::new(built).is_dir() {
        built.into()
    } else {
        "data".into()
    }
}
