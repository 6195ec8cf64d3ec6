//! LSTM, GRU and embedding: gradient checks through several time steps,
//! frozen Bayesian layers equal to their deterministic counterparts, bias=false,
//! BLiTZ's defaults and typed errors.

use blitz_autograd::gradcheck::{gradcheck, GradcheckOptions};
use blitz_autograd::{Error, Param, Tape, Tensor, Var};
use blitz_layers::embedding::embedding_lookup;
use blitz_layers::gru::gru_sequence;
use blitz_layers::lstm::lstm_sequence;
use blitz_layers::{
    BayesianEmbedding, BayesianGRU, BayesianLSTM, BayesianRecurrentOptions, Embedding, Estimator, Module,
    VariationalEstimator, GRU, LSTM,
};
use rand::rngs::StdRng;
use rand::SeedableRng;

fn randn(shape: &[usize], std: f32, seed: u64) -> Tensor {
    Tensor::randn(shape, 0.0, std, &mut StdRng::seed_from_u64(seed)).unwrap()
}

const B: usize = 2;
const T: usize = 4;
const I: usize = 3;
const H: usize = 2;

#[test]
fn gradcheck_lstm_through_time() {
    for peephole in [false, true] {
        let inputs = [
            randn(&[B, T, I], 1.0, 1),
            randn(&[I, 4 * H], 0.5, 2),
            randn(&[H, 4 * H], 0.5, 3),
            randn(&[4 * H], 0.5, 4),
            randn(&[B, H], 0.5, 5),
            randn(&[B, H], 0.5, 6),
        ];
        gradcheck(
            &inputs,
            |v| {
                let (seq, (h, c)) = lstm_sequence(&v[0], &v[1], &v[2], Some(&v[3]), Some((&v[4], &v[5])), peephole)?;
                // Every output: the sequence and the final cell state.
                Var::concat(&[&seq.reshape(&[B * T * H])?, &h.reshape(&[B * H])?, &c.reshape(&[B * H])?], 0)
            },
            GradcheckOptions::default(),
        )
        .unwrap_or_else(|e| panic!("peephole {peephole}: {e}"));
    }
}

#[test]
fn gradcheck_gru_through_time() {
    let inputs = [
        randn(&[B, T, I], 1.0, 11),
        randn(&[I, 3 * H], 0.5, 12),
        randn(&[H, 3 * H], 0.5, 13),
        randn(&[3 * H], 0.5, 14),
        randn(&[B, H], 0.5, 15),
    ];
    gradcheck(
        &inputs,
        |v| Ok(gru_sequence(&v[0], &v[1], &v[2], Some(&v[3]), Some(&v[4]))?.0),
        GradcheckOptions::default(),
    )
    .unwrap();
    // Without bias.
    gradcheck(&inputs[..3], |v| Ok(gru_sequence(&v[0], &v[1], &v[2], None, None)?.0), GradcheckOptions::default())
        .unwrap();
}

#[test]
fn gradcheck_embedding_into_lstm() {
    // Indices with repeats and the padding row, embedded, then run through time.
    let idx = [0usize, 2, 1, 2, 3, 0, 2, 1];
    let inputs = [randn(&[4, I], 1.0, 21), randn(&[I, 4 * H], 0.5, 22), randn(&[H, 4 * H], 0.5, 23)];
    gradcheck(
        &inputs,
        |v| {
            let e = embedding_lookup(&v[0], &idx, Some(3))?.reshape(&[B, T, I])?;
            Ok(lstm_sequence(&e, &v[1], &v[2], None, None, false)?.0)
        },
        GradcheckOptions::default(),
    )
    .unwrap();
}

#[test]
fn padding_row_is_zero_and_gets_no_gradient() {
    let tape = Tape::new(0);
    let w = tape.leaf(randn(&[4, 3], 1.0, 31));
    let e = embedding_lookup(&w, &[3, 1, 3], Some(3)).unwrap();
    let v = e.value().to_vec().unwrap();
    assert!(v[..3].iter().chain(&v[6..]).all(|&x| x == 0.0));
    let g = tape.backward(&e.sum().unwrap()).unwrap();
    let gw = g.wrt(&w).unwrap().to_vec().unwrap();
    assert_eq!(&gw[9..], &[0.0; 3], "padding row");
    assert_eq!(&gw[3..6], &[1.0; 3]);
}

fn copy(dst: &Param, src: &Param) {
    dst.set(src.value()).unwrap();
}

fn seq_input(seed: u64) -> Tensor {
    randn(&[B, T, I], 1.0, seed)
}

#[test]
fn frozen_bayesian_lstm_equals_lstm() {
    for (bias, peephole) in [(true, false), (false, false), (true, true)] {
        let mut rng = StdRng::seed_from_u64(7);
        let mut o = BayesianRecurrentOptions { bias, peephole, ..Default::default() };
        o.posterior_mu_init = 0.0;
        let b = BayesianLSTM::with_options(I, H, o, &mut rng).unwrap();
        let d = LSTM::new(I, H, bias, &mut rng).unwrap().with_peephole(peephole);
        let ((wi, _), (wh, _), bb) = b.weights();
        let (di, dh, db) = d.weights();
        copy(di, wi);
        copy(dh, wh);
        assert_eq!(bb.is_some(), db.is_some());
        if let (Some((m, _)), Some(p)) = (bb, db) {
            copy(p, m);
        }
        b.freeze();
        let tape = Tape::new(1);
        let x = tape.constant(seq_input(8));
        let h0 = tape.constant(randn(&[B, H], 0.3, 9));
        let c0 = tape.constant(randn(&[B, H], 0.3, 10));
        let (ys, (hs, cs)) = b.forward_with_state(&x, Some((&h0, &c0))).unwrap();
        let (yd, (hd, cd)) = d.forward_with_state(&x, Some((&h0, &c0))).unwrap();
        assert_eq!(ys.shape(), &[B, T, H]);
        assert_eq!(ys.value().to_vec().unwrap(), yd.value().to_vec().unwrap());
        assert_eq!(hs.value().to_vec().unwrap(), hd.value().to_vec().unwrap());
        assert_eq!(cs.value().to_vec().unwrap(), cd.value().to_vec().unwrap());
        assert_eq!(tape.complexity().unwrap().item().unwrap(), 0.0, "frozen: no KL");
        // Unfrozen, the same computation samples: different output and a KL.
        b.unfreeze();
        let (yu, _) = b.forward_with_state(&x, Some((&h0, &c0))).unwrap();
        assert_ne!(yu.value().to_vec().unwrap(), yd.value().to_vec().unwrap());
        assert!(tape.complexity().unwrap().item().unwrap().is_finite());
    }
}

#[test]
fn frozen_bayesian_gru_equals_gru() {
    for bias in [true, false] {
        let mut rng = StdRng::seed_from_u64(17);
        let o = BayesianRecurrentOptions { bias, ..Default::default() };
        let b = BayesianGRU::with_options(I, H, o, &mut rng).unwrap();
        let d = GRU::new(I, H, bias, &mut rng).unwrap();
        let ((wi, _), (wh, _), bb) = b.weights();
        let (di, dh, db) = d.weights();
        copy(di, wi);
        copy(dh, wh);
        if let (Some((m, _)), Some(p)) = (bb, db) {
            copy(p, m);
        }
        b.freeze();
        let tape = Tape::new(1);
        let x = tape.constant(seq_input(18));
        let (ys, hs) = b.forward_with_state(&x, None).unwrap();
        let (yd, hd) = d.forward_with_state(&x, None).unwrap();
        assert_eq!(ys.value().to_vec().unwrap(), yd.value().to_vec().unwrap());
        assert_eq!(hs.value().to_vec().unwrap(), hd.value().to_vec().unwrap());
        // The last step of the sequence is the final state.
        let last = ys.slice(1, T - 1, 1).unwrap().value().to_vec().unwrap();
        assert_eq!(last, hs.value().to_vec().unwrap());
    }
}

#[test]
fn frozen_bayesian_embedding_equals_embedding() {
    let mut rng = StdRng::seed_from_u64(27);
    let b = BayesianEmbedding::new(5, 3, Some(0), &mut rng).unwrap();
    let d = Embedding::new(5, 3, Some(0), &mut rng).unwrap();
    copy(d.weight(), b.weight().0);
    b.freeze();
    let tape = Tape::new(0);
    let x = tape.constant(Tensor::from_vec(vec![0.0, 4.0, 2.0, 2.0, 1.0, 0.0], &[2, 3]).unwrap());
    let (yb, yd) = (b.forward(&x).unwrap(), d.forward(&x).unwrap());
    assert_eq!(yb.shape(), &[2, 3, 3]);
    assert_eq!(yb.value().to_vec().unwrap(), yd.value().to_vec().unwrap());
    // Bad indices are typed errors.
    for bad in [5.0, -1.0, 1.5, f32::NAN] {
        let x = tape.constant(Tensor::from_vec(vec![bad], &[1]).unwrap());
        assert!(matches!(b.forward(&x), Err(Error::IndexOutOfRange { .. } | Error::InvalidArgument { .. })));
    }
}

#[test]
fn blitz_defaults_and_names() {
    let o = BayesianRecurrentOptions::default();
    assert_eq!(
        (o.prior_sigma_1, o.prior_sigma_2, o.prior_pi, o.posterior_mu_init, o.posterior_rho_init),
        (0.1, 0.002, 1.0, 0.0, -6.0)
    );
    let mut rng = StdRng::seed_from_u64(0);
    let l = BayesianLSTM::new(3, 4, &mut rng).unwrap();
    let names: Vec<String> = blitz_layers::params(&l).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["weight_ih_mu", "weight_ih_rho", "weight_hh_mu", "weight_hh_rho", "bias_mu", "bias_rho"]);
    let ((wi, _), (wh, _), _) = l.weights();
    assert_eq!((wi.value().shape(), wh.value().shape()), (&[3, 16][..], &[4, 16][..]));
    let g = BayesianGRU::with_options(3, 4, BayesianRecurrentOptions::default().without_bias(), &mut rng).unwrap();
    assert_eq!(blitz_layers::params(&g).len(), 4);
    assert_eq!(g.weights().1 .0.value().shape(), &[4, 12]);
}

#[test]
fn bad_inputs_are_typed_errors() {
    let mut rng = StdRng::seed_from_u64(0);
    let l = BayesianLSTM::new(I, H, &mut rng).unwrap();
    let tape = Tape::new(0);
    assert!(matches!(l.forward(&tape.constant(randn(&[B, T, I + 1], 1.0, 0))), Err(Error::ShapeMismatch { .. })));
    assert!(matches!(l.forward(&tape.constant(randn(&[B, I], 1.0, 0))), Err(Error::InvalidShape { .. })));
    let x = tape.constant(seq_input(0));
    let bad = tape.constant(randn(&[B + 1, H], 1.0, 0));
    assert!(matches!(l.forward_with_state(&x, Some((&bad, &bad))), Err(Error::ShapeMismatch { .. })));
    for e in [Estimator::Flipout, Estimator::LocalReparameterisation] {
        let o = BayesianRecurrentOptions::default().with_estimator(e);
        assert!(matches!(BayesianGRU::with_options(I, H, o, &mut rng), Err(Error::InvalidArgument { .. })));
    }
    assert!(BayesianLSTM::new(0, H, &mut rng).is_err());
    assert!(BayesianEmbedding::new(3, 2, Some(3), &mut rng).is_err());
    let o = BayesianRecurrentOptions::default().with_peephole();
    assert!(matches!(BayesianGRU::with_options(I, H, o, &mut rng), Err(Error::InvalidArgument { .. })));
}

#[test]
fn radial_lstm_trains_a_step() {
    let mut rng = StdRng::seed_from_u64(0);
    let o = BayesianRecurrentOptions::default().with_estimator(Estimator::Radial).with_rho_init(-3.0);
    let l = BayesianLSTM::with_options(I, H, o, &mut rng).unwrap();
    let tape = Tape::new(3);
    let x = tape.constant(seq_input(1));
    let y = l.forward(&x).unwrap().square().unwrap().mean().unwrap();
    let loss = y.add(&tape.complexity().unwrap().mul_scalar(1e-3).unwrap()).unwrap();
    let g = tape.backward(&loss).unwrap();
    for (name, p) in blitz_layers::params(&l) {
        assert!(g.get(&p).unwrap().to_vec().unwrap().iter().all(|v| v.is_finite()), "{name}");
    }
    assert!(VariationalEstimator::moped(&l, 0.1).is_ok());
}
