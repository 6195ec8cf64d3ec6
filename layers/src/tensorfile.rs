//! The safetensors file format, read and written without a JSON library.
//!
//! A file is an 8-byte little-endian header length `N`, then `N` bytes of a
//! JSON object (optionally padded with spaces), then the tensors' bytes. The
//! object maps each tensor's name to `{"dtype": "F32", "shape": [2, 3],
//! "data_offsets": [begin, end]}` (offsets into the bytes after the header),
//! and the optional key `__metadata__` to an object of string values.
//!
//! The reader trusts nothing: the header length is checked against the
//! bytes before anything is allocated, the JSON nesting depth is bounded,
//! every shape's element count and byte size is checked arithmetic, and the
//! tensors must tile the data exactly (no gap, no overlap, nothing past the
//! end), as the reference implementation requires. Names (tensor and
//! metadata) must be unique. The writer orders tensors by name and metadata
//! by key, so the same checkpoint always gives the same bytes.

use std::collections::BTreeMap;

/// The largest header the reader accepts (the reference implementation's limit).
pub(crate) const MAX_HEADER: usize = 100 << 20;

/// Deepest JSON nesting a valid header has: the top object, a tensor's
/// object, its arrays.
const MAX_DEPTH: usize = 3;

/// The element types of the format; only `F32` is read into a model, the
/// others are kept by name so that a file of mixed types can be inspected
/// and refused precisely.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DType {
    Bool,
    U8,
    I8,
    F8E5M2,
    F8E4M3,
    I16,
    U16,
    F16,
    BF16,
    I32,
    U32,
    F32,
    F64,
    I64,
    U64,
}

impl DType {
    const ALL: [(DType, &'static str, usize); 15] = [
        (DType::Bool, "BOOL", 1),
        (DType::U8, "U8", 1),
        (DType::I8, "I8", 1),
        (DType::F8E5M2, "F8_E5M2", 1),
        (DType::F8E4M3, "F8_E4M3", 1),
        (DType::I16, "I16", 2),
        (DType::U16, "U16", 2),
        (DType::F16, "F16", 2),
        (DType::BF16, "BF16", 2),
        (DType::I32, "I32", 4),
        (DType::U32, "U32", 4),
        (DType::F32, "F32", 4),
        (DType::F64, "F64", 8),
        (DType::I64, "I64", 8),
        (DType::U64, "U64", 8),
    ];

    fn parse(s: &str) -> Option<DType> {
        DType::ALL.iter().find(|(_, n, _)| *n == s).map(|(d, _, _)| *d)
    }

    /// The name the format spells it with.
    pub(crate) fn name(self) -> &'static str {
        DType::ALL.iter().find(|(d, _, _)| *d == self).map_or("?", |(_, n, _)| n)
    }

    /// Bytes per element.
    pub(crate) fn size(self) -> usize {
        DType::ALL.iter().find(|(d, _, _)| *d == self).map_or(1, |(_, _, s)| *s)
    }
}

/// One tensor of a parsed file, borrowing its bytes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RawTensor<'a> {
    pub name: String,
    pub dtype: DType,
    pub shape: Vec<usize>,
    pub data: &'a [u8],
}

/// A parsed file: its tensors in file order, and its metadata.
pub(crate) type Parsed<'a> = (Vec<RawTensor<'a>>, BTreeMap<String, String>);

/// Parses a safetensors file. The error says what is wrong and where (the
/// tensor's name, the header's byte offset).
pub(crate) fn parse(bytes: &[u8]) -> Result<Parsed<'_>, String> {
    let len_bytes: [u8; 8] = bytes
        .get(..8)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| format!("{} bytes: too short for the 8-byte header length", bytes.len()))?;
    let n = u64::from_le_bytes(len_bytes);
    let rest = bytes.len() - 8;
    if n > MAX_HEADER as u64 {
        return Err(format!("header length {n} is over the format's limit of {MAX_HEADER}"));
    }
    let n = n as usize;
    if n > rest {
        return Err(format!("header length {n} is past the end of the file ({rest} bytes follow)"));
    }
    let header = std::str::from_utf8(&bytes[8..8 + n]).map_err(|e| format!("header is not UTF-8 ({e})"))?;
    let data = &bytes[8 + n..];
    let mut p = Json { s: header.as_bytes(), at: 0 };
    let top = p.value(0)?;
    p.skip_ws();
    if p.at != p.s.len() {
        return Err(format!("header byte {}: text after the header's object", p.at));
    }
    let Value::Object(entries) = top else {
        return Err("the header is not a JSON object".into());
    };
    let mut metadata = BTreeMap::new();
    let mut tensors = Vec::with_capacity(entries.len());
    let mut seen = std::collections::HashSet::with_capacity(entries.len());
    for (name, v) in entries {
        if !seen.insert(name.clone()) {
            return Err(format!("{name:?} appears twice in the header"));
        }
        if name == "__metadata__" {
            match v {
                Value::Null => {}
                Value::Object(kv) => {
                    for (k, v) in kv {
                        let Value::String(v) = v else {
                            return Err(format!("metadata {k:?} is not a string"));
                        };
                        if metadata.insert(k.clone(), v).is_some() {
                            return Err(format!("metadata {k:?} appears twice"));
                        }
                    }
                }
                _ => return Err("__metadata__ is not an object of strings".into()),
            }
            continue;
        }
        tensors.push(tensor_info(name, v)?);
    }
    // The tensors must tile the data: sorted by offset, each starting where
    // the previous ended, the last ending at the end of the file.
    let mut order: Vec<usize> = (0..tensors.len()).collect();
    order.sort_by_key(|&i| tensors[i].1);
    let mut end = 0usize;
    for &i in &order {
        let (t, (b, e)) = &tensors[i];
        if *b != end {
            return Err(format!(
                "tensor {:?} starts at byte {b} of the data, expected {end} (a gap or an overlap)",
                t.name
            ));
        }
        end = *e;
    }
    if end != data.len() {
        return Err(format!("the tensors cover {end} bytes of data but {} follow the header", data.len()));
    }
    Ok((
        tensors
            .into_iter()
            .map(|(t, (b, e))| RawTensor { name: t.name, dtype: t.dtype, shape: t.shape, data: &data[b..e] })
            .collect(),
        metadata,
    ))
}

/// A tensor's header entry, without its bytes yet.
struct Info {
    name: String,
    dtype: DType,
    shape: Vec<usize>,
}

fn tensor_info(name: String, v: Value) -> Result<(Info, (usize, usize)), String> {
    let bad = |what: &str| format!("tensor {name:?}: {what}");
    let Value::Object(fields) = v else {
        return Err(bad("its entry is not an object"));
    };
    let (mut dtype, mut shape, mut offsets) = (None, None, None);
    for (k, v) in fields {
        match (k.as_str(), v) {
            ("dtype", Value::String(s)) if dtype.is_none() => {
                dtype = Some(DType::parse(&s).ok_or_else(|| bad(&format!("unknown dtype {s:?}")))?);
            }
            ("shape", Value::Array(a)) if shape.is_none() => shape = Some(a),
            ("data_offsets", Value::Array(a)) if offsets.is_none() => offsets = Some(a),
            (k, _) => return Err(bad(&format!("unexpected or repeated field {k:?}"))),
        }
    }
    let dtype = dtype.ok_or_else(|| bad("no dtype"))?;
    let shape = shape.ok_or_else(|| bad("no shape"))?;
    let (b, e) = match offsets.as_deref() {
        Some(&[b, e]) => (b, e),
        _ => return Err(bad("data_offsets is not [begin, end]")),
    };
    if b > e {
        return Err(bad(&format!("data_offsets [{b}, {e}] run backwards")));
    }
    let bytes = shape
        .iter()
        .try_fold(dtype.size(), |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| bad(&format!("shape {shape:?} overflows")))?;
    if e - b != bytes {
        return Err(bad(&format!(
            "shape {shape:?} of {} takes {bytes} bytes, data_offsets give {}",
            dtype.name(),
            e - b
        )));
    }
    Ok((Info { name, dtype, shape }, (b, e)))
}

/// The header's JSON, as far as the format uses it.
#[derive(Debug)]
enum Value {
    Null,
    String(String),
    /// Non-negative integers only (shapes and offsets).
    Array(Vec<usize>),
    /// Entries in the order written (duplicates are found by the caller).
    Object(Vec<(String, Value)>),
}

/// A recursive-descent reader of the JSON subset a header is written in,
/// with its nesting bounded by [`MAX_DEPTH`].
struct Json<'a> {
    s: &'a [u8],
    at: usize,
}

impl Json<'_> {
    fn err(&self, what: &str) -> String {
        format!("header byte {}: {what}", self.at)
    }

    fn skip_ws(&mut self) {
        while self.s.get(self.at).is_some_and(|c| b" \t\n\r".contains(c)) {
            self.at += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_ws();
        self.s.get(self.at).copied()
    }

    fn expect(&mut self, c: u8) -> Result<(), String> {
        if self.peek() == Some(c) {
            self.at += 1;
            Ok(())
        } else {
            Err(self.err(&format!("expected {:?}", c as char)))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, String> {
        if depth >= MAX_DEPTH {
            return Err(self.err("nested deeper than a safetensors header"));
        }
        match self.peek() {
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(),
            Some(b'"') => Ok(Value::String(self.string()?)),
            Some(b'n') if self.s[self.at..].starts_with(b"null") => {
                self.at += 4;
                Ok(Value::Null)
            }
            _ => Err(self.err("expected an object, an array, a string or null")),
        }
    }

    fn object(&mut self, depth: usize) -> Result<Value, String> {
        self.expect(b'{')?;
        let mut out = Vec::new();
        if self.peek() == Some(b'}') {
            self.at += 1;
            return Ok(Value::Object(out));
        }
        loop {
            if self.peek() != Some(b'"') {
                return Err(self.err("expected a key"));
            }
            let k = self.string()?;
            self.expect(b':')?;
            let v = self.value(depth + 1)?;
            out.push((k, v));
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b'}') => {
                    self.at += 1;
                    return Ok(Value::Object(out));
                }
                _ => return Err(self.err("expected ',' or '}'")),
            }
        }
    }

    fn array(&mut self) -> Result<Value, String> {
        self.expect(b'[')?;
        let mut out = Vec::new();
        if self.peek() == Some(b']') {
            self.at += 1;
            return Ok(Value::Array(out));
        }
        loop {
            self.skip_ws();
            let start = self.at;
            while self.s.get(self.at).is_some_and(u8::is_ascii_digit) {
                self.at += 1;
            }
            let digits = &self.s[start..self.at];
            if digits.is_empty() || (digits.len() > 1 && digits[0] == b'0') {
                return Err(self.err("expected a non-negative integer"));
            }
            // Only ASCII digits: the conversion cannot fail, the value can overflow.
            let v = std::str::from_utf8(digits)
                .ok()
                .and_then(|d| d.parse::<usize>().ok())
                .ok_or_else(|| self.err("integer too large"))?;
            out.push(v);
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b']') => {
                    self.at += 1;
                    return Ok(Value::Array(out));
                }
                _ => return Err(self.err("expected ',' or ']'")),
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let h = self.s.get(self.at..self.at + 4).ok_or_else(|| self.err("a \\u escape cut short"))?;
        let v = std::str::from_utf8(h)
            .ok()
            .filter(|h| h.bytes().all(|c| c.is_ascii_hexdigit()))
            .and_then(|h| u32::from_str_radix(h, 16).ok())
            .ok_or_else(|| self.err("a \\u escape that is not 4 hex digits"))?;
        self.at += 4;
        Ok(v)
    }

    fn string(&mut self) -> Result<String, String> {
        self.expect(b'"')?;
        let mut out = Vec::new();
        loop {
            let c = *self.s.get(self.at).ok_or_else(|| self.err("a string that does not end"))?;
            self.at += 1;
            match c {
                b'"' => break,
                b'\\' => {
                    let e = *self.s.get(self.at).ok_or_else(|| self.err("an escape that does not end"))?;
                    self.at += 1;
                    let ch = match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let hi = self.hex4()?;
                            let code = if (0xD800..0xDC00).contains(&hi) {
                                if self.s.get(self.at..self.at + 2) != Some(b"\\u") {
                                    return Err(self.err("a lone high surrogate"));
                                }
                                self.at += 2;
                                let lo = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&lo) {
                                    return Err(self.err("a high surrogate without its low half"));
                                }
                                0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                            } else {
                                hi
                            };
                            char::from_u32(code).ok_or_else(|| self.err("an escape that is no character"))?
                        }
                        _ => return Err(self.err("an unknown escape")),
                    };
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                }
                c if c < 0x20 => return Err(self.err("a control character inside a string")),
                c => out.push(c),
            }
        }
        // The header was checked to be UTF-8, and escapes add whole characters.
        String::from_utf8(out).map_err(|_| self.err("a string that is not UTF-8"))
    }
}

/// `s` as a JSON string literal.
fn push_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A tensor to write: its name, type, shape and little-endian bytes.
pub(crate) struct Outgoing<'a> {
    pub name: &'a str,
    pub dtype: DType,
    pub shape: &'a [usize],
    pub data: &'a [u8],
}

/// The file's bytes: tensors in name order (after those of larger element
/// size, so that every tensor stays aligned to its type), metadata by key,
/// the header padded with spaces to a multiple of 8 bytes. Fails when a
/// tensor's bytes do not match its shape, or names repeat.
pub(crate) fn serialize(tensors: &[Outgoing<'_>], metadata: &BTreeMap<String, String>) -> Result<Vec<u8>, String> {
    let mut order: Vec<&Outgoing> = tensors.iter().collect();
    order.sort_by(|a, b| b.dtype.size().cmp(&a.dtype.size()).then(a.name.cmp(b.name)));
    if let Some(w) = order.windows(2).find(|w| w[0].name == w[1].name) {
        return Err(format!("tensor {:?} twice", w[0].name));
    }
    let mut header = String::from("{");
    if !metadata.is_empty() {
        header.push_str("\"__metadata__\":{");
        for (i, (k, v)) in metadata.iter().enumerate() {
            if i > 0 {
                header.push(',');
            }
            push_json_string(&mut header, k);
            header.push(':');
            push_json_string(&mut header, v);
        }
        header.push('}');
    }
    let mut offset = 0usize;
    for (i, t) in order.iter().enumerate() {
        let bytes = t.shape.iter().try_fold(t.dtype.size(), |acc, &d| acc.checked_mul(d));
        if bytes != Some(t.data.len()) {
            return Err(format!(
                "tensor {:?}: {} bytes for shape {:?} of {}",
                t.name,
                t.data.len(),
                t.shape,
                t.dtype.name()
            ));
        }
        if i > 0 || !metadata.is_empty() {
            header.push(',');
        }
        push_json_string(&mut header, t.name);
        let shape: Vec<String> = t.shape.iter().map(usize::to_string).collect();
        header.push_str(&format!(
            ":{{\"dtype\":\"{}\",\"shape\":[{}],\"data_offsets\":[{},{}]}}",
            t.dtype.name(),
            shape.join(","),
            offset,
            offset + t.data.len()
        ));
        offset += t.data.len();
    }
    header.push('}');
    while !header.len().is_multiple_of(8) {
        header.push(' ');
    }
    let mut out = Vec::with_capacity(8 + header.len() + offset);
    out.extend_from_slice(&(header.len() as u64).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for t in order {
        out.extend_from_slice(t.data);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f32_bytes(v: &[f32]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    fn sample() -> Vec<u8> {
        let (a, b) = (f32_bytes(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]), f32_bytes(&[-0.5]));
        let meta: BTreeMap<String, String> =
            [("format".to_string(), "blitz".to_string()), ("quote\"\n\u{1}é".into(), "v\\".into())].into();
        let t = [
            Outgoing { name: "w", dtype: DType::F32, shape: &[2, 3], data: &a },
            Outgoing { name: "b", dtype: DType::F32, shape: &[], data: &b },
        ];
        serialize(&t, &meta).unwrap()
    }

    #[test]
    fn what_is_written_reads_back_and_the_bytes_are_reproducible() {
        let bytes = sample();
        assert_eq!(bytes, sample());
        let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        assert_eq!(n % 8, 0);
        let (tensors, meta) = parse(&bytes).unwrap();
        assert_eq!(meta["format"], "blitz");
        assert_eq!(meta["quote\"\n\u{1}é"], "v\\");
        let names: Vec<&str> = tensors.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["b", "w"]);
        assert_eq!((tensors[1].shape.as_slice(), tensors[1].data.len()), (&[2usize, 3][..], 24));
        assert_eq!(tensors[0].shape, Vec::<usize>::new());
    }

    fn with_header(h: &str, data: &[u8]) -> Vec<u8> {
        let mut b = (h.len() as u64).to_le_bytes().to_vec();
        b.extend_from_slice(h.as_bytes());
        b.extend_from_slice(data);
        b
    }

    #[test]
    fn malformed_headers_are_refused_with_a_reason() {
        let ok = r#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#;
        assert!(parse(&with_header(ok, &[0; 4])).is_ok());
        let cases: &[(&str, usize, &str)] = &[
            (ok, 8, "cover"),
            (ok, 0, "cover"),
            (r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}"#, 4, "takes 8 bytes"),
            (r#"{"a":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,4]}}"#, 4, "overflows"),
            (r#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}"#, 4, "backwards"),
            (r#"{"a":{"dtype":"Q9","shape":[1],"data_offsets":[0,4]}}"#, 4, "unknown dtype"),
            (
                r#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#,
                8,
                "twice",
            ),
            (
                r#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#,
                4,
                "overlap",
            ),
            (r#"{"__metadata__":{"k":1}}"#, 0, "expected"),
            (r#"{"__metadata__":{"k":"\ud800"}}"#, 0, "surrogate"),
            (r#"{"a":{"dtype":"F32","shape":[[1]],"data_offsets":[0,4]}}"#, 4, "integer"),
            (r#"{"a":{"b":{"c":{}}}}"#, 0, "nested"),
            (r#"{"a":{"dtype":"F32","shape":[01],"data_offsets":[0,4]}}"#, 4, "integer"),
            (r#"{} x"#, 0, "after"),
            (r#"["#, 0, "integer"),
        ];
        for (h, data, want) in cases {
            let e = parse(&with_header(h, &vec![0; *data])).unwrap_err();
            assert!(e.contains(want), "{h}: {e}");
        }
        assert!(parse(&[1, 2, 3]).unwrap_err().contains("too short"));
        assert!(parse(&u64::MAX.to_le_bytes()).unwrap_err().contains("limit"));
        assert!(parse(&64u64.to_le_bytes()).unwrap_err().contains("past the end"));
    }

    #[test]
    fn headers_padded_with_spaces_and_null_metadata_read() {
        let h = r#"{"__metadata__":null, "a" : {"dtype":"I64","shape":[1],"data_offsets":[0,8]}}      "#;
        let bytes = with_header(h, &[0; 8]);
        let (t, m) = parse(&bytes).unwrap();
        assert!(m.is_empty());
        assert_eq!(t[0].dtype, DType::I64);
    }
}

/// Our reader and writer against the reference implementation (the
/// `safetensors` crate): each reads what the other writes.
#[cfg(test)]
mod against_the_reference {
    use super::*;

    #[test]
    fn the_reference_reads_our_files_and_we_read_its_files() {
        let a: Vec<u8> = (0..24u8).collect();
        let b: Vec<u8> = (0..16u8).collect();
        let meta: BTreeMap<String, String> = [("k".to_string(), "v \"q\" é".to_string())].into();
        let ours = serialize(
            &[
                Outgoing { name: "x.weight", dtype: DType::F32, shape: &[2, 3], data: &a },
                Outgoing { name: "y", dtype: DType::F64, shape: &[2], data: &b },
            ],
            &meta,
        )
        .unwrap();
        let st = safetensors::SafeTensors::deserialize(&ours).unwrap();
        assert_eq!(st.tensor("x.weight").unwrap().data(), &a[..]);
        assert_eq!(st.tensor("y").unwrap().shape(), &[2]);
        let (_, m) = safetensors::SafeTensors::read_metadata(&ours).unwrap();
        assert_eq!(m.metadata().as_ref().unwrap()["k"], "v \"q\" é");

        let view_a = safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![2, 3], &a).unwrap();
        let view_b = safetensors::tensor::TensorView::new(safetensors::Dtype::F64, vec![2], &b).unwrap();
        let hm: std::collections::HashMap<String, String> = meta.clone().into_iter().collect();
        let theirs = safetensors::serialize([("x.weight", view_a), ("y", view_b)], Some(hm)).unwrap();
        let (t, m) = parse(&theirs).unwrap();
        assert_eq!(m, meta);
        let x = t.iter().find(|t| t.name == "x.weight").unwrap();
        assert_eq!((x.dtype, x.shape.as_slice(), x.data), (DType::F32, &[2usize, 3][..], &a[..]));
    }

    /// Mutated files: our reader and the reference accept the same ones
    /// (ours may refuse more: duplicate names, which the reference lets
    /// the last one win) and read the same tensors from them. Cases:
    /// `FUZZ_CASES` (default 3000).
    #[test]
    fn on_mutated_files_our_reader_agrees_with_the_reference() {
        use rand::rngs::StdRng;
        use rand::{RngExt, SeedableRng};
        let cases: usize = std::env::var("FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(3000);
        let a: Vec<u8> = (0..24u8).collect();
        let meta: BTreeMap<String, String> = [("format".to_string(), "blitz".to_string())].into();
        let seed = serialize(
            &[
                Outgoing { name: "fc1.weight_mu", dtype: DType::F32, shape: &[2, 3], data: &a },
                Outgoing { name: "fc1.bias_mu", dtype: DType::F32, shape: &[2], data: &a[..8] },
            ],
            &meta,
        )
        .unwrap();
        let mut rng = StdRng::seed_from_u64(30);
        let (mut accepted, mut disagreements) = (0, Vec::new());
        for i in 0..cases {
            let mut b = seed.clone();
            for _ in 0..rng.random_range(1..4) {
                let at = rng.random_range(0..b.len().max(1));
                match rng.random_range(0..5) {
                    0 if !b.is_empty() => b[at] ^= 1 << rng.random_range(0..8),
                    1 if !b.is_empty() => b[at] = b"0123456789,:[]{}\"\\ u"[rng.random_range(0..20)],
                    2 => b.truncate(rng.random_range(0..=b.len())),
                    3 => b.insert(at.min(b.len()), b"0\"9,]}"[rng.random_range(0..6)]),
                    _ if !b.is_empty() => {
                        b.remove(at);
                    }
                    _ => {}
                }
            }
            let ours = parse(&b);
            let theirs = safetensors::SafeTensors::deserialize(&b);
            match (&ours, &theirs) {
                (Ok((t, _)), Ok(st)) => {
                    accepted += 1;
                    for x in t {
                        let y = st.tensor(&x.name).unwrap();
                        if (y.shape(), y.data()) != (x.shape.as_slice(), x.data) {
                            disagreements.push(format!("case {i}: tensor {:?} read differently", x.name));
                        }
                    }
                }
                (Err(_), Err(_)) => {}
                (Err(e), Ok(_)) if e.contains("twice") => {}
                (o, t) => disagreements.push(format!("case {i}: ours {:?}, reference {:?}", o.is_ok(), t.is_ok())),
            }
        }
        assert!(
            disagreements.is_empty(),
            "{} disagreements, e.g. {:?}",
            disagreements.len(),
            &disagreements[..3.min(disagreements.len())]
        );
        assert!(accepted > 0, "no mutated case was valid: the loop tests nothing");
        eprintln!("tensorfile: {cases} mutated files, {accepted} valid, readers agree");
    }
}
