//! The MNIST examples' models through the general classifier on a small
//! subset (so that CI stays fast, in debug builds too): both must learn well
//! above chance, and the evaluation must report sane numbers. The shipped
//! files are gzipped: the light build (no `gzip`) has none of this.
#![cfg(feature = "gzip")]

#[path = "../examples/common/mnist_models.rs"]
mod mnist_models;

use blitz::layers::data::idx::Mnist;
use blitz::prelude::*;
use mnist_models::{bayesian_lenet, blundell_mlp, digit_names, out_of_distribution};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data/mnist10k");

fn images(m: &Mnist) -> Tensor {
    Tensor::from_vec(m.images.clone(), &[m.len(), 1, 28, 28]).unwrap()
}

fn check_learns(net: Sequential, config: TrainConfig, train_images: usize, min_acc: f32) {
    let train_set = Mnist::load(DATA, "train").unwrap().truncate(train_images);
    let test_set = Mnist::load(DATA, "test").unwrap().truncate(300);
    let model = Classifier::new(net, digit_names()).unwrap();
    let mut epochs = Vec::new();
    let s = model.fit(&images(&train_set), &train_set.labels, &config, |p| epochs.push(*p)).unwrap();
    assert!(s.steps > 0 && s.ms_per_step > 0.0);
    assert!(epochs.iter().all(|p| p.nll.is_finite() && p.kl.is_finite()));
    let r = model.evaluate(&images(&test_set), &test_set.labels, 2, 0).unwrap();
    assert!(r.accuracy >= min_acc, "predictive accuracy {} < {min_acc}", r.accuracy);
    assert!((0.0..=1.0).contains(&r.ece) && (0.0..=2.0).contains(&r.brier) && r.nll > 0.0);
    let (noise, rotated) = out_of_distribution(&test_set.images, 50, 1);
    for x in [noise, rotated] {
        let p = model.predict(&Tensor::from_vec(x, &[50, 1, 28, 28]).unwrap(), 2, 0).unwrap();
        for (h, mi) in p.entropy.iter().zip(&p.mutual_information) {
            assert!(h.is_finite() && (0.0..=10f32.ln() + 1e-4).contains(h), "entropy {h}");
            assert!((0.0..=h + 1e-4).contains(mi), "mutual information {mi} within [0, entropy {h}]");
        }
    }
}

#[test]
fn lenet_learns_on_a_subset() {
    let config =
        TrainConfig { epochs: 3, batch_size: 32, sample_nbr: 1, lr: 3e-3, lr_final: 3e-3, ..TrainConfig::default() };
    check_learns(bayesian_lenet(&mut StdRng::seed_from_u64(1)).unwrap(), config, 1024, 0.5);
}

#[test]
fn mlp_learns_on_a_subset() {
    let config =
        TrainConfig { epochs: 2, batch_size: 64, sample_nbr: 1, lr: 1e-3, lr_final: 1e-3, ..TrainConfig::default() };
    check_learns(blundell_mlp(&mut StdRng::seed_from_u64(2)).unwrap(), config, 1024, 0.7);
}
