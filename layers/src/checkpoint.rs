//! Checkpoints in the safetensors format: a model's parameters by their
//! dotted BLiTZ names (`fc1.weight_mu`, `fc1.weight_rho`, ...), a metadata
//! block (format version, the layers found), and optionally Adam's state
//! (moments keyed by parameter *name*, step count, hyperparameters) so that a
//! resumed run continues bit for bit.
//!
//! Files are written atomically ([`atomic_write`]: a temporary file in the
//! same folder, fsync, rename), so a crash during a save leaves the previous
//! checkpoint intact. Loading checks every name, shape and dtype before it
//! changes any parameter, and lists everything that does not match.
//!
//! The format is read and written by the crate's own code (`tensorfile`:
//! every size checked before anything is allocated, fuzzed, and
//! cross-checked both ways against the reference `safetensors` crate in
//! tests); the same checkpoint always gives the same bytes. The same files
//! are read and written by PyTorch's `safetensors` package, which is how
//! models move to and from BLiTZ (`scripts/export_blitz.py`,
//! `scripts/import_blitz.py`).

use crate::module::{params, Module};
use crate::output::atomic_write;
use crate::tensorfile::{self, DType as Dtype, Outgoing};
use blitz_autograd::optim::{Adam, AdamMoments, Optimizer};
use blitz_autograd::{Error, Param, Result, Tensor};
use blitz_kernels::Buffer;
use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::Path;

/// The version written in every checkpoint's metadata (`format_version`).
pub const FORMAT_VERSION: &str = "1";

/// The metadata key of the content digest ([`Checkpoint::seal`]).
pub const DIGEST_KEY: &str = "digest";

/// FNV-1a, 64 bits.
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    fn eat(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    /// A length-prefixed field, so that ("ab", "c") and ("a", "bc") differ.
    fn field(&mut self, bytes: &[u8]) {
        self.eat(&(bytes.len() as u64).to_le_bytes());
        self.eat(bytes);
    }
}

/// Value of the `format` metadata key.
const FORMAT_NAME: &str = "blitz";

/// Tensors whose names start with this hold optimizer state, not parameters.
pub(crate) const OPTIM_PREFIX: &str = "optimizer.";
const ADAM_M: &str = "optimizer.adam.exp_avg.";
const ADAM_V: &str = "optimizer.adam.exp_avg_sq.";

/// One stored tensor: its dtype and shape, and its values when it is `f32`
/// (the only dtype a parameter can take; others are kept for error messages).
#[derive(Debug, Clone, PartialEq)]
struct Entry {
    dtype: Dtype,
    shape: Vec<usize>,
    data: Vec<f32>,
}

/// A checkpoint in memory: named `f32` tensors and string metadata.
/// Build one with [`Checkpoint::from_module`] (or [`Checkpoint::from_params`]),
/// add the optimizer with [`Checkpoint::add_adam`], [`Checkpoint::save`] it;
/// later [`Checkpoint::load`] it and [`Checkpoint::restore_module`] /
/// [`Checkpoint::restore_adam`].
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    tensors: BTreeMap<String, Entry>,
    metadata: BTreeMap<String, String>,
    /// Where the checkpoint came from, for error messages.
    source: String,
}

impl Default for Checkpoint {
    fn default() -> Self {
        Checkpoint::new()
    }
}

impl Checkpoint {
    /// An empty checkpoint with the format metadata.
    pub fn new() -> Checkpoint {
        let mut metadata = BTreeMap::new();
        metadata.insert("format".to_string(), FORMAT_NAME.to_string());
        metadata.insert("format_version".to_string(), FORMAT_VERSION.to_string());
        Checkpoint { tensors: BTreeMap::new(), metadata, source: "<memory>".to_string() }
    }

    /// Where the checkpoint was loaded from (`"<memory>"` for a new one): the
    /// name errors about it carry.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Every parameter of `m` under its dotted name, and one `layer.<name>`
    /// metadata entry per layer describing its kind and sizes.
    ///
    /// # Errors
    /// As [`Checkpoint::from_params`].
    pub fn from_module(m: &dyn Module) -> Result<Checkpoint> {
        Checkpoint::from_params(&params(m))
    }

    /// The given named parameters (e.g. a model's [`params`] plus a loose
    /// parameter such as a learned noise level).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a duplicated or reserved (`optimizer.`)
    /// name; device errors copying a value to the host.
    pub fn from_params(named: &[(String, Param)]) -> Result<Checkpoint> {
        let mut ck = Checkpoint::new();
        for (name, p) in named {
            if name.starts_with(OPTIM_PREFIX) {
                return Err(Error::invalid(
                    "parameter name",
                    format!("{name:?}: the prefix {OPTIM_PREFIX:?} is reserved"),
                ));
            }
            let v = p.value();
            let entry = Entry { dtype: Dtype::F32, shape: v.shape().to_vec(), data: v.to_vec()? };
            if ck.tensors.insert(name.clone(), entry).is_some() {
                return Err(Error::invalid("parameter name", format!("{name:?} appears twice")));
            }
        }
        for (layer, kind) in describe_layers(named) {
            ck.metadata.insert(format!("layer.{layer}"), kind);
        }
        Ok(ck)
    }

    /// Adds Adam's state: its hyperparameters and step count as metadata,
    /// its two moments per parameter as tensors named by the parameter
    /// (`optimizer.adam.exp_avg.fc1.weight_mu`, `...exp_avg_sq...`).
    /// `named` maps the optimizer's parameters to names (use the same list
    /// as for the parameters).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when the optimizer holds moments for a
    /// parameter that `named` does not name (they could not be restored).
    pub fn add_adam(&mut self, opt: &Adam, named: &[(String, Param)]) -> Result<()> {
        let by_id: HashMap<u64, &str> = named.iter().map(|(n, p)| (p.id(), n.as_str())).collect();
        for s in opt.moments() {
            let Some(name) = by_id.get(&s.id) else {
                return Err(Error::invalid(
                    "optimizer",
                    format!("holds moments for parameter id {} that the model does not name", s.id),
                ));
            };
            let shape = named.iter().find(|(n, _)| n == name).map(|(_, p)| p.shape()).unwrap_or_default();
            for (prefix, buf) in [(ADAM_M, &s.m), (ADAM_V, &s.v)] {
                let entry = Entry { dtype: Dtype::F32, shape: shape.clone(), data: buf.to_vec()? };
                self.tensors.insert(format!("{prefix}{name}"), entry);
            }
        }
        let (b1, b2, eps, wd) = opt.hyperparameters();
        // Rust prints the shortest decimal that parses back to the same f32.
        for (k, v) in [
            ("optimizer", "adam".to_string()),
            ("optimizer.adam.step", opt.steps().to_string()),
            ("optimizer.adam.lr", opt.learning_rate().to_string()),
            ("optimizer.adam.beta1", b1.to_string()),
            ("optimizer.adam.beta2", b2.to_string()),
            ("optimizer.adam.eps", eps.to_string()),
            ("optimizer.adam.weight_decay", wd.to_string()),
        ] {
            self.metadata.insert(k.to_string(), v);
        }
        Ok(())
    }

    /// A digest of the content: every tensor (name, dtype, shape, bytes) and
    /// every metadata entry but [`DIGEST_KEY`], in sorted order (FNV-1a,
    /// 64 bits). It detects a file edited or damaged after it was written,
    /// not a forgery: anyone can compute it.
    pub fn content_digest(&self) -> String {
        let mut h = Fnv::default();
        for (name, e) in &self.tensors {
            h.field(name.as_bytes());
            h.field(format!("{}{:?}", e.dtype.name(), e.shape).as_bytes());
            for v in &e.data {
                h.eat(&v.to_bits().to_le_bytes());
            }
        }
        for (k, v) in self.metadata.iter().filter(|(k, _)| k.as_str() != DIGEST_KEY) {
            h.field(k.as_bytes());
            h.field(v.as_bytes());
        }
        format!("fnv1a64:{:016x}", h.0)
    }

    /// Stores [`Checkpoint::content_digest`] under [`DIGEST_KEY`]: every
    /// later [`Checkpoint::load`] checks it.
    pub fn seal(&mut self) {
        let d = self.content_digest();
        self.metadata.insert(DIGEST_KEY.to_string(), d);
    }

    /// Checks the digest stored by [`Checkpoint::seal`], when there is one
    /// (files written without it, by older builds or other tools, pass).
    ///
    /// # Errors
    /// [`Error::Parse`] when the content no longer matches it.
    pub fn verify_seal(&self) -> Result<()> {
        match self.metadata.get(DIGEST_KEY) {
            Some(d) if *d != self.content_digest() => Err(Error::Parse {
                path: self.source.clone(),
                message: format!(
                    "metadata {DIGEST_KEY} does not match the content: the file was changed after it was \
                     written (remove the {DIGEST_KEY} key to load it anyway)"
                ),
            }),
            _ => Ok(()),
        }
    }

    /// Sets a metadata entry of the caller's own (e.g. the epoch, a config).
    pub fn set_metadata(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.metadata.insert(key.into(), value.into());
    }

    /// Removes a metadata entry, returning its value.
    pub fn remove_metadata(&mut self, key: &str) -> Option<String> {
        self.metadata.remove(key)
    }

    /// Stores (or replaces) the `f32` tensor `name`.
    ///
    /// # Errors
    /// [`Error::ShapeOverflow`] for a shape whose element count overflows;
    /// [`Error::InvalidShape`] when `data` does not hold that many values.
    pub fn set_tensor(&mut self, name: impl Into<String>, shape: &[usize], data: Vec<f32>) -> Result<()> {
        let n = blitz_kernels::limits::checked_numel("Checkpoint::set_tensor", shape)?;
        if n != data.len() {
            return Err(Error::InvalidShape {
                op: "Checkpoint::set_tensor",
                shape: shape.to_vec(),
                reason: format!("{} values given", data.len()),
            });
        }
        self.tensors.insert(name.into(), Entry { dtype: Dtype::F32, shape: shape.to_vec(), data });
        Ok(())
    }

    /// The metadata block.
    pub fn metadata(&self) -> &BTreeMap<String, String> {
        &self.metadata
    }

    /// The names of every stored tensor, sorted.
    pub fn names(&self) -> Vec<&str> {
        self.tensors.keys().map(String::as_str).collect()
    }

    /// The shape and values of a stored `f32` tensor.
    pub fn tensor(&self, name: &str) -> Option<(&[usize], &[f32])> {
        self.tensors.get(name).filter(|e| e.dtype == Dtype::F32).map(|e| (&e.shape[..], &e.data[..]))
    }

    /// The safetensors bytes: the same checkpoint always gives the same
    /// bytes (tensors by name, metadata by key).
    ///
    /// # Errors
    /// [`Error::Parse`] when a tensor's values do not match its shape
    /// (cannot happen for a checkpoint built by this module).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let bytes: Vec<(&str, &Entry, Vec<u8>)> = self
            .tensors
            .iter()
            .filter(|(_, e)| e.dtype == Dtype::F32)
            .map(|(n, e)| (n.as_str(), e, e.data.iter().flat_map(|v| v.to_le_bytes()).collect()))
            .collect();
        let out: Vec<Outgoing> =
            bytes.iter().map(|(name, e, data)| Outgoing { name, dtype: Dtype::F32, shape: &e.shape, data }).collect();
        tensorfile::serialize(&out, &self.metadata)
            .map_err(|e| Error::Parse { path: self.source.clone(), message: format!("safetensors: {e}") })
    }

    /// Writes the safetensors bytes to `w`.
    ///
    /// # Errors
    /// [`Error::Io`] when the writer fails.
    pub fn write_to(&self, w: &mut dyn Write) -> Result<()> {
        let bytes = self.to_bytes()?;
        w.write_all(&bytes).map_err(|e| Error::Io { path: self.source.clone(), message: e.to_string() })
    }

    /// Parses safetensors bytes; `source` names them in errors. Never
    /// allocates more than the bytes hold: every size in the header is
    /// checked against the length of `bytes` first.
    ///
    /// # Errors
    /// [`Error::Parse`] for anything malformed, naming what.
    pub fn from_bytes(bytes: &[u8], source: &str) -> Result<Checkpoint> {
        let (raw, metadata) = tensorfile::parse(bytes).map_err(|e| Error::Parse {
            path: source.to_string(),
            message: format!("not a valid safetensors file: {e}"),
        })?;
        let mut tensors = BTreeMap::new();
        for t in raw {
            let data = if t.dtype == Dtype::F32 {
                t.data.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
            } else {
                Vec::new()
            };
            tensors.insert(t.name, Entry { dtype: t.dtype, shape: t.shape, data });
        }
        Ok(Checkpoint { tensors, metadata, source: source.to_string() })
    }

    /// Writes the checkpoint to `path` atomically (see [`atomic_write`]).
    ///
    /// # Errors
    /// [`Error::Io`] naming the path; the previous file, if any, is intact.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let bytes = self.to_bytes()?;
        atomic_write(path.as_ref(), |f| f.write_all(&bytes))
    }

    /// Reads and parses a checkpoint file.
    ///
    /// # Errors
    /// [`Error::Io`] when the file cannot be read; [`Error::Parse`] when it
    /// is not a valid safetensors file, one of an unknown format version, or
    /// one whose stored digest ([`Checkpoint::seal`]) does not match.
    pub fn load(path: impl AsRef<Path>) -> Result<Checkpoint> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|e| Error::Io { path: name.clone(), message: e.to_string() })?;
        let ck = Checkpoint::from_bytes(&bytes, &name)?;
        ck.verify_seal()?;
        check_format_version(&ck)?;
        Ok(ck)
    }

    /// Copies the stored values into `m`'s parameters (on their devices).
    ///
    /// # Errors
    /// As [`Checkpoint::restore_params`].
    pub fn restore_module(&self, m: &dyn Module) -> Result<()> {
        self.restore_params(&params(m))
    }

    /// Copies the stored values into the named parameters. Everything is
    /// checked first: on any error no parameter has changed.
    ///
    /// # Errors
    /// [`Error::Parse`] listing every parameter missing from the file, every
    /// parameter tensor in the file that the model lacks, every shape that
    /// differs and every tensor whose dtype is not `F32`. The values are
    /// copied bit for bit, NaN included: the models' own restores
    /// ([`Regressor::restore`](crate::regression::Regressor::restore), ...)
    /// refuse non-finite parameters with [`Checkpoint::check_finite`].
    pub fn restore_params(&self, named: &[(String, Param)]) -> Result<()> {
        let mut problems = Vec::new();
        for (name, p) in named {
            match self.tensors.get(name) {
                None => problems.push(format!("missing tensor {name} (model shape {:?})", p.shape())),
                Some(e) if e.dtype != Dtype::F32 => {
                    problems.push(format!("{name}: dtype {} in the file, the model needs F32", e.dtype.name()))
                }
                Some(e) if e.shape != p.shape() => {
                    problems.push(format!("{name}: shape {:?} in the file, {:?} in the model", e.shape, p.shape()))
                }
                Some(_) => {}
            }
        }
        for (name, e) in &self.tensors {
            if !name.starts_with(OPTIM_PREFIX) && !named.iter().any(|(n, _)| n == name) {
                problems.push(format!("unexpected tensor {name} (shape {:?}) that the model does not have", e.shape));
            }
        }
        if !problems.is_empty() {
            return Err(Error::Parse { path: self.source.clone(), message: problems.join("; ") });
        }
        for (name, p) in named {
            let e = &self.tensors[name];
            let t = Tensor::from_vec(e.data.clone(), &e.shape)?.to(p.value().device())?;
            p.set(t)?;
        }
        Ok(())
    }

    /// Refuses a NaN or an infinity in the stored tensors of `names`.
    ///
    /// # Errors
    /// [`Error::NonFinite`] naming the first such tensor, the file and the element.
    pub fn check_finite<'a>(&self, names: impl IntoIterator<Item = &'a str>) -> Result<()> {
        for name in names {
            if let Some(i) = self.tensors.get(name).and_then(|e| e.data.iter().position(|v| !v.is_finite())) {
                return Err(Error::NonFinite { what: format!("tensor {name} of {} (element {i})", self.source) });
            }
        }
        Ok(())
    }

    /// Whether the checkpoint holds an optimizer's state.
    pub fn has_optimizer(&self) -> bool {
        self.metadata.contains_key("optimizer")
    }

    /// A new [`Adam`] with the saved hyperparameters, learning rate, step
    /// count and moments, the moments attached to the parameters of `named`
    /// by name: the next step equals the one the saved run would have taken.
    ///
    /// # Errors
    /// [`Error::Parse`] when the checkpoint holds no Adam state, a value is
    /// malformed, a moment's name or shape does not match `named`, or a
    /// second moment is negative; [`Error::NonFinite`] for a moment holding
    /// a NaN or an infinity.
    pub fn restore_adam(&self, named: &[(String, Param)]) -> Result<Adam> {
        let bad = |message: String| Error::Parse { path: self.source.clone(), message };
        if self.metadata.get("optimizer").map(String::as_str) != Some("adam") {
            return Err(bad("the checkpoint holds no Adam state".into()));
        }
        let get = |key: &str| -> Result<f32> {
            let v = self.metadata.get(key).ok_or_else(|| bad(format!("metadata {key} is missing")))?;
            v.parse().map_err(|_| bad(format!("metadata {key} = {v:?} is not a number")))
        };
        let step: u64 = self
            .metadata
            .get("optimizer.adam.step")
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| bad("metadata optimizer.adam.step is missing or not an integer".into()))?;
        let mut opt = Adam::with_params(
            get("optimizer.adam.lr")?,
            get("optimizer.adam.beta1")?,
            get("optimizer.adam.beta2")?,
            get("optimizer.adam.eps")?,
            get("optimizer.adam.weight_decay")?,
        )?;
        let mut moments = Vec::new();
        let mut problems = Vec::new();
        for (name, e) in self.tensors.range(ADAM_M.to_string()..) {
            let Some(pname) = name.strip_prefix(ADAM_M) else { break };
            let Some((_, p)) = named.iter().find(|(n, _)| n == pname) else {
                problems.push(format!("{name}: no parameter named {pname}"));
                continue;
            };
            let Some(v) = self.tensors.get(&format!("{ADAM_V}{pname}")) else {
                problems.push(format!("{ADAM_V}{pname} is missing"));
                continue;
            };
            if e.dtype != Dtype::F32 || v.dtype != Dtype::F32 {
                problems.push(format!("{pname}: moments must be F32"));
                continue;
            }
            if e.shape != p.shape() || v.shape != p.shape() {
                problems.push(format!(
                    "{pname}: moment shapes {:?} / {:?} in the file, {:?} in the model",
                    e.shape,
                    v.shape,
                    p.shape()
                ));
                continue;
            }
            if let Some(i) = e.data.iter().chain(&v.data).position(|x| !x.is_finite()) {
                let (which, at) = if i < e.data.len() { (ADAM_M, i) } else { (ADAM_V, i - e.data.len()) };
                return Err(Error::NonFinite {
                    what: format!("tensor {which}{pname} of {} (element {at})", self.source),
                });
            }
            if let Some(at) = v.data.iter().position(|&x| x < 0.0) {
                problems.push(format!("{ADAM_V}{pname}: element {at} is {}, a second moment must be ≥ 0", v.data[at]));
                continue;
            }
            let device = p.value().device();
            moments.push(AdamMoments {
                id: p.id(),
                m: Buffer::from_host(e.data.clone(), device)?,
                v: Buffer::from_host(v.data.clone(), device)?,
            });
        }
        if !problems.is_empty() {
            return Err(bad(problems.join("; ")));
        }
        opt.set_state(step, moments)?;
        Ok(opt)
    }
}

/// Refuses a checkpoint of another format version than [`FORMAT_VERSION`]
/// (files of other tools, with none, pass: plain tensors).
pub(crate) fn check_format_version(ck: &Checkpoint) -> Result<()> {
    match ck.metadata.get("format_version") {
        None => Ok(()),
        Some(v) if v == FORMAT_VERSION => Ok(()),
        Some(v) => Err(Error::Parse {
            path: ck.source.clone(),
            message: format!("format_version {v:?}; this build reads version {FORMAT_VERSION}"),
        }),
    }
}

/// Saves `m`'s parameters (and metadata) to `path` atomically.
///
/// # Errors
/// As [`Checkpoint::save`].
pub fn save_module(m: &dyn Module, path: impl AsRef<Path>) -> Result<()> {
    Checkpoint::from_module(m)?.save(path)
}

/// Loads `path` into `m`'s parameters, checking names, shapes and dtypes first.
///
/// # Errors
/// As [`Checkpoint::load`] and [`Checkpoint::restore_module`].
pub fn load_module(m: &dyn Module, path: impl AsRef<Path>) -> Result<()> {
    Checkpoint::load(path)?.restore_module(m)
}

/// One line per layer (the prefix before a parameter's last dot), with the
/// kind and sizes read off its parameters' names and shapes.
fn describe_layers(named: &[(String, Param)]) -> Vec<(String, String)> {
    let mut layers: Vec<(String, BTreeMap<String, Vec<usize>>)> = Vec::new();
    for (name, p) in named {
        let (layer, local) = name.rsplit_once('.').unwrap_or(("", name));
        let i = match layers.iter().position(|(l, _)| l == layer) {
            Some(i) => i,
            None => {
                layers.push((layer.to_string(), BTreeMap::new()));
                layers.len() - 1
            }
        };
        layers[i].1.insert(local.to_string(), p.shape());
    }
    layers
        .into_iter()
        .map(|(layer, locals)| {
            let key = if layer.is_empty() { "<root>".to_string() } else { layer };
            (key, describe_layer(&locals))
        })
        .collect()
}

fn describe_layer(locals: &BTreeMap<String, Vec<usize>>) -> String {
    let bayes = locals.contains_key("weight_mu") || locals.contains_key("weight_ih_mu");
    let (sfx, kind) = if bayes { ("_mu", "Bayesian") } else { ("", "") };
    let get = |name: &str| locals.get(&format!("{name}{sfx}"));
    let bias = get("bias").is_some();
    // Recurrent: weight_ih [in, gates·hidden], weight_hh [hidden, gates·hidden].
    if let (Some(ih), Some(hh)) = (get("weight_ih"), get("weight_hh")) {
        if let ([i, g], [h, _]) = (&ih[..], &hh[..]) {
            let cell = match g.checked_div(*h) {
                Some(4) => "LSTM",
                Some(3) => "GRU",
                _ => "Recurrent",
            };
            return format!("{kind}{cell}(in_features={i}, hidden={h}, bias={bias})");
        }
    }
    let Some(w) = get("weight") else {
        return format!("Params({})", locals.keys().cloned().collect::<Vec<_>>().join(", "));
    };
    match w.len() {
        2 if bias => format!("{kind}Linear(in_features={}, out_features={}, bias=true)", w[1], w[0]),
        // Without a bias the shapes cannot tell a linear layer from an embedding table.
        2 => format!(
            "{kind}Linear(in_features={}, out_features={}, bias=false) or {kind}Embedding(num_embeddings={}, embedding_dim={})",
            w[1], w[0], w[0], w[1]
        ),
        3..=5 => format!(
            "{kind}Conv{}d(in_channels_per_group={}, out_channels={}, kernel_size={:?}, bias={bias})",
            w.len() - 2,
            w[1],
            w[0],
            &w[2..]
        ),
        _ => format!("{kind}Params(weight shape {w:?}, bias={bias})"),
    }
}

/// A list of strings as a JSON array (`["a","b\"c"]`), to store names
/// (classes, columns) in checkpoint metadata, whose values are strings.
pub(crate) fn encode_string_list(items: &[String]) -> String {
    let mut out = String::from("[");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('"');
        for c in item.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
                c => out.push(c),
            }
        }
        out.push('"');
    }
    out.push(']');
    out
}

/// The strings of a JSON array of strings written by [`encode_string_list`]
/// (or any JSON array of strings); `None` for anything else.
pub(crate) fn decode_string_list(text: &str) -> Option<Vec<String>> {
    let mut chars = text.trim().chars().peekable();
    let skip_ws = |chars: &mut std::iter::Peekable<std::str::Chars<'_>>| {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
    };
    if chars.next()? != '[' {
        return None;
    }
    let mut out = Vec::new();
    skip_ws(&mut chars);
    if chars.peek() == Some(&']') {
        chars.next();
        return chars.next().is_none().then_some(out);
    }
    loop {
        skip_ws(&mut chars);
        if chars.next()? != '"' {
            return None;
        }
        let mut s = String::new();
        loop {
            match chars.next()? {
                '"' => break,
                '\\' => match chars.next()? {
                    'n' => s.push('\n'),
                    'r' => s.push('\r'),
                    't' => s.push('\t'),
                    'b' => s.push('\u{8}'),
                    'f' => s.push('\u{c}'),
                    'u' => {
                        let hex: String = (0..4).map(|_| chars.next()).collect::<Option<String>>()?;
                        s.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
                    }
                    c @ ('"' | '\\' | '/') => s.push(c),
                    _ => return None,
                },
                c => s.push(c),
            }
        }
        out.push(s);
        skip_ws(&mut chars);
        match chars.next()? {
            ',' => continue,
            ']' => return chars.next().is_none().then_some(out),
            _ => return None,
        }
    }
}

#[cfg(test)]
mod list_tests {
    use super::*;

    #[test]
    fn string_lists_round_trip_and_reject_malformed_text() {
        let items: Vec<String> = ["a", "b\"c", "back\\slash", "line\nbreak", "tab\tand\u{1}", "", "ünï, cödé"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let text = encode_string_list(&items);
        assert_eq!(decode_string_list(&text), Some(items));
        assert_eq!(decode_string_list("[]"), Some(vec![]));
        assert_eq!(decode_string_list(r#" [ "x" , "y" ] "#), Some(vec!["x".to_string(), "y".into()]));
        for bad in [r#"["a""b"]"#, r#"["a",]"#, r#"["a"] x"#, r#"["a"#, "a", r#"["\q"]"#, r#"[1]"#] {
            assert_eq!(decode_string_list(bad), None, "{bad}");
        }
    }
}
