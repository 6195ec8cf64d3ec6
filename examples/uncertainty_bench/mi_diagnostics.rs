//! `--mi-diagnostics`: where each sampling method's uncertainty sits on the
//! test, noise and rotated digits.

use crate::cli::Args;
use crate::json::num;
use crate::mnist::{fit_swag, lenet, mnist_ivon_config, swag_config, MnistSets};
use crate::mnist_models::{bayesian_lenet, digit_names};
use blitz::layers::metrics::{accuracy, class_nll, ood_auroc};
use blitz::layers::params;
use blitz::prelude::*;

/// The 10th, 50th and 90th percentiles of `v` (nearest rank).
fn quantiles3(v: &[f32]) -> [f32; 3] {
    let mut s = v.to_vec();
    s.sort_by(f32::total_cmp);
    let at = |q: f64| s[((s.len() - 1) as f64 * q).round() as usize];
    [at(0.1), at(0.5), at(0.9)]
}

fn argmax(row: &[f32]) -> usize {
    row.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map_or(0, |(i, _)| i)
}

/// Where one prediction's uncertainty sits on one input set, as a JSON
/// object: quantiles of the MI, the entropy H and the expected entropy
/// (H − MI); the share of inputs on which all draws (the first 5 draws)
/// pick the same class; the mean share of draws that pick their input's
/// modal class; the class the mean picks most often and its share; the
/// draws' mean top probability.
fn set_stats(p: &ClassPrediction) -> String {
    let k = p.classes;
    let n = p.entropy.len();
    let eh: Vec<f32> = p.entropy.iter().zip(&p.mutual_information).map(|(h, m)| h - m).collect();
    let (mut all, mut all5, mut modal, mut top_p) = (0usize, 0usize, 0.0f64, 0.0f64);
    for i in 0..n {
        let picks: Vec<usize> = p.draws.iter().map(|d| argmax(&d[i * k..(i + 1) * k])).collect();
        all += picks.iter().all(|&c| c == picks[0]) as usize;
        all5 += picks.iter().take(5).all(|&c| c == picks[0]) as usize;
        let mut count = vec![0usize; k];
        picks.iter().for_each(|&c| count[c] += 1);
        modal += *count.iter().max().unwrap_or(&0) as f64 / picks.len() as f64;
        top_p +=
            p.draws.iter().map(|d| d[i * k..(i + 1) * k].iter().fold(0.0f32, |a, &b| a.max(b)) as f64).sum::<f64>()
                / p.draws.len() as f64;
    }
    let mut hist = vec![0usize; k];
    p.predicted.iter().for_each(|&c| hist[c] += 1);
    let top = argmax(&hist.iter().map(|&c| c as f32).collect::<Vec<_>>());
    let q = |v: &[f32]| {
        let [a, b, c] = quantiles3(v);
        format!("[{},{},{}]", num(a as f64), num(b as f64), num(c as f64))
    };
    let nf = n as f64;
    format!(
        "{{\"mi_q10_50_90\":{},\"entropy_q10_50_90\":{},\"expected_entropy_q10_50_90\":{},\"all_draws_agree\":{},\"first5_draws_agree\":{},\"modal_class_share_of_draws\":{},\"top_class\":{top},\"top_class_share\":{},\"draw_top_prob\":{}}}",
        q(&p.mutual_information),
        q(&p.entropy),
        q(&eh),
        num(all as f64 / nf),
        num(all5 as f64 / nf),
        num(modal / nf),
        num(hist[top] as f64 / nf),
        num(top_p / nf)
    )
}

/// Runs `predict(inputs, draws)` on the test, noise and rotated digits and
/// prints one line of the diagnostics table and its JSON.
#[allow(clippy::too_many_arguments)]
fn mi_diag_row(
    method: &str,
    setting: &str,
    draws: usize,
    sets: (&Tensor, &Tensor, &Tensor),
    labels: &[usize],
    predict: &dyn Fn(&Tensor, usize) -> Result<ClassPrediction>,
) -> Result<()> {
    let (t, n, r) = (predict(sets.0, draws)?, predict(sets.1, draws)?, predict(sets.2, draws)?);
    mi_diag_report(method, setting, draws, [&t, &n, &r], labels)
}

/// [`mi_diag_row`] for predictions already made on the test, noise and rotated digits.
fn mi_diag_report(
    method: &str,
    setting: &str,
    draws: usize,
    [t, n, r]: [&ClassPrediction; 3],
    labels: &[usize],
) -> Result<()> {
    let k = t.classes;
    let acc = accuracy(&t.probs, k, labels)?;
    let nll = class_nll(&t.probs, k, labels)?;
    let eh =
        |p: &ClassPrediction| -> Vec<f32> { p.entropy.iter().zip(&p.mutual_information).map(|(h, m)| h - m).collect() };
    let n_mi = ood_auroc(&t.mutual_information, &n.mutual_information)?;
    let n_h = ood_auroc(&t.entropy, &n.entropy)?;
    let n_eh = ood_auroc(&eh(t), &eh(n))?;
    let r_mi = ood_auroc(&t.mutual_information, &r.mutual_information)?;
    let [_, tm, _] = quantiles3(&t.mutual_information);
    let [_, nm, _] = quantiles3(&n.mutual_information);
    let [_, nh, _] = quantiles3(&n.entropy);
    let agree = |p: &ClassPrediction| set_stats(p);
    // Which test digits overlap the noise: the share above the noise's
    // median MI, and the AUROC with the misclassified test digits left out.
    let above = t.mutual_information.iter().filter(|&&m| m > nm).count() as f64 / t.mutual_information.len() as f64;
    let right: Vec<f32> = t
        .mutual_information
        .iter()
        .zip(&t.predicted)
        .zip(labels)
        .filter(|((_, p), l)| p == l)
        .map(|((m, _), _)| *m)
        .collect();
    let n_mi_right = ood_auroc(&right, &n.mutual_information)?;
    let wrong: Vec<f32> = t
        .mutual_information
        .iter()
        .zip(&t.predicted)
        .zip(labels)
        .filter(|((_, p), l)| p != l)
        .map(|((m, _), _)| *m)
        .collect();
    let wrong_above = wrong.iter().filter(|&&m| m > nm).count() as f64 / wrong.len().max(1) as f64;
    println!(
        "{method:<28} {setting:<14} {draws:>5} {acc:>7.4} {nll:>7.4} {n_mi:>8.3} {n_h:>8.3} {n_eh:>8.3} {r_mi:>8.3} {tm:>8.4} {nm:>8.4} {nh:>8.4}"
    );
    println!(
        "{{\"dataset\":\"mnist_lenet_mi_diag\",\"method\":\"{method}\",\"setting\":\"{setting}\",\"draws\":{draws},\"accuracy\":{},\"nll\":{},\"auroc_noise_mi\":{},\"auroc_noise_entropy\":{},\"auroc_noise_expected_entropy\":{},\"auroc_rotated_mi\":{},\"auroc_noise_mi_correct_test_only\":{},\"test_share_above_noise_median_mi\":{},\"misclassified_test_share_above_noise_median_mi\":{},\"test\":{},\"noise\":{},\"rotated\":{}}}",
        num(acc as f64),
        num(nll as f64),
        num(n_mi as f64),
        num(n_h as f64),
        num(n_eh as f64),
        num(r_mi as f64),
        num(n_mi_right as f64),
        num(above),
        num(wrong_above),
        agree(t),
        agree(n),
        agree(r)
    );
    Ok(())
}

/// One standard normal draw (Box–Muller).
fn std_normal(rng: &mut StdRng) -> f32 {
    let u: f64 = 1.0 - rng.random::<f64>();
    let v: f64 = rng.random::<f64>();
    ((-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()) as f32
}

fn mean_abs(v: &[f32]) -> f64 {
    v.iter().map(|x| x.abs() as f64).sum::<f64>() / v.len().max(1) as f64
}

fn mean_of(v: &[f32]) -> f64 {
    v.iter().map(|&x| x as f64).sum::<f64>() / v.len().max(1) as f64
}

/// Why MI separates the noise images from the test digits poorly for one
/// network's draws (`--mi-diagnostics`): each sampling method of the MNIST
/// section, trained as there, predicted with 20 and 80 draws and with its
/// posterior spread scaled at prediction time (BBB, SWAG, IVON: σ ×2 and
/// ×4; MC dropout: rate 0.5 instead of the trained 0.25; last-layer
/// Laplace: prior precision /4 and /16); the posterior's spread per layer;
/// and 20 draws pooled from 5 runs of each method (seeds 0–4, 4 draws each):
/// diversity across modes.
pub fn mnist_mi_diagnostics(args: &Args) -> Result<()> {
    let d = MnistSets::load()?;
    let (x, labels) = (&d.x, &d.labels);
    let sets = (&d.xt, &d.xn, &d.xr);
    let tl = &d.test_labels;
    let (epochs, swag_epochs) = if args.quick { (3, 2) } else { (6, 3) };
    let det = TrainConfig { epochs, batch_size: 64, lr: 1e-3, lr_final: 1e-3, sample_nbr: 1, ..TrainConfig::default() };
    let names = digit_names();
    let k = 10;
    println!("MNIST LeNet MI diagnostics: {epochs} epochs; medians: MI test, MI noise, H noise");
    println!(
        "{:<28} {:<14} {:>5} {:>7} {:>7} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}",
        "method", "setting", "draws", "acc", "NLL", "nz MI", "nz H", "nz E[H]", "rot MI", "MI test", "MI nz", "H nz"
    );
    let spread = |method: &str, rows: Vec<(String, f64, f64)>| {
        let body: Vec<String> = rows
            .iter()
            .map(|(n, s, m)| format!("{{\"param\":\"{n}\",\"mean_sigma\":{},\"mean_abs_mean\":{}}}", num(*s), num(*m)))
            .collect();
        println!(
            "{{\"dataset\":\"mnist_lenet_mi_diag_spread\",\"method\":\"{method}\",\"params\":[{}]}}",
            body.join(",")
        );
    };

    // Deep ensemble of 5: the members' disagreement, for comparison.
    let ens = DeepEnsemble::classification(5, names.clone(), 0, |s| lenet(s, None))?;
    ens.fit(x, labels, &det)?;
    mi_diag_row("deep_ensemble_5", "members", 5, sets, tl, &|x, _| ens.predict(x, 1, 4))?;

    // Last-layer Laplace, sampled.
    let clf = Classifier::new(lenet(0, None)?, names.clone())?;
    clf.fit(x, labels, &det, |_| {})?;
    let mut la = LastLayerLaplace::from_classifier(clf)?;
    la.fit(x, LaplaceStructure::Auto)?;
    let lambda = la.prior_precision();
    println!("last-layer Laplace prior precision {lambda:.3}");
    for d in [20, 80] {
        mi_diag_row("last_layer_laplace_sampled", "lambda", d, sets, tl, &|x, d| la.predict_sampled(x, d, 1))?;
    }
    for f in [4.0, 16.0] {
        la.set_prior_precision(lambda / f)?;
        let s = format!("lambda/{f}");
        mi_diag_row("last_layer_laplace_sampled", &s, 20, sets, tl, &|x, d| la.predict_sampled(x, d, 1))?;
    }

    // SWAG.
    let (clf, swag) = fit_swag(&d, &det, swag_epochs)?;
    for d in [20, 80] {
        mi_diag_row("swag", "sigma x1", d, sets, tl, &|x, d| swag.predict_classifier(&clf, x, d, 2))?;
    }
    let mean = swag.mean();
    let scaled_swag = |x: &Tensor, d: usize, c: f32| -> Result<ClassPrediction> {
        let mut out = Vec::with_capacity(d);
        for i in 0..d {
            let th: Vec<f32> = swag.sample(7000 + i as u64).iter().zip(&mean).map(|(t, m)| m + c * (t - m)).collect();
            swag.load(&clf.net, &th)?;
            out.push(clf.predict(x, 1, i as u64)?.probs);
        }
        swag.load(&clf.net, &mean)?;
        ClassPrediction::from_draws(k, out)
    };
    for c in [2.0f32, 4.0] {
        mi_diag_row("swag", &format!("sigma x{c}"), 20, sets, tl, &|x, d| scaled_swag(x, d, c))?;
    }
    {
        let var = swag.diag_variance();
        let mut at = 0;
        let mut rows = Vec::new();
        for (n, p) in params(&clf.net) {
            let size: usize = p.shape().iter().product();
            let sd: Vec<f32> = var[at..at + size].iter().map(|v| v.max(0.0).sqrt()).collect();
            rows.push((n, mean_of(&sd), mean_abs(&mean[at..at + size])));
            at += size;
        }
        spread("swag (diagonal part)", rows);
    }

    // MC dropout: trained at 0.25; predicted at 0.25 and at 0.5 (the same
    // weights in a network whose dropout layers drop half).
    let clf = Classifier::new(McDropout::new(lenet(0, Some(0.25))?), names.clone())?;
    clf.fit(x, labels, &det, |_| {})?;
    for d in [20, 80] {
        mi_diag_row("mc_dropout", "p 0.25", d, sets, tl, &|x, d| clf.predict(x, d, 3))?;
    }
    for p in [0.5f32, 0.75] {
        let wider = Classifier {
            net: McDropout::new(lenet(0, Some(p))?),
            class_names: names.clone(),
            x_scale: clf.x_scale.clone(),
            context: clf.context.clone(),
        };
        for ((_, to), (_, from)) in params(&wider.net).iter().zip(params(&clf.net)) {
            to.set(from.value())?;
        }
        mi_diag_row("mc_dropout", &format!("p {p}"), 20, sets, tl, &|x, d| wider.predict(x, d, 3))?;
    }

    // IVON.
    let clf = Classifier::new(lenet(0, None)?, names.clone())?;
    let ivon = Ivon::fit_classifier(&clf, x, labels, &mnist_ivon_config(epochs))?;
    for d in [20, 80] {
        mi_diag_row("ivon", "sigma x1", d, sets, tl, &|x, d| ivon.predict_classifier(&clf, x, d, 5))?;
    }
    let std = ivon.posterior_std();
    let named = params(&clf.net);
    let scaled_ivon = |x: &Tensor, d: usize, c: f32| -> Result<ClassPrediction> {
        let mut rng = StdRng::seed_from_u64(8000);
        let mut out = Vec::with_capacity(d);
        for i in 0..d {
            for (((_, p), m), s) in named.iter().zip(ivon.posterior_mean()).zip(&std) {
                let w: Vec<f32> = m.iter().zip(s).map(|(&m, &s)| m + c * s * std_normal(&mut rng)).collect();
                p.set(Tensor::from_vec(w, &p.shape())?)?;
            }
            out.push(clf.predict(x, 1, i as u64)?.probs);
        }
        ivon.load_mean()?;
        ClassPrediction::from_draws(k, out)
    };
    for c in [2.0f32, 4.0] {
        mi_diag_row("ivon", &format!("sigma x{c}"), 20, sets, tl, &|x, d| scaled_ivon(x, d, c))?;
    }
    spread(
        "ivon",
        named
            .iter()
            .zip(ivon.posterior_mean())
            .zip(&std)
            .map(|(((n, _), m), s)| (n.clone(), mean_of(s), mean_abs(m)))
            .collect(),
    );

    // Bayes by Backprop: σ = softplus(ρ) scaled by setting ρ' = softplus⁻¹(c·σ).
    let clf = Classifier::new(bayesian_lenet(&mut StdRng::seed_from_u64(0))?, names.clone())?;
    clf.fit(x, labels, &TrainConfig { sample_nbr: 3, ..det.clone() }, |_| {})?;
    for d in [20, 80] {
        mi_diag_row("bayes_by_backprop", "sigma x1", d, sets, tl, &|x, d| clf.predict(x, d, 6))?;
    }
    let named = params(&clf.net);
    let saved: Vec<Tensor> = named.iter().map(|(_, p)| p.value()).collect();
    let softplus = |r: f32| if r > 20.0 { r } else { r.exp().ln_1p() };
    let mut rows = Vec::new();
    for (n, p) in &named {
        if let Some(base) = n.strip_suffix("rho") {
            let sigma: Vec<f32> = p.value().to_vec()?.into_iter().map(softplus).collect();
            let mu: Option<Vec<f32>> =
                named.iter().find(|(m, _)| m == &format!("{base}mu")).map(|(_, q)| q.value().to_vec()).transpose()?;
            rows.push((n.clone(), mean_of(&sigma), mu.map_or(f64::NAN, |m| mean_abs(&m))));
        }
    }
    spread("bayes_by_backprop", rows);
    for c in [2.0f32, 4.0] {
        for ((n, p), v) in named.iter().zip(&saved) {
            if n.ends_with("rho") {
                let r: Vec<f32> = v.to_vec()?.into_iter().map(|r| (c * softplus(r)).exp_m1().ln()).collect();
                p.set(Tensor::from_vec(r, &p.shape())?)?;
            }
        }
        mi_diag_row("bayes_by_backprop", &format!("sigma x{c}"), 20, sets, tl, &|x, d| clf.predict(x, d, 6))?;
        for ((_, p), v) in named.iter().zip(&saved) {
            p.set(v.clone())?;
        }
    }

    // Diversity across modes: 5 runs of each method from seeds 0–4 (its
    // initialisation and its own seeds), 4 draws of each, pooled into 20.
    let runs = 5u64;
    let per = 4;
    let report = |method: &str, pool: [Vec<Vec<f32>>; 3]| -> Result<()> {
        let [t, n, r] = pool.map(|d| ClassPrediction::from_draws(k, d));
        mi_diag_report(method, "5 runs x 4", runs as usize * per, [&t?, &n?, &r?], tl)
    };
    let add = |pool: &mut [Vec<Vec<f32>>; 3], f: &dyn Fn(&Tensor) -> Result<ClassPrediction>| -> Result<()> {
        for (i, xs) in [&d.xt, &d.xn, &d.xr].into_iter().enumerate() {
            pool[i].extend(f(xs)?.draws);
        }
        Ok(())
    };
    let mut pool: [Vec<Vec<f32>>; 3] = Default::default();
    for s in 0..runs {
        let clf = Classifier::new(lenet(s, None)?, names.clone())?;
        clf.fit(x, labels, &TrainConfig { epochs: epochs - swag_epochs, seed: s, ..det.clone() }, |_| {})?;
        let swag = Swag::collect_classifier(&clf, x, labels, &SwagConfig { seed: s, ..swag_config(swag_epochs) })?;
        add(&mut pool, &|xs| swag.predict_classifier(&clf, xs, per, 100 + s))?;
    }
    report("multi_swag", pool)?;
    let mut pool: [Vec<Vec<f32>>; 3] = Default::default();
    for s in 0..runs {
        let clf = Classifier::new(lenet(s, None)?, names.clone())?;
        let ivon = Ivon::fit_classifier(&clf, x, labels, &IvonConfig { seed: s, ..mnist_ivon_config(epochs) })?;
        add(&mut pool, &|xs| ivon.predict_classifier(&clf, xs, per, 100 + s))?;
    }
    report("multi_ivon", pool)?;
    let mut pool: [Vec<Vec<f32>>; 3] = Default::default();
    for s in 0..runs {
        let clf = Classifier::new(McDropout::new(lenet(s, Some(0.25))?), names.clone())?;
        clf.fit(x, labels, &TrainConfig { seed: s, ..det.clone() }, |_| {})?;
        add(&mut pool, &|xs| clf.predict(xs, per, 100 + s))?;
    }
    report("multi_mc_dropout", pool)?;
    let mut pool: [Vec<Vec<f32>>; 3] = Default::default();
    for s in 0..runs {
        let clf = Classifier::new(bayesian_lenet(&mut StdRng::seed_from_u64(s))?, names.clone())?;
        clf.fit(x, labels, &TrainConfig { sample_nbr: 3, seed: s, ..det.clone() }, |_| {})?;
        add(&mut pool, &|xs| clf.predict(xs, per, 100 + s))?;
    }
    report("multi_bayes_by_backprop", pool)?;
    Ok(())
}
