//! Small data sets in memory: a numeric CSV loader and standardisation.

pub mod idx;

use blitz_autograd::{Error, Result, Tensor};
use std::path::Path;

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
    /// Row `i`.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// Replaces the values of columns `cols` by ln(1 + x): a standard way to
    /// tame right-skewed, non-negative features before standardising.
    ///
    /// # Errors
    /// [`Error::AxisOutOfRange`] for a column the table does not have;
    /// [`Error::InvalidArgument`] for a value ≤ −1 (its log is undefined).
    pub fn log1p_columns(&mut self, cols: &[usize]) -> Result<()> {
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

    /// The rows whose index satisfies `keep`, in order.
    pub fn select_rows(&self, keep: impl Fn(usize) -> bool) -> Table {
        let data: Vec<f32> = (0..self.rows).filter(|&i| keep(i)).flat_map(|i| self.row(i).to_vec()).collect();
        Table { rows: data.len() / self.cols.max(1), cols: self.cols, data }
    }

    /// The columns `start..end` as a new table.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] unless `start < end ≤ cols`.
    pub fn columns(&self, start: usize, end: usize) -> Result<Table> {
        if !(start < end && end <= self.cols) {
            return Err(Error::invalid("columns", format!("{start}..{end} of {} columns", self.cols)));
        }
        let data = (0..self.rows).flat_map(|i| self.row(i)[start..end].to_vec()).collect();
        Ok(Table { data, rows: self.rows, cols: end - start })
    }

    /// The table as a `[rows, cols]` tensor.
    ///
    /// # Errors
    /// Never for a well-formed table.
    pub fn to_tensor(&self) -> Result<Tensor> {
        Tensor::from_vec(self.data.clone(), &[self.rows, self.cols])
    }
}

/// Reads a comma-separated file of numbers, skipping `header_lines` lines
/// (and blank lines). Every row must have as many fields as the first.
///
/// # Errors
/// [`Error::Io`] when the file cannot be read; [`Error::Parse`] naming the
/// file, line and column of a field that is not a number or a row of the
/// wrong length; [`Error::Empty`] when no rows remain.
pub fn load_csv(path: impl AsRef<Path>, header_lines: usize) -> Result<Table> {
    let path = path.as_ref();
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| Error::Io { path: name.clone(), message: e.to_string() })?;
    parse_csv(&text, header_lines, &name)
}

/// [`load_csv`] on text already in memory; `source` names it in errors.
///
/// # Errors
/// As [`load_csv`], without the I/O.
pub fn parse_csv(text: &str, header_lines: usize, source: &str) -> Result<Table> {
    let mut data = Vec::new();
    let mut cols = 0;
    let mut rows = 0;
    for (i, line) in text.lines().enumerate().skip(header_lines) {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        if rows == 0 {
            cols = fields.len();
        } else if fields.len() != cols {
            return Err(Error::Parse {
                path: source.to_string(),
                message: format!("line {}: {} fields, expected {cols}", i + 1, fields.len()),
            });
        }
        for (j, f) in fields.iter().enumerate() {
            let v: f32 = f.trim_matches('"').parse().map_err(|_| Error::Parse {
                path: source.to_string(),
                message: format!("line {}, column {}: {f:?} is not a number", i + 1, j + 1),
            })?;
            data.push(v);
        }
        rows += 1;
    }
    if rows == 0 {
        return Err(Error::Empty { op: "load_csv" });
    }
    Ok(Table { data, rows, cols })
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
    /// [`Error::Empty`] for a table without rows.
    pub fn fit(t: &Table) -> Result<Standardizer> {
        if t.rows == 0 {
            return Err(Error::Empty { op: "Standardizer::fit" });
        }
        let n = t.rows as f64;
        let mut mean = vec![0f32; t.cols];
        let mut std = vec![0f32; t.cols];
        for j in 0..t.cols {
            let m = (0..t.rows).map(|i| t.row(i)[j] as f64).sum::<f64>() / n;
            let v = (0..t.rows).map(|i| (t.row(i)[j] as f64 - m).powi(2)).sum::<f64>() / n;
            mean[j] = m as f32;
            // A constant column stays constant (0) instead of dividing by zero.
            std[j] = if v > 0.0 { v.sqrt() as f32 } else { 1.0 };
        }
        Ok(Standardizer { mean, std })
    }

    /// (x − mean) / std, column by column.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] when the column counts differ.
    pub fn transform(&self, t: &Table) -> Result<Table> {
        self.check(t)?;
        let data = t.data.iter().enumerate().map(|(k, v)| (v - self.mean[k % t.cols]) / self.std[k % t.cols]).collect();
        Ok(Table { data, rows: t.rows, cols: t.cols })
    }

    /// x·std + mean, column by column (back to the original units).
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] when the column counts differ.
    pub fn inverse(&self, t: &Table) -> Result<Table> {
        self.check(t)?;
        let data = t.data.iter().enumerate().map(|(k, v)| v * self.std[k % t.cols] + self.mean[k % t.cols]).collect();
        Ok(Table { data, rows: t.rows, cols: t.cols })
    }

    fn check(&self, t: &Table) -> Result<()> {
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
