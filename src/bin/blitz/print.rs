//! Every line the command prints goes through here, so that no write can
//! panic: a reader that closed stdout (`| head`, `| true`) ends the output
//! quietly, stdout on a full disk is an error, and a failing stderr is
//! ignored (the exit status still tells).

use blitz::prelude::{Error, Result};
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

/// `--quiet`: no progress or notes on stderr.
static QUIET: AtomicBool = AtomicBool::new(false);

/// Set once stdout's reader has gone: later output is dropped.
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

/// Silences [`info`] (`--quiet`).
pub fn set_quiet(quiet: bool) {
    QUIET.store(quiet, Ordering::Relaxed);
}

/// Writes `text` to stdout and flushes it. A closed pipe is not an error:
/// this and every later write are dropped.
///
/// # Errors
/// [`Error::Io`] naming `<stdout>` for any other failure (a full disk).
pub fn out(text: &str) -> Result<()> {
    out_to(&mut std::io::stdout().lock(), text)
}

fn out_to(w: &mut impl Write, text: &str) -> Result<()> {
    if STDOUT_CLOSED.load(Ordering::Relaxed) {
        return Ok(());
    }
    match w.write_all(text.as_bytes()).and_then(|()| w.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            STDOUT_CLOSED.store(true, Ordering::Relaxed);
            Ok(())
        }
        r => r.map_err(|e| Error::Io { path: "<stdout>".into(), message: e.to_string() }),
    }
}

/// One line on stderr, whatever `--quiet` says (errors, results asked for).
/// A stderr that cannot be written is ignored.
pub fn line(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{text}").and_then(|()| err.flush());
}

/// One line of progress or a note on stderr, unless `--quiet`.
pub fn info(text: &str) {
    if !QUIET.load(Ordering::Relaxed) {
        line(text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stdout whose reader has gone.
    struct Closed;

    impl Write for Closed {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::ErrorKind::BrokenPipe.into())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_full_disk_is_an_error_and_a_closed_pipe_is_not() {
        let mut full = std::fs::File::options().write(true).open("/dev/full").unwrap();
        let e = out_to(&mut full, "x\n").unwrap_err().to_string();
        assert!(e.starts_with("<stdout>: No space left"), "{e}");
        assert!(out_to(&mut Closed, "x\n").is_ok());
        // Dropped from then on, even where it could be written.
        assert!(out_to(&mut full, "x\n").is_ok());
    }
}
