//! Mutation fuzzing of the delimited reader (`parse_delimited`, and
//! `read_delimited` on bytes that are not UTF-8 or not gzip): every case
//! ends in `Ok` or a typed `Err`, never a panic or an allocation above the
//! cap, and every `Ok` is a data set whose invariants hold (the table's
//! size, finite cells, unique column names, labels inside their classes).
//!
//! CI runs `DEFAULT_CASES` per option set; a long run:
//! `FUZZ_CASES=100000 cargo test -p blitz-layers --release --test fuzz_delimited -- --nocapture`.

mod support;

use blitz_layers::data::{parse_delimited, read_delimited, ColumnRef, Dataset, Delimiter, ReadOptions, Target};
use std::collections::HashSet;
use support::fuzz::fuzz;

/// Seeds: the shapes of file people hand the command.
fn seeds() -> Vec<Vec<u8>> {
    let boston: String =
        include_str!("../../data/boston_house_prices.csv").lines().take(12).collect::<Vec<_>>().join("\n");
    [
        boston.as_str(),
        "sepal\tpetal\tspecies\n5.1\t1.4\tsetosa\n7.0\t4.7\tversicolor\n6.3\t6.0\tvirginica\n",
        "  x   y  label\n 1.5  2  1\n 2.5  3  1.0\n 3.5  4  01\n",
        "id;\"a;b\";target\n1;\"2,5\";3\n4;\"5\"\"6\";7\n",
        "\u{feff}a,b,c\r\n1,2,3\r\n4,5,6\r\n",
        "1,2,3\n4,5,6\n7,8,9\n",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect()
}

/// Bytes a hostile file is made of: delimiters, quotes, line breaks, number
/// parts, words that parse as non-finite numbers, a terminal escape, a BOM.
const ALPHABET: &[u8] = b",;\t \n\r\"\"0123456789.-+eE nan inf NaN x\x1b[2J\xef\xbb\xbf\xff";

/// The option sets a user can reach from the command line.
fn option_sets() -> Vec<(&'static str, ReadOptions)> {
    vec![
        ("auto, no target", ReadOptions::default()),
        ("numeric target -1", ReadOptions::default().with_target(ColumnRef::Last)),
        ("categorical target -1", ReadOptions::default().with_target(ColumnRef::Last).categorical()),
        (
            "known classes",
            ReadOptions::default().with_target(ColumnRef::Last).with_classes(vec!["1".into(), "setosa".into()]),
        ),
        (
            "features by name, comma, one header row",
            ReadOptions::default()
                .with_delimiter(Delimiter::Char(','))
                .with_header_rows(1)
                .with_target(ColumnRef::name("c"))
                .with_features(vec![ColumnRef::name("a"), ColumnRef::Index(1)]),
        ),
    ]
}

/// What every data set the reader returns must satisfy.
fn check_invariants(d: &Dataset, what: &str) {
    assert_eq!(d.x.data.len(), d.x.rows * d.x.cols, "{what}: table size");
    assert_eq!(d.feature_names.len(), d.x.cols, "{what}: feature names");
    assert!(d.x.rows > 0, "{what}: a data set without rows");
    assert!(d.x.data.iter().all(|v| v.is_finite()), "{what}: a non-finite feature");
    let mut seen = HashSet::new();
    for n in d.feature_names.iter().chain(&d.target_names) {
        assert!(seen.insert(n), "{what}: column name {n:?} twice");
    }
    match &d.y {
        Some(Target::Values(t)) => {
            assert_eq!((t.rows, t.data.len()), (d.x.rows, t.rows * t.cols), "{what}: target size");
            assert!(t.data.iter().all(|v| v.is_finite()), "{what}: a non-finite target");
        }
        Some(Target::Classes { labels, names }) => {
            assert_eq!(labels.len(), d.x.rows, "{what}: labels");
            assert!(labels.iter().all(|&l| l < names.len()), "{what}: a label past its classes");
            assert_eq!(names.iter().collect::<HashSet<_>>().len(), names.len(), "{what}: a class twice");
        }
        None => {}
    }
}

#[test]
fn mutated_files_read_or_fail_cleanly_under_every_option_set() {
    let dir = std::env::temp_dir().join(format!("blitz-fuzz-delimited-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut total = 0;
    for (k, (name, opts)) in option_sets().into_iter().enumerate() {
        let counter = std::cell::Cell::new(0usize);
        total += fuzz(name, &seeds(), ALPHABET, 24 + k as u64, |bytes| {
            let i = counter.get();
            counter.set(i + 1);
            match std::str::from_utf8(bytes) {
                Ok(text) => {
                    if let Ok(d) = parse_delimited(text, &opts, "fuzz.csv") {
                        check_invariants(&d, name);
                    }
                }
                // Bytes that are not text, and every 50th case as a file
                // named .gz (not gzip): a clean error from the file reader.
                Err(_) => {
                    let path = dir.join("case.csv");
                    std::fs::write(&path, bytes).unwrap();
                    assert!(matches!(read_delimited(&path, &opts), Err(blitz_autograd::Error::Parse { .. })));
                }
            }
            if i.is_multiple_of(50) {
                let path = dir.join("case.csv.gz");
                std::fs::write(&path, bytes).unwrap();
                if let Ok(d) = read_delimited(&path, &opts) {
                    check_invariants(&d, name);
                }
            }
        });
    }
    std::fs::remove_dir_all(&dir).ok();
    eprintln!("fuzz_delimited: {total} cases in all");
}
