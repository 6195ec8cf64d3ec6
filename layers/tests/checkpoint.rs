//! Checkpoints: bitwise round trips for every layer kind, atomic saves that
//! survive a crash, precise refusals, and Adam's state.

use blitz_autograd::optim::{Adam, Optimizer};
use blitz_autograd::{loss, Error, Param, Tape, Tensor};
use blitz_layers::checkpoint::FORMAT_VERSION;
use blitz_layers::output::atomic_write;
use blitz_layers::{
    load_module, params, save_module, BayesianConv1d, BayesianConv2d, BayesianConv3d, BayesianEmbedding, BayesianGRU,
    BayesianLSTM, BayesianLinear, Checkpoint, Conv1d, Conv2d, Conv3d, Embedding, Linear, Module, ReLU, Sequential,
    VariationalEstimator, GRU, LSTM,
};
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::io::Write;
use std::path::PathBuf;

/// A fresh, empty folder for one test.
fn tmp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("blitz-ckpt-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn bits(m: &dyn Module) -> Vec<(String, Vec<usize>, Vec<u32>)> {
    params(m)
        .into_iter()
        .map(|(n, p)| (n, p.shape(), p.value().to_vec().unwrap().iter().map(|v| v.to_bits()).collect()))
        .collect()
}

/// Every layer kind, built twice from different seeds (so values differ).
fn all_kinds(seed: u64) -> Vec<(&'static str, Box<dyn Module>)> {
    let r = &mut StdRng::seed_from_u64(seed);
    vec![
        ("Linear", Box::new(Linear::new(5, 3, true, r).unwrap())),
        ("Linear no bias", Box::new(Linear::new(5, 3, false, r).unwrap())),
        ("BayesianLinear", Box::new(BayesianLinear::new(4, 6, r).unwrap())),
        ("Conv1d", Box::new(Conv1d::new(2, 3, 3, r).unwrap())),
        ("Conv2d", Box::new(Conv2d::new(2, 4, (3, 2), r).unwrap())),
        ("Conv3d", Box::new(Conv3d::new(1, 2, (2, 2, 2), r).unwrap())),
        ("BayesianConv1d", Box::new(BayesianConv1d::new(2, 3, 3, r).unwrap())),
        ("BayesianConv2d", Box::new(BayesianConv2d::new(2, 4, 3, r).unwrap())),
        ("BayesianConv3d", Box::new(BayesianConv3d::new(1, 2, 2, r).unwrap())),
        ("Embedding", Box::new(Embedding::new(7, 3, Some(0), r).unwrap())),
        ("BayesianEmbedding", Box::new(BayesianEmbedding::new(7, 3, None, r).unwrap())),
        ("LSTM", Box::new(LSTM::new(3, 4, true, r).unwrap())),
        ("GRU", Box::new(GRU::new(3, 4, false, r).unwrap())),
        ("BayesianLSTM", Box::new(BayesianLSTM::new(3, 4, r).unwrap())),
        ("BayesianGRU", Box::new(BayesianGRU::new(3, 4, r).unwrap())),
        (
            "Sequential",
            Box::new(
                Sequential::new()
                    .push_named("fc1", BayesianLinear::new(4, 8, r).unwrap())
                    .push(ReLU)
                    .push_named("fc2", Linear::new(8, 2, true, r).unwrap())
                    .push_named("inner", Sequential::new().push(BayesianLinear::new(2, 2, r).unwrap())),
            ),
        ),
    ]
}

#[test]
fn round_trip_is_bitwise_for_every_layer_kind() {
    let dir = tmp_dir("roundtrip");
    for ((kind, a), (_, b)) in all_kinds(1).into_iter().zip(all_kinds(2)) {
        assert_ne!(bits(&*a), bits(&*b), "{kind}: the two inits must differ for the test to mean anything");
        let path = dir.join(format!("{kind}.safetensors"));
        save_module(&*a, &path).unwrap();
        load_module(&*b, &path).unwrap();
        assert_eq!(bits(&*a), bits(&*b), "{kind}");
    }
}

#[test]
fn special_values_survive_bitwise() {
    let p =
        Param::new("w", Tensor::from_vec(vec![f32::NAN, -0.0, f32::INFINITY, f32::MIN_POSITIVE / 2.0], &[4]).unwrap());
    let named = vec![("w".to_string(), p.clone())];
    let bytes = Checkpoint::from_params(&named).unwrap().to_bytes().unwrap();
    let q = Param::new("w", Tensor::zeros(&[4]).unwrap());
    Checkpoint::from_bytes(&bytes, "mem").unwrap().restore_params(&[("w".to_string(), q.clone())]).unwrap();
    let b = |p: &Param| p.value().to_vec().unwrap().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    assert_eq!(b(&p), b(&q));
}

#[test]
fn metadata_names_the_format_and_the_layers() {
    let r = &mut StdRng::seed_from_u64(0);
    let m = Sequential::new()
        .push_named("fc1", BayesianLinear::new(4, 8, r).unwrap())
        .push(ReLU)
        .push_named("conv", Conv2d::new(3, 6, (5, 3), r).unwrap());
    let ck = Checkpoint::from_module(&m).unwrap();
    let bytes = ck.to_bytes().unwrap();
    let back = Checkpoint::from_bytes(&bytes, "mem").unwrap();
    let md = back.metadata();
    assert_eq!(md["format"], "blitz");
    assert_eq!(md["format_version"], FORMAT_VERSION);
    assert_eq!(md["layer.fc1"], "BayesianLinear(in_features=4, out_features=8, bias=true)");
    assert_eq!(md["layer.conv"], "Conv2d(in_channels_per_group=3, out_channels=6, kernel_size=[5, 3], bias=true)");
    assert_eq!(
        back.names(),
        vec!["conv.bias", "conv.weight", "fc1.bias_mu", "fc1.bias_rho", "fc1.weight_mu", "fc1.weight_rho"]
    );
}

/// A writer that accepts `left` bytes, then fails like a full disk or a kill.
struct FailingWriter<'a> {
    inner: &'a mut std::fs::File,
    left: usize,
}

impl Write for FailingWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            return Err(std::io::Error::other("killed half-way"));
        }
        let n = buf.len().min(self.left);
        self.left -= n;
        self.inner.write(&buf[..n])
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[test]
fn a_save_killed_half_way_leaves_the_old_checkpoint_loadable() {
    let dir = tmp_dir("killed");
    let path = dir.join("model.safetensors");
    let r = &mut StdRng::seed_from_u64(3);
    let old = BayesianLinear::new(4, 8, r).unwrap();
    save_module(&old, &path).unwrap();
    let before = std::fs::read(&path).unwrap();

    let newer = BayesianLinear::new(4, 8, r).unwrap();
    let ck = Checkpoint::from_module(&newer).unwrap();
    let half = ck.to_bytes().unwrap().len() / 2;
    let err = atomic_write(&path, |f| {
        let mut w = FailingWriter { inner: f, left: half };
        ck.write_to(&mut w).map_err(|e| std::io::Error::other(e.to_string()))
    })
    .unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err:?}");
    assert!(err.to_string().contains("killed half-way"), "{err}");

    // The old file is untouched, loads, and no temporary file is left behind.
    assert_eq!(std::fs::read(&path).unwrap(), before);
    let fresh = BayesianLinear::new(4, 8, r).unwrap();
    load_module(&fresh, &path).unwrap();
    assert_eq!(bits(&fresh), bits(&old));
    let left: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left.len(), 1, "{left:?}");

    // A process killed outright leaves a partial temporary file: still harmless.
    std::fs::write(dir.join(".model.safetensors.tmp-999-0"), &ck.to_bytes().unwrap()[..half]).unwrap();
    load_module(&fresh, &path).unwrap();
    assert_eq!(bits(&fresh), bits(&old));

    // A complete save then replaces the old one.
    ck.save(&path).unwrap();
    load_module(&fresh, &path).unwrap();
    assert_eq!(bits(&fresh), bits(&newer));
}

#[test]
fn loading_lists_every_mismatch_and_changes_nothing() {
    let dir = tmp_dir("mismatch");
    let path = dir.join("m.safetensors");
    let r = &mut StdRng::seed_from_u64(4);
    let saved = Sequential::new()
        .push_named("fc1", BayesianLinear::new(4, 8, r).unwrap())
        .push_named("fc2", BayesianLinear::new(8, 2, r).unwrap());
    save_module(&saved, &path).unwrap();

    // fc1 is wider, fc2 is missing its rho tensors (a deterministic Linear), and fc3 is new.
    let other = Sequential::new()
        .push_named("fc1", BayesianLinear::new(5, 8, r).unwrap())
        .push_named("fc2", Linear::new(8, 2, true, r).unwrap())
        .push_named("fc3", Linear::new(2, 2, false, r).unwrap());
    let before = bits(&other);
    let err = load_module(&other, &path).unwrap_err();
    let Error::Parse { path: p, message } = &err else { panic!("{err:?}") };
    assert!(p.ends_with("m.safetensors"));
    for needle in [
        "fc1.weight_mu: shape [8, 4] in the file, [8, 5] in the model",
        "fc1.weight_rho: shape [8, 4] in the file, [8, 5] in the model",
        "missing tensor fc2.weight (model shape [2, 8])",
        "missing tensor fc2.bias (model shape [2])",
        "missing tensor fc3.weight",
        "unexpected tensor fc2.weight_mu",
        "unexpected tensor fc2.bias_rho",
    ] {
        assert!(message.contains(needle), "{needle:?} not in {message}");
    }
    assert_eq!(bits(&other), before, "a refused load must change nothing");
}

#[test]
fn wrong_dtype_and_bad_files_are_typed_errors() {
    let dir = tmp_dir("dtype");
    // A torch-style file with an int64 tensor where a parameter is expected.
    let data = [0u8; 16];
    let view = safetensors::tensor::TensorView::new(safetensors::Dtype::I64, vec![2], &data).unwrap();
    let bytes = safetensors::serialize([("w", view)], None).unwrap();
    let path = dir.join("i64.safetensors");
    std::fs::write(&path, bytes).unwrap();
    let p = Param::new("w", Tensor::zeros(&[2]).unwrap());
    let err = Checkpoint::load(&path).unwrap().restore_params(&[("w".into(), p)]).unwrap_err();
    assert!(err.to_string().contains("w: dtype I64 in the file, the model needs F32"), "{err}");

    let missing = Checkpoint::load(dir.join("nope.safetensors")).unwrap_err();
    assert!(matches!(missing, Error::Io { .. }), "{missing:?}");
    std::fs::write(dir.join("junk"), b"\x10\0\0\0\0\0\0\0{not json}      ").unwrap();
    let junk = Checkpoint::load(dir.join("junk")).unwrap_err();
    assert!(matches!(junk, Error::Parse { .. }), "{junk:?}");

    // A future format version is refused, not misread.
    let mut ck = Checkpoint::new();
    ck.set_metadata("format_version", "99");
    ck.save(dir.join("v99")).unwrap();
    let v = Checkpoint::load(dir.join("v99")).unwrap_err();
    assert!(v.to_string().contains("format_version \"99\""), "{v}");
}

#[test]
fn adam_state_round_trips_and_resumes_exactly() {
    let build = || {
        let r = &mut StdRng::seed_from_u64(5);
        Sequential::new()
            .push_named("fc1", BayesianLinear::new(3, 6, r).unwrap())
            .push(ReLU)
            .push_named("fc2", BayesianLinear::new(6, 1, r).unwrap())
    };
    let x = Tensor::from_vec((0..24).map(|i| (i as f32 * 0.37).sin()).collect(), &[8, 3]).unwrap();
    let y = Tensor::from_vec((0..8).map(|i| (i as f32 * 0.5).cos()).collect(), &[8, 1]).unwrap();
    let step = |m: &Sequential, opt: &mut Adam, k: u64| {
        let tape = Tape::new(100 + k);
        let (xv, yv) = (tape.constant(x.clone()), tape.constant(y.clone()));
        let l = m.sample_elbo(&xv, &yv, loss::mse, 2, 1.0 / 8.0).unwrap();
        opt.step(&tape.backward(&l).unwrap()).unwrap();
    };

    let full = build();
    let mut opt = Adam::with_params(0.01, 0.8, 0.99, 1e-7, 1e-4).unwrap();
    for k in 0..10 {
        step(&full, &mut opt, k);
    }

    let dir = tmp_dir("adam");
    let path = dir.join("run.safetensors");
    let part = build();
    let mut opt = Adam::with_params(0.01, 0.8, 0.99, 1e-7, 1e-4).unwrap();
    for k in 0..4 {
        step(&part, &mut opt, k);
    }
    let named = params(&part);
    let mut ck = Checkpoint::from_params(&named).unwrap();
    ck.add_adam(&opt, &named).unwrap();
    ck.save(&path).unwrap();
    drop((part, opt));

    // A new process: fresh model (other init), state from the file only.
    let resumed = Sequential::new()
        .push_named("fc1", BayesianLinear::new(3, 6, &mut StdRng::seed_from_u64(77)).unwrap())
        .push(ReLU)
        .push_named("fc2", BayesianLinear::new(6, 1, &mut StdRng::seed_from_u64(78)).unwrap());
    let ck = Checkpoint::load(&path).unwrap();
    assert!(ck.has_optimizer());
    ck.restore_module(&resumed).unwrap();
    let mut opt = ck.restore_adam(&params(&resumed)).unwrap();
    assert_eq!(opt.steps(), 4);
    assert_eq!(opt.hyperparameters(), (0.8, 0.99, 1e-7, 1e-4));
    for k in 4..10 {
        step(&resumed, &mut opt, k);
    }
    assert_eq!(bits(&resumed), bits(&full));
}

#[test]
fn adam_state_for_an_unnamed_parameter_is_refused() {
    let r = &mut StdRng::seed_from_u64(6);
    let m = Linear::new(2, 1, true, r).unwrap();
    let tape = Tape::new(0);
    let x = tape.constant(Tensor::from_vec(vec![1.0, 2.0], &[1, 2]).unwrap());
    let l = m.forward(&x).unwrap().sum().unwrap();
    let mut opt = Adam::new(0.1).unwrap();
    opt.step(&tape.backward(&l).unwrap()).unwrap();
    let named = params(&m);
    let mut ck = Checkpoint::from_params(&named).unwrap();
    let err = ck.add_adam(&opt, &named[..1]).unwrap_err();
    assert!(matches!(err, Error::InvalidArgument { .. }), "{err:?}");
    // And a checkpoint without optimizer state says so.
    let err = Checkpoint::from_params(&named).unwrap().restore_adam(&named).unwrap_err();
    assert!(err.to_string().contains("no Adam state"), "{err}");
}

/// The same checkpoint gives the same bytes, whatever order its metadata
/// was set in (the writer sorts tensors by name and metadata by key), and
/// the reference implementation reads them back unchanged.
#[test]
fn written_files_are_byte_reproducible() {
    let keys: Vec<String> = (0..40).map(|i| format!("key.{}", (i * 17) % 40)).collect();
    let build = |order: &mut dyn Iterator<Item = &String>| {
        let mut ck = Checkpoint::new();
        for k in order {
            ck.set_metadata(k.clone(), format!("value of {k}"));
        }
        ck.set_tensor("b", &[2], vec![1.0, -2.0]).unwrap();
        ck.set_tensor("a", &[1, 3], vec![0.5, 0.25, 0.125]).unwrap();
        ck.seal();
        ck.to_bytes().unwrap()
    };
    let forward = build(&mut keys.iter());
    assert_eq!(forward, build(&mut keys.iter().rev()));
    let st = safetensors::SafeTensors::deserialize(&forward).unwrap();
    assert_eq!(st.tensor("a").unwrap().shape(), &[1, 3]);
    let back = Checkpoint::from_bytes(&forward, "again").unwrap();
    assert_eq!(back.to_bytes().unwrap(), forward);
    back.verify_seal().unwrap();
}
