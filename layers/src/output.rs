//! The rules for the files blitz writes, shared by [`atomic_write`] and by
//! the `blitz` command.
//!
//! - **What may be replaced.** An output path may name nothing yet, or a
//!   regular file, which is then replaced as a whole. Anything else standing
//!   there is refused and left as it is: a folder, a device (`/dev/full`), a
//!   named pipe, a socket, and a symbolic link, whatever it points to (give
//!   the link's target instead). The check is made before the write starts
//!   and again right before the rename ([`check_output`]).
//! - **Temporary files.** A write goes to `.NAME.tmp-PID-K` in the output's
//!   folder first ([`temporary_path`]). A process killed half-way leaves one
//!   such file; [`remove_stray_temporaries`] removes those of one output, and
//!   only files of exactly that pattern.
//! - **One writer at a time.** [`OutputLock`] holds an advisory lock on
//!   `.NAME.lock` beside the output, so that a second process that wants the
//!   same output fails at once instead of racing the first. The operating
//!   system releases it when the holder exits, killed or not.
//! - **Space.** [`reserve_space`] writes the expected size to a temporary
//!   file before a long run, so that a full disk is found before it starts.
//!

use blitz_autograd::{Error, Result};
use std::ffi::OsStr;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Makes temporary file names unique within the process (not randomness).
static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Writes `path` atomically: `write` fills a new temporary file in the same
/// folder ([`temporary_path`]), which is then fsynced and renamed
/// over `path` (and the folder fsynced). When `write` or any step fails, the
/// temporary file is removed and `path` keeps its previous content; a
/// process killed half-way leaves at most a stray `.NAME.tmp-*` file beside
/// an intact `path` ([`remove_stray_temporaries`] removes those).
///
/// Only a regular file, or nothing, may stand at `path`: a symbolic link
/// (wherever it points), a device, a named pipe, a socket or a folder is
/// refused and left untouched ([`check_output`], made before the
/// write and again right before the rename). Writers of one `path` in
/// several processes exclude each other with an [`OutputLock`].
///
/// # Errors
/// [`Error::Io`] naming `path` and what failed.
pub fn atomic_write(path: &Path, write: impl FnOnce(&mut File) -> std::io::Result<()>) -> Result<()> {
    let io = |message: String| Error::Io { path: path.display().to_string(), message };
    check_output(path)?;
    let (dir, _) = split_output(path)?;
    let tmp = temporary_path(path, TMP_COUNTER.fetch_add(1, Ordering::Relaxed))?;
    let result = (|| -> Result<()> {
        let step = |e: std::io::Error| io(e.to_string());
        let mut f = OpenOptions::new().write(true).create_new(true).open(&tmp).map_err(step)?;
        write(&mut f).map_err(step)?;
        f.sync_all().map_err(step)?;
        drop(f);
        // Again: something may have been put there while `write` ran.
        check_output(path)?;
        std::fs::rename(&tmp, path).map_err(step)?;
        // The rename itself is durable only once the folder is synced.
        #[cfg(unix)]
        File::open(dir).and_then(|d| d.sync_all()).map_err(step)?;
        Ok(())
    })();
    result.inspect_err(|_| {
        // Best effort: the temporary file may not exist (create failed).
        let _ = std::fs::remove_file(&tmp);
    })
}

/// The suffix [`reserve_space`] gives its file in place of the counter.
const RESERVE_TAG: &str = "reserve";

fn io_error(path: &Path, message: impl Into<String>) -> Error {
    Error::Io { path: path.display().to_string(), message: message.into() }
}

/// The folder of `path` (`.` for a bare file name) and its file name.
///
/// # Errors
/// [`Error::Io`] when `path` has no file name (`""`, `/`, `..`).
pub fn split_output(path: &Path) -> Result<(&Path, &OsStr)> {
    let name = path.file_name().ok_or_else(|| io_error(path, "not a file path"))?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    Ok((dir, name))
}

/// Refuses an output path where something other than a regular file stands
/// (see the module docs); a path where nothing stands is accepted.
///
/// # Errors
/// [`Error::Io`] naming `path` and what stands there.
pub fn check_output(path: &Path) -> Result<()> {
    split_output(path)?;
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_error(path, e.to_string())),
    };
    let kind = meta.file_type();
    if kind.is_file() {
        return Ok(());
    }
    let what = if kind.is_symlink() {
        "is a symbolic link: blitz replaces only regular files (give the file it points to)"
    } else if kind.is_dir() {
        "is a folder"
    } else {
        "is not a regular file (a device, named pipe or socket): blitz replaces only regular files"
    };
    Err(io_error(path, what))
}

/// The temporary file of `path` numbered `n` in this process:
/// `.NAME.tmp-PID-n`, in `path`'s folder.
///
/// # Errors
/// As [`split_output`].
pub fn temporary_path(path: &Path, n: u64) -> Result<PathBuf> {
    temporary_with(path, &n.to_string())
}

fn temporary_with(path: &Path, tag: &str) -> Result<PathBuf> {
    let (dir, name) = split_output(path)?;
    Ok(dir.join(format!(".{}.tmp-{}-{tag}", name.to_string_lossy(), std::process::id())))
}

/// Whether `entry` (a file name) is one of the temporary files that
/// [`temporary_path`] or [`reserve_space`] make for an output named `name`.
fn is_temporary_of(entry: &str, name: &str) -> bool {
    let Some(rest) = entry.strip_prefix('.').and_then(|e| e.strip_prefix(name)).and_then(|e| e.strip_prefix(".tmp-"))
    else {
        return false;
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    match rest.split_once('-') {
        Some((pid, tag)) => digits(pid) && (digits(tag) || tag == RESERVE_TAG),
        None => false,
    }
}

/// Removes the temporary files of `path` that earlier writes left (a process
/// killed during a write), and returns how many it removed. Only regular
/// files named as [`temporary_path`] names them for this very `path` are
/// touched. Call it while holding the [`OutputLock`] of `path`, so that no
/// other writer's temporary file is in use.
///
/// # Errors
/// [`Error::Io`] when the folder cannot be listed or a file not removed.
pub fn remove_stray_temporaries(path: &Path) -> Result<usize> {
    let (dir, name) = split_output(path)?;
    let name = name.to_string_lossy();
    let entries = std::fs::read_dir(dir).map_err(|e| io_error(dir, e.to_string()))?;
    let mut removed = 0;
    for entry in entries {
        let entry = entry.map_err(|e| io_error(dir, e.to_string()))?;
        let file_name = entry.file_name();
        let Some(entry_name) = file_name.to_str() else { continue };
        if !is_temporary_of(entry_name, &name) {
            continue;
        }
        let stray = entry.path();
        // `symlink_metadata`: a link of that name is not ours to follow.
        if std::fs::symlink_metadata(&stray).is_ok_and(|m| m.file_type().is_file()) {
            match std::fs::remove_file(&stray) {
                Ok(()) => removed += 1,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_error(&stray, e.to_string())),
            }
        }
    }
    Ok(removed)
}

/// Writes `bytes` zero bytes to `w` in blocks, stopping at the first error.
fn fill(w: &mut impl Write, bytes: u64) -> std::io::Result<()> {
    let block = [0u8; 64 << 10];
    let mut left = bytes;
    while left > 0 {
        let n = left.min(block.len() as u64) as usize;
        w.write_all(&block[..n])?;
        left -= n as u64;
    }
    w.flush()
}

/// The error of a reservation that failed after `what` went wrong.
fn reserve_error(path: &Path, bytes: u64, e: &std::io::Error) -> Error {
    io_error(
        path,
        format!(
            "cannot reserve {} for it beside the file ({e}): free some space or write elsewhere",
            blitz_kernels::limits::human_bytes(bytes)
        ),
    )
}

/// Checks that `bytes` fit beside `path` now: writes them to a temporary
/// file of `path` (named as [`remove_stray_temporaries`] recognises),
/// syncs it and removes it. A full disk or a quota is found this way before
/// a long run starts, not at its first save.
///
/// # Errors
/// [`Error::Io`] naming `path` and the size when the space is not there.
pub fn reserve_space(path: &Path, bytes: u64) -> Result<()> {
    let tmp = temporary_with(path, RESERVE_TAG)?;
    let result = (|| {
        let mut f = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        fill(&mut f, bytes)?;
        f.sync_all()
    })();
    // Best effort: the file may not exist (create failed).
    let _ = std::fs::remove_file(&tmp);
    result.map_err(|e| reserve_error(path, bytes, &e))
}

/// An advisory lock on the output `path`, held until it is dropped: one
/// writer at a time per output, across processes. The lock is taken on
/// `.NAME.lock` in `path`'s folder; the operating system releases it when
/// the process ends, killed or not, and the lock file is removed on drop.
#[derive(Debug)]
pub struct OutputLock {
    file: File,
    lock_path: PathBuf,
}

impl OutputLock {
    /// Takes the lock of `path` without waiting.
    ///
    /// # Errors
    /// [`Error::Io`] naming `path` when another process holds it, or when the
    /// lock file cannot be created (a folder that cannot be written).
    pub fn acquire(path: &Path) -> Result<OutputLock> {
        let (dir, name) = split_output(path)?;
        let lock_path = dir.join(format!(".{}.lock", name.to_string_lossy()));
        // A holder removes the lock file when it is done; a process that
        // opened the file just before may then lock a file no longer there,
        // which is why the path is checked again after locking (a few tries).
        for _ in 0..8 {
            // Created if need be, then held open for reading only: an open
            // file is all a lock needs, and a descriptor open for writing
            // would keep the folder's file system from being remounted
            // read-only while the run goes on.
            let cannot =
                |e: std::io::Error| io_error(path, format!("cannot create its lock file {}: {e}", lock_path.display()));
            OpenOptions::new().write(true).create(true).truncate(false).open(&lock_path).map_err(cannot)?;
            let file = match File::open(&lock_path) {
                Ok(f) => f,
                // Removed by its last holder in between: take it again.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(cannot(e)),
            };
            match file.try_lock() {
                Ok(()) => {}
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Err(io_error(path, "another blitz process is writing it (its lock is held)"));
                }
                Err(std::fs::TryLockError::Error(e)) => {
                    return Err(io_error(path, format!("cannot lock {}: {e}", lock_path.display())))
                }
            }
            if still_names(&lock_path, &file) {
                return Ok(OutputLock { file, lock_path });
            }
        }
        Err(io_error(path, "its lock file keeps changing: another process is taking it"))
    }
}

/// Whether `path` still names the very file `file` has open.
#[cfg(unix)]
fn still_names(path: &Path, file: &File) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::symlink_metadata(path), file.metadata()) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// Whether `path` still names the very file `file` has open (elsewhere the
/// lock file is never removed, so it always does).
#[cfg(not(unix))]
fn still_names(_path: &Path, _file: &File) -> bool {
    true
}

impl Drop for OutputLock {
    fn drop(&mut self) {
        // Removed while still locked, so that a process waiting on this very
        // file sees it gone (`still_names`) and starts over. Elsewhere than
        // on Unix an open file cannot be removed, and the lock file stays.
        #[cfg(unix)]
        let _ = std::fs::remove_file(&self.lock_path);
        let _ = self.file.unlock();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("blitz-output-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn temporary_names_are_recognised_exactly() {
        let t = temporary_path(Path::new("a/m.st"), 7).unwrap();
        let name = t.file_name().unwrap().to_str().unwrap();
        assert!(is_temporary_of(name, "m.st"), "{name}");
        assert!(is_temporary_of(".m.st.tmp-12-reserve", "m.st"));
        for other in [
            "m.st",
            ".m.st.lock",
            ".m.st.tmp-12",
            ".m.st.tmp-12-",
            ".m.st.tmp--3",
            ".m.st.tmp-1x-3",
            ".m.st.tmp-12-3.bak",
            ".m.stx.tmp-12-3",
            ".n.st.tmp-12-3",
            "m.st.tmp-12-3",
        ] {
            assert!(!is_temporary_of(other, "m.st"), "{other}");
        }
    }

    #[test]
    fn strays_of_one_output_are_removed_and_nothing_else() {
        let d = dir("strays");
        let out = d.join("m.st");
        let keep = ["m.st", ".m.st.tmp-1-2.bak", ".other.tmp-1-2", "notes.txt"];
        for f in keep {
            std::fs::write(d.join(f), "keep").unwrap();
        }
        for f in [".m.st.tmp-1-2", ".m.st.tmp-99-0", ".m.st.tmp-5-reserve"] {
            std::fs::write(d.join(f), "stray").unwrap();
        }
        assert_eq!(remove_stray_temporaries(&out).unwrap(), 3);
        let mut left: Vec<String> =
            std::fs::read_dir(&d).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        left.sort();
        let mut want: Vec<String> = keep.iter().map(|s| s.to_string()).collect();
        want.sort();
        assert_eq!(left, want);
    }

    #[test]
    fn only_regular_files_or_nothing_may_be_replaced() {
        let d = dir("check");
        assert!(check_output(&d.join("new")).is_ok());
        std::fs::write(d.join("file"), "x").unwrap();
        assert!(check_output(&d.join("file")).is_ok());
        assert!(check_output(&d).unwrap_err().to_string().contains("is a folder"));
        assert!(check_output(Path::new("")).is_err());
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(d.join("file"), d.join("link")).unwrap();
            assert!(check_output(&d.join("link")).unwrap_err().to_string().contains("symbolic link"));
            assert!(check_output(Path::new("/dev/null")).unwrap_err().to_string().contains("not a regular file"));
        }
    }

    /// A writer that takes `room` bytes and then fails as a full disk does.
    struct Full {
        room: usize,
    }

    impl Write for Full {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if self.room == 0 {
                return Err(std::io::Error::from_raw_os_error(28));
            }
            let n = buf.len().min(self.room);
            self.room -= n;
            Ok(n)
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_reservation_that_does_not_fit_fails_with_one_line() {
        assert!(fill(&mut Full { room: 1 << 20 }, 1 << 20).is_ok());
        let e = fill(&mut Full { room: 100_000 }, 1 << 20).unwrap_err();
        let msg = reserve_error(Path::new("out/m.st"), 1 << 20, &e).to_string();
        assert!(msg.starts_with("out/m.st: cannot reserve 1.0 MiB"), "{msg}");
        assert!(!msg.contains('\n'), "{msg}");
        #[cfg(target_os = "linux")]
        {
            let e = fill(&mut File::options().write(true).open("/dev/full").unwrap(), 1000).unwrap_err();
            assert_eq!(e.raw_os_error(), Some(28));
        }
        let d = dir("reserve");
        reserve_space(&d.join("m.st"), 3 << 20).unwrap();
        assert_eq!(std::fs::read_dir(&d).unwrap().count(), 0, "the reservation is removed");
    }

    #[test]
    fn a_second_lock_on_one_output_fails_at_once() {
        let d = dir("lock");
        let out = d.join("m.st");
        let first = OutputLock::acquire(&out).unwrap();
        let e = OutputLock::acquire(&out).unwrap_err().to_string();
        assert!(e.contains("m.st") && e.contains("another blitz process"), "{e}");
        assert!(OutputLock::acquire(&d.join("other.st")).is_ok());
        drop(first);
        let again = OutputLock::acquire(&out).unwrap();
        drop(again);
        assert_eq!(std::fs::read_dir(&d).unwrap().count(), 0, "the lock file is removed");
    }
}
