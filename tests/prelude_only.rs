//! Programs written against `blitz::prelude` alone, as a new user would:
//! small images that are not MNIST through the general classifier (with
//! mutual information in the report), a regression on a file read with the
//! delimited reader, and the softmax layer's gradient.

use blitz::prelude::*;

/// `n` 8x8 images of three kinds (a horizontal bar, a vertical bar, a
/// diagonal), at random positions, with noise.
fn bars(n: usize, seed: u64) -> (Tensor, Vec<usize>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut px = vec![0f32; n * 64];
    let mut labels = Vec::with_capacity(n);
    for (i, img) in px.chunks_mut(64).enumerate() {
        let class = i % 3;
        let at = rng.random_range(1..7usize);
        for k in 0..8 {
            let (r, c) = match class {
                0 => (at, k),
                1 => (k, at),
                _ => (k, k),
            };
            img[r * 8 + c] = 1.0;
        }
        for v in img.iter_mut() {
            *v += 0.2 * (rng.random::<f32>() - 0.5);
        }
        labels.push(class);
    }
    (Tensor::from_vec(px, &[n, 1, 8, 8]).unwrap(), labels)
}

#[test]
fn small_images_that_are_not_mnist_through_the_general_classifier() -> Result<()> {
    let mut rng = StdRng::seed_from_u64(0);
    // BLiTZ's default prior N(0, 0.1²) is too tight for 240 examples under KL / N.
    let conv = BayesianConvOptions { prior_sigma_1: 1.0, ..BayesianConvOptions::for_rank(2) };
    let linear = BayesianLinearOptions { prior_sigma_1: 1.0, ..BayesianLinearOptions::default() };
    let net = Sequential::new()
        .push(BayesianConv2d::with_options(1, 4, (3, 3), ConvParams::default(), conv, &mut rng)?)
        .push(ReLU)
        .push(MaxPool2d::new(2))
        .push(Flatten)
        .push(BayesianLinear::with_options(4 * 3 * 3, 3, linear, &mut rng)?);
    let names = vec!["horizontal".to_string(), "vertical".into(), "diagonal".into()];
    let model = Classifier::new(net, names)?;
    let (x, labels) = bars(240, 1);
    let config = TrainConfig { epochs: 30, batch_size: 24, lr: 1e-2, lr_final: 1e-3, ..TrainConfig::default() };
    model.fit(&x, &labels, &config, |_| ())?;
    let (xt, lt) = bars(90, 2);
    let m = model.evaluate(&xt, &lt, 20, 0)?;
    assert!(m.accuracy >= 0.9, "accuracy {}", m.accuracy);
    assert!(
        m.mean_mi >= 0.0 && m.mean_mi <= m.mean_entropy + 1e-6,
        "MI {} within entropy {}",
        m.mean_mi,
        m.mean_entropy
    );
    assert!(m.nll.is_finite() && (0.0..=1.0).contains(&m.ece));
    // Noise images: the draws disagree more there than on the test bars.
    let noise = Tensor::rand_uniform(&[90, 1, 8, 8], 0.0, 1.0, &mut rng)?;
    let p = model.predict(&noise, 20, 0)?;
    let mi_noise = p.mutual_information.iter().sum::<f32>() / 90.0;
    assert!(mi_noise > m.mean_mi, "MI on noise {mi_noise} vs test {}", m.mean_mi);
    assert_eq!(p.draws.len(), 20);
    assert_eq!(p.probs.len(), 90 * 3);
    // Wrong-sized inputs are refused with a shape error, not a panic.
    assert!(matches!(
        model.predict(&Tensor::zeros(&[2, 1, 5, 5]).unwrap(), 2, 0),
        Err(Error::InvalidShape { .. } | Error::ShapeMismatch { .. })
    ));
    Ok(())
}

#[test]
fn regression_from_a_delimited_file() -> Result<()> {
    let path = std::env::temp_dir().join(format!("blitz-prelude-{}.tsv", std::process::id()));
    let mut text = String::from("x1\ty\tx2\n");
    for i in 0..200 {
        let (a, b) = ((i % 17) as f32 / 17.0, (i % 11) as f32 / 11.0);
        text.push_str(&format!("{a}\t{}\t{b}\n", 3.0 * a - 2.0 * b + 0.05 * ((i * 7 % 13) as f32 / 13.0 - 0.5)));
    }
    std::fs::write(&path, text).map_err(|e| Error::Io { path: path.display().to_string(), message: e.to_string() })?;
    let data = read_delimited(&path, &ReadOptions::default().with_target(ColumnRef::name("y")))?;
    let (train, test) = Split::Fraction { test: 0.25, seed: 1 }.apply(&data)?;
    let (x, y) = (train.x.to_tensor()?, train.values()?.to_tensor()?);
    let model = Regressor::new(MlpSpec::new(2, vec![16], 1).build(0)?, 1)?.standardized_on(&x, &y)?;
    model.fit(&x, &y, &TrainConfig { epochs: 60, batch_size: 16, ..TrainConfig::default() }, |_| ())?;
    let m = model.evaluate(&test.x.to_tensor()?, &test.values()?.to_tensor()?, 50, 0)?;
    assert!(m.rmse < 0.3, "rmse {}", m.rmse);
    std::fs::remove_file(&path).ok();
    Ok(())
}

#[test]
fn softmax_layer_has_a_checked_gradient() -> Result<()> {
    use blitz::autograd::gradcheck::{gradcheck, GradcheckOptions};
    let x = Tensor::randn(&[3, 4], 0.0, 1.0, &mut StdRng::seed_from_u64(3))?;
    let w = Tensor::randn(&[3, 4], 0.0, 1.0, &mut StdRng::seed_from_u64(4))?;
    // A weighted sum of the probabilities, so every output's gradient counts.
    gradcheck(&[x.clone(), w], |v| Softmax.forward(&v[0])?.mul(&v[1])?.sum(), GradcheckOptions::default())?;
    gradcheck(std::slice::from_ref(&x), |v| LogSoftmax.forward(&v[0])?.sum(), GradcheckOptions::default())?;
    let tape = Tape::predict(0);
    let p = Softmax.forward(&tape.constant(x.clone()))?.value().to_vec()?;
    assert_eq!(p, x.softmax(&tape.context())?.to_vec()?, "the layer and Tensor::softmax agree");
    for row in p.chunks(4) {
        assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-6);
    }
    Ok(())
}
