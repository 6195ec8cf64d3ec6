//! `blitz`: Bayesian neural networks on your own delimited data, from the
//! command line.
//!
//! ```text
//! blitz fit DATA --target COL [options]      train a Bayesian MLP, save a self-describing model
//! blitz predict MODEL DATA [options]         one CSV row of predictions per input row
//! blitz evaluate MODEL DATA [options]        test figures of a saved model
//! ```
//! `blitz help` lists every option. Errors are one line on stderr and a
//! non-zero exit status (2 for a bad command line, 1 otherwise).

mod args;
mod budget;
mod claim;
mod compare;
mod model;
mod print;
mod tune;

use args::{Command, EvaluateArgs, FitArgs, PredictArgs};
use blitz::layers::data::{read_delimited, ReadOptions, Split, Target};
use blitz::layers::model::{Method, Model, KEY_TUNED};
use blitz::prelude::*;
use claim::{claim, Existing};
use print::{info, line, out};
use std::io::Write as _;
use std::process::ExitCode;

/// Mixed into `--seed` for the calibration rows' split, so that they are not
/// drawn like the test rows of `--test-fraction`.
const CALIBRATION_SEED: u64 = 0xC0F0_4D41;

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let command = match args::parse(&argv) {
        Ok(c) => c,
        Err(e) => {
            line(&format!("error: {e}\n(see `blitz help`)"));
            return ExitCode::from(2);
        }
    };
    let result = match command {
        Command::Help => out(args::HELP),
        Command::Fit(a) => fit(&a),
        Command::Compare(a) => compare::run(&a, fit_figures),
        Command::Predict(a) => predict(&a),
        Command::Evaluate(a) => evaluate(&a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            line(&format!("error: {e}"));
            ExitCode::FAILURE
        }
    }
}

fn fit(a: &FitArgs) -> Result<()> {
    let json = fit_figures(a)?;
    if a.json {
        out(&format!("{}\n", model::json_line(&json)))?;
    }
    Ok(())
}

/// `blitz fit`: trains, saves, calibrates and tests as `a` says; returns
/// the figures of its JSON line.
fn fit_figures(a: &FitArgs) -> Result<Vec<(&'static str, String)>> {
    print::set_quiet(a.quiet);
    // Before any data is read: the sizes the flags alone ask for.
    budget::check_training(&MlpSpec::new(1, a.hidden.clone(), 1), a.method, a.sample_nbr, 1)?;
    // Held until the run ends: no other blitz process writes this output meanwhile.
    let claimed = match &a.out {
        Some(out) => {
            let mut inputs = vec![a.data.as_str()];
            inputs.extend(a.test_file.as_deref());
            let existing = match (a.resume, a.force) {
                (true, _) => Existing::Resume,
                (false, true) => Existing::Replace,
                (false, false) => Existing::Refuse,
            };
            Some(claim(out, &inputs, existing)?)
        }
        None => None,
    };
    let mut opts = ReadOptions::default().with_target(a.target.clone()).categorical();
    opts.delimiter = a.delimiter;
    opts.header_rows = a.header_rows;
    let data = read_delimited(&a.data, &opts)?;
    let task = model::decide_task(a.task, &data, &opts)?;
    let data = model::with_task(data, task)?;
    let (train, test) = match (&a.test_file, a.split) {
        (Some(f), _) => {
            // The test file's columns are found by name, wherever they stand.
            let mut o = ReadOptions { delimiter: a.delimiter, header_rows: a.header_rows, ..ReadOptions::default() }
                .with_target(ColumnRef::name(data.target_names[0].clone()))
                .categorical()
                .with_features(data.feature_names.iter().map(ColumnRef::name).collect());
            if let Some(Target::Classes { names, .. }) = &data.y {
                o = o.with_classes(names.clone());
            }
            let test = model::with_task(read_delimited(f, &o)?, task)?;
            (data, Some(test))
        }
        (None, Some(split)) => {
            let (tr, te) = split.apply(&data)?;
            (tr, Some(te))
        }
        (None, None) => (data, None),
    };
    // Calibration rows come out of the training rows only; the model never trains on them.
    let (train, cal) = match a.conformal {
        Some(f) => {
            let (tr, cal) = Split::Fraction { test: f, seed: a.seed ^ CALIBRATION_SEED }.apply(&train)?;
            (tr, Some(cal))
        }
        None => (train, None),
    };
    // Taken before the transforms; a tuned run describes its final run with it again.
    let fingerprint = model::data_fingerprint(&train);
    let mut file = model::for_rows(&train, task, a, fingerprint)?;
    let train = file.transform(train)?;
    let test = test.map(|t| file.transform(t)).transpose()?;
    let cal = cal.map(|c| file.transform(c)).transpose()?;
    let mut config = model::train_config(&file, a, train.rows());
    budget::check_training(&file.spec, a.method, a.sample_nbr, config.batch_size.min(train.rows()))?;
    for rows in [&test, &cal].into_iter().flatten().map(Dataset::rows) {
        budget::check_draws(&file.spec, a.method, a.draws, rows)?;
    }
    let resume = match (&a.out, a.resume) {
        (Some(out), true) => Some(model::resumable(&file, out)?),
        // Refused while parsing the arguments: `--resume` needs `--out`.
        _ => None,
    };
    // A tuned run's final training, resumed with the settings it chose (without --tune), keeps its record.
    if let (Some(ck), Some(c)) = (&resume, &mut config.checkpoint) {
        if let Some(t) = ck.metadata().get(KEY_TUNED) {
            c.metadata.insert(KEY_TUNED.into(), t.clone());
        }
    }
    if let Some(c) = &claimed {
        c.reserve(claim::model_file_bytes(&file.spec, a.method))?;
    }
    // --tune: the settings chosen on validation rows carved from these training rows (no test or
    // calibration row among them); the sizes checked above are every candidate's.
    let tuned = match a.tune {
        Some(budget) => Some(tune::search(a, task, &train, config.epochs, config.batch_size, budget)?),
        None => None,
    };
    let a = tuned.as_ref().map_or(a, |t| &t.args);
    if let Some(t) = &tuned {
        file = model::for_rows(&train, task, a, fingerprint)?;
        config = model::train_config(&file, a, train.rows());
        if let Some(c) = &mut config.checkpoint {
            c.metadata.insert(KEY_TUNED.into(), t.json());
        }
    }
    info(&format!(
        "{}: {} header row(s), delimiter {}; {} training rows{}, {} features; {} {} {}, {} epochs of batches of {}",
        a.data,
        train.header_rows,
        train.delimiter,
        train.rows(),
        test.as_ref().map_or(String::new(), |t| format!(", {} test rows", t.rows()))
            + &cal.as_ref().map_or(String::new(), |c| format!(", {} calibration rows", c.rows())),
        train.feature_names.len(),
        task.name(),
        describe_method(a.method),
        file.spec.describe(),
        config.epochs,
        config.batch_size
    ));
    if a.out.is_none() {
        info("(no --out: the trained model is not saved)");
    }
    let every = (config.epochs / 10).max(1);
    let mut report = |p: &Progress| {
        if p.epoch.is_multiple_of(every) || p.epoch == p.epochs {
            info(&format!(
                "epoch {:>5}/{}  nll {:.4}  kl {:.4}  {:.3} ms/step",
                p.epoch, p.epochs, p.nll, p.kl, p.ms_per_step
            ));
        }
    };
    let mut fitted = file.build_trained()?;
    match a.method {
        Method::Ensemble { members } => {
            info(&format!("{members} members train side by side (no progress before the end)"))
        }
        Method::Ivon => info("IVON trains (no progress before the end)"),
        Method::Swag => info("Adam, then 20 epochs of SGD collecting SWAG's moments"),
        Method::Laplace => info("Adam, then the last layer's Laplace posterior"),
        _ => {}
    }
    let summary = model::fit(&file, &mut fitted, &train, &config, resume.as_ref(), &mut report)?;
    if let (Some(out), None) = (&a.out, &config.checkpoint) {
        // No checkpoints during training (an ensemble): the file is written now.
        let mut ck = fitted.model_checkpoint(&file)?;
        if let Some(t) = &tuned {
            ck.set_metadata(KEY_TUNED, t.json());
            ck.seal();
        }
        ck.save(out)?;
    }
    if let Some(cal) = &cal {
        let c = model::calibrate(&fitted, cal, a.draws, a.seed, a.alpha)?;
        info(&model::describe_calibration(&c));
        file.conformal = Some(c);
        if let Some(out) = &a.out {
            model::add_calibration(&file, out)?;
        }
    }
    if let Some(out) = &a.out {
        // The loop wrote it after the last epoch; a run that had nothing left to do writes it again.
        info(&format!("model written to {out}"));
    }
    let mut json = vec![
        ("task", model::json_str(task.name())),
        ("train_rows", train.rows().to_string()),
        ("test_rows", test.as_ref().map_or(0, Dataset::rows).to_string()),
        ("epochs", summary.epochs.to_string()),
        ("steps", summary.steps.to_string()),
        ("ms_per_step", format!("{:.4}", summary.ms_per_step)),
    ];
    if let Some(test) = &test {
        let figures = model::evaluate(&fitted, file.conformal.as_ref(), test, a.draws, a.seed)?;
        info(&model::describe_figures(&figures));
        json.extend(figures);
    }
    if let Some(t) = &tuned {
        json.push(("tuned", t.json()));
    }
    drop(claimed);
    Ok(json)
}

fn predict(a: &PredictArgs) -> Result<()> {
    let _claimed = a.out.as_deref().map(|out| claim(out, &[&a.model, &a.data], Existing::Replace)).transpose()?;
    let model = Model::load(&a.model)?;
    let file = model.file();
    let data = file.transform(read_delimited(&a.data, &file.read_options(a.delimiter, a.header_rows, false))?)?;
    budget::check_draws(&file.spec, file.method, a.draws, data.rows())?;
    let text = model.table(&model.predict_transformed(&data.x, a.draws, a.seed)?);
    match &a.out {
        Some(path) => {
            blitz::layers::output::atomic_write(std::path::Path::new(path), |f| f.write_all(text.as_bytes()))?;
            line(&format!("{} predictions written to {path}", data.rows()));
        }
        // A reader that stopped early (`| head`) is not an error.
        None => out(&text)?,
    }
    Ok(())
}

fn evaluate(a: &EvaluateArgs) -> Result<()> {
    let model = Model::load(&a.model)?;
    let (file, fitted) = (model.file(), model.trained());
    let mut opts = file.read_options(a.delimiter, a.header_rows, true);
    if let Some(t) = &a.target {
        opts.targets = vec![t.clone()];
    }
    let data = file.transform(read_delimited(&a.data, &opts)?)?;
    let data = model::with_task(data, file.task)?;
    budget::check_draws(&file.spec, file.method, a.draws, data.rows())?;
    let figures = model::evaluate(fitted, file.conformal.as_ref(), &data, a.draws, a.seed)?;
    if a.json {
        let mut json = vec![("task", model::json_str(file.task.name())), ("test_rows", data.rows().to_string())];
        json.extend(figures);
        out(&format!("{}\n", model::json_line(&json)))?;
    } else {
        out(&format!("{} rows of {}\n{}\n", data.rows(), a.data, model::describe_figures(&figures)))?;
    }
    Ok(())
}

/// What the network is, for the line `fit` starts with.
fn describe_method(m: Method) -> String {
    match m {
        Method::Bbb => "Bayesian MLP".into(),
        Method::McDropout { rate } => format!("MC-dropout MLP (dropout {rate})"),
        Method::Ensemble { members } => format!("ensemble of {members} MLPs"),
        Method::Ivon => "IVON MLP".into(),
        Method::Swag => "SWAG MLP".into(),
        Method::Laplace => "last-layer Laplace MLP".into(),
    }
}
