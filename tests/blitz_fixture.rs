//! Interop with PyTorch + BLiTZ 0.2.8: a 4-8-2 BayesianLinear network trained
//! by BLiTZ (`scripts/make_blitz_fixture.py`) loads by name and its frozen
//! forward reproduces BLiTZ's outputs.

use blitz::layers::{load_module, BayesianLinear, Checkpoint, Module, ReLU, Sequential, VariationalEstimator};
use blitz_autograd::{Param, Tape, Tensor};
use rand::rngs::StdRng;
use rand::SeedableRng;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

/// The same architecture and names as the Python `Net` (fc1, fc2).
fn net() -> Sequential {
    let r = &mut StdRng::seed_from_u64(0);
    Sequential::new()
        .push_named("fc1", BayesianLinear::new(4, 8, r).unwrap())
        .push_named("relu", ReLU)
        .push_named("fc2", BayesianLinear::new(8, 2, r).unwrap())
}

fn io() -> (Tensor, Vec<f32>) {
    let io = Checkpoint::load(format!("{FIXTURES}/blitz_4_8_2_io.safetensors")).unwrap();
    let (shape, x) = io.tensor("inputs").unwrap();
    let (out_shape, y) = io.tensor("frozen_outputs").unwrap();
    assert_eq!((shape, out_shape), (&[16, 4][..], &[16, 2][..]));
    (Tensor::from_vec(x.to_vec(), shape).unwrap(), y.to_vec())
}

fn frozen_forward(m: &Sequential, x: &Tensor) -> Vec<f32> {
    m.freeze();
    let tape = Tape::no_grad(0);
    let y = m.forward(&tape.constant(x.clone())).unwrap().value().to_vec().unwrap();
    m.unfreeze();
    y
}

#[test]
fn blitz_trained_model_reproduces_its_frozen_outputs() {
    let m = net();
    let path = format!("{FIXTURES}/blitz_4_8_2.safetensors");
    load_module(&m, &path).unwrap();
    let md = Checkpoint::load(&path).unwrap().metadata().clone();
    assert_eq!(md["layer.fc1"], "BayesianLinear(in_features=4, out_features=8, bias=true)");
    assert_eq!(md["source"], "blitz-bayesian-pytorch");

    let (x, expected) = io();
    let got = frozen_forward(&m, &x);
    let worst = got.iter().zip(&expected).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
    assert!(worst <= 1e-5, "max |ours - BLiTZ| = {worst}");
    assert!(expected.iter().any(|v| v.abs() > 0.1), "the fixture must not be trivial");
}

/// Rust → BLiTZ: saves the model back and, when the peer Python env is
/// given (`BLITZ_PEER_PYTHON=/path/to/python`), has BLiTZ load it and compare
/// its frozen outputs with ours. Without it, checks the names BLiTZ expects.
#[test]
fn our_checkpoint_loads_into_blitz() {
    let m = net();
    load_module(&m, format!("{FIXTURES}/blitz_4_8_2.safetensors")).unwrap();
    let dir = std::env::temp_dir().join(format!("blitz-interop-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ckpt = dir.join("ours.safetensors");
    Checkpoint::from_module(&m).unwrap().save(&ckpt).unwrap();
    let names = Checkpoint::load(&ckpt).unwrap().names().iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        names,
        [
            "fc1.bias_mu",
            "fc1.bias_rho",
            "fc1.weight_mu",
            "fc1.weight_rho",
            "fc2.bias_mu",
            "fc2.bias_rho",
            "fc2.weight_mu",
            "fc2.weight_rho"
        ]
    );

    let Ok(python) = std::env::var("BLITZ_PEER_PYTHON") else { return };
    let (x, _) = io();
    let ours = frozen_forward(&m, &x);
    let named = vec![
        ("inputs".to_string(), Param::new("inputs", x)),
        ("frozen_outputs".to_string(), Param::new("y", Tensor::from_vec(ours, &[16, 2]).unwrap())),
    ];
    let io_ck = Checkpoint::from_params(&named).unwrap();
    let io_path = dir.join("io.safetensors");
    io_ck.save(&io_path).unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/make_blitz_fixture.py");
    let status = std::process::Command::new(python).arg(script).arg("check").arg(&ckpt).arg(&io_path).status().unwrap();
    assert!(status.success(), "BLiTZ disagrees with our frozen outputs");
}
