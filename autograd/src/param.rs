//! `Param`: a named tensor that lives across training steps. Modules own them,
//! forward passes put them on a tape, optimizers update them in place.

use crate::Tensor;
use blitz_kernels::{Buffer, Error, Result};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

/// Source of unique parameter identities (not randomness: ids only).
static NEXT_ID: AtomicU64 = AtomicU64::new(0);

/// A trainable tensor, shared by handle: clones refer to the same parameter.
/// `Send + Sync`, so a model can be shared between threads.
#[derive(Clone)]
pub struct Param {
    inner: Arc<ParamInner>,
}

struct ParamInner {
    id: u64,
    name: String,
    value: RwLock<Tensor>,
    /// Bumped (under the value's write lock) by every change of the value.
    generation: AtomicU64,
}

impl std::fmt::Debug for Param {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Param({}: {:?})", self.inner.name, self.value().shape())
    }
}

impl Param {
    /// A new parameter with a local name (e.g. `weight_mu`).
    pub fn new(name: impl Into<String>, value: Tensor) -> Param {
        Param {
            inner: Arc::new(ParamInner {
                id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
                name: name.into(),
                value: RwLock::new(value),
                generation: AtomicU64::new(0),
            }),
        }
    }

    /// A process-unique identity: gradients are matched to parameters by it.
    pub fn id(&self) -> u64 {
        self.inner.id
    }

    /// The local name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// A counter that changes whenever the value may have changed ([`Param::set`],
    /// [`Param::update`]): a value derived from the parameter and stored with
    /// the generation it was computed at is current while they are equal.
    /// Read it before [`Param::value`], so a change in between is seen next time.
    pub fn generation(&self) -> u64 {
        self.inner.generation.load(Ordering::Acquire)
    }

    /// The current value (shares storage; cheap).
    pub fn value(&self) -> Tensor {
        self.inner.value.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The shape.
    pub fn shape(&self) -> Vec<usize> {
        self.value().shape().to_vec()
    }

    /// Replaces the value; the shape must stay the same.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] when the new shape differs.
    pub fn set(&self, value: Tensor) -> Result<()> {
        let mut v = self.inner.value.write().unwrap_or_else(|e| e.into_inner());
        if v.shape() != value.shape() {
            return Err(Error::ShapeMismatch {
                op: "Param::set",
                lhs: v.shape().to_vec(),
                rhs: value.shape().to_vec(),
            });
        }
        *v = value;
        self.inner.generation.fetch_add(1, Ordering::Release);
        Ok(())
    }

    /// Runs `f` on the storage in place (copy-on-write if a tape still shares it).
    ///
    /// # Errors
    /// Whatever `f` returns.
    pub fn update<T>(&self, f: impl FnOnce(&mut Buffer) -> Result<T>) -> Result<T> {
        let mut v = self.inner.value.write().unwrap_or_else(|e| e.into_inner());
        self.inner.generation.fetch_add(1, Ordering::Release);
        f(v.buffer_mut())
    }
}
