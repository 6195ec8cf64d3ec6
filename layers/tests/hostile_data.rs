//! Hostile delimited files (issue 24): each input that once gave a silently
//! wrong answer or asked for more memory than the machine has now ends in a
//! one-line typed error, or reads as it should.

use blitz_autograd::Error;
use blitz_layers::data::{parse_delimited, ColumnRef, ReadOptions, Target};

fn categorical(target: &str) -> ReadOptions {
    ReadOptions::default().with_target(ColumnRef::name(target)).categorical()
}

#[test]
fn duplicate_column_names_are_refused_naming_both_columns() {
    let text = "x,x,y\n1,10,0.5\n2,20,0.7\n3,30,0.9\n";
    let opts = ReadOptions::default().with_target(ColumnRef::name("y"));
    let e = parse_delimited(text, &opts, "dup.csv").unwrap_err();
    assert!(matches!(e, Error::Parse { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(msg.contains("dup.csv") && msg.contains("columns 1 and 2") && msg.contains("\"x\""), "{msg}");
    // Without a header the columns are named by position: no clash.
    assert!(parse_delimited("1,10,0.5\n2,20,0.7\n", &ReadOptions::default(), "plain.csv").is_ok());
}

#[test]
fn one_number_spelled_three_ways_is_one_class() {
    let text = "a,label\n0.1,1\n0.2,1.0\n0.3,01\n0.4,2\n0.5,2.0\n";
    let d = parse_delimited(text, &categorical("label"), "labels.csv").unwrap();
    let Some(Target::Classes { labels, names }) = &d.y else { panic!("no classes") };
    assert_eq!(names, &["1".to_string(), "2".to_string()]);
    assert_eq!(labels, &[0, 0, 0, 1, 1]);
    // A trained model's classes match a test file's other spelling.
    let test = "a,label\n0.1,1.00\n0.2,02\n";
    let known = ReadOptions::default().with_target(ColumnRef::name("label")).with_classes(names.clone());
    let t = parse_delimited(test, &known, "test.csv").unwrap();
    let Some(Target::Classes { labels, .. }) = &t.y else { panic!("no classes") };
    assert_eq!(labels, &[0, 1]);
    // Text labels stay text: `Cat` and `cat` are two classes.
    let words = parse_delimited("a,l\n1,cat\n2,Cat\n", &categorical("l"), "w.csv").unwrap();
    assert_eq!(words.classes().unwrap().1, ["Cat".to_string(), "cat".to_string()]);
}

#[test]
fn a_line_of_a_million_columns_is_refused_before_it_is_split() {
    // The limit is process-wide: this test binary has no other test that
    // reads enough to reach the check.
    std::env::set_var("BLITZ_MEMORY_LIMIT", "100M");
    let wide = "0,".repeat(1 << 20) + "0\n";
    let e = parse_delimited(&wide, &ReadOptions::default(), "wide.csv").unwrap_err();
    assert!(matches!(e, Error::TooLarge { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(msg.starts_with("wide.csv: 1 rows of 1048577 columns: needs"), "{msg}");
    assert!(msg.len() < 200, "{msg}");
    // A narrow file of the same size reads.
    let narrow = "1,2\n".repeat(1 << 18);
    assert_eq!(parse_delimited(&narrow, &ReadOptions::default(), "n.csv").unwrap().rows(), 1 << 18);
}

#[test]
fn header_names_with_terminal_escapes_are_shown_escaped() {
    let text = "a,\u{1b}[2Jb\n1,2\n";
    let opts = ReadOptions::default().with_target(ColumnRef::name("missing"));
    let msg = parse_delimited(text, &opts, "esc.csv").unwrap_err().to_string();
    assert!(!msg.contains('\u{1b}') && msg.contains("\\u{1b}[2Jb"), "{msg}");
}

#[cfg(feature = "gzip")]
#[test]
fn a_gzip_bomb_stops_at_the_memory_limit() {
    use std::io::Write;
    // 110 MiB of zeros compress to about 110 KiB; the limit is 100M.
    std::env::set_var("BLITZ_MEMORY_LIMIT", "100M");
    let dir = std::env::temp_dir().join(format!("blitz-hostile-data-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bomb.csv.gz");
    let mut z = flate2::write::GzEncoder::new(std::fs::File::create(&path).unwrap(), flate2::Compression::best());
    let zeros = vec![b'0'; 1 << 20];
    for _ in 0..110 {
        z.write_all(&zeros).unwrap();
    }
    z.finish().unwrap();
    let e = blitz_layers::data::read_delimited(&path, &ReadOptions::default()).unwrap_err();
    assert!(matches!(e, Error::TooLarge { .. }), "{e:?}");
    assert!(e.to_string().contains("bomb.csv.gz: decompressed"), "{e}");
    std::fs::remove_dir_all(&dir).ok();
}
