//! The one parser of `/proc/<pid>/mountinfo` (proc(5)).
//!
//! A line is `id parent major:minor root mount-point options [optional...] - fstype source
//! super-options`. The kernel escapes a space, tab, newline or backslash in a path as three
//! octal digits (`\040`, `\011`, `\012`, `\134`), so fields split on single spaces, and paths
//! are decoded to bytes, not to UTF-8: a path need not be valid UTF-8.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;

/// One mount, as a line of mountinfo describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mount<'a> {
    /// The directory of the filesystem this mount shows (`/` for a whole filesystem).
    pub root: PathBuf,
    /// Where it is mounted.
    pub mount_point: PathBuf,
    /// The optional fields: propagation (`shared:N`, `master:N`, `unbindable`) and the like.
    pub optional: Vec<&'a str>,
    /// The filesystem type (`proc`, `cgroup2` ...).
    pub fstype: &'a str,
    /// The filesystem's own options (`rw,cpu,cpuacct` for a cgroup v1 hierarchy).
    pub super_options: &'a str,
}

impl Mount<'_> {
    /// Whether the mount is in a shared peer group.
    pub fn is_shared(&self) -> bool {
        self.optional.iter().any(|f| f.starts_with("shared:"))
    }
}

/// The mounts of mountinfo `text`, in its order. A line that does not have the fields above is
/// skipped.
pub fn parse(text: &str) -> impl Iterator<Item = Mount<'_>> {
    text.lines().filter_map(parse_line)
}

fn parse_line(line: &str) -> Option<Mount<'_>> {
    let (left, right) = line.split_once(" - ")?;
    let mut left = left.split(' ');
    let root = left.nth(3)?;
    let mount_point = left.next()?;
    let _options = left.next()?;
    let mut right = right.split(' ');
    let fstype = right.next()?;
    let _source = right.next()?;
    let super_options = right.next()?;
    Some(Mount {
        root: unescape(root),
        mount_point: unescape(mount_point),
        optional: left.collect(),
        fstype,
        super_options,
    })
}

/// A mountinfo path with each `\NNN` (three octal digits) decoded to its byte. A backslash
/// not followed by such an escape stays as it is.
pub fn unescape(field: &str) -> PathBuf {
    let b = field.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let octal = |j: usize, max: u8| b.get(i + j).is_some_and(|d| (b'0'..=max).contains(d));
        if b[i] == b'\\' && octal(1, b'3') && octal(2, b'7') && octal(3, b'7') {
            out.push((b[i + 1] - b'0') << 6 | (b[i + 2] - b'0') << 3 | (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    PathBuf::from(OsString::from_vec(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_escape_the_kernel_writes_is_decoded() {
        // What the kernel's mangle() writes for " ", "\t", "\n" and "\\".
        assert_eq!(unescape(r"/a\040b"), PathBuf::from("/a b"));
        assert_eq!(unescape(r"/tab\011x"), PathBuf::from("/tab\tx"));
        assert_eq!(unescape(r"/nl\012x"), PathBuf::from("/nl\nx"));
        assert_eq!(unescape(r"/back\134slash"), PathBuf::from("/back\\slash"));
        assert_eq!(unescape(r"\040\040"), PathBuf::from("  "));
    }

    #[test]
    fn what_is_not_an_octal_escape_stays() {
        assert_eq!(unescape(r"/a\08"), PathBuf::from(r"/a\08"));
        assert_eq!(unescape(r"/a\400"), PathBuf::from(r"/a\400"));
        assert_eq!(unescape(r"/end\04"), PathBuf::from(r"/end\04"));
        assert_eq!(unescape(r"/a\\"), PathBuf::from(r"/a\\"));
        assert_eq!(unescape(r"\+12"), PathBuf::from(r"\+12"));
    }

    #[test]
    fn a_path_that_is_not_utf8_keeps_its_bytes() {
        use std::os::unix::ffi::OsStrExt;
        let p = unescape(r"/x\377y");
        assert_eq!(p.as_os_str().as_bytes(), b"/x\xffy");
    }

    #[test]
    fn fields_are_read_around_the_separator() {
        let text = "\
36 35 98:0 /mnt1 /mnt/with\\040space\\011tab rw,noatime master:1 shared:7 - ext3 /dev/root rw,errors=continue
37 35 0:22 / /proc rw - proc proc rw
not a mountinfo line
";
        let mounts: Vec<Mount> = parse(text).collect();
        assert_eq!(mounts.len(), 2);
        assert_eq!(mounts[0].root, PathBuf::from("/mnt1"));
        assert_eq!(mounts[0].mount_point, PathBuf::from("/mnt/with space\ttab"));
        assert_eq!(mounts[0].optional, ["master:1", "shared:7"]);
        assert!(mounts[0].is_shared());
        assert_eq!(mounts[0].fstype, "ext3");
        assert_eq!(mounts[0].super_options, "rw,errors=continue");
        assert_eq!(mounts[1].fstype, "proc");
        assert!(mounts[1].optional.is_empty());
        assert!(!mounts[1].is_shared());
    }
}
