//! Named files of an image source: a directory, or the members of an uncompressed tar that is
//! indexed once and then read at offsets (so a multi-gigabyte archive is never extracted).

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::image::ImageError;
use crate::image::layer::compression::{Compression, Detected, detect};
use crate::image::layer::rooted::clean_path;

/// Read access to the files of a source, by relative name.
pub trait SourceFiles: Send {
    /// Opens a file for streaming, with its size.
    fn open(&self, name: &str) -> Result<(Box<dyn Read + Send>, u64), ImageError>;
    /// Describes the source in errors.
    fn describe(&self) -> String;

    /// Reads a small file (a manifest, a config) whole, refusing one bigger than `max`.
    fn read_small(&self, name: &str, max: u64) -> Result<Vec<u8>, ImageError> {
        let (r, size) = self.open(name)?;
        if size > max {
            return Err(ImageError::malformed(
                format!("{}: {name}", self.describe()),
                format!("{size} bytes is too big for a metadata file (limit {max})"),
            ));
        }
        let mut out = Vec::with_capacity(size as usize);
        r.take(max + 1)
            .read_to_end(&mut out)
            .map_err(|e| ImageError::malformed(format!("{}: read {name}", self.describe()), e))?;
        Ok(out)
    }
}

/// Files below a directory.
pub struct DirFiles {
    pub root: PathBuf,
}

impl SourceFiles for DirFiles {
    fn open(&self, name: &str) -> Result<(Box<dyn Read + Send>, u64), ImageError> {
        let rel = clean_path(name.as_bytes())
            .map_err(|r| ImageError::malformed(format!("{}: {name}", self.describe()), r))?;
        let path = self.root.join(rel.to_path_buf());
        let f = File::open(&path)
            .map_err(|e| ImageError::sys(format!("open {}", path.display()), e))?;
        let size = f
            .metadata()
            .map_err(|e| ImageError::sys(format!("stat {}", path.display()), e))?
            .len();
        Ok((Box::new(f), size))
    }

    fn describe(&self) -> String {
        self.root.display().to_string()
    }
}

#[derive(Clone, Debug)]
enum Member {
    File { offset: u64, size: u64 },
    Link(String),
}

/// The members of a tar archive, by cleaned name.
pub struct TarFiles {
    /// The file read: the archive, or its decompressed copy.
    path: PathBuf,
    /// The archive as the user named it, for messages.
    shown: PathBuf,
    members: HashMap<String, Member>,
}

fn normalize(raw: &[u8]) -> Option<String> {
    let rel = clean_path(raw).ok()?;
    Some(rel.to_path_buf().to_string_lossy().into_owned())
}

impl TarFiles {
    /// Indexes `path`. A compressed archive (`docker save | gzip`) is first decompressed into
    /// `scratch`, a file the caller removes.
    pub fn open(path: &Path, scratch: &Path) -> Result<TarFiles, ImageError> {
        let what = || path.display().to_string();
        let mut f = File::open(path).map_err(|e| ImageError::sys(format!("open {}", what()), e))?;
        let mut head = [0u8; 8];
        let n = f
            .read(&mut head)
            .map_err(|e| ImageError::sys(format!("read {}", what()), e))?;
        let real = match detect(&head[..n]) {
            Detected::Known(Compression::None) => path.to_path_buf(),
            Detected::Known(c) => {
                f.seek(SeekFrom::Start(0))
                    .map_err(|e| ImageError::sys(format!("read {}", what()), e))?;
                let mut dec: Box<dyn Read> = match c {
                    Compression::Gzip => {
                        Box::new(flate2::read::MultiGzDecoder::new(BufReader::new(f)))
                    }
                    _ => Box::new(
                        zstd::stream::read::Decoder::new(f)
                            .map_err(|e| ImageError::malformed(what(), e))?,
                    ),
                };
                let mut out = File::create(scratch)
                    .map_err(|e| ImageError::sys(format!("create {}", scratch.display()), e))?;
                std::io::copy(&mut dec, &mut out)
                    .map_err(|e| ImageError::malformed(format!("decompress {}", what()), e))?;
                scratch.to_path_buf()
            }
            Detected::Unsupported(kind) => {
                return Err(ImageError::Unsupported(format!(
                    "{}: {kind}-compressed archives are not supported",
                    what()
                )));
            }
        };
        let file = File::open(&real)
            .map_err(|e| ImageError::sys(format!("open {}", real.display()), e))?;
        let mut archive = tar::Archive::new(BufReader::new(file));
        let mut members = HashMap::new();
        let entries = archive
            .entries()
            .map_err(|e| ImageError::malformed(what(), e))?;
        for entry in entries {
            let entry = entry
                .map_err(|e| ImageError::malformed(format!("{}: read tar entry", what()), e))?;
            let Some(name) = normalize(&entry.path_bytes()) else {
                continue;
            };
            let member = match entry.header().entry_type() {
                tar::EntryType::Regular | tar::EntryType::Continuous => Member::File {
                    offset: entry.raw_file_position(),
                    size: entry.size(),
                },
                tar::EntryType::Symlink | tar::EntryType::Link => {
                    let Some(target) = entry.link_name_bytes() else {
                        continue;
                    };
                    let target = if entry.header().entry_type() == tar::EntryType::Symlink {
                        // Relative to the member's directory, inside the archive.
                        let dir = Path::new(&name).parent().unwrap_or(Path::new(""));
                        let joined = dir.join(Path::new(&*String::from_utf8_lossy(&target)));
                        lexical_clean(&joined)
                    } else {
                        normalize(&target)
                    };
                    let Some(t) = target else { continue };
                    Member::Link(t)
                }
                _ => continue,
            };
            members.insert(name, member);
        }
        Ok(TarFiles {
            path: real,
            shown: path.to_path_buf(),
            members,
        })
    }

    fn find(&self, name: &str) -> Option<(u64, u64)> {
        let mut name = normalize(name.as_bytes())?;
        for _ in 0..16 {
            match self.members.get(&name)? {
                Member::File { offset, size } => return Some((*offset, *size)),
                Member::Link(t) => name = t.clone(),
            }
        }
        None
    }

    /// True if the archive has a member of this name.
    pub fn has(&self, name: &str) -> bool {
        self.find(name).is_some()
    }
}

/// Resolves `..` lexically; `None` if it climbs above the archive root.
fn lexical_clean(p: &Path) -> Option<String> {
    let mut out: Vec<&std::ffi::OsStr> = Vec::new();
    for c in p.components() {
        match c {
            std::path::Component::Normal(s) => out.push(s),
            std::path::Component::ParentDir => {
                out.pop()?;
            }
            std::path::Component::CurDir => {}
            _ => return None,
        }
    }
    Some(
        out.iter()
            .collect::<PathBuf>()
            .to_string_lossy()
            .into_owned(),
    )
}

impl SourceFiles for TarFiles {
    fn open(&self, name: &str) -> Result<(Box<dyn Read + Send>, u64), ImageError> {
        let (offset, size) = self
            .find(name)
            .ok_or_else(|| ImageError::malformed(self.describe(), format!("no member {name}")))?;
        let mut f = File::open(&self.path)
            .map_err(|e| ImageError::sys(format!("open {}", self.describe()), e))?;
        f.seek(SeekFrom::Start(offset))
            .map_err(|e| ImageError::sys(format!("read {}", self.describe()), e))?;
        Ok((Box::new(f.take(size)), size))
    }

    fn describe(&self) -> String {
        self.shown.display().to_string()
    }
}
