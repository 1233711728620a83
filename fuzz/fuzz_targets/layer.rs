//! The layer unpacker: tar, tar+gzip and tar+zstd streams (compression is detected from the
//! bytes) unpacked as root into a fresh directory on the sandbox's tmpfs, as `image pull`
//! does (`unpack_blob`: the decoder thread, the limits, the whiteout and hardlink rules).
//!
//! An input is one layer, or two: `2L`, the first layer's length as 4 little-endian bytes,
//! the first layer, then the second, which is unpacked above the first (lookups in the lower
//! layer, copy-up of hardlink targets, whiteouts of lower entries).
//!
//! The property beyond "no panic": nothing is written outside the layer being unpacked.
//! - the bait next to the layers (`/tmp/bait`, reachable as `../../bait` from a layer and as
//!   `/tmp/bait`) is unchanged, and nothing new appears in the scratch tmpfs;
//! - a lower layer is unchanged by the layer above it;
//! - no file of a layer is a hardlink to a file outside it;
//! - no step failed with EROFS: everything but the scratch tmpfs is read-only in the sandbox,
//!   so that error means a write aimed at the host.
#![no_main]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use rind::image::layer::rooted::RootDir;
use rind::image::layer::{Expect, Owners, UnpackLimits, unpack_blob};
use rind_fuzz::tree::{self, Snapshot};

struct Scene {
    scratch: PathBuf,
    bait: Snapshot,
}

fn scene() -> &'static Scene {
    static SCENE: OnceLock<Scene> = OnceLock::new();
    SCENE.get_or_init(|| {
        let scratch = rind_fuzz::sandbox::enter().to_path_buf();
        let bait = scratch.join("bait");
        std::fs::create_dir_all(bait.join("dir")).unwrap();
        std::fs::write(bait.join("secret"), b"host data\n").unwrap();
        std::fs::write(bait.join("dir/file"), b"more host data\n").unwrap();
        std::os::unix::fs::symlink("secret", bait.join("link")).unwrap();
        std::fs::create_dir_all(scratch.join("w")).unwrap();
        Scene {
            bait: tree::snapshot(&bait),
            scratch,
        }
    })
}

const LIMITS: UnpackLimits = UnpackLimits {
    max_ratio: 100,
    ratio_floor: 1 << 20,
    max_layer_bytes: 16 << 20,
    max_entries: 4096,
};

fn unpack(blob: &[u8], target: &Path, lowers: &[RootDir]) -> bool {
    std::fs::create_dir(target).unwrap();
    let mut blob = blob.to_vec();
    rind_fuzz::fix_tar_checksums(&mut blob);
    let raw = Box::new(std::io::Cursor::new(blob));
    match unpack_blob(raw, Expect::default(), target, lowers, "fuzz", LIMITS, &Owners::of_process()) {
        Ok(_) => true,
        Err(e) => {
            let msg = e.to_string();
            assert!(
                !msg.contains("read-only file system"),
                "a write outside the scratch tmpfs was attempted: {msg}"
            );
            false
        }
    }
}

fn no_link_out(layer: &Path, outside: &std::collections::HashSet<u64>) {
    let snap = tree::snapshot(layer);
    for (p, n) in &snap {
        assert!(
            n.mode & libc::S_IFMT == libc::S_IFDIR || !outside.contains(&n.ino),
            "{} is a hardlink to a file outside its layer",
            p.display()
        );
    }
}

fn names(dir: &Path) -> Vec<String> {
    let holes = rind_fuzz::sandbox::scratch_names_of_holes();
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| !holes.contains(n))
        .map(|n| n.to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fuzz_target!(|data: &[u8]| {
    let s = scene();
    let (first, second) = match data {
        [b'2', b'L', a, b, c, d, rest @ ..] => {
            let n = (u32::from_le_bytes([*a, *b, *c, *d]) as usize).min(rest.len());
            (&rest[..n], Some(&rest[n..]))
        }
        _ => (data, None),
    };
    let work = s.scratch.join("w");
    let (l1, l2) = (work.join("l1"), work.join("l2"));
    let mut bait_inodes = tree::inodes(&s.bait);

    if unpack(first, &l1, &[])
        && let Some(second) = second
    {
        let before = tree::snapshot(&l1);
        let lowers = [RootDir::open(&l1).unwrap()];
        unpack(second, &l2, &lowers);
        drop(lowers);
        if let Some(d) = tree::diff(&before, &tree::snapshot(&l1)) {
            panic!("unpacking the upper layer changed the lower one: {d}");
        }
        let mut outside = tree::inodes(&before);
        outside.extend(bait_inodes.iter().copied());
        no_link_out(&l2, &outside);
        bait_inodes.extend(tree::inodes(&tree::snapshot(&l2)));
    }
    no_link_out(&l1, &bait_inodes);

    if let Some(d) = tree::diff(&s.bait, &tree::snapshot(&s.scratch.join("bait"))) {
        panic!("the bait outside the layer changed: {d}");
    }
    assert_eq!(
        names(&s.scratch),
        ["bait", "w"],
        "something appeared in the scratch tmpfs"
    );
    let made = names(&work);
    assert!(
        made.iter().all(|n| n == "l1" || n == "l2"),
        "something appeared next to the layers: {made:?}"
    );
    std::fs::remove_dir_all(&work).unwrap();
    std::fs::create_dir(&work).unwrap();
});
