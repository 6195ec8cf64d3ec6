//! The element-wise op types and their op codes, from one table each.
//!
//! Each table below defines, in one place, the enum, its [`ALL`](UnaryOp::ALL)
//! list, each op's name and its op code (the variant's discriminant, so two
//! ops cannot share a code and `code` needs no lookup). [`cuda_op_tables`]
//! writes the same tables as CUDA X-macros, which the `.cu` sources expand
//! into their `switch`es: a case per table row, calling a device function
//! named after the op (`unary_eval_softplus`, ...). So:
//! - a new Rust variant without its CPU arithmetic is a compile error (the
//!   `eval` / `derivative` matches in `cpu::unary` / `cpu::binary` are exhaustive);
//! - a new row without its CUDA device functions is an NVRTC error
//!   (undeclared identifier), caught by the CI's NVRTC compile of every source;
//! - there is no `default:` case: no op can silently run another op's kernel.
//!
//! The CPU arithmetic of each op (`eval`, `derivative`, `partials`) lives
//! with the CPU kernels; the CUDA arithmetic in `cuda/cu/elementwise.cu`.

/// Defines a field-less op enum from a table of `Variant = code, "name";`
/// rows: the enum (its discriminants are the codes), `ALL` in table order,
/// `name` and `code`. A constant check refuses codes that are not 0, 1, 2, …
/// in table order, so `ALL[op.code()] == op`.
macro_rules! op_table {
    (
        $(#[$meta:meta])*
        pub enum $ty:ident {
            $( $(#[$vmeta:meta])* $var:ident = $code:literal, $name:literal; )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(i32)]
        pub enum $ty {
            $( $(#[$vmeta])* $var = $code, )*
        }

        impl $ty {
            /// Every op in code order, for tests and benches that sweep them.
            pub const ALL: [$ty; [$($name),*].len()] = [$($ty::$var),*];

            /// The op's name as the tape, errors and the CUDA sources spell it.
            pub const fn name(self) -> &'static str {
                match self {
                    $($ty::$var => $name,)*
                }
            }

            /// The op code the CUDA kernels switch on (the row of the table).
            pub const fn code(self) -> i32 {
                self as i32
            }
        }

        const _: () = {
            let mut i = 0;
            while i < $ty::ALL.len() {
                assert!($ty::ALL[i].code() == i as i32, "op codes must be 0, 1, 2, ... in table order");
                i += 1;
            }
        };
    };
}

op_table! {
    /// An element-wise function y = f(x).
    pub enum UnaryOp {
        /// -x
        Neg = 0, "neg";
        /// eˣ
        Exp = 1, "exp";
        /// ln x
        Log = 2, "log";
        /// ln(1 + x)
        Log1p = 3, "log1p";
        /// ln(1 + eˣ), computed without overflow
        Softplus = 4, "softplus";
        /// 1 / (1 + e⁻ˣ)
        Sigmoid = 5, "sigmoid";
        /// tanh x
        Tanh = 6, "tanh";
        /// max(x, 0)
        Relu = 7, "relu";
        /// √x
        Sqrt = 8, "sqrt";
        /// x²
        Square = 9, "square";
        /// |x|
        Abs = 10, "abs";
    }
}

op_table! {
    /// z = a ∘ b.
    pub enum BinaryOp {
        /// a + b
        Add = 0, "add";
        /// a - b
        Sub = 1, "sub";
        /// a · b
        Mul = 2, "mul";
        /// a / b
        Div = 3, "div";
    }
}

op_table! {
    /// The kind of a [`ScalarOp`], without its scalar: what the CUDA kernel switches on.
    pub enum ScalarKind {
        /// x + s
        Add = 0, "add";
        /// x · s
        Mul = 1, "mul";
        /// xˢ
        Pow = 2, "pow";
    }
}

/// x ∘ s for a scalar s.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ScalarOp {
    /// x + s
    Add(f32),
    /// x · s
    Mul(f32),
    /// xˢ
    Pow(f32),
}

impl ScalarOp {
    /// The op's kind and its scalar.
    pub const fn split(self) -> (ScalarKind, f32) {
        match self {
            ScalarOp::Add(s) => (ScalarKind::Add, s),
            ScalarOp::Mul(s) => (ScalarKind::Mul, s),
            ScalarOp::Pow(s) => (ScalarKind::Pow, s),
        }
    }

    /// The op's name as errors print it.
    pub const fn name(self) -> &'static str {
        self.split().0.name()
    }
}

/// One table as a CUDA X-macro: `#define BLITZ_<TABLE>_OPS(X) X(0, neg) X(1, exp) ...`.
#[cfg(any(test, feature = "cuda"))]
fn x_macro(table: &str, rows: impl Iterator<Item = (i32, &'static str)>) -> String {
    let mut s = format!("#define BLITZ_{table}_OPS(X)");
    for (code, name) in rows {
        s.push_str(&format!(" X({code}, {name})"));
    }
    s.push('\n');
    s
}

/// The op tables as CUDA X-macros (`BLITZ_UNARY_OPS`, `BLITZ_SCALAR_OPS`,
/// `BLITZ_BINARY_OPS`), put in front of every kernel source. A source expands
/// them into its `switch` cases, calling `unary_eval_<name>`, `unary_deriv_<name>`, etc.
#[cfg(any(test, feature = "cuda"))]
pub(crate) fn cuda_op_tables() -> String {
    let mut s =
        String::from("// Generated from the Rust op tables (blitz_kernels::types::elementwise): do not edit.\n");
    s += &x_macro("UNARY", UnaryOp::ALL.iter().map(|o| (o.code(), o.name())));
    s += &x_macro("SCALAR", ScalarKind::ALL.iter().map(|o| (o.code(), o.name())));
    s += &x_macro("BINARY", BinaryOp::ALL.iter().map(|o| (o.code(), o.name())));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_table_rows_and_names_are_c_identifiers() {
        for (i, op) in UnaryOp::ALL.iter().enumerate() {
            assert_eq!(op.code(), i as i32);
            assert_eq!(UnaryOp::ALL[op.code() as usize], *op);
        }
        assert_eq!(BinaryOp::Div.code(), 3);
        assert_eq!(ScalarOp::Pow(2.0).split(), (ScalarKind::Pow, 2.0));
        let names = UnaryOp::ALL.iter().map(|o| o.name()).chain(BinaryOp::ALL.iter().map(|o| o.name()));
        for n in names.chain(ScalarKind::ALL.iter().map(|o| o.name())) {
            assert!(n.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()), "{n}");
        }
    }

    #[test]
    fn the_cuda_tables_list_every_op_with_its_code() {
        let t = cuda_op_tables();
        let unary = t.lines().find(|l| l.starts_with("#define BLITZ_UNARY_OPS(X)")).unwrap();
        assert_eq!(unary.matches(" X(").count(), UnaryOp::ALL.len());
        for op in UnaryOp::ALL {
            assert!(unary.contains(&format!(" X({}, {})", op.code(), op.name())), "{op:?} missing: {unary}");
        }
        assert!(t.contains("#define BLITZ_BINARY_OPS(X) X(0, add) X(1, sub) X(2, mul) X(3, div)\n"));
        assert!(t.contains("#define BLITZ_SCALAR_OPS(X) X(0, add) X(1, mul) X(2, pow)\n"));
    }
}
