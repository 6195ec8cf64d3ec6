//! One set of defaults for the library and the command (issue 27's list):
//! settings that would silently misbehave are refused by name, and the
//! figures of a prediction come without predicting twice.

use blitz_autograd::Tensor;
use blitz_layers::data::{parse_delimited, ColumnRef, ReadOptions};
use blitz_layers::mlp::MlpSpec;
use blitz_layers::regression::Regressor;
use blitz_layers::train::TrainConfig;

#[test]
fn a_learning_rate_floor_above_the_rate_is_refused() {
    let rising = TrainConfig { lr: 1e-4, ..TrainConfig::default() };
    let e = rising.validate().unwrap_err().to_string();
    assert!(e.contains("lr_final") && e.contains("would rise"), "{e}");
    let constant = TrainConfig { lr: 1e-4, lr_final: 1e-4, ..TrainConfig::default() };
    constant.validate().unwrap();
    assert_eq!(constant.lr_at(1), constant.lr_at(constant.epochs));
    TrainConfig::default().validate().unwrap();
}

#[test]
fn a_file_with_no_feature_columns_is_refused() {
    let text = "y\n1\n2\n3\n";
    let e = parse_delimited(text, &ReadOptions::default().with_target(ColumnRef::Index(0)), "one.csv").unwrap_err();
    let e = e.to_string();
    assert!(e.contains("one.csv") && e.contains("no feature columns"), "{e}");
    let ok = parse_delimited("x,y\n1,2\n3,4\n", &ReadOptions::default().with_target(ColumnRef::Index(1)), "two.csv");
    assert_eq!(ok.unwrap().feature_names, ["x"]);
}

#[test]
fn a_predictions_metrics_are_evaluates_figures() {
    let xs: Vec<f32> = (0..60).map(|i| ((i * 37 % 23) as f32) / 7.0).collect();
    let ys: Vec<f32> = xs.chunks(2).map(|r| r[0] - 2.0 * r[1]).collect();
    let (x, y) = (Tensor::from_vec(xs, &[30, 2]).unwrap(), Tensor::from_vec(ys.clone(), &[30, 1]).unwrap());
    let net = MlpSpec::new(2, vec![4], 1).build(1).unwrap();
    let model = Regressor::new(net, 1).unwrap().standardized_on(&x, &y).unwrap();
    let p = model.predict(&x, 20, 9).unwrap();
    assert_eq!(p.metrics(&ys).unwrap(), model.evaluate(&x, &y, 20, 9).unwrap());
    let e = p.metrics(&ys[..29]).unwrap_err().to_string();
    assert!(e.contains("RegressionPrediction::metrics"), "{e}");
}

#[test]
fn training_on_a_context_of_its_own_gives_the_same_bits() {
    use blitz_kernels::context::{Context, Threads};
    let xs: Vec<f32> = (0..120).map(|i| ((i * 37 % 23) as f32) / 7.0).collect();
    let ys: Vec<f32> = xs.chunks(2).map(|r| r[0] - 2.0 * r[1]).collect();
    let (x, y) = (Tensor::from_vec(xs, &[60, 2]).unwrap(), Tensor::from_vec(ys, &[60, 1]).unwrap());
    let train = |context: Context| {
        let net = MlpSpec::new(2, vec![8], 1).build(3).unwrap();
        let m = Regressor::new(net, 1).unwrap().standardized_on(&x, &y).unwrap();
        let config = TrainConfig { epochs: 3, batch_size: 8, context, ..TrainConfig::default() };
        m.fit(&x, &y, &config, &mut |_: &blitz_layers::train::Progress| {}).unwrap();
        m.predict(&x, 5, 1).unwrap().mean
    };
    let one = Context { threads: Threads::fixed(1).unwrap(), ..Context::default() };
    let bits = |v: Vec<f32>| v.into_iter().map(f32::to_bits).collect::<Vec<_>>();
    assert_eq!(bits(train(Context::default())), bits(train(one)));
}
