//! The cost comparison (`--only cost`): medians of interleaved repeats.

use crate::cli::Args;
use crate::json::num;
use crate::mnist::{images, lenet, mnist_ivon_config, MnistSets};
use crate::mnist_models::digit_names;
use crate::timing::{median, timed};
use blitz::prelude::*;

/// The cost goals, measured as medians of interleaved repeats after a warm-up.
pub fn cost(args: &Args) -> Result<()> {
    let d = MnistSets::load()?;
    let (x, labels, n_train) = (&d.x, &d.labels, d.n_train());
    let (n, batch) = (1280usize, 64usize);
    let steps = n / batch;
    let xs = images(&x.to_vec()?[..n * 784])?;
    let ls = labels[..n].to_vec();
    let names = digit_names();
    let repeats = if args.quick { 3 } else { 7 };
    // The MNIST section's deterministic training: its epochs of ⌈7000/64⌉ steps.
    let det_steps = (if args.quick { 3 } else { 6 }) * n_train.div_ceil(batch);
    let adam_cfg =
        TrainConfig { epochs: 1, batch_size: batch, lr: 1e-3, lr_final: 1e-3, sample_nbr: 1, ..TrainConfig::default() };
    let ivon_cfg = IvonConfig { epochs: 1, batch_size: batch, ess: Some(n_train as f32), ..mnist_ivon_config(1) };
    let threads = std::thread::available_parallelism().map(|t| t.get()).unwrap_or(1);
    let (mut adam, mut ivon, mut member, mut ens5, mut laplace, mut pass) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    // Round 0 is the warm-up (allocator, caches, thread pool): discarded.
    for r in 0..=repeats {
        let seed = r as u64;
        let a_clf = Classifier::new(lenet(seed, None)?, names.clone())?;
        let i_clf = Classifier::new(lenet(seed, None)?, names.clone())?;
        let adam_step = || timed(|| a_clf.fit(&xs, &ls, &adam_cfg, |_| {}).map(drop));
        let ivon_step = || timed(|| Ivon::fit_classifier(&i_clf, &xs, &ls, &ivon_cfg).map(drop));
        // Alternate which goes first, so that neither always follows the other.
        let (ta, ti) = if r % 2 == 0 {
            let ta = adam_step()?;
            (ta, ivon_step()?)
        } else {
            let ti = ivon_step()?;
            (adam_step()?, ti)
        };
        let one = Classifier::new(lenet(seed, None)?, names.clone())?;
        let ens = DeepEnsemble::classification(5, names.clone(), seed, |s| lenet(s, None))?;
        let tm = timed(|| one.fit(&xs, &ls, &adam_cfg, |_| {}).map(drop))?;
        let te = timed(|| ens.fit(&xs, &ls, &adam_cfg).map(drop))?;
        // One prediction pass over the training digits: the features the
        // Laplace fit needs (its floor), to show where its time goes.
        let tf = timed(|| a_clf.predict(x, 1, 0).map(drop))?;
        let mut la = LastLayerLaplace::from_classifier(a_clf)?;
        let tl = timed(|| la.fit(x, LaplaceStructure::Auto).map(drop))?;
        if r > 0 {
            adam.push(ta / steps as f64);
            ivon.push(ti / steps as f64);
            member.push(tm);
            ens5.push(te);
            laplace.push(tl);
            pass.push(tf);
        }
    }
    let (adam_ms, ivon_ms) = (median(&adam), median(&ivon));
    let (member_ms, ens_ms, la_ms, pass_ms) = (median(&member), median(&ens5), median(&laplace), median(&pass));
    let det_train_ms = adam_ms * det_steps as f64;
    let (r_ivon, r_ens, r_la) = (ivon_ms / adam_ms, ens_ms / member_ms, la_ms / det_train_ms);
    let met = |ok: bool| if ok { "met" } else { "not met" };
    println!(
        "Cost (LeNet, {n} digits = {steps} steps of {batch}; medians of {repeats} interleaved repeats after 1 warm-up; {threads} threads)"
    );
    println!(
        "  Adam step {adam_ms:.2} ms, IVON step {ivon_ms:.2} ms: {r_ivon:.2}x (goal ≤ 1.5x: {})",
        met(r_ivon <= 1.5)
    );
    println!(
        "  one member's epoch {member_ms:.0} ms, ensemble of 5 {ens_ms:.0} ms: {r_ens:.2}x (goal ≤ 5x: {})",
        met(r_ens <= 5.0)
    );
    println!(
        "  last-layer Laplace fit {la_ms:.0} ms on {n_train} digits vs deterministic training {det_train_ms:.0} ms ({det_steps} steps): +{:.1}% (goal ≤ 10%: {})",
        100.0 * r_la,
        met(r_la <= 0.1)
    );
    println!("  (one prediction pass over the {n_train} training digits: {pass_ms:.0} ms)");
    if args.json {
        println!(
            "{{\"dataset\":\"mnist_lenet_cost\",\"method\":\"cost\",\"repeats\":{repeats},\"warmup_rounds\":1,\"threads\":{threads},\"steps_per_run\":{steps},\"batch_size\":{batch},\"adam_step_ms\":{},\"ivon_step_ms\":{},\"ivon_vs_adam_step\":{},\"ivon_goal_met\":{},\"member_epoch_ms\":{},\"ensemble5_epoch_ms\":{},\"ensemble5_vs_member\":{},\"ensemble_goal_met\":{},\"laplace_fit_ms\":{},\"train_set_pass_ms\":{},\"deterministic_train_steps\":{det_steps},\"deterministic_train_ms\":{},\"laplace_vs_deterministic_train\":{},\"laplace_goal_met\":{}}}",
            num(adam_ms),
            num(ivon_ms),
            num(r_ivon),
            r_ivon <= 1.5,
            num(member_ms),
            num(ens_ms),
            num(r_ens),
            r_ens <= 5.0,
            num(la_ms),
            num(pass_ms),
            num(det_train_ms),
            num(r_la),
            r_la <= 0.1
        );
    }
    Ok(())
}
