//! Inputs made of several documents that refer to each other by digest (an index, a manifest,
//! a config), in a form a mutating fuzzer can keep consistent.
//!
//! The documents are separated by a line `%%`. In a document, `@D<n>` stands for the digest
//! (`sha256:<hex>`) of document `n` and `@S<n>` for its size, for `n` from 1 to 9 and greater
//! than the document's own number: the placeholders are replaced from the last document to the
//! first, so each sees the final bytes of those it names. The fuzzer can then change a
//! manifest without breaking the digest its index checks it by.

use rind::image::Digest;

pub const SEPARATOR: &[u8] = b"\n%%\n";

/// Splits `data` into its documents.
pub fn split(data: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut rest = data;
    while let Some(i) = find(rest, SEPARATOR) {
        out.push(&rest[..i]);
        rest = &rest[i + SEPARATOR.len()..];
    }
    out.push(rest);
    out
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The documents with their placeholders replaced, and each one's digest.
pub fn resolve(parts: &[&[u8]]) -> Vec<(Vec<u8>, Digest)> {
    let mut done: Vec<Option<(Vec<u8>, Digest)>> = vec![None; parts.len()];
    for i in (0..parts.len()).rev() {
        let text = substitute(parts[i], |n| {
            if n > i {
                done.get(n)
                    .and_then(|d| d.as_ref())
                    .map(|(b, d)| (d.clone(), b.len()))
            } else {
                None
            }
        });
        let digest = Digest::of(&text);
        done[i] = Some((text, digest));
    }
    done.into_iter()
        .map(|d| d.expect("every part resolved"))
        .collect()
}

fn substitute(text: &[u8], lookup: impl Fn(usize) -> Option<(Digest, usize)>) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        if text[i] == b'@'
            && let (Some(&kind), Some(&digit)) = (text.get(i + 1), text.get(i + 2))
            && (kind == b'D' || kind == b'S')
            && digit.is_ascii_digit()
            && let Some((d, size)) = lookup(usize::from(digit - b'0'))
        {
            if kind == b'D' {
                out.extend_from_slice(d.as_str().as_bytes());
            } else {
                out.extend_from_slice(size.to_string().as_bytes());
            }
            i += 3;
            continue;
        }
        out.push(text[i]);
        i += 1;
    }
    out
}
