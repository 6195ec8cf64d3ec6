#![allow(dead_code)] // each example uses some of these
//! The MNIST examples' models and MNIST's pixel statistics (shared by the
//! examples and `tests/mnist.rs`).

use blitz::prelude::*;

/// Mean pixel value of MNIST training digits scaled to [0, 1].
pub const MNIST_MEAN: f32 = 0.1307;
/// Their standard deviation.
pub const MNIST_STD: f32 = 0.3081;

/// The standard deviation of [`bayesian_lenet`]'s Gaussian prior on every weight.
pub const LENET_PRIOR_SIGMA: f32 = 1.0;

/// BLiTZ's Bayesian LeNet for `[N, 1, 28, 28]` digits in [0, 1]: pixels
/// standardised, conv 1→6 5x5, ReLU, max-pool 2, conv 6→16 5x5, ReLU,
/// max-pool 2, BayesianLinear 256-120-84-10 with ReLU; BLiTZ's layer defaults
/// except the prior, N(0, [`LENET_PRIOR_SIGMA`]²). Parameter prefixes `conv1`,
/// `conv2`, `fc1`, `fc2`, `fc3` (the standardisation is child `0`).
pub fn bayesian_lenet(rng: &mut StdRng) -> Result<Sequential> {
    let kl = KlMode::MonteCarlo;
    // BLiTZ's default prior N(0, 0.1²), under KL / N_train with N = 8000, pulls
    // every weight to 0 like an L2 penalty of 1/(0.1²·8000) = 0.0125 — some 25
    // times a usual weight decay — and underfits in 375 steps (test accuracy
    // 0.936–0.951 over seeds 0–2, ECE 0.020–0.027). N(0, 1) gives 0.946–0.954
    // and ECE ≈ 0.01.
    let ps = LENET_PRIOR_SIGMA;
    let conv = |i, o, rng: &mut StdRng| {
        BayesianConv2d::with_options(
            i,
            o,
            (5, 5),
            ConvParams::default(),
            BayesianConvOptions { prior_sigma_1: ps, ..BayesianConvOptions::for_rank(2).with_kl(kl) },
            rng,
        )
    };
    let lin = |i, o, rng: &mut StdRng| {
        BayesianLinear::with_options(i, o, BayesianLinearOptions { kl, prior_sigma_1: ps, ..Default::default() }, rng)
    };
    // Standardised pixels train faster than BLiTZ's raw [0, 1] in the 375
    // steps of 3 epochs: ECE 0.027 instead of 0.033 at the same accuracy.
    Ok(Sequential::new()
        .push(Standardize::new(MNIST_MEAN, MNIST_STD)?)
        .push_named("conv1", conv(1, 6, rng)?)
        .push(ReLU)
        .push(MaxPool2d::new(2))
        .push_named("conv2", conv(6, 16, rng)?)
        .push(ReLU)
        .push(MaxPool2d::new(2))
        .push(Flatten)
        .push_named("fc1", lin(256, 120, rng)?)
        .push(ReLU)
        .push_named("fc2", lin(120, 84, rng)?)
        .push(ReLU)
        .push_named("fc3", lin(84, 10, rng)?))
}

/// Blundell et al.'s MLP: flatten, BayesianLinear 784-400-400-10 with ReLU
/// and the scale-mixture prior pi 0.5, sigma1 = e^0, sigma2 = e^-6.
/// Parameter prefixes `l1`, `l2`, `l3`.
pub fn blundell_mlp(rng: &mut StdRng) -> Result<Sequential> {
    let o = BayesianLinearOptions {
        prior_pi: 0.5,
        prior_sigma_1: 1.0,
        prior_sigma_2: (-6.0f32).exp(),
        ..BayesianLinearOptions::default()
    };
    Ok(Sequential::new()
        .push(Flatten)
        .push_named("l1", BayesianLinear::with_options(784, 400, o.clone(), rng)?)
        .push(ReLU)
        .push_named("l2", BayesianLinear::with_options(400, 400, o.clone(), rng)?)
        .push(ReLU)
        .push_named("l3", BayesianLinear::with_options(400, 10, o, rng)?))
}

/// The digit classes' names, "0" to "9".
pub fn digit_names() -> Vec<String> {
    (0..10).map(|d| d.to_string()).collect()
}

/// `k` images of uniform noise in [0, 1] and the first `k` test images
/// rotated by 90°: inputs unlike the training digits.
pub fn out_of_distribution(test_images: &[f32], k: usize, seed: u64) -> (Vec<f32>, Vec<f32>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let noise: Vec<f32> = (0..k * 784).map(|_| rng.random::<f32>()).collect();
    // Rotation by 90°: pixel (r, c) of the new image is (c, 27 − r) of the old.
    let rotated = test_images[..k * 784]
        .chunks(784)
        .flat_map(|img| (0..784).map(move |i| img[(i % 28) * 28 + 27 - i / 28]))
        .collect();
    (noise, rotated)
}
