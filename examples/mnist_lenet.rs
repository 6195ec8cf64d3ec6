//! BLiTZ's Bayesian LeNet on MNIST (the shipped 8000/2000 subset), and what
//! a Bayesian network adds: its predictive entropy and mutual information
//! are higher on images it has never seen the like of (pure noise, rotated
//! digits) than on test digits.
//!
//! ```text
//! cargo run --release --example mnist_lenet [-- --epochs N --limit N --seed S --json --device cpu|cuda]
//! ```
//!
//! Standardised pixels, conv 1→6 5x5, ReLU, max-pool 2, conv 6→16 5x5, ReLU,
//! max-pool 2, then BayesianLinear 256-120-84-10 with ReLU; BLiTZ's layer
//! defaults except an N(0, 1) prior (BLiTZ's N(0, 0.1) underfits under
//! KL / N_train: see `bayesian_lenet`); Adam 1e-3, batch 64, `sample_nbr` 3,
//! loss = mean cross-entropy + KL / N_train.

#[path = "common/mnist_cli.rs"]
mod mnist_cli;

use blitz::prelude::*;

fn main() {
    let defaults =
        TrainConfig { epochs: 3, batch_size: 64, sample_nbr: 3, lr: 1e-3, lr_final: 1e-3, ..TrainConfig::default() };
    mnist_cli::main(
        "mnist_lenet",
        defaults,
        "Bayesian LeNet (standardised pixels, N(0, 1) prior)",
        mnist_cli::mnist_models::bayesian_lenet,
    )
}
