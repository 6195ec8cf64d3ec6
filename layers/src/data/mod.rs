//! Data sets in memory, as small composable pieces:
//!
//! - [`read_delimited`]: delimited text (comma, tab, semicolon, white space;
//!   header detected; `.gz`; targets by name anywhere in the row;
//!   categorical targets) into a [`Dataset`], with errors that name the cell;
//! - [`Split`]: train/test by an index rule or a seeded shuffle;
//! - [`Standardizer`]: per-column statistics of the training rows, kept with
//!   the model;
//! - [`EpochOrder`] and [`take_rows`]: seeded mini-batches of any input shape;
//! - [`idx`]: the IDX files of MNIST.

mod delimited;
mod gzip;
pub mod idx;

pub use delimited::{parse_delimited, read_delimited, ColumnRef, Dataset, Delimiter, ReadOptions, Target, TargetKind};

use blitz_autograd::{Error, Result, Tensor};
use rand::seq::SliceRandom;
use rand::SeedableRng;

/// A dense row-major table of numbers.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// The values, row after row.
    pub data: Vec<f32>,
    /// Number of rows.
    pub rows: usize,
    /// Number of columns.
    pub cols: usize,
}

impl Table {
    /// A table of `rows` rows of `cols` values, `data` row after row.
    ///
    /// # Errors
    /// [`Error::InvalidShape`] unless `rows · cols` (checked) is `data.len()`.
    pub fn new(data: Vec<f32>, rows: usize, cols: usize) -> Result<Table> {
        let t = Table { data, rows, cols };
        t.check_shape("Table::new")?;
        Ok(t)
    }

    /// Refuses a table whose `rows · cols` (checked) is not its data's
    /// length (the fields are public): every method checks it first.
    ///
    /// # Errors
    /// [`Error::InvalidShape`] naming `op`.
    pub fn check_shape(&self, op: &'static str) -> Result<()> {
        if self.rows.checked_mul(self.cols) != Some(self.data.len()) {
            return Err(Error::InvalidShape {
                op,
                shape: vec![self.rows, self.cols],
                reason: format!("rows × cols is not the {} values the table holds", self.data.len()),
            });
        }
        Ok(())
    }

    /// Row `i`; empty when the table has no such row (or is malformed, see
    /// [`Table::check_shape`]).
    pub fn row(&self, i: usize) -> &[f32] {
        let range = i.checked_mul(self.cols).and_then(|a| Some(a..a.checked_add(self.cols)?));
        range.and_then(|r| self.data.get(r)).unwrap_or(&[])
    }

    /// Replaces the values of columns `cols` by ln(1 + x): a standard way to
    /// tame right-skewed, non-negative features before standardising.
    ///
    /// # Errors
    /// [`Error::AxisOutOfRange`] for a column the table does not have;
    /// [`Error::InvalidArgument`] for a value ≤ −1 (its log is undefined).
    pub fn log1p_columns(&mut self, cols: &[usize]) -> Result<()> {
        self.check_shape("log1p_columns")?;
        if let Some(&bad) = cols.iter().find(|&&c| c >= self.cols) {
            return Err(Error::AxisOutOfRange { op: "log1p_columns", axis: bad, rank: self.cols });
        }
        for r in 0..self.rows {
            for &c in cols {
                let v = &mut self.data[r * self.cols + c];
                if *v <= -1.0 {
                    return Err(Error::invalid("log1p_columns", format!("row {r}, column {c}: {} ≤ −1", *v)));
                }
                *v = v.ln_1p();
            }
        }
        Ok(())
    }

    /// The rows `idx`, in that order.
    ///
    /// # Errors
    /// [`Error::IndexOutOfRange`] for an index ≥ the row count.
    pub fn take_rows(&self, idx: &[usize]) -> Result<Table> {
        self.check_shape("Table::take_rows")?;
        if let Some(&bad) = idx.iter().find(|&&i| i >= self.rows) {
            return Err(Error::IndexOutOfRange { op: "Table::take_rows", index: bad, len: self.rows });
        }
        let data = idx.iter().flat_map(|&i| self.row(i).iter().copied()).collect();
        Ok(Table { data, rows: idx.len(), cols: self.cols })
    }

    /// The columns `start..end` as a new table.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] unless `start < end ≤ cols`.
    pub fn columns(&self, start: usize, end: usize) -> Result<Table> {
        self.check_shape("Table::columns")?;
        if !(start < end && end <= self.cols) {
            return Err(Error::invalid("columns", format!("{start}..{end} of {} columns", self.cols)));
        }
        let data = (0..self.rows).flat_map(|i| self.row(i)[start..end].to_vec()).collect();
        Ok(Table { data, rows: self.rows, cols: end - start })
    }

    /// The table as a `[rows, cols]` tensor.
    ///
    /// # Errors
    /// [`Error::InvalidShape`] for a malformed table ([`Table::check_shape`]).
    pub fn to_tensor(&self) -> Result<Tensor> {
        self.check_shape("Table::to_tensor")?;
        Tensor::from_vec(self.data.clone(), &[self.rows, self.cols])
    }
}

/// How to split rows into a training and a test set.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Split {
    /// Test rows: those whose 0-based index is a multiple of `k` (Boston's
    /// split in the examples and the peer's benchmark is `EveryKth(4)`).
    EveryKth(usize),
    /// A seeded shuffle; the first `round(fraction · n)` shuffled rows are the test set.
    Fraction {
        /// Share of the rows held out, in (0, 1).
        test: f32,
        /// Seed of the shuffle.
        seed: u64,
    },
}

impl Split {
    /// (training rows, test rows) of `n` rows, each in increasing order.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for `k < 2` or a fraction outside (0, 1);
    /// [`Error::Empty`] when either side would be empty.
    pub fn indices(&self, n: usize) -> Result<(Vec<usize>, Vec<usize>)> {
        let (train, test): (Vec<usize>, Vec<usize>) = match *self {
            Split::EveryKth(k) => {
                if k < 2 {
                    return Err(Error::invalid("test_every", format!("{k}: must be at least 2")));
                }
                (0..n).partition(|i| i % k != 0)
            }
            Split::Fraction { test, seed } => {
                if !(test > 0.0 && test < 1.0) {
                    return Err(Error::invalid("test_fraction", format!("{test}: must be in (0, 1)")));
                }
                let mut order: Vec<usize> = (0..n).collect();
                order.shuffle(&mut rand::rngs::StdRng::seed_from_u64(seed ^ 0x5B11_7000));
                let k = ((test as f64 * n as f64).round() as usize).clamp(1, n.saturating_sub(1).max(1));
                let mut test_rows = order[..k.min(n)].to_vec();
                let mut train_rows = order[k.min(n)..].to_vec();
                test_rows.sort_unstable();
                train_rows.sort_unstable();
                (train_rows, test_rows)
            }
        };
        if train.is_empty() || test.is_empty() {
            return Err(Error::Empty { op: "split (a side has no rows)" });
        }
        Ok((train, test))
    }

    /// The training and test parts of `d`.
    ///
    /// # Errors
    /// As [`Split::indices`].
    pub fn apply(&self, d: &Dataset) -> Result<(Dataset, Dataset)> {
        let (train, test) = self.indices(d.rows())?;
        Ok((d.select(&train)?, d.select(&test)?))
    }
}

/// The order in which epoch `epoch` (1-based) visits `n` examples: one
/// generator seeded by `seed` shuffles the examples again at the start of
/// every epoch, so the order depends on (`seed`, `epoch`) alone and a run
/// resumed at any epoch replays it exactly ([`EpochOrder`] does the same
/// epoch after epoch without replaying).
pub fn epoch_order(n: usize, seed: u64, epoch: usize) -> Vec<usize> {
    let mut o = EpochOrder::new(n, seed);
    for _ in 0..epoch {
        o.next_epoch();
    }
    o.order
}

/// The batch order of successive epochs (see [`epoch_order`]).
#[derive(Debug)]
pub struct EpochOrder {
    rng: rand::rngs::StdRng,
    order: Vec<usize>,
}

impl EpochOrder {
    /// Before the first epoch.
    pub fn new(n: usize, seed: u64) -> EpochOrder {
        EpochOrder { rng: rand::rngs::StdRng::seed_from_u64(seed ^ 0x005E_ED0F_DA7A), order: (0..n).collect() }
    }

    /// Shuffles for the next epoch and returns its order.
    pub fn next_epoch(&mut self) -> &[usize] {
        self.order.shuffle(&mut self.rng);
        &self.order
    }
}

/// The examples `idx` of `t` (shape `[n, ...]`, any trailing shape), as a
/// tensor of shape `[idx.len(), ...]` on `t`'s device.
///
/// # Errors
/// [`Error::InvalidShape`] for a scalar; [`Error::IndexOutOfRange`] for an
/// index ≥ n.
pub fn take_rows(t: &Tensor, idx: &[usize]) -> Result<Tensor> {
    let Some(&n) = t.shape().first() else {
        return Err(Error::InvalidShape { op: "take_rows", shape: vec![], reason: "needs an example axis".into() });
    };
    if let Some(&bad) = idx.iter().find(|&&i| i >= n) {
        return Err(Error::IndexOutOfRange { op: "take_rows", index: bad, len: n });
    }
    let per = t.numel() / n.max(1);
    let copy;
    let host = match t.device() {
        blitz_autograd::Device::Cpu => t.buffer().as_cpu("take_rows")?,
        _ => {
            copy = t.to_vec()?;
            &copy[..]
        }
    };
    let data = idx.iter().flat_map(|&i| host[i * per..(i + 1) * per].iter().copied()).collect();
    let mut shape = t.shape().to_vec();
    shape[0] = idx.len();
    Tensor::from_vec(data, &shape)?.to(t.device())
}

/// The largest |mean| and deviation a [`Standardizer`] takes: 2^-20 of
/// `f32::MAX`, so that a standardised value of ±2^20 maps back to a finite
/// number.
pub const MAX_SCALE: f32 = f32::MAX / 1_048_576.0;

/// The smallest deviation [`Standardizer::check_stats`] accepts for a column
/// of mean `m`.
fn std_floor(m: f32) -> f32 {
    f32::MIN_POSITIVE.max(m.abs() * 2f32.powi(-41))
}

/// Per-column mean and standard deviation, to map columns to zero mean and
/// unit variance with the *training* rows' statistics.
#[derive(Debug, Clone, PartialEq)]
pub struct Standardizer {
    /// Column means.
    pub mean: Vec<f32>,
    /// Column standard deviations (population; 1 for a constant column).
    pub std: Vec<f32>,
}

impl Standardizer {
    /// The statistics of `t`'s columns.
    ///
    /// # Errors
    /// [`Error::Empty`] for a table without rows; [`Error::InvalidShape`]
    /// for a malformed one ([`Table::check_shape`]); [`Error::NonFinite`]
    /// for a value that is not finite; [`Error::InvalidArgument`] for a
    /// column whose mean or spread is beyond [`MAX_SCALE`].
    pub fn fit(t: &Table) -> Result<Standardizer> {
        t.check_shape("Standardizer::fit")?;
        if t.rows == 0 {
            return Err(Error::Empty { op: "Standardizer::fit" });
        }
        let n = t.rows as f64;
        let mut mean = vec![0f32; t.cols];
        let mut std = vec![0f32; t.cols];
        for j in 0..t.cols {
            let m = (0..t.rows).map(|i| t.row(i)[j] as f64).sum::<f64>() / n;
            let v = (0..t.rows).map(|i| (t.row(i)[j] as f64 - m).powi(2)).sum::<f64>() / n;
            if !m.is_finite() || !v.is_finite() {
                let at = (0..t.rows).find(|&i| !t.row(i)[j].is_finite()).unwrap_or(0);
                return Err(Error::NonFinite { what: format!("Standardizer::fit: row {at}, column {j}") });
            }
            mean[j] = m as f32;
            // A constant column stays constant (0) instead of dividing by
            // zero; so does one whose spread f32 cannot resolve (below the
            // floor of `check_column`, which real data never reach).
            let s = v.sqrt() as f32;
            std[j] = if v > 0.0 && s >= std_floor(mean[j]) { s } else { std_floor(mean[j]).max(1.0) };
        }
        let s = Standardizer { mean, std };
        if let Err(why) = s.check_stats() {
            return Err(Error::invalid("Standardizer::fit", why));
        }
        Ok(s)
    }

    /// (x − mean) / std, column by column.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] when the column counts differ;
    /// [`Error::InvalidShape`] for a malformed table.
    pub fn transform(&self, t: &Table) -> Result<Table> {
        self.check(t)?;
        let data = t.data.iter().enumerate().map(|(k, v)| (v - self.mean[k % t.cols]) / self.std[k % t.cols]).collect();
        Ok(Table { data, rows: t.rows, cols: t.cols })
    }

    /// x·std + mean, column by column (back to the original units).
    ///
    /// # Errors
    /// As [`Standardizer::transform`].
    pub fn inverse(&self, t: &Table) -> Result<Table> {
        self.check(t)?;
        let data = t.data.iter().enumerate().map(|(k, v)| v * self.std[k % t.cols] + self.mean[k % t.cols]).collect();
        Ok(Table { data, rows: t.rows, cols: t.cols })
    }

    /// The statistics of the columns of `data`, `cols` values per row (the
    /// features of examples of any shape, flattened).
    ///
    /// # Errors
    /// [`Error::Empty`] for no rows; [`Error::InvalidShape`] when the length
    /// is not a multiple of `cols`.
    pub fn fit_rows(data: &[f32], cols: usize) -> Result<Standardizer> {
        if cols == 0 || !data.len().is_multiple_of(cols) {
            return Err(Error::InvalidShape {
                op: "Standardizer::fit_rows",
                shape: vec![data.len()],
                reason: format!("not a whole number of rows of {cols}"),
            });
        }
        Standardizer::fit(&Table { data: data.to_vec(), rows: data.len() / cols, cols })
    }

    /// (x − mean) / std in place, on rows of [`Standardizer::cols`] values.
    ///
    /// # Errors
    /// [`Error::InvalidShape`] when the length is not a multiple of the column count.
    pub fn apply(&self, data: &mut [f32]) -> Result<()> {
        self.check_len("Standardizer::apply", data.len())?;
        for row in data.chunks_mut(self.cols()) {
            for ((v, m), s) in row.iter_mut().zip(&self.mean).zip(&self.std) {
                *v = (*v - m) / s;
            }
        }
        Ok(())
    }

    /// x·std + mean in place (back to the original units).
    ///
    /// # Errors
    /// As [`Standardizer::apply`].
    pub fn unapply(&self, data: &mut [f32]) -> Result<()> {
        self.check_len("Standardizer::unapply", data.len())?;
        for row in data.chunks_mut(self.cols()) {
            for ((v, m), s) in row.iter_mut().zip(&self.mean).zip(&self.std) {
                *v = *v * s + m;
            }
        }
        Ok(())
    }

    /// The number of columns.
    pub fn cols(&self) -> usize {
        self.mean.len()
    }

    /// Writes the statistics into checkpoint metadata as `{key}.mean` and
    /// `{key}.std` (comma-separated; each `f32` printed so that it reads back exactly).
    pub fn to_metadata(&self, ck: &mut crate::Checkpoint, key: &str) {
        let join = |v: &[f32]| v.iter().map(f32::to_string).collect::<Vec<_>>().join(",");
        ck.set_metadata(format!("{key}.mean"), join(&self.mean));
        ck.set_metadata(format!("{key}.std"), join(&self.std));
    }

    /// Reads statistics written by [`Standardizer::to_metadata`]; `None` when
    /// the checkpoint has none under `key`.
    ///
    /// # Errors
    /// [`Error::Parse`] for malformed values, one of the two keys without the
    /// other, or statistics [`Standardizer::check_stats`] refuses.
    pub fn from_metadata(ck: &crate::Checkpoint, key: &str) -> Result<Option<Standardizer>> {
        let m = ck.metadata();
        let (mean, std) = match (m.get(&format!("{key}.mean")), m.get(&format!("{key}.std"))) {
            (Some(mean), Some(std)) => (mean, std),
            (None, None) => return Ok(None),
            (mean, _) => {
                let (has, lacks) = if mean.is_some() { ("mean", "std") } else { ("std", "mean") };
                return Err(Error::Parse {
                    path: ck.source().to_string(),
                    message: format!("metadata {key}.{has} without {key}.{lacks}"),
                });
            }
        };
        let parse = |s: &str| -> Result<Vec<f32>> {
            s.split(',')
                .map(|v| match v.parse::<f32>() {
                    Ok(x) if x.is_finite() => Ok(x),
                    _ => Err(Error::Parse {
                        path: ck.source().to_string(),
                        message: format!("metadata {key}: {v:?} is not a finite number"),
                    }),
                })
                .collect()
        };
        let (mean, std) = (parse(mean)?, parse(std)?);
        let bad = |message: String| Error::Parse { path: ck.source().to_string(), message };
        if mean.len() != std.len() {
            return Err(bad(format!("metadata {key}: {} means but {} deviations", mean.len(), std.len())));
        }
        let s = Standardizer { mean, std };
        s.check_stats().map_err(|why| bad(format!("metadata {key}: {why}")))?;
        Ok(Some(s))
    }

    /// Whether every column's statistics can standardise f32 values and map
    /// them back: mean and deviation finite with |mean|, std ≤ [`MAX_SCALE`]
    /// (a standardised value of ±2^20 maps back to a finite number), and
    /// std ≥ max(smallest normal f32, 2^-41·|mean|). Statistics fitted on
    /// f32 data always pass the floor: two distinct f32 values near m differ
    /// by at least 2^-24·|m|, so a column of fewer than 2^32 rows that is not
    /// constant has a deviation of at least 2^-40·|m|.
    ///
    /// # Errors
    /// Why, as text, naming the column.
    pub fn check_stats(&self) -> std::result::Result<(), String> {
        if self.mean.len() != self.std.len() || self.mean.is_empty() {
            return Err(format!("{} means and {} deviations: one of each per column", self.mean.len(), self.std.len()));
        }
        for (j, (&m, &s)) in self.mean.iter().zip(&self.std).enumerate() {
            if !(m.is_finite() && m.abs() <= MAX_SCALE) {
                return Err(format!("column {j}: mean {m} is not finite or beyond ±{MAX_SCALE:e}"));
            }
            if !(s.is_finite() && s <= MAX_SCALE) {
                return Err(format!("column {j}: deviation {s} is not finite or beyond {MAX_SCALE:e}"));
            }
            let floor = std_floor(m);
            if s < floor {
                return Err(format!(
                    "column {j}: deviation {s:e} is below {floor:e} (the smallest normal f32, or 2^-41·|mean {m}|): \
                     standardised values would not be finite or meaningful"
                ));
            }
        }
        Ok(())
    }

    fn check_len(&self, op: &'static str, len: usize) -> Result<()> {
        if self.cols() == 0 || !len.is_multiple_of(self.cols()) {
            return Err(Error::InvalidShape {
                op,
                shape: vec![len],
                reason: format!("not rows of {} columns", self.cols()),
            });
        }
        Ok(())
    }

    fn check(&self, t: &Table) -> Result<()> {
        t.check_shape("Standardizer")?;
        if t.cols != self.mean.len() {
            return Err(Error::ShapeMismatch {
                op: "Standardizer",
                lhs: vec![t.rows, t.cols],
                rhs: vec![self.mean.len()],
            });
        }
        Ok(())
    }
}
