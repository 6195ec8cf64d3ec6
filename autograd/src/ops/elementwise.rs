//! y = f(x) element by element, and y = x ∘ s for a scalar s.
//! Chain rule: ∂L/∂x = ∂L/∂y · f'(x), element by element.

use crate::Var;
use blitz_kernels::{ops, Result, ScalarOp, UnaryOp};

impl Var {
    /// Applies an element-wise function (the methods below name each one).
    ///
    /// # Errors
    /// Kernel (CUDA) failures only.
    pub fn unary(&self, op: UnaryOp) -> Result<Var> {
        let ctx = self.tape().context();
        let x = self.value().clone();
        let y = x.with_buffer(ops::unary_in(&ctx, op, x.buffer())?);
        let y_saved = y.clone();
        self.tape().record(
            op.name(),
            y,
            &[self],
            Box::new(move |g, _| {
                let gx = ops::unary_backward_in(&ctx, op, x.buffer(), y_saved.buffer(), g.buffer())?;
                Ok(vec![Some(x.with_buffer(gx))])
            }),
        )
    }

    /// -x
    pub fn neg(&self) -> Result<Var> {
        self.unary(UnaryOp::Neg)
    }
    /// eˣ
    pub fn exp(&self) -> Result<Var> {
        self.unary(UnaryOp::Exp)
    }
    /// ln x
    pub fn log(&self) -> Result<Var> {
        self.unary(UnaryOp::Log)
    }
    /// ln(1 + x)
    pub fn log1p(&self) -> Result<Var> {
        self.unary(UnaryOp::Log1p)
    }
    /// ln(1 + eˣ)
    pub fn softplus(&self) -> Result<Var> {
        self.unary(UnaryOp::Softplus)
    }
    /// 1 / (1 + e⁻ˣ)
    pub fn sigmoid(&self) -> Result<Var> {
        self.unary(UnaryOp::Sigmoid)
    }
    /// tanh x
    pub fn tanh(&self) -> Result<Var> {
        self.unary(UnaryOp::Tanh)
    }
    /// max(x, 0)
    pub fn relu(&self) -> Result<Var> {
        self.unary(UnaryOp::Relu)
    }
    /// √x
    pub fn sqrt(&self) -> Result<Var> {
        self.unary(UnaryOp::Sqrt)
    }
    /// x²
    pub fn square(&self) -> Result<Var> {
        self.unary(UnaryOp::Square)
    }
    /// |x|
    pub fn abs(&self) -> Result<Var> {
        self.unary(UnaryOp::Abs)
    }

    /// Applies x ∘ s (the methods below name each form).
    ///
    /// # Errors
    /// Kernel (CUDA) failures only.
    pub fn scalar_op(&self, op: ScalarOp) -> Result<Var> {
        let ctx = self.tape().context();
        let x = self.value().clone();
        let y = x.with_buffer(ops::scalar_in(&ctx, op, x.buffer())?);
        self.tape().record(
            "scalar",
            y,
            &[self],
            Box::new(move |g, _| {
                Ok(vec![Some(x.with_buffer(ops::scalar_backward_in(&ctx, op, x.buffer(), g.buffer())?))])
            }),
        )
    }

    /// x + s
    pub fn add_scalar(&self, s: f32) -> Result<Var> {
        self.scalar_op(ScalarOp::Add(s))
    }
    /// x − s
    pub fn sub_scalar(&self, s: f32) -> Result<Var> {
        self.scalar_op(ScalarOp::Add(-s))
    }
    /// x · s
    pub fn mul_scalar(&self, s: f32) -> Result<Var> {
        self.scalar_op(ScalarOp::Mul(s))
    }
    /// x / s
    pub fn div_scalar(&self, s: f32) -> Result<Var> {
        self.scalar_op(ScalarOp::Mul(1.0 / s))
    }
    /// xˢ
    pub fn powf(&self, s: f32) -> Result<Var> {
        self.scalar_op(ScalarOp::Pow(s))
    }
}
