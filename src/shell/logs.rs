//! `logs`: the output a detached container wrote to `<bundle>/container.log`.

use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

use super::ShellError;
use super::record::Record;
use crate::container::{Container, Status};

/// How often `logs -f` looks for new output. Output shows up at most this late; the cost is one
/// read system call per interval while the container is quiet.
const FOLLOW_INTERVAL: Duration = Duration::from_millis(100);

/// Writes container `id`'s log to `out`. With `follow`, keeps writing what the container adds
/// until it stops (or is removed), then returns. A container that ran in the foreground, or
/// was not made from an image, has no log: that is an error naming why.
pub fn copy_log(
    root: &Path,
    id: &str,
    follow: bool,
    out: &mut dyn Write,
) -> Result<(), ShellError> {
    let c = Container::read(root, id)?;
    let record = Record::for_state(&c.state).ok_or_else(|| {
        ShellError::Invalid(format!(
            "container {id} has no log: only containers run with --image -d keep one"
        ))
    })?;
    drop(c);
    let path = record.log_path().ok_or_else(|| {
        ShellError::Invalid(format!(
            "container {id} has no log: it ran in the foreground, where its output went to the terminal"
        ))
    })?;
    let mut file = File::open(&path).map_err(|e| ShellError::Record {
        what: "open",
        path: path.clone(),
        reason: crate::error::Cause::from(e).to_string(),
    })?;
    let write_err = |e: std::io::Error| ShellError::Invalid(format!("write the log: {e}"));
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buf).map_err(|e| ShellError::Record {
            what: "read",
            path: path.clone(),
            reason: crate::error::Cause::from(e).to_string(),
        })?;
        if n > 0 {
            out.write_all(&buf[..n]).map_err(write_err)?;
            continue;
        }
        out.flush().map_err(write_err)?;
        if !follow || !running(root, id) {
            // One more read: output written between the last read and the exit.
            let mut rest = Vec::new();
            let _ = file.read_to_end(&mut rest);
            out.write_all(&rest).map_err(write_err)?;
            out.flush().map_err(write_err)?;
            return Ok(());
        }
        std::thread::sleep(FOLLOW_INTERVAL);
    }
}

/// True while the container exists and has not stopped.
fn running(root: &Path, id: &str) -> bool {
    Container::read(root, id).is_ok_and(|c| c.status() != Status::Stopped)
}
