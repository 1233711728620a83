//! Layer compression, detected from the first bytes of the blob rather than from the media
//! type, because producers mislabel it (docker-archive layers named `.tar` that are gzip, OCI
//! layers labelled gzip that are zstd).

use std::io::{BufRead, BufReader, Read};

/// The compression of a layer blob.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

/// Formats we recognise but do not read, so that the error can name them.
#[derive(Debug, PartialEq, Eq)]
pub enum Detected {
    Known(Compression),
    Unsupported(&'static str),
}

/// Looks at the first bytes of a blob.
pub fn detect(head: &[u8]) -> Detected {
    match head {
        [0x1f, 0x8b, ..] => Detected::Known(Compression::Gzip),
        [0x28, 0xb5, 0x2f, 0xfd, ..] => Detected::Known(Compression::Zstd),
        [b'B', b'Z', b'h', ..] => Detected::Unsupported("bzip2"),
        [0xfd, b'7', b'z', b'X', b'Z', 0x00, ..] => Detected::Unsupported("xz"),
        _ => Detected::Known(Compression::None),
    }
}

/// Peeks at a buffered reader's first bytes without consuming them.
pub fn detect_buffered<R: Read>(r: &mut BufReader<R>) -> std::io::Result<Detected> {
    // fill_buf may return fewer than 6 bytes from a slow source; that only matters for
    // blobs shorter than 6 bytes, which are not valid in any format we read.
    let head = r.fill_buf()?;
    Ok(detect(head))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detect_reads_magic_bytes() {
        assert_eq!(
            detect(&[0x1f, 0x8b, 8, 0]),
            Detected::Known(Compression::Gzip)
        );
        assert_eq!(
            detect(&[0x28, 0xb5, 0x2f, 0xfd, 0]),
            Detected::Known(Compression::Zstd)
        );
        assert_eq!(detect(b"etc/\0\0\0"), Detected::Known(Compression::None));
        assert_eq!(detect(b"\xfd7zXZ\0"), Detected::Unsupported("xz"));
    }
}
