//! The tape's contract: what it records, how gradients accumulate, and the
//! errors it gives for misuse.

use blitz_autograd::{Error, Param, Tape, Tensor};

fn t(v: &[f32], s: &[usize]) -> Tensor {
    Tensor::from_vec(v.to_vec(), s).unwrap()
}

#[test]
fn a_parameter_used_twice_gets_the_sum_of_both_gradients() {
    let p = Param::new("p", t(&[3.0], &[1]));
    let tape = Tape::new(0);
    let a = tape.param(&p);
    let b = tape.param(&p);
    let y = a.mul(&b).unwrap().sum().unwrap(); // p², d/dp = 2p = 6
    let g = tape.backward(&y).unwrap();
    assert_eq!(g.get(&p).unwrap().to_vec().unwrap(), vec![6.0]);
}

#[test]
fn no_grad_records_nothing_and_computes_the_same_values() {
    let p = Param::new("p", t(&[1.0, 2.0], &[2]));
    let rec = Tape::new(1);
    let y1 = rec.param(&p).exp().unwrap().sum().unwrap();
    let free = Tape::no_grad(1);
    let y2 = free.param(&p).exp().unwrap().sum().unwrap();
    assert_eq!(y1.item().unwrap(), y2.item().unwrap());
    assert!(free.is_empty());
    assert!(!y2.requires_grad());
    assert!(rec.len() >= 3);
}

#[test]
fn constants_get_no_entries() {
    let tape = Tape::new(0);
    let x = tape.constant(t(&[1.0, 2.0], &[2]));
    let y = x.exp().unwrap().sum().unwrap();
    assert!(tape.is_empty() && !y.requires_grad());
    assert!(tape.backward(&y).unwrap().params().is_empty());
}

#[test]
fn misuse_gives_typed_errors() {
    let tape = Tape::new(0);
    let other = Tape::new(0);
    let x = tape.leaf(t(&[1.0, 2.0], &[2]));
    let y = other.leaf(t(&[1.0, 2.0], &[2]));
    assert!(matches!(x.add(&y), Err(Error::TapeMismatch { .. })));
    assert!(matches!(tape.backward(&x), Err(Error::InvalidShape { .. })));
    let z = tape.leaf(t(&[1.0, 2.0, 3.0], &[3]));
    match x.add(&z) {
        Err(Error::ShapeMismatch { op, lhs, rhs }) => assert_eq!((op, lhs, rhs), ("add", vec![2], vec![3])),
        other => panic!("expected a shape mismatch, got {other:?}"),
    }
    assert!(matches!(x.sum_axis(1, false), Err(Error::AxisOutOfRange { axis: 1, rank: 1, .. })));
    assert!(matches!(x.reshape(&[3]), Err(Error::ShapeMismatch { .. })));
    assert!(matches!(tape.leaf(Tensor::zeros(&[0]).unwrap()).mean(), Err(Error::Empty { .. })));
    assert!(matches!(x.gather_rows(&[0]), Err(Error::InvalidShape { .. })));
    let m = tape.leaf(Tensor::zeros(&[2, 3]).unwrap());
    assert!(matches!(m.gather_rows(&[0, 3]), Err(Error::IndexOutOfRange { index: 3, len: 3, .. })));
    assert!(matches!(m.matmul(&m), Err(Error::ShapeMismatch { op: "matmul", .. })));
}

#[test]
fn draws_are_named_in_blocks_and_never_overlap() {
    let tape = Tape::new(7);
    assert_eq!(tape.draw(5), (7, 0));
    assert_eq!(tape.draw(1), (7, 8));
    assert_eq!(tape.draw(4), (7, 12));
}

#[test]
fn complexity_terms_add_up_and_backpropagate() {
    let p = Param::new("p", t(&[2.0], &[]));
    let tape = Tape::new(0);
    let v = tape.param(&p);
    tape.add_complexity(&v.square().unwrap()).unwrap();
    tape.add_complexity(&v.mul_scalar(3.0).unwrap()).unwrap();
    let kl = tape.complexity().unwrap();
    assert_eq!(kl.item().unwrap(), 10.0);
    let g = tape.backward(&kl).unwrap();
    assert_eq!(g.get(&p).unwrap().item().unwrap(), 7.0);
    assert_eq!(tape.take_complexity().unwrap().item().unwrap(), 10.0);
    assert_eq!(tape.complexity().unwrap().item().unwrap(), 0.0);
}
