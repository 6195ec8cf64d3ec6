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

use blitz::prelude::*;

fn main() {
    let defaults =
        TrainConfig { epochs: 5, batch_size: 128, sample_nbr: 1, lr: 1e-3, lr_final: 1e-3, ..TrainConfig::default() };
    mnist_cli::main(
        "mnist_mlp",
        defaults,
        "Bayesian MLP 784-400-400-10, mixture prior (0.5, 1, e^-6)",
        mnist_cli::mnist_models::blundell_mlp,
    )
}
