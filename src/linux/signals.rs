//! Signal names and numbers as `kill` accepts them: `TERM`, `SIGTERM`, `term`, `15`.

use std::str::FromStr;

use nix::sys::signal::Signal;

/// A signal argument that names no signal.
#[derive(Debug, thiserror::Error)]
#[error("unknown signal {0:?}")]
pub struct UnknownSignal(pub String);

/// `kill`'s signal argument: [`parse`], plus `0`, which sends nothing and asks whether the
/// process is alive (runc accepts it, and scripts use it so). `None` stands for signal 0.
pub fn parse_for_kill(s: &str) -> Result<Option<Signal>, UnknownSignal> {
    if s.parse::<i32>() == Ok(0) {
        return Ok(None);
    }
    parse(s).map(Some)
}

/// Parses a signal by name (with or without `SIG`, any case) or number.
pub fn parse(s: &str) -> Result<Signal, UnknownSignal> {
    if let Ok(n) = s.parse::<i32>() {
        return Signal::try_from(n).map_err(|_| UnknownSignal(s.to_string()));
    }
    let upper = s.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    Signal::from_str(&name).map_err(|_| UnknownSignal(s.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers_parse() {
        assert_eq!(parse("TERM").unwrap(), Signal::SIGTERM);
        assert_eq!(parse("SIGKILL").unwrap(), Signal::SIGKILL);
        assert_eq!(parse("hup").unwrap(), Signal::SIGHUP);
        assert_eq!(parse("9").unwrap(), Signal::SIGKILL);
    }

    #[test]
    fn zero_is_a_liveness_check_for_kill() {
        assert_eq!(parse_for_kill("0").unwrap(), None);
        assert_eq!(parse_for_kill("KILL").unwrap(), Some(Signal::SIGKILL));
        assert!(parse_for_kill("-1").is_err());
    }

    #[test]
    fn nonsense_is_refused() {
        assert!(parse("NOPE").is_err());
        assert!(parse("0").is_err());
        assert!(parse("99").is_err());
    }
}
