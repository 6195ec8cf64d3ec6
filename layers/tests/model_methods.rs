//! The model file of every method through the library: a model built by
//! [`ModelFile::build_trained`], trained, written by
//! [`Trained::model_checkpoint`] and read back by [`Model::from_bytes`]
//! predicts what it predicted before, bit for bit, on any context; a file
//! whose tensors do not fit its method is refused before anything is built.

mod support;

use blitz_autograd::{Error, Tensor};
use blitz_kernels::context::{Context, Threads};
use blitz_layers::checkpoint::DIGEST_KEY;
use blitz_layers::data::Standardizer;
use blitz_layers::mlp::MlpSpec;
use blitz_layers::model::{fit_ivon, fit_laplace, fit_swag, FitTargets, Method, Model, ModelFile, Task, Trained};
use blitz_layers::train::TrainConfig;
use blitz_layers::uncertainty::{IvonConfig, SwagConfig};

/// y = x0 − 2·x1 + a wobble, 40 rows; the class is the sign of y.
fn data() -> (Tensor, Tensor, Vec<usize>) {
    let xs: Vec<f32> = (0..80).map(|i| ((i * 37 % 23) as f32) / 7.0).collect();
    let ys: Vec<f32> = xs.chunks(2).enumerate().map(|(i, r)| r[0] - 2.0 * r[1] + 0.01 * (i % 3) as f32).collect();
    let labels = ys.iter().map(|&y| usize::from(y > -2.0)).collect();
    (Tensor::from_vec(xs, &[40, 2]).unwrap(), Tensor::from_vec(ys, &[40, 1]).unwrap(), labels)
}

fn file(task: Task, method: Method) -> ModelFile {
    let classes: Vec<String> = if task == Task::Classification { vec!["lo".into(), "hi".into()] } else { vec![] };
    let outputs = classes.len().max(1);
    ModelFile {
        task,
        spec: MlpSpec::new(2, vec![6], outputs),
        features: vec!["a".into(), "b".into()],
        target: "y".into(),
        classes,
        log1p: vec![],
        settings: "test".into(),
        seed: 3,
        conformal: None,
        method,
    }
}

/// A model of `file` trained for a few epochs (standardised on the data).
fn trained(file: &ModelFile) -> Trained {
    let (x, y, labels) = data();
    let xs = Standardizer::fit_rows(&x.to_vec().unwrap(), 2).unwrap();
    let ys = Standardizer::fit_rows(&y.to_vec().unwrap(), 1).unwrap();
    let config = TrainConfig { epochs: 3, batch_size: 8, sample_nbr: 1, seed: 1, ..TrainConfig::default() };
    let mut t = file.build_trained().unwrap();
    match &mut t {
        Trained::McDropoutRegression(m) => {
            (m.x_scale, m.y_scale) = (Some(xs), Some(ys));
            m.fit(&x, &y, &config, |_| {}).unwrap();
        }
        Trained::McDropoutClassification(m) => {
            m.x_scale = Some(xs);
            m.fit(&x, &labels, &config, |_| {}).unwrap();
        }
        Trained::EnsembleRegression(e) => {
            for m in e.members_mut() {
                (m.x_scale, m.y_scale) = (Some(xs.clone()), Some(ys.clone()));
            }
            e.fit(&x, &y, &config).unwrap();
        }
        Trained::EnsembleClassification(e) => {
            for m in e.members_mut() {
                m.x_scale = Some(xs.clone());
            }
            e.fit(&x, &labels, &config).unwrap();
        }
        Trained::IvonRegression(..) => {
            let cfg = IvonConfig { epochs: 3, batch_size: 8, seed: 1, ..IvonConfig::default() };
            t = fit_ivon(file, &x, FitTargets::Values(&y), &cfg).unwrap().0;
        }
        Trained::IvonClassification(..) => {
            let cfg = IvonConfig { epochs: 3, batch_size: 8, seed: 1, ..IvonConfig::default() };
            t = fit_ivon(file, &x, FitTargets::Labels(&labels), &cfg).unwrap().0;
        }
        Trained::SwagRegression(_) => {
            let swag = SwagConfig { epochs: 4, batch_size: 8, rank: 3, seed: 1, ..SwagConfig::default() };
            t = fit_swag(file, &x, FitTargets::Values(&y), &config, &swag, &mut |_| {}).unwrap().0;
        }
        Trained::SwagClassification(_) => {
            let swag = SwagConfig { epochs: 4, batch_size: 8, rank: 3, seed: 1, ..SwagConfig::default() };
            t = fit_swag(file, &x, FitTargets::Labels(&labels), &config, &swag, &mut |_| {}).unwrap().0;
        }
        Trained::LaplaceRegression(_) => {
            t = fit_laplace(file, &x, FitTargets::Values(&y), &config, &mut |_| {}).unwrap().0;
        }
        Trained::LaplaceClassification(_) => {
            t = fit_laplace(file, &x, FitTargets::Labels(&labels), &config, &mut |_| {}).unwrap().0;
        }
        Trained::Bbb(_) => unreachable!("BBB has its own tests"),
    }
    t
}

const METHODS: [Method; 5] =
    [Method::McDropout { rate: 0.2 }, Method::Ensemble { members: 2 }, Method::Ivon, Method::Swag, Method::Laplace];

#[test]
fn every_method_reads_back_and_predicts_the_same_bits() {
    let (x, _, _) = data();
    let rows: Vec<Vec<f32>> = x.to_vec().unwrap().chunks(2).map(<[f32]>::to_vec).collect();
    for task in [Task::Regression, Task::Classification] {
        for method in METHODS {
            let f = file(task, method);
            let t = trained(&f);
            let bytes = t.model_checkpoint(&f).unwrap().to_bytes().unwrap();
            let model = Model::from_bytes(&bytes, "m.safetensors").unwrap();
            assert_eq!((model.method(), model.task()), (method, task));
            let before = t.predict(&x, 10, 4).unwrap();
            assert_eq!(model.predict(&rows, 10, 4).unwrap(), before, "{task:?} {method:?}");
            let one = Context { threads: Threads::fixed(1).unwrap(), ..Context::default() };
            let model = model.with_context(one);
            assert_eq!(model.predict(&rows, 10, 4).unwrap(), before, "{task:?} {method:?} on one thread");
            // The same columns as Bayes by Backprop.
            let header = model.table(&before).lines().next().unwrap().to_string();
            let want = match task {
                Task::Regression => "mean,std,epistemic_std,aleatoric_std,lower_2sd,upper_2sd",
                Task::Classification => "predicted,p_lo,p_hi,entropy,mi",
            };
            assert_eq!(header, want);
        }
    }
}

#[test]
fn an_ensembles_figures_use_its_members_gaussians() {
    let f = file(Task::Regression, Method::Ensemble { members: 2 });
    let t = trained(&f);
    let (x, y, _) = data();
    let (p, r) = t.evaluate_regression(&x, &y.to_vec().unwrap(), 1, 0).unwrap();
    assert!(r.loglik.is_finite() && r.rmse > 0.0 && r.rows == 40);
    // The members' own noise, not one shared level: the aleatoric part varies by row.
    assert!(p.aleatoric_std.iter().any(|&a| a != p.aleatoric_std[0]));
    assert!(matches!(t.evaluate_regression(&x, &[0.0; 3], 1, 0), Err(Error::ShapeMismatch { .. })));
    assert!(matches!(t.predict(&x, 0, 0), Err(Error::InvalidArgument { .. })));
    let nan = Tensor::from_vec(vec![f32::NAN, 0.0], &[1, 2]).unwrap();
    assert!(matches!(t.predict(&nan, 1, 0), Err(Error::NonFinite { .. })));
}

#[test]
fn ivons_file_holds_its_means_and_hessian() {
    let f = file(Task::Regression, Method::Ivon);
    let t = trained(&f);
    let Trained::IvonRegression(_, p) = &t else { panic!("not IVON") };
    let ck = t.model_checkpoint(&f).unwrap();
    for (n, m) in p.names.iter().zip(&p.mean) {
        assert_eq!(ck.tensor(n).unwrap().1, &m[..], "{n}");
        assert!(ck.tensor(&format!("hessian.{n}")).is_some(), "{n}");
    }
    assert_eq!(ck.metadata()["blitz.ivon"], format!("ess=40;weight_decay={}", IvonConfig::default().weight_decay));
    let model = Model::from_bytes(&ck.to_bytes().unwrap(), "m").unwrap();
    let Trained::IvonRegression(_, q) = model.trained() else { panic!("not IVON") };
    assert_eq!(q, p, "the posterior reads back as written");
}

#[test]
fn a_file_whose_tensors_are_another_methods_is_refused() {
    for task in [Task::Regression, Task::Classification] {
        let [dropout, ensemble, ..] = METHODS;
        let (d, e) = (file(task, dropout), file(task, ensemble));
        // MC dropout's tensors under an ensemble's description, and the other way round.
        for (tensors_of, described_as) in [(&d, &e), (&e, &d)] {
            let mut ck = trained(tensors_of).model_checkpoint(tensors_of).unwrap();
            for (k, v) in described_as.metadata() {
                ck.set_metadata(k, v);
            }
            for k in ["blitz.members", "blitz.dropout"] {
                if !described_as.metadata().contains_key(k) {
                    ck.remove_metadata(k);
                }
            }
            ck.seal();
            match Model::from_bytes(&ck.to_bytes().unwrap(), "forged.safetensors") {
                Err(Error::Parse { path, message }) => {
                    assert!(path == "forged.safetensors" && message.contains("tensor"), "{message}")
                }
                other => panic!("{task:?}: {other:?}"),
            }
        }
    }
}

#[test]
fn a_kronecker_factored_laplace_posterior_reads_back_too() {
    // 2 classes × (200 + 1) last-layer weights: above the full GGN's 300.
    let mut f = file(Task::Classification, Method::Laplace);
    f.spec.hidden = vec![200];
    let t = trained(&f);
    let ck = t.model_checkpoint(&f).unwrap();
    assert!(ck.metadata()["blitz.laplace"].starts_with("structure=kron;"));
    assert!(ck.tensor("laplace.ua").is_some() && ck.tensor("laplace.v").is_none());
    let model = Model::from_bytes(&ck.to_bytes().unwrap(), "m").unwrap();
    let (x, _, _) = data();
    assert_eq!(model.trained().predict(&x, 8, 2).unwrap(), t.predict(&x, 8, 2).unwrap());
}

/// Bytes the mutations insert: zeros, small values, JSON punctuation.
const BINARY: &[u8] = &[0, 1, 2, 3, 4, 0x08, 0x0D, 0x0E, 0x7F, 0x80, 0xFF, b'{', b'}', b'"', b':', b',', b'[', b']'];

/// Mutated bytes of a model file of every method and task (SWAG's moments,
/// Laplace's factors, IVON's Hessian, an ensemble's members, MC dropout's
/// rate) through `Model::from_bytes`, then a prediction and its table: a
/// typed error or a prediction, never a panic or a huge allocation
/// (`support::fuzz`; `FUZZ_CASES` sets the count).
#[test]
fn fuzz_every_methods_model_file() {
    let mut seeds = Vec::new();
    for task in [Task::Regression, Task::Classification] {
        for method in METHODS {
            let f = file(task, method);
            let sealed = trained(&f).model_checkpoint(&f).unwrap();
            // Unsealed too: a mutation of a sealed file stops at its digest.
            let mut open = sealed.clone();
            open.remove_metadata(DIGEST_KEY);
            seeds.push(open.to_bytes().unwrap());
            seeds.push(sealed.to_bytes().unwrap());
        }
    }
    for s in &seeds {
        assert!(Model::from_bytes(s, "seed").is_ok(), "every seed is a valid model file");
    }
    let rows = [[0.5f32, 1.0], [2.0, 0.0]];
    let loaded = std::sync::atomic::AtomicUsize::new(0);
    let n = support::fuzz::fuzz("every method's model file", &seeds, BINARY, 11, |b| {
        if let Ok(m) = Model::from_bytes(b, "fuzz") {
            loaded.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if let Ok(p) = m.predict(&rows, 2, 0) {
                assert_eq!(p.rows(), 2);
                let _ = m.table(&p);
            }
        }
    });
    assert!(n >= support::fuzz::cases());
    eprintln!("{} of them loaded", loaded.into_inner());
}
