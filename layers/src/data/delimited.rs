//! A reader for delimited text: comma, tab, semicolon or runs of white
//! space, detected or given; header rows detected or given; `.gz` files
//! decompressed by their extension; target columns chosen by name or index,
//! anywhere in the row; categorical targets mapped to class indices.
//!
//! Every cell that is not a finite number where one is needed is reported
//! with the file, line and column and the text found, so a NaN never enters
//! training to surface thousands of steps later.
//!
//! ```
//! use blitz_layers::data::{parse_delimited, ColumnRef, ReadOptions, Target};
//! let text = "x1 label x2\n0.5 cat 1\n1.5 dog 2\n2.5 cat 3\n";
//! let opts = ReadOptions::default().with_target(ColumnRef::name("label")).categorical();
//! let d = parse_delimited(text, &opts, "pets.txt")?;
//! assert_eq!(d.feature_names, ["x1", "x2"]);
//! assert_eq!(d.x.data, [0.5, 1.0, 1.5, 2.0, 2.5, 3.0]);
//! let Some(Target::Classes { labels, names }) = &d.y else { unreachable!() };
//! assert_eq!((labels.as_slice(), names.as_slice()), (&[0, 1, 0][..], &["cat".to_string(), "dog".into()][..]));
//! # Ok::<(), blitz_autograd::Error>(())
//! ```

use super::Table;
use blitz_autograd::{Error, Result};
use std::collections::BTreeSet;
use std::path::Path;

/// How the cells of a row are separated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Delimiter {
    /// Detected from the first lines: tab, comma or semicolon when every
    /// sampled line has the same positive count of it, else white space.
    #[default]
    Auto,
    /// One character (`,` `\t` `;` `|` ...); double quotes group a cell.
    Char(char),
    /// One or more spaces or tabs; leading and trailing space ignored.
    Whitespace,
}

impl std::str::FromStr for Delimiter {
    type Err = Error;

    /// `auto`, `comma`, `tab`, `semicolon`, `whitespace` (or `space`), or a
    /// single character.
    fn from_str(s: &str) -> Result<Delimiter> {
        Ok(match s {
            "auto" => Delimiter::Auto,
            "comma" | "," => Delimiter::Char(','),
            "tab" | "\\t" | "\t" => Delimiter::Char('\t'),
            "semicolon" | ";" => Delimiter::Char(';'),
            "whitespace" | "space" | " " => Delimiter::Whitespace,
            _ => {
                let mut it = s.chars();
                match (it.next(), it.next()) {
                    // A character that can stand inside a number, a quote
                    // or a line break would split cells in the wrong places.
                    (Some(c), None) if c.is_alphanumeric() || ".+-\"\r\n".contains(c) => {
                        return Err(Error::invalid(
                            "delimiter",
                            format!("{c:?} can stand inside a cell (a number, a quote or a line break)"),
                        ))
                    }
                    (Some(c), None) => Delimiter::Char(c),
                    _ => {
                        return Err(Error::invalid(
                            "delimiter",
                            format!("{s:?}: use auto, comma, tab, semicolon, whitespace or one character"),
                        ))
                    }
                }
            }
        })
    }
}

impl std::fmt::Display for Delimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Delimiter::Auto => write!(f, "auto"),
            Delimiter::Char('\t') => write!(f, "tab"),
            Delimiter::Char(c) => write!(f, "{c:?}"),
            Delimiter::Whitespace => write!(f, "white space"),
        }
    }
}

/// A column by its header name or by its 0-based position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColumnRef {
    /// The column whose header cell is this name (exact match).
    Name(String),
    /// The column at this 0-based position.
    Index(usize),
    /// The last column.
    Last,
}

impl ColumnRef {
    /// A column by name.
    pub fn name(name: impl Into<String>) -> ColumnRef {
        ColumnRef::Name(name.into())
    }

    /// How a user would write it on a command line: a header name, a
    /// 0-based index when no header has that name, or `-1` for the last
    /// column. Resolved against the header by [`ColumnRef::resolve`].
    pub fn parse(s: &str) -> ColumnRef {
        match s {
            "-1" => ColumnRef::Last,
            _ => ColumnRef::Name(s.to_string()),
        }
    }

    /// The position of this column among `names`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming the column and listing the header
    /// when there is no such column.
    pub fn resolve(&self, names: &[String]) -> Result<usize> {
        let bad = |what: String| {
            let shown: Vec<&str> = names.iter().take(12).map(String::as_str).collect();
            let more = if names.len() > 12 { format!(", … ({} in all)", names.len()) } else { String::new() };
            Error::invalid("column", format!("{what}; the columns are {}{more}", shown.join(", ")))
        };
        match self {
            ColumnRef::Last if !names.is_empty() => Ok(names.len() - 1),
            ColumnRef::Last => Err(bad("no last column in an empty row".into())),
            ColumnRef::Index(i) if *i < names.len() => Ok(*i),
            ColumnRef::Index(i) => Err(bad(format!("index {i} is past the last column"))),
            ColumnRef::Name(n) => match names.iter().position(|h| h == n) {
                Some(i) => Ok(i),
                // A number that is no header's name is a 0-based index.
                None => match n.parse::<usize>() {
                    Ok(i) if i < names.len() => Ok(i),
                    _ => Err(bad(format!("no column named {n:?}"))),
                },
            },
        }
    }
}

impl std::fmt::Display for ColumnRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ColumnRef::Name(n) => write!(f, "{n}"),
            ColumnRef::Index(i) => write!(f, "{i}"),
            ColumnRef::Last => write!(f, "-1"),
        }
    }
}

/// What the target cells hold.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum TargetKind {
    /// Numbers (regression).
    #[default]
    Numeric,
    /// Class labels, any text; mapped to 0-based class indices. With
    /// `known: None` the classes are the labels found, sorted (numerically
    /// when every label is a number, so `2` comes before `10`); with
    /// `Some(names)` they are these, in this order, and an unknown label is
    /// an error (reading test data for a trained model).
    Categorical {
        /// The class names, when already known.
        known: Option<Vec<String>>,
    },
}

/// How to read a delimited file. Build with [`ReadOptions::default`] and the
/// `with_*` methods.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ReadOptions {
    /// The separator.
    pub delimiter: Delimiter,
    /// Header rows before the data; `None`: detected (the leading rows whose
    /// numeric cells are not where the data rows have theirs). The last
    /// header row names the columns; without one they are named by their
    /// 0-based position (`"0"`, `"1"`, ...).
    pub header_rows: Option<usize>,
    /// The target columns (none: every column is a feature, no target).
    pub targets: Vec<ColumnRef>,
    /// What the target cells hold.
    pub target_kind: TargetKind,
    /// The feature columns, in this order; `None`: every column that is not
    /// a target or ignored.
    pub features: Option<Vec<ColumnRef>>,
    /// Columns to leave out (an id, a date).
    pub ignore: Vec<ColumnRef>,
}

impl ReadOptions {
    /// Sets the delimiter.
    pub fn with_delimiter(mut self, d: Delimiter) -> Self {
        self.delimiter = d;
        self
    }

    /// Sets the number of header rows (instead of detecting it).
    pub fn with_header_rows(mut self, n: usize) -> Self {
        self.header_rows = Some(n);
        self
    }

    /// Adds a target column.
    pub fn with_target(mut self, c: ColumnRef) -> Self {
        self.targets.push(c);
        self
    }

    /// Takes the targets as class labels (classes found in the file).
    pub fn categorical(mut self) -> Self {
        self.target_kind = TargetKind::Categorical { known: None };
        self
    }

    /// Takes the targets as class labels from this list.
    pub fn with_classes(mut self, names: Vec<String>) -> Self {
        self.target_kind = TargetKind::Categorical { known: Some(names) };
        self
    }

    /// Takes exactly these feature columns, in this order.
    pub fn with_features(mut self, cols: Vec<ColumnRef>) -> Self {
        self.features = Some(cols);
        self
    }

    /// Leaves a column out.
    pub fn ignoring(mut self, c: ColumnRef) -> Self {
        self.ignore.push(c);
        self
    }
}

/// The targets of a data set.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// Numeric targets, one column per target column.
    Values(Table),
    /// Class indices with the class names they stand for.
    Classes {
        /// One 0-based class index per row.
        labels: Vec<usize>,
        /// The class names; `labels[i]` indexes this.
        names: Vec<String>,
    },
}

impl Target {
    /// The number of rows.
    pub fn rows(&self) -> usize {
        match self {
            Target::Values(t) => t.rows,
            Target::Classes { labels, .. } => labels.len(),
        }
    }

    /// The rows `idx`, in that order.
    ///
    /// # Errors
    /// [`Error::IndexOutOfRange`] for an index ≥ the row count.
    pub fn select(&self, idx: &[usize]) -> Result<Target> {
        if let Some(&bad) = idx.iter().find(|&&i| i >= self.rows()) {
            return Err(Error::IndexOutOfRange { op: "Target::select", index: bad, len: self.rows() });
        }
        Ok(match self {
            Target::Values(t) => Target::Values(t.take_rows(idx)?),
            Target::Classes { labels, names } => {
                Target::Classes { labels: idx.iter().map(|&i| labels[i]).collect(), names: names.clone() }
            }
        })
    }
}

/// Features (and targets) read from a file: one row per example.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// Where the rows came from (for messages).
    pub source: String,
    /// The feature columns' names, in the order of `x`'s columns.
    pub feature_names: Vec<String>,
    /// The features, one row per example.
    pub x: Table,
    /// The target columns' names.
    pub target_names: Vec<String>,
    /// The targets; `None` when no target column was asked for.
    pub y: Option<Target>,
    /// Header rows before the data (given or detected).
    pub header_rows: usize,
    /// The delimiter used (given or detected; never `Auto`).
    pub delimiter: Delimiter,
}

impl Dataset {
    /// The number of rows.
    pub fn rows(&self) -> usize {
        self.x.rows
    }

    /// The rows `idx`, in that order.
    ///
    /// # Errors
    /// [`Error::IndexOutOfRange`] for an index ≥ the row count.
    pub fn select(&self, idx: &[usize]) -> Result<Dataset> {
        Ok(Dataset {
            source: self.source.clone(),
            feature_names: self.feature_names.clone(),
            x: self.x.take_rows(idx)?,
            target_names: self.target_names.clone(),
            y: self.y.as_ref().map(|y| y.select(idx)).transpose()?,
            header_rows: self.header_rows,
            delimiter: self.delimiter,
        })
    }

    /// The numeric targets.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when the data set has no numeric target.
    pub fn values(&self) -> Result<&Table> {
        match &self.y {
            Some(Target::Values(t)) => Ok(t),
            _ => Err(Error::invalid("target", format!("{} has no numeric target column", self.source))),
        }
    }

    /// The class labels and names.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when the data set has no categorical target.
    pub fn classes(&self) -> Result<(&[usize], &[String])> {
        match &self.y {
            Some(Target::Classes { labels, names }) => Ok((labels, names)),
            _ => Err(Error::invalid("target", format!("{} has no categorical target column", self.source))),
        }
    }
}

/// Reads a delimited text file (`.gz`: decompressed first).
///
/// # Errors
/// [`Error::Io`] when the file cannot be read; [`Error::Parse`] naming the
/// file, line and column of a cell that is missing, not a number or not
/// finite, or a row with the wrong number of cells; [`Error::InvalidArgument`]
/// for a column that does not exist; [`Error::Parse`] for a file without data rows.
pub fn read_delimited(path: impl AsRef<Path>, opts: &ReadOptions) -> Result<Dataset> {
    let path = path.as_ref();
    let name = path.display().to_string();
    let io = |e: std::io::Error| Error::Io { path: name.clone(), message: e.to_string() };
    let bytes = std::fs::read(path).map_err(io)?;
    let bytes = if path.extension().is_some_and(|e| e == "gz") { super::gzip::gunzip(&bytes, &name)? } else { bytes };
    let text = String::from_utf8(bytes).map_err(|e| Error::Parse {
        path: name.clone(),
        message: format!("not UTF-8 text (byte {})", e.utf8_error().valid_up_to()),
    })?;
    parse_delimited(&text, opts, &name)
}

/// [`read_delimited`] on text in memory; `source` names it in errors.
///
/// # Errors
/// As [`read_delimited`], without the I/O.
pub fn parse_delimited(text: &str, opts: &ReadOptions, source: &str) -> Result<Dataset> {
    let parse_err = |line: usize, message: String| Error::Parse {
        path: source.to_string(),
        message: format!("line {line}: {message}"),
    };
    // (1-based line number, line) for every non-blank line; a byte-order
    // mark (Excel's UTF-8 exports start with one) is not part of the first cell.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines: Vec<(usize, &str)> = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim_end_matches('\r')))
        .filter(|(_, l)| !l.trim().is_empty())
        .collect();
    if lines.is_empty() {
        return Err(Error::Parse { path: source.to_string(), message: "no rows (the file is empty)".into() });
    }
    let delim = match opts.delimiter {
        Delimiter::Auto => detect_delimiter(&lines),
        d => d,
    };
    let split = |l: &str| split_row(l, delim);
    let header_rows = match opts.header_rows {
        Some(n) => n,
        None => detect_header_rows(&lines, delim),
    };
    if header_rows >= lines.len() {
        return Err(Error::Parse {
            path: source.to_string(),
            message: format!("no data rows after the {header_rows} header row(s)"),
        });
    }
    let width = count_cells(lines[header_rows].1, delim);
    let rows = lines.len() - header_rows;
    check_parse_memory(source, rows, width)?;
    let names: Vec<String> = if header_rows > 0 {
        let h = split(lines[header_rows - 1].1);
        if h.len() == width && h.iter().all(|c| !c.is_empty()) {
            refuse_duplicate_names(&h, source, lines[header_rows - 1].0)?;
            h
        } else {
            (0..width).map(|i| i.to_string()).collect()
        }
    } else {
        (0..width).map(|i| i.to_string()).collect()
    };
    let targets: Vec<usize> = opts.targets.iter().map(|c| c.resolve(&names)).collect::<Result<_>>()?;
    let ignored: Vec<usize> = opts.ignore.iter().map(|c| c.resolve(&names)).collect::<Result<_>>()?;
    let features: Vec<usize> = match &opts.features {
        Some(cols) => cols.iter().map(|c| c.resolve(&names)).collect::<Result<_>>()?,
        None => (0..width).filter(|i| !targets.contains(i) && !ignored.contains(i)).collect(),
    };
    if let Some(t) = targets.iter().find(|t| features.contains(t)) {
        return Err(Error::invalid("column", format!("{:?} is both a feature and a target", names[*t])));
    }
    if features.is_empty() {
        let why = if targets.is_empty() { "" } else { " (every column is the target or ignored)" };
        return Err(Error::Parse {
            path: source.to_string(),
            message: format!("no feature columns{why}: a model needs at least one input"),
        });
    }
    let categorical = matches!(opts.target_kind, TargetKind::Categorical { .. });
    // `check_parse_memory` bounded rows × width, and features ≤ width.
    let mut x = Vec::with_capacity(rows.saturating_mul(features.len()));
    let mut y_num = Vec::new();
    let mut y_text: Vec<String> = Vec::new();
    for &(ln, line) in &lines[header_rows..] {
        let cells = split(line);
        if cells.len() != width {
            return Err(parse_err(
                ln,
                format!("{} cells, expected {width} (as on line {})", cells.len(), lines[header_rows].0),
            ));
        }
        for &j in &features {
            x.push(number(&cells[j], ln, j, source)?);
        }
        for &j in &targets {
            if categorical {
                if cells[j].is_empty() {
                    return Err(cell_err(source, ln, j, &cells[j], "is an empty label"));
                }
                y_text.push(cells[j].clone());
            } else {
                y_num.push(number(&cells[j], ln, j, source)?);
            }
        }
    }
    let y = if targets.is_empty() {
        None
    } else if categorical {
        if targets.len() != 1 {
            return Err(Error::invalid(
                "targets",
                format!("{} categorical target columns: one is supported", targets.len()),
            ));
        }
        let names_known = match &opts.target_kind {
            TargetKind::Categorical { known: Some(k) } => k.clone(),
            _ => class_names(&y_text),
        };
        let mut labels = Vec::with_capacity(rows);
        for (r, label) in y_text.iter().enumerate() {
            match class_of(&names_known, label) {
                Some(c) => labels.push(c),
                None => {
                    return Err(cell_err(
                        source,
                        lines[header_rows + r].0,
                        targets[0],
                        label,
                        &format!("is not one of the model's classes ({})", names_known.join(", ")),
                    ))
                }
            }
        }
        Some(Target::Classes { labels, names: names_known })
    } else {
        Some(Target::Values(Table { data: y_num, rows, cols: targets.len() }))
    };
    Ok(Dataset {
        source: source.to_string(),
        feature_names: features.iter().map(|&j| names[j].clone()).collect(),
        x: Table { data: x, rows, cols: features.len() },
        target_names: targets.iter().map(|&j| names[j].clone()).collect(),
        y,
        header_rows,
        delimiter: delim,
    })
}

fn cell_err(source: &str, line: usize, col: usize, text: &str, what: &str) -> Error {
    Error::Parse { path: source.to_string(), message: format!("line {line}, column {}: {text:?} {what}", col + 1) }
}

/// A finite number, or an error naming the cell (1-based column).
fn number(cell: &str, line: usize, col: usize, source: &str) -> Result<f32> {
    if cell.is_empty() {
        return Err(cell_err(source, line, col, cell, "is empty (missing value)"));
    }
    match cell.parse::<f32>() {
        Ok(v) if v.is_finite() => Ok(v),
        Ok(_) => Err(cell_err(source, line, col, cell, "is not a finite number")),
        Err(_) => Err(cell_err(source, line, col, cell, "is not a number")),
    }
}

/// A label's value when it is a finite number (`1`, `1.0`, `01`, `1e0`).
fn label_value(label: &str) -> Option<f64> {
    label.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// The one spelling of a label: a number is written as the shortest decimal
/// that reads back to its value, so `1`, `1.0`, `01` and `1e0` are one
/// class, `1`; any other text is kept as it is.
fn canonical_label(label: &str) -> String {
    match label_value(label) {
        // `+ 0.0` turns −0 into 0: "-0" and "0" are one class.
        Some(v) => format!("{}", v + 0.0),
        None => label.to_string(),
    }
}

/// The classes found, each number once whatever its spelling, sorted
/// numerically when every label is a number.
fn class_names(labels: &[String]) -> Vec<String> {
    let set: BTreeSet<String> = labels.iter().map(|l| canonical_label(l)).collect();
    let mut names: Vec<String> = set.into_iter().collect();
    if names.iter().all(|n| label_value(n).is_some()) {
        names.sort_by(|a, b| label_value(a).unwrap_or(0.0).total_cmp(&label_value(b).unwrap_or(0.0)));
    }
    names
}

/// The index of `label` among a model's `classes`: the class spelled the
/// same, else the one class of the same numeric value (`1.0` for `1`).
fn class_of(classes: &[String], label: &str) -> Option<usize> {
    if let Some(i) = classes.iter().position(|n| n == label) {
        return Some(i);
    }
    let v = label_value(label)?;
    let mut same = classes.iter().enumerate().filter(|(_, n)| label_value(n) == Some(v));
    match (same.next(), same.next()) {
        (Some((i, _)), None) => Some(i),
        _ => None,
    }
}

/// Refuses a header that names two columns alike: features and targets are
/// found by name, so the second column of that name could never be reached
/// (and a model's columns would silently be the wrong ones).
fn refuse_duplicate_names(names: &[String], source: &str, line: usize) -> Result<()> {
    let mut seen: std::collections::HashMap<&str, usize> = std::collections::HashMap::with_capacity(names.len());
    for (j, n) in names.iter().enumerate() {
        if let Some(first) = seen.insert(n.as_str(), j) {
            return Err(Error::Parse {
                path: source.to_string(),
                message: format!(
                    "line {line}: columns {} and {} are both named {n:?}: rename one (columns are found by name)",
                    first + 1,
                    j + 1
                ),
            });
        }
    }
    Ok(())
}

/// Bytes the parse will hold per cell of the widest structures: a `String`
/// (24 bytes) and its text for each of the column names (three copies: the
/// header, the feature names, the caller's) and for one row's cells.
const BYTES_PER_COLUMN: u64 = 4 * 32;

/// Refuses, before anything is allocated for it, a parse whose rows ×
/// columns would not fit in memory (a forged one-line file of millions of
/// columns, or millions of rows).
fn check_parse_memory(source: &str, rows: usize, width: usize) -> Result<()> {
    let cells = blitz_kernels::limits::product_saturating(&[rows, width]);
    let bytes = cells.saturating_mul(4).saturating_add((width as u64).saturating_mul(BYTES_PER_COLUMN));
    blitz_kernels::limits::check_memory(bytes, || format!("{source}: {rows} rows of {width} columns"))
}

/// The number of cells [`split_row`] would make of `line`, without making them.
fn count_cells(line: &str, delim: Delimiter) -> usize {
    let c = match delim {
        Delimiter::Char(c) => c,
        _ => return line.split_whitespace().count(),
    };
    let (mut cells, mut quoted) = (1usize, false);
    for ch in line.chars() {
        match ch {
            // A doubled quote inside quotes toggles twice: no net change.
            '"' => quoted = !quoted,
            ch if ch == c && !quoted => cells += 1,
            _ => {}
        }
    }
    cells
}

/// Splits a row; with a character delimiter, double quotes group a cell
/// (`""` inside quotes is one quote). Cells are trimmed.
fn split_row(line: &str, delim: Delimiter) -> Vec<String> {
    let c = match delim {
        Delimiter::Char(c) => c,
        _ => return line.split_whitespace().map(|s| s.trim_matches('"').to_string()).collect(),
    };
    let mut cells = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(ch) = chars.next() {
        match ch {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ch if ch == c && !quoted => cells.push(std::mem::take(&mut cur).trim().to_string()),
            ch => cur.push(ch),
        }
    }
    cells.push(cur.trim().to_string());
    cells
}

/// Tab, semicolon or comma (in that order: a file of decimal commas is
/// semicolon-separated) when most of the first lines hold the same positive
/// number of it outside quotes (a header or a broken row may differ);
/// otherwise white space.
fn detect_delimiter(lines: &[(usize, &str)]) -> Delimiter {
    let sample: Vec<&str> = lines.iter().take(20).map(|(_, l)| *l).collect();
    for c in ['\t', ';', ','] {
        let mut counts: Vec<usize> = sample.iter().map(|l| split_row(l, Delimiter::Char(c)).len() - 1).collect();
        counts.sort_unstable();
        let mode = counts[counts.len() / 2];
        if mode > 0 && 2 * counts.iter().filter(|&&k| k == mode).count() >= counts.len() {
            return Delimiter::Char(c);
        }
    }
    Delimiter::Whitespace
}

/// The leading rows (at most 10) that are mostly not numbers: fewer than
/// half of their cells parse as numbers (empty cells count as not numbers,
/// as in scikit-learn's `506,13,,,…` first line). A data row with a bad
/// cell or two is not a header: it is read as data, and its bad cell is
/// reported. A header of numbers (years as column names, say) is not
/// detected: give the header row count then.
fn detect_header_rows(lines: &[(usize, &str)], delim: Delimiter) -> usize {
    let mostly_text = |l: &str| {
        let cells = split_row(l, delim);
        2 * cells.iter().filter(|c| c.parse::<f64>().is_ok()).count() < cells.len()
    };
    lines.iter().take(10).take_while(|(_, l)| mostly_text(l)).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_cells_keep_their_delimiters() {
        assert_eq!(split_row(r#"1,"a,b",  "x""y" "#, Delimiter::Char(',')), ["1", "a,b", r#"x"y"#]);
        assert_eq!(split_row("  1 \t 2   3 ", Delimiter::Whitespace), ["1", "2", "3"]);
    }

    #[test]
    fn header_rows_are_detected() {
        let rows = |t: &'static str| -> Vec<(usize, &'static str)> { t.lines().enumerate().collect() };
        let c = Delimiter::Char(',');
        assert_eq!(detect_header_rows(&rows("a,b,c\n1,2,3\n4,n/a,6\n"), c), 1);
        assert_eq!(detect_header_rows(&rows("506,13,,,,\nA,B,C,D,E,F\n1,2,3,4,5,6\n5,6,7,8,9,0\n"), c), 2);
        assert_eq!(detect_header_rows(&rows("1,2\n3,4\n"), c), 0);
        assert_eq!(detect_header_rows(&rows("x,label\n1,cat\n2,dog\n"), c), 1);
        assert_eq!(detect_header_rows(&rows("1,2\n"), c), 0);
        // A bad cell in the first data row is data (and reported), not a header.
        assert_eq!(detect_header_rows(&rows("a,b\n1,n/a\n2,3\n"), c), 1);
        assert_eq!(detect_header_rows(&rows("1,n/a\n2,3\n4,5\n"), c), 0);
        assert_eq!(detect_header_rows(&rows("1,2,3,\n4,5,6\n"), c), 0);
        assert_eq!(detect_header_rows(&rows("5.1,3.5,setosa\n4.9,3.0,setosa\n"), c), 0);
        assert_eq!(detect_header_rows(&rows("a,b\n"), c), 1);
    }

    #[test]
    fn a_delimiter_that_can_stand_inside_a_cell_is_refused() {
        for bad in ["1", "e", ".", "-", "+", "\"", "\n", "é"] {
            assert!(bad.parse::<Delimiter>().is_err(), "{bad:?}");
        }
        for good in ["|", ":", "tab", "\t", ",", " "] {
            assert!(good.parse::<Delimiter>().is_ok(), "{good:?}");
        }
    }

    #[test]
    fn cells_are_counted_as_split() {
        for (line, d) in [
            (r#"1,"a,b",  "x""y" "#, Delimiter::Char(',')),
            ("  1 \t 2   3 ", Delimiter::Whitespace),
            ("a;;b;", Delimiter::Char(';')),
            (r#""""#, Delimiter::Char(',')),
            ("", Delimiter::Char(',')),
        ] {
            assert_eq!(count_cells(line, d), split_row(line, d).len(), "{line:?}");
        }
    }

    #[test]
    fn one_number_is_one_class_whatever_its_spelling() {
        let l: Vec<String> = ["1", "1.0", "01", "2", "-0", "0", "1e0"].iter().map(|s| s.to_string()).collect();
        assert_eq!(class_names(&l), ["0", "1", "2"]);
        let classes: Vec<String> = ["1", "2"].iter().map(|s| s.to_string()).collect();
        assert_eq!(class_of(&classes, "1.0"), Some(0));
        assert_eq!(class_of(&classes, "02"), Some(1));
        assert_eq!(class_of(&classes, "3"), None);
        let words: Vec<String> = ["cat", "dog"].iter().map(|s| s.to_string()).collect();
        assert_eq!(class_of(&words, "cat"), Some(0));
        assert_eq!(class_of(&words, "1"), None);
    }

    #[test]
    fn numeric_labels_sort_as_numbers() {
        let l: Vec<String> = ["10", "2", "1", "2"].iter().map(|s| s.to_string()).collect();
        assert_eq!(class_names(&l), ["1", "2", "10"]);
    }
}
