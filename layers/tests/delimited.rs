//! The delimited-text reader, splits and batches: every friction point a new
//! user hit with their own files (white space, gzip, a header, the target in
//! the middle, class labels, bad cells) has a test here.

use blitz_autograd::{Error, Tensor};
use blitz_layers::data::{
    epoch_order, parse_delimited, read_delimited, take_rows, ColumnRef, Delimiter, EpochOrder, ReadOptions, Split,
    Target,
};

fn tmp(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("blitz-delimited-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[cfg(feature = "gzip")]
fn gzip(path: &std::path::Path, text: &str) {
    let f = std::fs::File::create(path).unwrap();
    use std::io::Write;
    let mut z = flate2::write::GzEncoder::new(f, flate2::Compression::default());
    z.write_all(text.as_bytes()).unwrap();
    z.finish().unwrap();
}

#[cfg(feature = "gzip")]
#[test]
fn whitespace_gzip_header_and_a_target_in_the_middle() {
    let text = "  area   price  rooms\n 50.5  100   2\n\n 70\t 150.25  3  \n 90   210   4\n";
    let path = tmp("houses.txt.gz");
    gzip(&path, text);
    let d = read_delimited(&path, &ReadOptions::default().with_target(ColumnRef::name("price"))).unwrap();
    assert_eq!(d.feature_names, ["area", "rooms"]);
    assert_eq!(d.target_names, ["price"]);
    assert_eq!((d.x.rows, d.x.cols), (3, 2));
    assert_eq!(d.x.data, [50.5, 2.0, 70.0, 3.0, 90.0, 4.0]);
    assert_eq!(d.values().unwrap().data, [100.0, 150.25, 210.0]);
    // The same by index, and the same text uncompressed and given in memory.
    let by_index = parse_delimited(text, &ReadOptions::default().with_target(ColumnRef::Index(1)), "mem").unwrap();
    assert_eq!((by_index.x, by_index.y), (d.x.clone(), d.y.clone()));
}

#[test]
fn delimiters_are_detected_or_given() {
    for (text, d) in [
        ("a;b;c\n1;2;3\n4;5;6\n", Delimiter::Char(';')),
        ("a\tb\tc\n1\t2\t3\n4\t5\t6\n", Delimiter::Char('\t')),
        ("a,b,c\n1,2,3\n4,5,6\n", Delimiter::Char(',')),
        ("a|b|c\n1|2|3\n4|5|6\n", Delimiter::Char('|')),
    ] {
        let given = ReadOptions::default().with_delimiter(d).with_target(ColumnRef::name("b"));
        let g = parse_delimited(text, &given, "t").unwrap();
        assert_eq!(
            (g.x.data.as_slice(), g.values().unwrap().data.as_slice()),
            (&[1.0, 3.0, 4.0, 6.0][..], &[2.0, 5.0][..])
        );
        if d != Delimiter::Char('|') {
            let auto = parse_delimited(text, &ReadOptions::default().with_target(ColumnRef::name("b")), "t").unwrap();
            assert_eq!(auto, g, "detected {d:?}");
        }
    }
    assert_eq!("tab".parse::<Delimiter>().unwrap(), Delimiter::Char('\t'));
    // Decimal commas: the semicolon separates.
    let d = parse_delimited("a;b\n1,5;2\n3;4\n", &ReadOptions::default(), "eu.csv");
    assert_eq!(d.unwrap_err().to_string(), r#"eu.csv: line 2, column 1: "1,5" is not a number"#);
    // Excel's byte-order mark is not part of the first column's name.
    let d =
        parse_delimited("\u{feff}price,x\n1,2\n", &ReadOptions::default().with_target(ColumnRef::name("price")), "bom")
            .unwrap();
    assert_eq!((d.target_names, d.header_rows, d.delimiter), (vec!["price".to_string()], 1, Delimiter::Char(',')));
    assert!("ab".parse::<Delimiter>().is_err());
}

#[test]
fn boston_has_two_header_rows_and_named_columns() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../data/boston_house_prices.csv");
    let d = read_delimited(path, &ReadOptions::default().with_target(ColumnRef::Last)).unwrap();
    assert_eq!((d.rows(), d.x.cols), (506, 13));
    assert_eq!(d.target_names, ["MEDV"]);
    assert_eq!(d.feature_names[12], "LSTAT");
}

#[test]
fn a_bad_cell_is_named_by_file_line_and_column() {
    let text = "a,b,c,d\n1,2,3,4\n5,6,7,8\n9,10,11,n/a\n";
    let e = parse_delimited(text, &ReadOptions::default(), "data.csv").unwrap_err();
    assert_eq!(e.to_string(), r#"data.csv: line 4, column 4: "n/a" is not a number"#);
    assert!(matches!(e, Error::Parse { .. }));
    // A bad cell in the first data row is reported too (not taken for a header).
    let e = parse_delimited("a,b\n1,n/a\n2,3\n4,5\n", &ReadOptions::default(), "d.csv").unwrap_err();
    assert_eq!(e.to_string(), r#"d.csv: line 2, column 2: "n/a" is not a number"#);
    let e = parse_delimited("1,n/a\n2,3\n4,5\n", &ReadOptions::default(), "d.csv").unwrap_err();
    assert_eq!(e.to_string(), r#"d.csv: line 1, column 2: "n/a" is not a number"#);
    let e = parse_delimited("a,b\n", &ReadOptions::default(), "d.csv").unwrap_err();
    assert_eq!(e.to_string(), "d.csv: no data rows after the 1 header row(s)");
    let e = parse_delimited("1,2,3,\n4,5,6\n", &ReadOptions::default(), "d.csv").unwrap_err();
    assert_eq!(e.to_string(), "d.csv: line 1, column 4: \"\" is empty (missing value)");
    let e = parse_delimited("a,b\n1,2\n3,\n", &ReadOptions::default(), "d.csv").unwrap_err();
    assert_eq!(e.to_string(), r#"d.csv: line 3, column 2: "" is empty (missing value)"#);
    let e = parse_delimited("a,b\n1,2\n3,inf\n", &ReadOptions::default(), "d.csv").unwrap_err();
    assert_eq!(e.to_string(), r#"d.csv: line 3, column 2: "inf" is not a finite number"#);
    let e = parse_delimited("a,b\n1,2\n3,4,5\n", &ReadOptions::default(), "d.csv").unwrap_err();
    assert_eq!(e.to_string(), "d.csv: line 3: 3 cells, expected 2 (as on line 2)");
    let e =
        parse_delimited("a,b\n1,2\n", &ReadOptions::default().with_target(ColumnRef::name("z")), "d.csv").unwrap_err();
    assert_eq!(e.to_string(), r#"invalid column: no column named "z"; the columns are a, b"#);
    let e = read_delimited("/no/such/file.csv", &ReadOptions::default()).unwrap_err();
    assert!(matches!(e, Error::Io { .. }) && e.to_string().starts_with("/no/such/file.csv: "), "{e}");
    let path = tmp("broken.csv.gz");
    std::fs::write(&path, b"not gzip").unwrap();
    let e = read_delimited(&path, &ReadOptions::default()).unwrap_err();
    let want = if cfg!(feature = "gzip") { "not a valid gzip file" } else { "no `gzip` feature" };
    assert!(e.to_string().contains(want), "{e}");
}

#[test]
fn categorical_targets_become_classes() {
    let text = "x,species,y\n1,setosa,2\n3,virginica,4\n5,setosa,6\n7,\"versi,color\",8\n";
    let opts = ReadOptions::default().with_target(ColumnRef::name("species")).categorical();
    let d = parse_delimited(text, &opts, "iris").unwrap();
    let (labels, names) = d.classes().unwrap();
    assert_eq!(names, ["setosa", "versi,color", "virginica"]);
    assert_eq!(labels, [0, 2, 0, 1]);
    // Test data read with the model's classes: an unknown label is an error.
    let opts = opts.with_classes(vec!["setosa".into(), "virginica".into()]);
    let e = parse_delimited(text, &opts, "test.csv").unwrap_err();
    assert_eq!(
        e.to_string(),
        r#"test.csv: line 5, column 2: "versi,color" is not one of the model's classes (setosa, virginica)"#
    );
    // Numeric labels sort as numbers.
    let d = parse_delimited(
        "a,k\n1,10\n2,9\n3,10\n",
        &ReadOptions::default().with_target(ColumnRef::Last).categorical(),
        "n",
    )
    .unwrap();
    assert_eq!(d.y, Some(Target::Classes { labels: vec![1, 0, 1], names: vec!["9".into(), "10".into()] }));
}

#[test]
fn features_can_be_chosen_and_columns_ignored() {
    let text = "id,a,b,t\n7,1,2,3\n8,4,5,6\n";
    let o = ReadOptions::default().with_target(ColumnRef::name("t")).ignoring(ColumnRef::name("id"));
    assert_eq!(parse_delimited(text, &o, "t").unwrap().feature_names, ["a", "b"]);
    let o = ReadOptions::default().with_features(vec![ColumnRef::name("b"), ColumnRef::name("a")]);
    let d = parse_delimited(text, &o, "t").unwrap();
    assert_eq!((d.feature_names, d.x.data, d.y), (vec!["b".to_string(), "a".into()], vec![2.0, 1.0, 5.0, 4.0], None));
    let both = ReadOptions::default().with_target(ColumnRef::name("a")).with_features(vec![ColumnRef::name("a")]);
    assert!(parse_delimited(text, &both, "t").is_err());
    // No header: columns are named by position.
    let d = parse_delimited("1 2 3\n4 5 6\n", &ReadOptions::default().with_target(ColumnRef::Index(0)), "t").unwrap();
    assert_eq!((d.feature_names, d.target_names), (vec!["1".to_string(), "2".into()], vec!["0".to_string()]));
}

#[test]
fn splits_are_seeded_and_complete() {
    let (tr, te) = Split::EveryKth(4).indices(10).unwrap();
    assert_eq!((tr, te), (vec![1, 2, 3, 5, 6, 7, 9], vec![0, 4, 8]));
    let f = Split::Fraction { test: 0.25, seed: 3 };
    let (a, b) = f.indices(100).unwrap();
    assert_eq!((a.len(), b.len()), (75, 25));
    assert_eq!(f.indices(100).unwrap(), (a.clone(), b.clone()), "same seed, same split");
    assert_ne!(Split::Fraction { test: 0.25, seed: 4 }.indices(100).unwrap().1, b);
    let mut all: Vec<usize> = a.iter().chain(&b).copied().collect();
    all.sort_unstable();
    assert_eq!(all, (0..100).collect::<Vec<_>>());
    assert!(Split::Fraction { test: 1.5, seed: 0 }.indices(10).is_err());
    // Rows that are not there are an error, not a panic.
    let d = parse_delimited("a,b\n1,2\n3,4\n", &ReadOptions::default().with_target(ColumnRef::name("b")), "t").unwrap();
    assert_eq!(d.select(&[1]).unwrap().x.data, [3.0]);
    assert!(matches!(d.select(&[2]), Err(Error::IndexOutOfRange { index: 2, len: 2, .. })));
    assert!(Split::EveryKth(1).indices(10).is_err());
}

#[test]
fn batches_are_seeded_and_resumable_for_any_shape() {
    let mut o = EpochOrder::new(50, 9);
    let first = o.next_epoch().to_vec();
    let second = o.next_epoch().to_vec();
    assert_ne!(first, second);
    assert_eq!(epoch_order(50, 9, 2), second, "epoch 2 depends on the seed and the epoch alone");
    let mut sorted = second.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (0..50).collect::<Vec<_>>());
    // Images [4, 1, 2, 2]: rows keep their trailing shape.
    let t = Tensor::from_vec((0..16).map(|v| v as f32).collect(), &[4, 1, 2, 2]).unwrap();
    let b = take_rows(&t, &[3, 0]).unwrap();
    assert_eq!(b.shape(), [2, 1, 2, 2]);
    assert_eq!(b.to_vec().unwrap(), [12.0, 13.0, 14.0, 15.0, 0.0, 1.0, 2.0, 3.0]);
    assert!(take_rows(&t, &[4]).is_err());
}
