//! A model written by `blitz fit`, embedded in a program of its own:
//! `embed MODEL DATA` prints what `blitz predict MODEL DATA` prints, byte
//! for byte (100 draws, seed 0). It needs none of the crate's features:
//! `cargo build --release --no-default-features --example embed`.

use std::io::Write;
use std::process::ExitCode;

/// The prediction table of the rows of `data` by the model file `model`.
pub fn run(model: &str, data: &str, out: &mut dyn Write) -> blitz::autograd::Result<()> {
    let model = blitz::Model::load(model)?;
    let rows = model.read_data(data)?;
    let prediction = model.predict_dataset(&rows, 100, 0)?;
    model.write_table(&prediction, out)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [model, data] = &args[..] else {
        eprintln!("usage: embed MODEL DATA");
        return ExitCode::from(2);
    };
    match run(model, data, &mut std::io::stdout().lock()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "error: {e}");
            ExitCode::FAILURE
        }
    }
}
