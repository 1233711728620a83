//! A container id is a directory name under the state root. youki took ids unchecked until
//! 2023 (youki issue 1580: an id like `../x` named a path outside `/run/youki`); runc has
//! always checked them (`^[\w+-\.]+$`, not `.` or `..`). No CVE was filed; the class is the
//! one of a runtime removing or writing outside its root on a crafted id, and `delete --force`
//! (which removes a whole directory, and succeeds on unknown ids) is where it would hurt.

use std::process::{Command, Stdio};

use crate::common::{Bundle, TempDir, rind_bin};

#[test]
fn an_id_that_names_a_path_outside_the_root_is_refused_by_every_verb() {
    let work = TempDir::new("id-traversal");
    let root = work.path().join("root");
    std::fs::create_dir(&root).unwrap();
    // The victim: a sibling of the state root that a `..` id would name.
    let victim = work.path().join("victim");
    std::fs::create_dir(&victim).unwrap();
    std::fs::write(victim.join("state.json"), "{}").unwrap();
    let b = Bundle::sh("true");
    b.write();
    let abs = victim.to_str().unwrap().to_string();
    for id in [
        "../victim",
        "..",
        ".",
        "a/../../victim",
        abs.as_str(),
        "x\ny",
    ] {
        for args in [
            vec!["delete", "--force", id],
            vec!["delete", id],
            vec!["kill", id, "KILL"],
            vec!["state", id],
            vec!["create", "--bundle", b.path().to_str().unwrap(), id],
        ] {
            let out = Command::new(rind_bin())
                .arg("--root")
                .arg(&root)
                .args(&args)
                .stdin(Stdio::null())
                .output()
                .unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
            assert!(err.contains("invalid container id"), "{args:?}: {err}");
            assert_eq!(err.lines().count(), 1, "{args:?}: not one line: {err:?}");
        }
    }
    assert!(
        victim.join("state.json").exists(),
        "a verb reached outside the root"
    );
    assert_eq!(
        std::fs::read_dir(&root).unwrap().count(),
        0,
        "create wrote into the root"
    );
}
