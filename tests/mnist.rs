//! The MNIST examples' models and training loop on a small subset (so that
//! CI stays fast, in debug builds too): both must learn well above chance,
//! and the evaluation must report sane numbers.

use blitz::layers::classification::{bayesian_lenet, blundell_mlp, evaluate, train, ClassifierConfig};
use blitz::layers::data::idx::Mnist;
use blitz::layers::Sequential;
use rand::rngs::StdRng;
use rand::SeedableRng;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data/mnist10k");

fn check_learns(model: &Sequential, config: ClassifierConfig, train_images: usize, min_acc: f32) {
    let train_set = Mnist::load(DATA, "train").unwrap().truncate(train_images);
    let test_set = Mnist::load(DATA, "test").unwrap().truncate(300);
    let mut epochs = Vec::new();
    let (steps, ms) = train(model, &train_set, &config, |p| epochs.push(p.clone())).unwrap();
    assert!(steps > 0 && ms > 0.0);
    assert!(epochs.iter().all(|p| p.nll.is_finite() && p.kl.is_finite()));
    let r = evaluate(model, &test_set, &config).unwrap();
    assert!(r.test_acc_mean_weights >= min_acc, "mean-weight accuracy {} < {min_acc}", r.test_acc_mean_weights);
    assert!(r.test_acc_predictive >= min_acc, "predictive accuracy {} < {min_acc}", r.test_acc_predictive);
    assert!((0.0..=1.0).contains(&r.ece));
    for h in [r.entropy_test, r.entropy_noise, r.entropy_rotated] {
        assert!(h.is_finite() && (0.0..=10f32.ln() + 1e-4).contains(&h), "entropy {h}");
    }
}

#[test]
fn lenet_learns_on_a_subset() {
    let config = ClassifierConfig {
        epochs: 3,
        batch_size: 32,
        sample_nbr: 1,
        lr: 3e-3,
        eval_draws: 2,
        eval_batch: 150,
        ..ClassifierConfig::default()
    };
    check_learns(&bayesian_lenet(&mut StdRng::seed_from_u64(1)).unwrap(), config, 1024, 0.5);
}

#[test]
fn mlp_learns_on_a_subset() {
    let config =
        ClassifierConfig { epochs: 2, batch_size: 64, sample_nbr: 1, eval_draws: 2, ..ClassifierConfig::default() };
    check_learns(&blundell_mlp(&mut StdRng::seed_from_u64(2)).unwrap(), config, 1024, 0.7);
}
