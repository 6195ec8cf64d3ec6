//! Blundell et al.'s Bayesian MLP on MNIST (the shipped 8000/2000 subset):
//! BayesianLinear 784-400-400-10 with ReLU and the paper's scale-mixture
//! prior (pi 0.5, sigma1 = e^0, sigma2 = e^-6), batch 128, `sample_nbr` 1,
//! Adam 1e-3, loss = mean cross-entropy + KL / N_train. Same report as `mnist_lenet`.
//!
//! ```text
//! cargo run --release --example mnist_mlp [-- --epochs N --limit N --seed S --json --device cpu|cuda]
//! ```

#[path = "common/mnist_cli.rs"]
mod mnist_cli;

use blitz::layers::classification::{blundell_mlp, ClassifierConfig};
use blitz::prelude::*;

fn main() -> Result<()> {
    let defaults = ClassifierConfig { epochs: 5, batch_size: 128, sample_nbr: 1, ..ClassifierConfig::default() };
    mnist_cli::run("mnist_mlp", defaults, "Bayesian MLP 784-400-400-10, mixture prior (0.5, 1, e^-6)", blundell_mlp)
}
