//! The Boston example's path, shortened: a few epochs must already beat a
//! constant predictor (test RMSE ≈ 9 k$) by far, deterministically.

use blitz::prelude::*;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data/boston_house_prices.csv");

fn data() -> (Dataset, Dataset) {
    let d = read_delimited(DATA, &ReadOptions::default().with_target(ColumnRef::name("MEDV"))).unwrap();
    Split::EveryKth(4).apply(&d).unwrap()
}

#[test]
fn boston_split_is_the_documented_one() {
    let (train, test) = data();
    assert_eq!((train.rows(), test.rows(), train.x.cols), (379, 127, 13));
    assert_eq!(test.values().unwrap().data[0], 24.0, "row 0 is in the test set");
    assert_eq!(train.feature_names[0], "CRIM");
    assert_eq!(train.target_names, ["MEDV"]);
}

#[test]
fn short_boston_run_learns_and_is_deterministic() {
    let (train, test) = data();
    let (x, y) = (train.x.to_tensor().unwrap(), train.values().unwrap().to_tensor().unwrap());
    let (xt, yt) = (test.x.to_tensor().unwrap(), test.values().unwrap().to_tensor().unwrap());
    let run = || {
        let model = Regressor::new(MlpSpec::new(13, vec![50], 1).build(0).unwrap(), 1)
            .unwrap()
            .standardized_on(&x, &y)
            .unwrap();
        let mut epochs = 0;
        let config = TrainConfig { epochs: 15, batch_size: 16, ..TrainConfig::default() };
        model.fit(&x, &y, &config, |_| epochs += 1).unwrap();
        assert_eq!(epochs, 15);
        (model.evaluate(&xt, &yt, 20, 0).unwrap(), model.predict(&xt, 20, 0).unwrap())
    };
    let (a, pa) = run();
    assert!(a.rmse < 6.5, "test RMSE {} k$", a.rmse);
    assert!(a.loglik.is_finite() && (0.0..=1.0).contains(&a.coverage_2sd));
    for i in 0..pa.mean.len() {
        let total = (pa.epistemic_std[i].powi(2) + pa.aleatoric_std[i].powi(2)).sqrt();
        assert!((pa.std[i] - total).abs() <= 1e-4 * total, "std splits into epistemic and aleatoric");
        assert!((pa.upper_2sd[i] - pa.mean[i] - 2.0 * pa.std[i]).abs() < 1e-3);
    }
    let (b, pb) = run();
    assert_eq!((a, pa.mean), (b, pb.mean), "same seed, same predictions");
}
