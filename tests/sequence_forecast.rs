//! The sequence_forecast example, shortened: a few epochs of the Bayesian
//! LSTM already forecast far better than the series' spread, deterministically.

#[path = "../examples/sequence_forecast.rs"]
mod sequence_forecast;

#[test]
fn short_forecast_run_learns_and_is_deterministic() {
    let a = sequence_forecast::train(8, 0, false, blitz::prelude::Device::Cpu).unwrap();
    let sd = {
        let s = &a.series;
        let m = s.iter().sum::<f32>() / s.len() as f32;
        (s.iter().map(|v| (v - m).powi(2)).sum::<f32>() / s.len() as f32).sqrt()
    };
    assert!(a.test_rmse < 0.5 * sd, "held-out RMSE {} vs series sd {sd}", a.test_rmse);
    assert!((0.0..=1.0).contains(&a.coverage_2sd) && a.std.iter().all(|s| *s > 0.0));
    let b = sequence_forecast::train(8, 0, false, blitz::prelude::Device::Cpu).unwrap();
    assert_eq!(a.mean, b.mean, "same seed, same forecast");
}
