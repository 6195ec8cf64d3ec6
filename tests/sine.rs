//! The sine example learns: an MLP 1-64-64-1 reaches test MSE < 0.01.

#[path = "../examples/sine.rs"]
mod sine;

#[test]
fn sine_mlp_reaches_test_mse_below_0_01() {
    let r = sine::train(150, 0, false, blitz::prelude::Device::Cpu).unwrap();
    assert!(r.test_mse < 0.01, "test MSE {}", r.test_mse);
}

#[test]
fn sine_training_is_bitwise_repeatable() {
    let (a, b) = (
        sine::train(3, 7, false, blitz::prelude::Device::Cpu).unwrap(),
        sine::train(3, 7, false, blitz::prelude::Device::Cpu).unwrap(),
    );
    assert_eq!(a.test_mse.to_bits(), b.test_mse.to_bits());
}
