//! The training loop that [`Regressor`](crate::regression::Regressor) and
//! [`Classifier`](crate::classification::Classifier) share: seeded
//! mini-batches, the Monte Carlo ELBO per example, Adam with a geometric
//! learning-rate decay, a progress callback, and optional periodic
//! checkpoints from which a killed run resumes with the same result.
//!
//! # The KL weight
//! Each step minimises, over a mini-batch B of a training set of N examples,
//! `(1/|B|) Σ_{i∈B} −log p(y_i | x_i, w) + KL(q ‖ p) / N` averaged over
//! `sample_nbr` weight draws: the negative ELBO of the whole training set
//! divided by N, estimated without bias from one batch. That is
//! [`TrainConfig::kl_weight`]'s default (`None`: 1/N). BLiTZ's default of 1
//! with a mean likelihood counts the KL N times over, and the network then
//! learns next to nothing.
//!
//! # Same seed, same result
//! Epoch e visits the examples in [`epoch_order`](crate::data::epoch_order)`(n, seed, e)` and step s
//! draws its weights on a tape named by (seed, s): neither depends on
//! earlier epochs' state, so a run resumed from a checkpoint (which holds
//! the parameters, Adam's moments and the step count) ends with the same
//! bits as one that was never interrupted.

use crate::checkpoint::Checkpoint;
use crate::data::{take_rows, EpochOrder, Standardizer};
use crate::estimator::{ElboParts, VariationalEstimator};
use crate::module::Module;
use blitz_autograd::optim::{Adam, Optimizer};
use blitz_autograd::{Context, Device, Error, Gradients, Param, Result, Tape, Tensor, Var};
use std::path::PathBuf;
use std::time::Instant;

/// How to train; [`TrainConfig::default`] holds the recommended settings.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainConfig {
    /// Passes over the training set.
    pub epochs: usize,
    /// Examples per step.
    pub batch_size: usize,
    /// Adam's learning rate at the start.
    pub lr: f32,
    /// Where the geometric decay of the learning rate heads (at most `lr`;
    /// the default, 3e-4, is a tenth of the default `lr`): epoch e
    /// (1-based) of E runs at lr·(lr_final/lr)^((e−1)/E), so the last epoch
    /// is one decay step short of `lr_final` (equal to `lr`: constant).
    pub lr_final: f32,
    /// Monte Carlo weight draws per step (BLiTZ's `sample_nbr`).
    pub sample_nbr: usize,
    /// The weight of the KL term against the per-example likelihood;
    /// `None`: 1 / N_train (see the module docs).
    pub kl_weight: Option<f32>,
    /// Seed of the batch order and of every weight draw.
    pub seed: u64,
    /// Where to train (the model is moved there first).
    pub device: Device,
    /// Stop after this many steps in all (tests, quick looks); `None`: run every epoch.
    pub max_steps: Option<usize>,
    /// Write a resumable checkpoint every few epochs.
    pub checkpoint: Option<CheckpointEvery>,
    /// Where every step's kernels run: their variants and threads (the
    /// default: the chosen variants on rayon's global pool). The bits of a
    /// run do not depend on it.
    pub context: Context,
}

impl Default for TrainConfig {
    /// 100 epochs of batches of 32, Adam 3e-3 decaying to 3e-4, 3 draws per
    /// step, KL / N, seed 0, on the CPU.
    fn default() -> Self {
        TrainConfig {
            epochs: 100,
            batch_size: 32,
            lr: 3e-3,
            lr_final: 3e-4,
            sample_nbr: 3,
            kl_weight: None,
            seed: 0,
            device: Device::Cpu,
            max_steps: None,
            checkpoint: None,
            context: Context::default(),
        }
    }
}

impl TrainConfig {
    /// Checks the settings.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming the first bad setting.
    pub fn validate(&self) -> Result<()> {
        let positive = |name: &'static str, v: f32| {
            if v > 0.0 && v.is_finite() {
                Ok(())
            } else {
                Err(Error::invalid(name, format!("{v}: must be positive and finite")))
            }
        };
        if self.epochs == 0 {
            return Err(Error::invalid("epochs", "0: at least one epoch"));
        }
        if self.batch_size == 0 {
            return Err(Error::invalid("batch_size", "0: at least one example per step"));
        }
        if self.sample_nbr == 0 {
            return Err(Error::invalid("sample_nbr", "0: at least one draw per step"));
        }
        positive("lr", self.lr)?;
        positive("lr_final", self.lr_final)?;
        if self.lr_final > self.lr {
            return Err(Error::invalid(
                "lr_final",
                format!(
                    "{} is above lr {}: the learning rate would rise; give lr_final ≤ lr (equal: constant)",
                    self.lr_final, self.lr
                ),
            ));
        }
        if let Some(w) = self.kl_weight {
            if !(w >= 0.0 && w.is_finite()) {
                return Err(Error::invalid("kl_weight", format!("{w}: must be ≥ 0 and finite")));
            }
        }
        if let Some(c) = &self.checkpoint {
            if c.every_epochs == 0 {
                return Err(Error::invalid("checkpoint every", "0 epochs: use None for no checkpoints"));
            }
        }
        Ok(())
    }

    /// The learning rate of epoch `epoch` (1-based): lr·(lr_final/lr)^((epoch−1)/epochs).
    pub fn lr_at(&self, epoch: usize) -> f32 {
        let decay = (self.lr_final / self.lr).powf(1.0 / self.epochs as f32);
        self.lr * decay.powi(epoch as i32 - 1)
    }

    /// The seed of step `step`'s tape.
    pub fn step_seed(&self, step: usize) -> u64 {
        self.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(step as u64)
    }
}

/// Periodic checkpoints during training: the model's own checkpoint
/// (parameters, statistics), Adam's state, the epochs and steps done, and
/// `metadata`, so that [`Regressor::resume`](crate::regression::Regressor::resume)
/// can continue from the file alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointEvery {
    /// The file, written atomically (a crash leaves the previous one intact).
    pub path: PathBuf,
    /// Every this many epochs (and after the last one).
    pub every_epochs: usize,
    /// Extra metadata to store (a description of the model, the data's columns, ...).
    pub metadata: std::collections::BTreeMap<String, String>,
}

impl CheckpointEvery {
    /// Every `every_epochs` epochs to `path`, no extra metadata.
    pub fn new(path: impl Into<PathBuf>, every_epochs: usize) -> CheckpointEvery {
        CheckpointEvery { path: path.into(), every_epochs, metadata: Default::default() }
    }
}

/// Where training stands, after each epoch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    /// Epochs done (1-based).
    pub epoch: usize,
    /// Epochs in all.
    pub epochs: usize,
    /// Steps done in all (a resumed run counts the earlier ones).
    pub steps: usize,
    /// Mean negative log-likelihood per example over the epoch (in the
    /// model's training units: standardised targets for regression).
    pub nll: f32,
    /// Mean weighted KL term over the epoch.
    pub kl: f32,
    /// Mean milliseconds per step over the epoch.
    pub ms_per_step: f64,
}

/// What a training run did.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct TrainSummary {
    /// Steps done in all (a resumed run counts the earlier ones).
    pub steps: usize,
    /// Epochs done in all.
    pub epochs: usize,
    /// Mean milliseconds per step (forward, backward, update) in this process.
    pub ms_per_step: f64,
    /// The last epoch's mean negative log-likelihood per example.
    pub nll: f32,
    /// The last epoch's mean weighted KL term.
    pub kl: f32,
}

/// Checkpoint metadata: epochs done.
pub(crate) const META_EPOCH: &str = "train.epoch";
/// Checkpoint metadata: steps done.
pub(crate) const META_STEPS: &str = "train.steps";
/// Checkpoint metadata: the settings that decide the result, which a resumed run must share.
pub(crate) const META_RUN: &str = "train.run";

/// The settings and data size that decide a run's result (not the device,
/// the step cap or where checkpoints go).
fn run_fingerprint(c: &TrainConfig, n: usize) -> String {
    format!(
        "examples={n} epochs={} batch_size={} lr={} lr_final={} sample_nbr={} kl_weight={:?} seed={}",
        c.epochs, c.batch_size, c.lr, c.lr_final, c.sample_nbr, c.kl_weight, c.seed
    )
}

/// Refuses a checkpoint written by a run with other settings or another
/// number of examples, or whose progress (`train.epoch`, `train.steps`,
/// Adam's step count) is not one this run can have reached; checked before
/// anything is restored from it. Returns (epochs done, steps done).
pub(crate) fn check_resumable(ck: &Checkpoint, c: &TrainConfig, n: usize) -> Result<(usize, usize)> {
    ck.verify_seal()?;
    let theirs = ck.metadata().get(META_RUN).map_or("(none)", String::as_str);
    if theirs != run_fingerprint(c, n) {
        return Err(Error::invalid(
            "resume",
            format!(
                "{} was written by a run with other settings or data ({theirs}); this one has ({})",
                ck.source(),
                run_fingerprint(c, n)
            ),
        ));
    }
    let bad = |message: String| Error::Parse { path: ck.source().to_string(), message };
    let get = |key: &str| -> Result<usize> {
        ck.metadata()
            .get(key)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| bad(format!("metadata {key} is missing or not a whole number: not a resumable checkpoint")))
    };
    let (epoch, steps) = (get(META_EPOCH)?, get(META_STEPS)?);
    if epoch > c.epochs {
        return Err(bad(format!("metadata {META_EPOCH} = {epoch}: the run has {} epochs", c.epochs)));
    }
    // Checkpoints are taken after whole epochs only.
    let per_epoch = n.div_ceil(c.batch_size.max(1));
    let expected = epoch.checked_mul(per_epoch);
    if expected != Some(steps) {
        return Err(bad(format!(
            "metadata {META_STEPS} = {steps}, but {epoch} epochs of {per_epoch} batches are {} steps",
            expected.map_or("more than usize".to_string(), |s| s.to_string())
        )));
    }
    let adam = ck.metadata().get("optimizer.adam.step").map(String::as_str);
    if adam != Some(&steps.to_string()) {
        return Err(bad(format!("metadata optimizer.adam.step = {adam:?}, but {META_STEPS} = {steps}")));
    }
    Ok((epoch, steps))
}

/// What one step minimises on a batch: `total` is back-propagated;
/// `likelihood` and `complexity` (none: 0) are read back for [`Progress`].
pub(crate) struct StepLoss {
    /// What to back-propagate.
    pub total: Var,
    /// The data term (negative log-likelihood or loss), reported as `nll`.
    pub likelihood: Var,
    /// The weighted KL term, reported as `kl`; `None` for a loss without one.
    pub complexity: Option<Var>,
}

impl From<ElboParts> for StepLoss {
    fn from(p: ElboParts) -> StepLoss {
        StepLoss { total: p.total, likelihood: p.likelihood, complexity: Some(p.complexity) }
    }
}

impl StepLoss {
    /// A plain loss: back-propagated and reported as `nll`, no KL term.
    pub(crate) fn plain(loss: Var) -> StepLoss {
        StepLoss { total: loss.clone(), likelihood: loss, complexity: None }
    }
}

/// What the shared loop needs from a model.
pub(crate) struct Job<'a> {
    /// Every trained parameter with its checkpoint name.
    pub named: Vec<(String, Param)>,
    /// Training inputs, `[n, ...]`, on the host, ready for the network.
    pub x: &'a Tensor,
    /// The loss of one batch: (x on the tape, the batch's row indices, KL weight).
    pub loss: &'a dyn Fn(&Var, &[usize], f32) -> Result<StepLoss>,
    /// The model's checkpoint without optimizer state.
    pub snapshot: &'a dyn Fn() -> Result<Checkpoint>,
}

/// One forward and backward pass of a step's batch, on a tape named by
/// the seed the step rule chose.
pub(crate) struct Pass {
    /// The gradients of the batch's loss.
    pub grads: Gradients,
    /// The loss's `likelihood`, read back.
    pub nll: f32,
    /// The loss's `complexity` (0 without one), read back.
    pub kl: f32,
}

/// How the shared loop turns a step's passes into an update: Adam for the
/// models' `fit` ([`AdamSteps`]), SGD with momentum for SWAG, IVON's
/// variational update. Each rule names its own steps' tapes.
pub(crate) trait StepRule {
    /// Called before epoch `epoch` (1-based) starts.
    fn begin_epoch(&mut self, _epoch: usize) {}

    /// Step `step` (0-based, counting a resumed run's earlier steps):
    /// `pass(seed)` runs the batch forward and backward on a tape named
    /// `seed`, as often as the rule needs; returns the (nll, kl) to report.
    fn step(&mut self, step: usize, pass: &mut dyn FnMut(u64) -> Result<Pass>) -> Result<(f32, f32)>;

    /// Adds the rule's state to a periodic checkpoint.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a rule that cannot be resumed.
    fn save(&self, _ck: &mut Checkpoint, _named: &[(String, Param)]) -> Result<()> {
        Err(Error::invalid("checkpoint", "this training cannot be checkpointed"))
    }
}

/// Adam at [`TrainConfig::lr_at`] each epoch; step s on the tape
/// [`TrainConfig::step_seed`]`(s)`, one pass a step.
pub(crate) struct AdamSteps<'c> {
    opt: Adam,
    config: &'c TrainConfig,
}

impl StepRule for AdamSteps<'_> {
    fn begin_epoch(&mut self, epoch: usize) {
        self.opt.set_learning_rate(self.config.lr_at(epoch));
    }

    fn step(&mut self, step: usize, pass: &mut dyn FnMut(u64) -> Result<Pass>) -> Result<(f32, f32)> {
        let p = pass(self.config.step_seed(step))?;
        self.opt.step(&p.grads)?;
        Ok((p.nll, p.kl))
    }

    fn save(&self, ck: &mut Checkpoint, named: &[(String, Param)]) -> Result<()> {
        ck.add_adam(&self.opt, named)
    }
}

/// Where a run starts: epochs and steps already done (0 for a fresh run).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Start {
    /// Epochs done.
    pub epochs: usize,
    /// Steps done.
    pub steps: usize,
}

/// The examples in `x`, refused when there are none.
fn examples(x: &Tensor) -> Result<usize> {
    match x.shape().first() {
        Some(&n) if n > 0 => Ok(n),
        _ => Err(Error::Empty { op: "fit (no examples)" }),
    }
}

/// The models' training: Adam (restored from `resume`, a checkpoint whose
/// parameters the caller has restored, when given) through [`run`].
pub(crate) fn fit_adam(
    job: Job<'_>,
    c: &TrainConfig,
    resume: Option<&Checkpoint>,
    progress: &mut dyn FnMut(&Progress),
) -> Result<TrainSummary> {
    c.validate()?;
    let n = examples(job.x)?;
    let (opt, start) = match resume {
        None => (Adam::new(c.lr)?, Start::default()),
        Some(ck) => {
            let (epochs, steps) = check_resumable(ck, c, n)?;
            (ck.restore_adam(&job.named)?, Start { epochs, steps })
        }
    };
    run(job, c, start, &mut AdamSteps { opt, config: c }, &mut |p| {
        progress(p);
        Ok(())
    })
}

/// The shared loop: epoch e visits the batches of
/// [`epoch_order`](crate::data::epoch_order)`(n, c.seed, e)`; `rule` makes
/// each step's passes, on tapes with `c.context`, and its update;
/// `end_of_epoch` runs after each epoch (after the periodic checkpoint).
/// A run from `start` replays the earlier epochs' shuffles to reach its own.
pub(crate) fn run(
    job: Job<'_>,
    c: &TrainConfig,
    start: Start,
    rule: &mut dyn StepRule,
    end_of_epoch: &mut dyn FnMut(&Progress) -> Result<()>,
) -> Result<TrainSummary> {
    c.validate()?;
    let n = examples(job.x)?;
    let kl_weight = c.kl_weight.unwrap_or(1.0 / n as f32);
    let (first_epoch, mut steps) = (start.epochs + 1, start.steps);
    let mut summary = TrainSummary { steps, epochs: start.epochs, ..TrainSummary::default() };
    let mut order = EpochOrder::new(n, c.seed);
    for _ in 1..first_epoch {
        order.next_epoch();
    }
    let (mut time, mut timed) = (0f64, 0usize);
    for epoch in first_epoch..=c.epochs {
        if c.max_steps.is_some_and(|m| steps >= m) {
            break;
        }
        rule.begin_epoch(epoch);
        let order = order.next_epoch().to_vec();
        let (mut nll, mut kl, mut batches, mut epoch_time) = (0f64, 0f64, 0usize, 0f64);
        for batch in order.chunks(c.batch_size) {
            if c.max_steps.is_some_and(|m| steps >= m) {
                break;
            }
            let start = Instant::now();
            let xb = take_rows(job.x, batch)?.to(c.device)?;
            let (step_nll, step_kl) = rule.step(steps, &mut |seed| {
                let tape = Tape::new(seed).with_context(c.context.clone());
                let x = tape.constant(xb.clone());
                let loss = (job.loss)(&x, batch, kl_weight)?;
                let grads = tape.backward(&loss.total)?;
                let nll = loss.likelihood.item()?;
                let kl = loss.complexity.as_ref().map_or(Ok(0.0), Var::item)?;
                // The pass shares the parameters' storage: let it go first, so
                // the update happens in place.
                drop((loss, x, tape));
                Ok(Pass { grads, nll, kl })
            })?;
            nll += step_nll as f64;
            kl += step_kl as f64;
            // Timed to here: on a GPU the read-backs above wait for the pass.
            epoch_time += start.elapsed().as_secs_f64();
            batches += 1;
            steps += 1;
        }
        if batches == 0 {
            break;
        }
        // An epoch cut short by `max_steps` is reported but never checkpointed:
        // a resumed run would skip its remaining batches.
        let complete = batches == n.div_ceil(c.batch_size);
        time += epoch_time;
        timed += batches;
        let p = Progress {
            epoch,
            epochs: c.epochs,
            steps,
            nll: (nll / batches as f64) as f32,
            kl: (kl / batches as f64) as f32,
            ms_per_step: 1e3 * epoch_time / batches as f64,
        };
        summary = TrainSummary { steps, epochs: epoch, ms_per_step: 0.0, nll: p.nll, kl: p.kl };
        if let (Some(every), true) = (&c.checkpoint, complete) {
            if epoch % every.every_epochs == 0 || epoch == c.epochs {
                let mut ck = (job.snapshot)()?;
                for (k, v) in &every.metadata {
                    ck.set_metadata(k.clone(), v.clone());
                }
                rule.save(&mut ck, &job.named)?;
                ck.set_metadata(META_EPOCH, epoch.to_string());
                ck.set_metadata(META_STEPS, steps.to_string());
                ck.set_metadata(META_RUN, run_fingerprint(c, n));
                ck.seal();
                ck.save(&every.path)?;
            }
        }
        end_of_epoch(&p)?;
    }
    summary.ms_per_step = if timed > 0 { 1e3 * time / timed as f64 } else { 0.0 };
    Ok(summary)
}

/// The loop's part of SWAG's and IVON's settings.
pub(crate) struct PlainRun<'a> {
    /// Passes over the training set.
    pub epochs: usize,
    /// Examples per step.
    pub batch_size: usize,
    /// The method's learning rate (checked positive and finite by the loop).
    pub lr: f32,
    /// Seed of the batch order.
    pub seed: u64,
    /// Where every step's kernels run.
    pub context: &'a Context,
    /// What a non-finite loss is called in the error.
    pub what: &'static str,
}

/// A plain batch loss `loss(output, batch)` of `net` (SWAG's, IVON's)
/// through [`run`] under `rule`, on the device of the first of `named`
/// (not empty); a non-finite loss is refused before its backward pass.
pub(crate) fn run_plain(
    net: &dyn Module,
    named: Vec<(String, Param)>,
    x: &Tensor,
    loss: &dyn Fn(&Var, &[usize]) -> Result<Var>,
    settings: PlainRun<'_>,
    rule: &mut dyn StepRule,
    end_of_epoch: &mut dyn FnMut(&Progress) -> Result<()>,
) -> Result<TrainSummary> {
    let what = settings.what;
    let plain = |xb: &Var, batch: &[usize], _: f32| {
        let l = loss(&net.forward(xb)?, batch)?;
        if !l.item()?.is_finite() {
            return Err(Error::NonFinite { what: what.into() });
        }
        Ok(StepLoss::plain(l))
    };
    let no_checkpoint = || Err(Error::invalid("checkpoint", format!("{what}: this training is not checkpointed")));
    let device = named.first().map_or(Device::Cpu, |(_, p)| p.value().device());
    let c = TrainConfig {
        epochs: settings.epochs,
        batch_size: settings.batch_size,
        lr: settings.lr,
        lr_final: settings.lr,
        sample_nbr: 1,
        kl_weight: None,
        seed: settings.seed,
        device,
        max_steps: None,
        checkpoint: None,
        context: settings.context.clone(),
    };
    run(Job { named, x, loss: &plain, snapshot: &no_checkpoint }, &c, Start::default(), rule, end_of_epoch)
}

/// The number of examples in `x` (`[n, ...]`, n > 0), checked against the
/// feature count of the model's input statistics.
pub(crate) fn example_count(op: &'static str, x: &Tensor, scale: Option<&Standardizer>) -> Result<usize> {
    match x.shape().first() {
        Some(&n) if n > 0 => {
            if let Some(s) = scale {
                if x.numel() / n != s.cols() {
                    return Err(Error::ShapeMismatch { op, lhs: x.shape().to_vec(), rhs: vec![s.cols()] });
                }
            }
            Ok(n)
        }
        _ => Err(Error::Empty { op }),
    }
}

/// Training inputs and targets on the host, each standardised when its
/// statistics are given, refused when a value is not finite.
pub(crate) fn training_data(
    x: &Tensor,
    x_scale: Option<&Standardizer>,
    y: &Tensor,
    y_scale: Option<&Standardizer>,
    ctx: &Context,
) -> Result<(Tensor, Tensor)> {
    let (xs, ys) = (host_scaled(x, x_scale)?, host_scaled(y, y_scale)?);
    for (t, what) in [(&xs, "inputs"), (&ys, "targets")] {
        if !t.all_finite(ctx)? {
            return Err(Error::NonFinite { what: format!("training {what} (after standardisation)") });
        }
    }
    Ok((xs, ys))
}

/// Checkpoint metadata: which statistics a model's checkpoint holds
/// (`x_scale,y_scale`, or empty), so that deleting them is noticed.
pub(crate) const META_SCALES: &str = "standardized";

/// Records in `ck` which of the statistics `scales` (key, present) it holds.
pub(crate) fn mark_scales(ck: &mut Checkpoint, scales: &[(&str, bool)]) {
    let held: Vec<&str> = scales.iter().filter(|(_, p)| *p).map(|(k, _)| *k).collect();
    ck.set_metadata(META_SCALES, held.join(","));
}

/// Refuses a checkpoint whose statistics (key, found) differ from what its
/// `standardized` entry says it holds (files without the entry pass).
pub(crate) fn check_scale_marks(ck: &Checkpoint, scales: &[(&str, bool)]) -> Result<()> {
    let Some(marks) = ck.metadata().get(META_SCALES) else { return Ok(()) };
    let held: Vec<&str> = marks.split(',').filter(|k| !k.is_empty()).collect();
    for &(key, found) in scales {
        if held.contains(&key) != found {
            let (says, is) = if found { ("without", "holds") } else { ("with", "lacks") };
            return Err(Error::Parse {
                path: ck.source().to_string(),
                message: format!(
                    "metadata {META_SCALES} = {marks:?} says {says} {key}, but the file {is} {key}.mean/std"
                ),
            });
        }
    }
    Ok(())
}

/// Refuses `draws` predictions of `n` rows × `width` outputs that would not
/// fit in memory, before any is made: each draw keeps its `[n, width]`
/// values and some bookkeeping, the chunk being computed holds another
/// `[chunk, width]` per draw, and the caller keeps `extra` more `[n, width]`
/// vectors.
///
/// # Errors
/// [`Error::InvalidArgument`] for `draws == 0`; [`Error::TooLarge`] naming
/// `op` and the draws.
pub(crate) fn check_draws(op: &str, draws: usize, n: usize, width: usize, chunk: usize, extra: usize) -> Result<()> {
    use blitz_kernels::limits::{check_memory, f32_bytes, product_saturating};
    if draws == 0 {
        return Err(Error::invalid("draws", "0: at least one draw is needed"));
    }
    /// A draw's vector header, tensor and buffer, and the task that makes it.
    const PER_DRAW: usize = 256;
    let per_draw = f32_bytes(n.saturating_mul(width))
        .saturating_add(f32_bytes(n.min(chunk).saturating_mul(width)))
        .saturating_add(PER_DRAW as u64);
    let bytes = product_saturating(&[draws])
        .saturating_mul(per_draw)
        .saturating_add(f32_bytes(n.saturating_mul(width)).saturating_mul(extra as u64));
    check_memory(bytes, || format!("{op}: draws = {draws} of {n} rows × {width} outputs"))
}

/// `x` on the host, standardised when `scale` is given, refused with
/// [`Error::NonFinite`] naming the row and column of the first value that
/// is not finite before or after the standardisation.
pub(crate) fn checked_inputs(op: &str, x: &Tensor, scale: Option<&Standardizer>) -> Result<Tensor> {
    let per = x.numel() / x.shape().first().copied().unwrap_or(1).max(1);
    let at = |i: usize| format!("row {}, column {}", i / per.max(1), i % per.max(1));
    let mut v = x.to_vec()?;
    if let Some(i) = v.iter().position(|a| !a.is_finite()) {
        return Err(Error::NonFinite { what: format!("{op} input ({}: {})", at(i), v[i]) });
    }
    if let Some(s) = scale {
        s.apply(&mut v)?;
        if let Some(i) = v.iter().position(|a| !a.is_finite()) {
            return Err(Error::NonFinite { what: format!("{op} input once standardised ({})", at(i)) });
        }
    }
    Tensor::from_vec(v, x.shape())
}

/// `t` on the host, standardised per example when `scale` is given.
pub(crate) fn host_scaled(t: &Tensor, scale: Option<&Standardizer>) -> Result<Tensor> {
    match scale {
        None => t.to(Device::Cpu),
        Some(s) => {
            let mut v = t.to_vec()?;
            s.apply(&mut v)?;
            Tensor::from_vec(v, t.shape())
        }
    }
}

/// `draws` predictions of `net` on the host inputs `xs` (`[n, ...]`), in
/// chunks of `chunk` rows on `device`, with the variants and threads of `ctx`; each draw's outputs must be
/// `[rows, width]` and pass through `map` (softmax, say) before they are
/// gathered into one `[n, width]` vector per draw. Draw `i` uses the same
/// weights in every chunk (its tape is named by (seed, i) alone). Refused
/// before any draw when they would not fit ([`check_draws`]).
pub(crate) fn draws_in_chunks(
    ctx: &Context,
    op: &'static str,
    net: &dyn Module,
    xs: &Tensor,
    draws: usize,
    seed: u64,
    width: usize,
    chunk: usize,
    device: Device,
    map: impl Fn(&Tensor) -> Result<Tensor>,
) -> Result<Vec<Vec<f32>>> {
    let n = xs.shape().first().copied().unwrap_or(0);
    check_draws(op, draws, n, width, chunk, 0)?;
    let mut out: Vec<Vec<f32>> = vec![Vec::with_capacity(n * width); draws];
    let all: Vec<usize> = (0..n).collect();
    for rows in all.chunks(chunk) {
        let part = take_rows(xs, rows)?.to(device)?;
        for (d, t) in out.iter_mut().zip(net.predict_draws(ctx, &part, draws, seed)?) {
            if t.shape() != [rows.len(), width] {
                return Err(Error::ShapeMismatch { op, lhs: t.shape().to_vec(), rhs: vec![rows.len(), width] });
            }
            d.extend(map(&t)?.to_vec()?);
        }
    }
    Ok(out)
}
