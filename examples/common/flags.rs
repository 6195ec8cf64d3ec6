#![allow(dead_code)] // each example uses some of these
//! The examples' command lines: flags read one by one, each value parsed
//! with an error that names the flag, and `main`'s one-line error report.

use std::str::FromStr;

/// The arguments after the program's name, read flag by flag.
pub struct Flags(std::iter::Skip<std::env::Args>);

impl Flags {
    /// This process's arguments.
    pub fn from_env() -> Flags {
        Flags(std::env::args().skip(1))
    }

    /// The next flag, if any.
    pub fn next_flag(&mut self) -> Option<String> {
        self.0.next()
    }

    /// The value that follows `flag`.
    ///
    /// # Errors
    /// `"{flag} needs a value"` when none follows.
    pub fn value(&mut self, flag: &str) -> Result<String, String> {
        self.0.next().ok_or(format!("{flag} needs a value"))
    }

    /// The value that follows `flag`, parsed.
    ///
    /// # Errors
    /// As [`Flags::value`]; `"{flag} {v:?}: not a valid number"` when it does not parse.
    pub fn number<T: FromStr>(&mut self, flag: &str) -> Result<T, String> {
        let v = self.value(flag)?;
        v.parse().map_err(|_| format!("{flag} {v:?}: not a valid number"))
    }
}

/// Runs `run`; prints its error as one line and exits with status 1.
pub fn exit_on_error<E: std::fmt::Display>(run: impl FnOnce() -> Result<(), E>) {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
