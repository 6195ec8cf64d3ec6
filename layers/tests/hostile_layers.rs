//! Hostile sizes and hyperparameters for the layer constructors: sizes whose
//! parameters overflow `usize` or cannot fit in memory, and prior scales so
//! small that the KL would be infinite, end in a typed error naming what was
//! wrong, never in a capacity-overflow panic or an abort.

use blitz_kernels::{Error, PriorSpec};
use blitz_layers::*;
use std::sync::Arc;

fn rng() -> rand::rngs::StdRng {
    rand::SeedableRng::seed_from_u64(0)
}

fn refused<T>(r: Result<T, Error>) -> Error {
    match r {
        Ok(_) => panic!("accepted"),
        Err(e) => e,
    }
}

fn is_size_error(e: &Error) -> bool {
    matches!(e, Error::ShapeOverflow { .. } | Error::TooLarge { .. })
}

#[test]
fn huge_linear_layers_are_refused_before_allocating() {
    let e = refused(BayesianLinear::new(1 << 32, 1 << 32, &mut rng()));
    assert!(matches!(e, Error::ShapeOverflow { .. }), "{e}");
    let e = refused(BayesianLinear::new(1 << 20, 1 << 20, &mut rng()));
    assert!(matches!(e, Error::TooLarge { .. }), "{e}");
    assert!(e.to_string().contains("BayesianLinear(1048576 -> 1048576)"), "{e}");
    let e = refused(Linear::new(usize::MAX, 2, true, &mut rng()));
    assert!(is_size_error(&e), "{e}");
    let e = refused(Linear::new(1 << 20, 1 << 20, true, &mut rng()));
    assert!(matches!(e, Error::TooLarge { .. }) && e.to_string().contains("Linear(1048576 -> 1048576)"), "{e}");
}

#[test]
fn huge_conv_embedding_and_recurrent_layers_are_refused() {
    let e = refused(Conv2d::new(1 << 31, 1 << 31, [1 << 20, 1 << 20], &mut rng()));
    assert!(is_size_error(&e), "{e}");
    let e = refused(BayesianConv2d::new(1 << 16, 1 << 16, [64, 64], &mut rng()));
    assert!(matches!(e, Error::TooLarge { .. }) && e.to_string().contains("BayesianConv"), "{e}");
    let e = refused(Embedding::new(1 << 40, 1 << 40, None, &mut rng()));
    assert!(is_size_error(&e), "{e}");
    let e = refused(BayesianEmbedding::new(1 << 30, 1 << 10, None, &mut rng()));
    assert!(matches!(e, Error::TooLarge { .. }) && e.to_string().contains("BayesianEmbedding"), "{e}");
    // 4·hidden wraps for hidden = 2^62.
    let e = refused(LSTM::new(2, 1 << 62, true, &mut rng()));
    assert!(is_size_error(&e), "{e}");
    let e = refused(BayesianLSTM::new(1 << 20, 1 << 20, &mut rng()));
    assert!(is_size_error(&e), "{e}");
    let e = refused(GRU::new(2, usize::MAX / 2, true, &mut rng()));
    assert!(is_size_error(&e), "{e}");
    let e = refused(BayesianGRU::new(1 << 18, 1 << 18, &mut rng()));
    assert!(is_size_error(&e), "{e}");
    // Ordinary sizes still build.
    assert!(BayesianLinear::new(13, 50, &mut rng()).is_ok());
    assert!(LSTM::new(4, 8, true, &mut rng()).is_ok());
}

#[test]
fn tiny_or_subnormal_prior_scales_are_refused_by_name() {
    for s in [1e-45f32, 1e-40, f32::MIN_POSITIVE, 1e-30, 1e-20, 0.0, -1.0, f32::NAN, f32::INFINITY] {
        let e = refused(Gaussian::new(s));
        assert!(matches!(&e, Error::InvalidArgument { .. }) && e.to_string().contains("sigma"), "{s}: {e}");
        assert!(refused(ScaleMixture::new(0.5, s, 0.1)).to_string().contains("prior_sigma_1"));
        assert!(refused(ScaleMixture::new(0.5, 0.1, s)).to_string().contains("prior_sigma_2"));
        assert!(refused(Laplace::new(s)).to_string().contains("scale"));
        assert!(refused(StudentT::new(1.0, s)).to_string().contains("scale"));
        assert!(refused(StudentT::new(s, 1.0)).to_string().contains("nu"));
        assert!(!PriorSpec::Gaussian { sigma: s }.is_valid());
        assert!(!PriorSpec::ScaleMixture { pi: 0.5, sigma1: 0.1, sigma2: s }.is_valid());
    }
    assert!(Gaussian::new(1e-18).is_ok() && Gaussian::new(f32::MAX).is_ok());
    assert!(PriorSpec::Gaussian { sigma: blitz_kernels::types::MIN_SIGMA }.is_valid());
}

#[test]
fn the_kl_at_the_smallest_accepted_sigma_is_finite() {
    use blitz_autograd::Tape;
    let s = blitz_kernels::types::MIN_SIGMA;
    let options = BayesianLinearOptions { prior: Some(Arc::new(Gaussian::new(s).unwrap())), ..Default::default() };
    let layer = BayesianLinear::with_options(3, 2, options, &mut rng()).unwrap();
    let tape = Tape::new(7);
    let x = tape.constant(blitz_autograd::Tensor::from_vec(vec![0.5; 6], &[2, 3]).unwrap());
    layer.forward(&x).unwrap();
    let kl = tape.complexity().unwrap().item().unwrap();
    assert!(kl.is_finite(), "KL {kl} at sigma {s}");
}
