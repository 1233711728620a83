//! Container ids. An id names a directory under `--root`, so it is checked before it is ever
//! joined to a path: runc's rule `^[\w+\-.]+$`, not `.` or `..`, at most 255 bytes.

/// An id that cannot name a container.
#[derive(Debug, thiserror::Error)]
#[error(
    "invalid container id {0:?}: ids use letters, digits, '_', '+', '-' and '.', and are not '.' or '..'"
)]
pub struct InvalidId(pub String);

/// Checks an id.
pub fn validate(id: &str) -> Result<(), InvalidId> {
    let ok = !id.is_empty()
        && id.len() <= 255
        && id != "."
        && id != ".."
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'+' | b'-' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(InvalidId(id.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_ids_are_accepted() {
        for id in ["abc", "a.b-c_d+e", "0123456789abcdef", "..a"] {
            assert!(validate(id).is_ok(), "{id}");
        }
    }

    #[test]
    fn ids_that_could_escape_the_root_are_refused() {
        for id in [
            "",
            ".",
            "..",
            "../x",
            "a/b",
            "/abs",
            "a b",
            "ä",
            &"x".repeat(256),
        ] {
            assert!(validate(id).is_err(), "{id:?}");
        }
    }
}
