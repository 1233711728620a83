//! `--log FILE --log-format text|json` and `--debug`.
//!
//! Errors are logged once, by `main`, where they are handled. podman and containerd read the
//! log file to report a failed command, so with `--log-format json` each line is one JSON
//! object: `{"level":"error","msg":"...","time":"..."}`.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::SystemTime;

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

struct Logger {
    file: Option<PathBuf>,
    format: LogFormat,
    debug: bool,
}

static LOGGER: OnceLock<Logger> = OnceLock::new();

/// Sets up logging for this process. Later calls have no effect.
pub fn init(file: Option<PathBuf>, format: LogFormat, debug: bool) {
    let _ = LOGGER.set(Logger {
        file,
        format,
        debug,
    });
}

/// True when `--debug` was given.
pub fn debug_enabled() -> bool {
    LOGGER.get().is_some_and(|l| l.debug)
}

/// One log line in the chosen format. The message is first made one line
/// ([`crate::error::one_line`]): control characters escaped, long values cut.
pub fn format_line(format: LogFormat, level: &str, msg: &str, time: SystemTime) -> String {
    let msg = &crate::error::one_line(msg);
    let time = humantime::format_rfc3339_nanos(time).to_string();
    match format {
        LogFormat::Json => {
            serde_json::json!({"level": level, "msg": msg, "time": time}).to_string()
        }
        LogFormat::Text => format!("time=\"{time}\" level={level} msg={}", quote(msg)),
    }
}

fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
}

fn write(level: &str, msg: &str) {
    let Some(logger) = LOGGER.get() else {
        return;
    };
    let Some(path) = &logger.file else {
        return;
    };
    let line = format_line(logger.format, level, msg, SystemTime::now());
    if let Ok(mut f) = OpenOptions::new().create(true).append(true).open(path) {
        let _ = writeln!(f, "{line}");
    }
}

/// Logs an error to the log file, and prints it to stderr as `rind: MSG`: one line each,
/// whatever the message quotes ([`crate::error::one_line`]).
pub fn error(msg: &str) {
    write("error", msg);
    eprintln!("rind: {}", crate::error::one_line(msg));
}

/// Logs a warning to the log file, and to stderr.
pub fn warn(msg: &str) {
    write("warning", msg);
    eprintln!("rind: warning: {}", crate::error::one_line(msg));
}

/// Logs a debug message when `--debug` is on: to the log file if there is one, else stderr.
pub fn debug(msg: impl FnOnce() -> String) {
    let Some(logger) = LOGGER.get().filter(|l| l.debug) else {
        return;
    };
    let msg = msg();
    if logger.file.is_some() {
        write("debug", &msg);
    } else {
        eprintln!("rind: debug: {}", crate::error::one_line(&msg));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn json_line_has_level_msg_and_time() {
        let t = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let line = format_line(LogFormat::Json, "error", "container x does not exist", t);
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["level"], "error");
        assert_eq!(v["msg"], "container x does not exist");
        assert_eq!(v["time"], "2023-11-14T22:13:20.000000000Z");
    }

    #[test]
    fn text_line_quotes_the_message() {
        let line = format_line(LogFormat::Text, "error", "a \"b\"", UNIX_EPOCH);
        assert!(line.ends_with(r#"level=error msg="a \"b\"""#), "{line}");
    }
}
