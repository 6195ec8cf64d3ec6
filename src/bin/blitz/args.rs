//! The command line: subcommands, options, defaults.

use blitz::layers::data::{ColumnRef, Delimiter, Split};
use blitz::prelude::{Device, Error, Result};

pub const HELP: &str = "\
blitz: Bayesian neural networks (Bayes by Backprop, MC dropout, deep ensembles, IVON, SWAG,
last-layer Laplace) on your own delimited data

USAGE
  blitz fit DATA --target COL [options]   train an MLP (--method); with --out, save a self-describing model
  blitz predict MODEL DATA [options]      one CSV row per input: regression mean, std, epistemic_std,
                                          aleatoric_std, lower_2sd, upper_2sd; classification predicted,
                                          one probability per class, entropy, mi
  blitz evaluate MODEL DATA [options]     test figures of a saved model on labelled data
  blitz compare DATA --target COL [options]  every method on the same seeded splits: a table of
                                          mean ± s.e. on stderr, one JSON line per method on stdout

DATA is delimited text (comma, tab, semicolon or white space, detected), optionally .gz, with or
without a header row. Columns are named by header or by 0-based index (-1: the last).

fit options
  --target COL             the column to predict (required)
  --task T                 regression | classification (default: regression when every target cell
                           is a number, classification when most are text; a few bad cells in a
                           numeric column are reported; integer labels need --task classification)
  --hidden 50,50           hidden layer widths (default 50; 0 or '' for none)
  --epochs N               passes over the training rows (default: about 24,000 steps, 10 to 1,000 epochs)
  --batch-size B           rows per step (default 16 below 2,000 training rows, else 64)
  --lr LR                  Adam's learning rate at the start (default 0.003), decaying to --lr-final (default a tenth of --lr)
  --sample-nbr S           weight draws (mc-dropout: dropout masks) per step (default 3; mc-dropout 1;
                           ensemble, ivon, swag and laplace always 1)
  --prior-sigma S          prior N(0, S^2) on every weight (default 1; bbb only)
  --method M               how the network is uncertain (default bbb):
                             bbb         Bayes by Backprop: a Gaussian over every weight
                             mc-dropout  a plain MLP trained with dropout after each hidden layer,
                                         kept on at prediction (--draws passes)
                             ensemble    --members plain MLPs from different seeds, trained side by
                                         side (a regression member predicts a mean and a variance);
                                         written at the end only: no checkpoints, no --resume
                             ivon        a Gaussian over every weight of a plain MLP, learned by IVON
                                         (step size 0.1, weight decay 1e-4, sample size the training
                                         rows: IVON's defaults; --lr is Adam's and not used); the file
                                         holds its means and Hessian; written at the end, no --resume
                             swag        a plain MLP trained by Adam, then 20 epochs of SGD (0.01,
                                         momentum 0.9) whose iterates give a Gaussian (mean, diagonal,
                                         20 deviation columns, all in the file); written at the end,
                                         no --resume. Its SGD diverged on Boston after 100 or more
                                         epochs of Adam: give fewer --epochs and check its figures
                             laplace     a plain MLP trained by Adam, then a Gaussian posterior on its
                                         last layer (full below 300 weights, else Kronecker factors;
                                         prior precision by the marginal likelihood; the factors in the
                                         file); regression in closed form; written at the end, no --resume
                           predict and evaluate read the method from the model file; their columns
                           are the same for every method
  --members K              ensemble members (default 5, at most 256)
  --dropout P              mc-dropout's drop probability, in (0, 1) (default 0.1)
  --tune                   choose the epochs (mc-dropout: and --dropout) on validation rows: a seeded
                           fifth of the training rows is held out (never the test rows, nor the
                           --conformal rows), candidate runs train on the rest, the best validation
                           log-likelihood (classification: the lowest validation NLL) wins, and the
                           model then trains on all the training rows with it. The epoch candidates
                           are geometric from a tenth of E (at most 10) to E, the default epochs (or
                           --epochs). Each candidate's score and the choice are printed, added to the
                           --json line (tuned) and kept in the model file (blitz.tuned). Not with --resume
  --tune-budget N          candidate runs of --tune (default 6, at most 64); from 5 on, mc-dropout
                           spends 2 of them on half and double --dropout at the best epochs
  --test-fraction F        hold out a seeded random share F of the rows, or
  --test-every K           hold out the rows whose 0-based index is a multiple of K, or
  --test-file FILE         evaluate on another file with the same columns
  --log1p COL,COL          take ln(1 + x) of these feature columns (right-skewed, non-negative)
  --seed S                 seed of initialisation, split, batches and draws (default 0)
  --out FILE               save the model there, with checkpoints (see OUTPUT FILES)
  --checkpoint-every K     write the checkpoint every K epochs (default 10) and after the last
  --resume                 continue the run whose checkpoint is --out (same data and options)
  --force                  replace an existing --out file (without it, fit refuses to overwrite one)
  --draws N                weight draws for test figures and calibration (default 100)
  --conformal F            hold out a seeded share F of the training rows to calibrate split-conformal
                           intervals (regression: mean ± q·std) or prediction sets (classification),
                           with coverage at least 1 - alpha on rows like these; predict adds the
                           columns lower_conformal,upper_conformal (or set), evaluate their coverage
  --alpha A                the miscoverage level of --conformal (default 0.1: 90% coverage)
  --device cpu|cuda        where to train (default cpu)
  --json                   end with one JSON line on stdout
  --quiet                  no progress on stderr

compare options:  --splits N (20 seeded random 90/10 splits; split i has --seed S + i) or --test-every K
                  (one split), --methods bbb,mc-dropout,ensemble,ivon,swag,laplace (default all), and
                  fit's options for every run (--hidden, --epochs, --log1p, --members, --dropout, ...;
                  --tune: each run's settings chosen on its own training rows)
predict options:  --draws N (100)  --seed S (0)  --out FILE (default stdout)
evaluate options: --target COL (default: the model's)  --draws N (100)  --seed S (0)  --json
reading options (every subcommand): --delimiter auto|comma|tab|semicolon|whitespace|CHAR  --header N

OUTPUT FILES (--out)
  A file is written to a temporary .NAME.tmp-PID-K beside it, then renamed over it: a killed run
  keeps the previous file whole. Only a regular file (or nothing) may stand at --out: a symbolic
  link (give the file it points to), a folder, a device, a named pipe or a socket is refused and left
  as it is. One blitz process at a time writes a given --out (a lock on .NAME.lock beside it); a
  second one fails at once. fit checks all this before it reads the data, and that the model fits
  on the disk before it trains; it removes the temporary files of NAME that killed runs left.

MEMORY
  The memory --hidden, --sample-nbr and --draws ask for is estimated first and refused above the
  memory available, or above BLITZ_MEMORY_LIMIT (bytes, or with K, M, G, T) when it is set.
";

pub use blitz::layers::model::Task;
use blitz::layers::model::{Method, DEFAULT_DROPOUT, DEFAULT_MEMBERS};

/// `--tune-budget` when not given: candidate runs.
pub const DEFAULT_TUNE_BUDGET: usize = 6;
/// The most candidate runs `--tune-budget` may ask for.
pub const MAX_TUNE_BUDGET: usize = 64;

#[derive(Debug, Clone)]
pub struct FitArgs {
    pub data: String,
    pub target: ColumnRef,
    pub task: Option<Task>,
    pub hidden: Vec<usize>,
    pub epochs: Option<usize>,
    pub batch_size: Option<usize>,
    pub lr: f32,
    pub lr_final: f32,
    pub sample_nbr: usize,
    pub prior_sigma: f32,
    pub split: Option<Split>,
    pub test_file: Option<String>,
    pub log1p: Vec<String>,
    pub seed: u64,
    pub out: Option<String>,
    pub checkpoint_every: usize,
    pub resume: bool,
    pub force: bool,
    pub draws: usize,
    pub device: Device,
    pub json: bool,
    pub quiet: bool,
    pub delimiter: Delimiter,
    pub header_rows: Option<usize>,
    /// The share of the training rows held out to calibrate (`--conformal F`).
    pub conformal: Option<f32>,
    /// The miscoverage level of the calibration (`--alpha A`).
    pub alpha: f32,
    /// How the network is uncertain (`--method`, `--members`, `--dropout`).
    pub method: Method,
    /// `--tune`: the candidate runs of the search (`--tune-budget N`);
    /// `None` without `--tune`.
    pub tune: Option<usize>,
}

#[derive(Debug, Clone)]
pub struct PredictArgs {
    pub model: String,
    pub data: String,
    pub draws: usize,
    pub seed: u64,
    pub out: Option<String>,
    pub delimiter: Delimiter,
    pub header_rows: Option<usize>,
}

#[derive(Debug, Clone)]
pub struct EvaluateArgs {
    pub model: String,
    pub data: String,
    pub target: Option<ColumnRef>,
    pub draws: usize,
    pub seed: u64,
    pub json: bool,
    pub delimiter: Delimiter,
    pub header_rows: Option<usize>,
}

#[derive(Debug, Clone)]
pub enum Command {
    Help,
    Fit(Box<FitArgs>),
    Compare(crate::compare::CompareArgs),
    Predict(PredictArgs),
    Evaluate(EvaluateArgs),
}

fn usage(msg: String) -> Error {
    Error::invalid("command line", msg)
}

fn num<T: std::str::FromStr<Err: std::fmt::Display>>(flag: &str, v: &str) -> Result<T> {
    v.parse().map_err(|e| usage(format!("{flag} {v:?}: not a valid number ({e})")))
}

/// An output file path: refused here when it names no file (`''`, `/`, `..`).
fn out_path(v: &str) -> Result<String> {
    if v.is_empty() || std::path::Path::new(v).file_name().is_none() {
        return Err(usage(format!("--out {v:?}: not a file path")));
    }
    Ok(v.to_string())
}

/// Splits flags from positional arguments; `--flag value` pairs for the
/// flags in `valued`, booleans otherwise.
fn split_args<'a>(
    argv: &'a [String],
    valued: &[&str],
    boolean: &[&str],
) -> Result<(Vec<&'a str>, Vec<(&'a str, &'a str)>)> {
    let mut pos = Vec::new();
    let mut flags = Vec::new();
    let mut it = argv.iter();
    while let Some(a) = it.next() {
        if a.starts_with("--") {
            if valued.contains(&a.as_str()) {
                let v = it.next().ok_or_else(|| usage(format!("{a} needs a value")))?;
                flags.push((a.as_str(), v.as_str()));
            } else if boolean.contains(&a.as_str()) {
                flags.push((a.as_str(), ""));
            } else {
                return Err(usage(format!("unknown option {a}")));
            }
        } else {
            pos.push(a.as_str());
        }
    }
    Ok((pos, flags))
}

const READ_FLAGS: [&str; 2] = ["--delimiter", "--header"];

fn read_flag(flag: &str, v: &str, delimiter: &mut Delimiter, header: &mut Option<usize>) -> Result<bool> {
    match flag {
        "--delimiter" => *delimiter = v.parse()?,
        "--header" => *header = Some(num(flag, v)?),
        _ => return Ok(false),
    }
    Ok(true)
}

pub fn parse(argv: &[String]) -> Result<Command> {
    let Some((sub, rest)) = argv.split_first() else {
        return Ok(Command::Help);
    };
    match sub.as_str() {
        "help" | "--help" | "-h" => Ok(Command::Help),
        "fit" => parse_fit(rest).map(|a| Command::Fit(Box::new(a))),
        "compare" => crate::compare::parse_compare(rest).map(Command::Compare),
        "predict" => parse_predict(rest).map(Command::Predict),
        "evaluate" => parse_evaluate(rest).map(Command::Evaluate),
        other => Err(usage(format!("unknown command {other:?}: use fit, predict, evaluate or compare"))),
    }
}

pub fn parse_fit(argv: &[String]) -> Result<FitArgs> {
    let mut valued = vec![
        "--target",
        "--task",
        "--hidden",
        "--epochs",
        "--batch-size",
        "--lr",
        "--lr-final",
        "--sample-nbr",
        "--prior-sigma",
        "--test-fraction",
        "--test-every",
        "--test-file",
        "--log1p",
        "--seed",
        "--out",
        "--checkpoint-every",
        "--draws",
        "--device",
        "--conformal",
        "--alpha",
        "--method",
        "--members",
        "--dropout",
        "--tune-budget",
    ];
    valued.extend(READ_FLAGS);
    let (pos, flags) = split_args(argv, &valued, &["--resume", "--force", "--json", "--quiet", "--tune"])?;
    let [data] = pos[..] else {
        return Err(usage(format!("fit takes one DATA file, got {}", pos.len())));
    };
    let mut a = FitArgs {
        data: data.to_string(),
        target: ColumnRef::Last,
        task: None,
        hidden: vec![50],
        epochs: None,
        batch_size: None,
        lr: 3e-3,
        lr_final: 3e-4,
        sample_nbr: 3,
        prior_sigma: 1.0,
        split: None,
        test_file: None,
        log1p: Vec::new(),
        seed: 0,
        out: None,
        checkpoint_every: 10,
        resume: false,
        force: false,
        draws: 100,
        device: Device::Cpu,
        json: false,
        quiet: false,
        delimiter: Delimiter::Auto,
        header_rows: None,
        conformal: None,
        alpha: blitz::layers::model::DEFAULT_ALPHA,
        method: Method::Bbb,
        tune: None,
    };
    let (mut method, mut members, mut dropout, mut sample_nbr) = ("bbb", None, None, None);
    let mut target = None;
    let (mut fraction, mut every) = (None, None);
    let mut lr_final = None;
    let (mut tune, mut tune_budget) = (false, None);
    for (flag, v) in flags {
        if read_flag(flag, v, &mut a.delimiter, &mut a.header_rows)? {
            continue;
        }
        match flag {
            "--target" => target = Some(ColumnRef::parse(v)),
            "--task" => {
                a.task = Some(match v {
                    "regression" => Task::Regression,
                    "classification" => Task::Classification,
                    _ => return Err(usage(format!("--task {v:?}: use regression or classification"))),
                })
            }
            "--hidden" => {
                a.hidden = v
                    .split(',')
                    .filter(|s| !s.trim().is_empty() && s.trim() != "0")
                    .map(|s| num("--hidden", s.trim()))
                    .collect::<Result<_>>()?
            }
            "--epochs" => a.epochs = Some(num(flag, v)?),
            "--batch-size" => a.batch_size = Some(num(flag, v)?),
            "--lr" => a.lr = num(flag, v)?,
            "--lr-final" => lr_final = Some(num(flag, v)?),
            "--sample-nbr" => sample_nbr = Some(num(flag, v)?),
            "--prior-sigma" => a.prior_sigma = num(flag, v)?,
            "--test-fraction" => fraction = Some(num::<f32>(flag, v)?),
            "--test-every" => every = Some(num::<usize>(flag, v)?),
            "--test-file" => a.test_file = Some(v.to_string()),
            "--log1p" => a.log1p = v.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect(),
            "--seed" => a.seed = num(flag, v)?,
            "--out" => a.out = Some(out_path(v)?),
            "--checkpoint-every" => a.checkpoint_every = num(flag, v)?,
            "--draws" => a.draws = num(flag, v)?,
            "--device" => a.device = v.parse()?,
            "--conformal" => a.conformal = Some(num(flag, v)?),
            "--alpha" => a.alpha = num(flag, v)?,
            "--method" => method = v,
            "--members" => members = Some(num::<usize>(flag, v)?),
            "--dropout" => dropout = Some(num::<f32>(flag, v)?),
            "--tune" => tune = true,
            "--tune-budget" => tune_budget = Some(num::<usize>(flag, v)?),
            "--resume" => a.resume = true,
            "--force" => a.force = true,
            "--json" => a.json = true,
            "--quiet" => a.quiet = true,
            _ => unreachable!("split_args only passes known flags"),
        }
    }
    // A tenth of --lr; the default's own literal when --lr is the default.
    a.lr_final = lr_final.unwrap_or(if a.lr == 3e-3 { 3e-4 } else { a.lr / 10.0 });
    a.target = target.ok_or_else(|| usage("fit needs --target COL (a header name, a 0-based index, or -1)".into()))?;
    let chosen = usize::from(fraction.is_some()) + usize::from(every.is_some()) + usize::from(a.test_file.is_some());
    if chosen > 1 {
        return Err(usage("give one of --test-fraction, --test-every, --test-file".into()));
    }
    a.split = match (fraction, every) {
        (Some(f), _) => Some(Split::Fraction { test: f, seed: a.seed }),
        (_, Some(k)) => Some(Split::EveryKth(k)),
        _ => None,
    };
    for (flag, v) in [("--conformal", a.conformal.unwrap_or(0.5)), ("--alpha", a.alpha)] {
        if !(v > 0.0 && v < 1.0) {
            return Err(usage(format!("{flag} {v}: give a share in (0, 1), e.g. 0.2")));
        }
    }
    for (flag, given, owner) in
        [("--members", members.is_some(), "ensemble"), ("--dropout", dropout.is_some(), "mc-dropout")]
    {
        if given && method != owner {
            return Err(usage(format!("{flag} is a setting of --method {owner} (the method is {method})")));
        }
    }
    a.method = Method::from_name(method, members.unwrap_or(DEFAULT_MEMBERS), dropout.unwrap_or(DEFAULT_DROPOUT))?;
    // A deterministic member draws nothing: one pass per step is all there is.
    a.sample_nbr = match (a.method, sample_nbr) {
        (Method::Ensemble { .. } | Method::Swag | Method::Laplace, Some(s)) if s != 1 => {
            return Err(usage(format!(
                "--sample-nbr {s}: --method {} trains deterministic networks (one pass per step)",
                a.method.name()
            )))
        }
        (Method::Ensemble { .. } | Method::McDropout { .. } | Method::Ivon | Method::Swag | Method::Laplace, None) => 1,
        (Method::Ivon, Some(s)) if s != 1 => {
            return Err(usage(format!("--sample-nbr {s}: IVON draws one sample of the weights per step")))
        }
        (_, s) => s.unwrap_or(3),
    };
    if a.resume && !a.method.checkpoints() {
        return Err(usage(format!(
            "--resume: --method {} writes --out only at the end, so there is no checkpoint to continue (run again without --resume)",
            a.method.name()
        )));
    }
    a.tune = match (tune, tune_budget) {
        (false, Some(_)) => return Err(usage("--tune-budget is a setting of --tune (give --tune too)".into())),
        (false, None) => None,
        (true, Some(b)) if b == 0 || b > MAX_TUNE_BUDGET => {
            return Err(usage(format!(
                "--tune-budget {b}: give 1 to {} candidate runs (default {})",
                MAX_TUNE_BUDGET, DEFAULT_TUNE_BUDGET
            )))
        }
        (true, b) => Some(b.unwrap_or(DEFAULT_TUNE_BUDGET)),
    };
    if a.resume && a.tune.is_some() {
        return Err(usage(
            "--resume with --tune: the candidate runs keep no checkpoints; to continue a tuned run, resume it without --tune, with the settings it chose (as printed: --epochs N, and --dropout P for mc-dropout)".into(),
        ));
    }
    if a.resume && a.out.is_none() {
        return Err(usage("--resume needs --out: the checkpoint to continue".into()));
    }
    if a.checkpoint_every == 0 {
        return Err(usage("--checkpoint-every 0: give at least 1".into()));
    }
    if a.draws == 0 {
        return Err(usage("--draws 0: at least one draw".into()));
    }
    Ok(a)
}

fn parse_predict(argv: &[String]) -> Result<PredictArgs> {
    let mut valued = vec!["--draws", "--seed", "--out"];
    valued.extend(READ_FLAGS);
    let (pos, flags) = split_args(argv, &valued, &[])?;
    let [model, data] = pos[..] else {
        return Err(usage(format!("predict takes MODEL and DATA, got {} arguments", pos.len())));
    };
    let mut a = PredictArgs {
        model: model.into(),
        data: data.into(),
        draws: 100,
        seed: 0,
        out: None,
        delimiter: Delimiter::Auto,
        header_rows: None,
    };
    for (flag, v) in flags {
        if read_flag(flag, v, &mut a.delimiter, &mut a.header_rows)? {
            continue;
        }
        match flag {
            "--draws" => a.draws = num(flag, v)?,
            "--seed" => a.seed = num(flag, v)?,
            "--out" => a.out = Some(out_path(v)?),
            _ => unreachable!("split_args only passes known flags"),
        }
    }
    if a.draws == 0 {
        return Err(usage("--draws 0: at least one draw".into()));
    }
    Ok(a)
}

fn parse_evaluate(argv: &[String]) -> Result<EvaluateArgs> {
    let mut valued = vec!["--target", "--draws", "--seed"];
    valued.extend(READ_FLAGS);
    let (pos, flags) = split_args(argv, &valued, &["--json"])?;
    let [model, data] = pos[..] else {
        return Err(usage(format!("evaluate takes MODEL and DATA, got {} arguments", pos.len())));
    };
    let mut a = EvaluateArgs {
        model: model.into(),
        data: data.into(),
        target: None,
        draws: 100,
        seed: 0,
        json: false,
        delimiter: Delimiter::Auto,
        header_rows: None,
    };
    for (flag, v) in flags {
        if read_flag(flag, v, &mut a.delimiter, &mut a.header_rows)? {
            continue;
        }
        match flag {
            "--target" => a.target = Some(ColumnRef::parse(v)),
            "--draws" => a.draws = num(flag, v)?,
            "--seed" => a.seed = num(flag, v)?,
            "--json" => a.json = true,
            _ => unreachable!("split_args only passes known flags"),
        }
    }
    if a.draws == 0 {
        return Err(usage("--draws 0: at least one draw".into()));
    }
    Ok(a)
}
