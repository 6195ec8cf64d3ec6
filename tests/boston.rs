//! The Boston example, shortened: a few epochs must already beat a constant
//! predictor (test RMSE ≈ 9 k$) by far, deterministically.

use blitz::layers::data::load_csv;
use blitz::layers::regression::{train, RegressionConfig, RegressionData};

fn data() -> RegressionData {
    let table = load_csv(concat!(env!("CARGO_MANIFEST_DIR"), "/data/boston_house_prices.csv"), 2).unwrap();
    RegressionData::boston(&table).unwrap()
}

#[test]
fn boston_split_is_the_documented_one() {
    let d = data();
    assert_eq!((d.x_train.rows, d.x_test.rows, d.x_train.cols), (379, 127, 13));
    assert_eq!(d.y_test[0], 24.0, "row 0 is in the test set");
}

#[test]
fn short_boston_run_learns_and_is_deterministic() {
    let config = RegressionConfig { epochs: 15, eval_samples: 20, log_every: 5, ..RegressionConfig::default() };
    let d = data();
    let mut progress = 0;
    let (_, a) = train(&d, &config, |_| progress += 1).unwrap();
    assert_eq!(progress, 3);
    assert!(a.test_rmse < 6.5, "test RMSE {} k$", a.test_rmse);
    assert!(a.test_loglik.is_finite() && (0.0..=1.0).contains(&a.coverage_2sd));
    let (_, b) = train(&d, &config, |_| ()).unwrap();
    assert_eq!(a.mean, b.mean, "same seed, same predictions");
}
