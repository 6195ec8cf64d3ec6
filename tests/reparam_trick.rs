//! The reparam_trick example's claims, at a tenth of its default size:
//! the trick's variance at least 10x below the score function's on the toy,
//! Flipout and local reparameterisation below plain reparameterisation on
//! the layer, every estimator within 3 standard errors of the exact gradient.

#[allow(dead_code)] // the example's command line, table and plot are not tested here
#[path = "../examples/reparam_trick.rs"]
mod reparam_trick;

#[test]
fn the_estimators_rank_as_the_tour_says_and_are_unbiased() {
    let data = concat!(env!("CARGO_MANIFEST_DIR"), "/data/boston_house_prices.csv");
    let m = reparam_trick::measure(1000, data).unwrap();
    let toy_var = |i: usize| m.toy[i].spread.var[0];
    assert!(toy_var(0) >= 10.0 * toy_var(2), "score {} vs reparameterisation {}", toy_var(0), toy_var(2));
    assert!(toy_var(1) < toy_var(0), "the baseline lowers the score function's variance");
    let layer_var = |i: usize| m.layer[i].spread.total_var();
    assert!(layer_var(1) < layer_var(0) && layer_var(2) < layer_var(0), "Flipout, local vs reparameterisation");
    for e in m.toy.iter().chain(&m.layer) {
        assert!(e.max_z < 3.0, "{}: max |z| {}", e.name, e.max_z);
    }
    assert!(m.unbiased());
}
