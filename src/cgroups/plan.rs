//! Applying `linux.resources` in two steps: first a [`Plan`] (every file to write, in order,
//! computed and validated from the spec before anything is touched), then its execution. Bad
//! input fails in the first step and leaves the cgroup as it was.

use std::path::{Path, PathBuf};

use nix::errno::Errno;
use oci_spec::runtime::{LinuxCpu, LinuxResources};

use super::devices::DeviceTable;
use super::files::{read, write};
use super::{CgroupError, Result};

/// One write to a cgroup interface file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Write {
    /// The controller the file belongs to: on v1 it picks the hierarchy, on v2 it is the
    /// controller that must be enabled for the file to exist.
    pub controller: String,
    pub file: String,
    pub value: String,
    /// The setting, for the error message ("memory limit").
    pub what: String,
    /// Skip silently when the kernel has no such file (an optional feature such as swap
    /// accounting or hugetlb reservations), instead of failing.
    pub if_exists: bool,
    /// When the kernel answers EINVAL, try once more after every other write: cpu period and
    /// burst can be refused until the new quota is in place (runc does the same).
    pub retry_last: bool,
    /// Check that the file exists before anything is written (a key of the v2 `unified` map,
    /// which names the file directly).
    pub must_exist: bool,
}

impl Write {
    pub fn new(
        controller: &str,
        file: impl Into<String>,
        value: impl Into<String>,
        what: impl Into<String>,
    ) -> Write {
        Write {
            controller: controller.to_string(),
            file: file.into(),
            value: value.into(),
            what: what.into(),
            if_exists: false,
            retry_last: false,
            must_exist: false,
        }
    }

    pub fn must_exist(mut self) -> Write {
        self.must_exist = true;
        self
    }

    pub fn if_exists(mut self) -> Write {
        self.if_exists = true;
        self
    }

    pub fn retry_last(mut self) -> Write {
        self.retry_last = true;
        self
    }
}

/// Everything `apply` will do.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    pub writes: Vec<Write>,
    /// The device policy to install, when the spec has device rules.
    pub devices: Option<DeviceTable>,
}

impl Plan {
    /// `cpu.idle`, which both versions name alike; an idle cgroup has the lowest weight, so
    /// it takes no shares (`shares`: the spec's, 0 counting as unset).
    pub fn cpu_idle(&mut self, c: &LinuxCpu, shares: Option<u64>) -> Result<()> {
        if let Some(idle) = c.idle() {
            if idle != 0 && shares.is_some() {
                return Err(CgroupError::Invalid(
                    "cpu idle=1 and cpu shares cannot both be set: an idle cgroup has the lowest weight"
                        .into(),
                ));
            }
            self.writes
                .push(Write::new("cpu", "cpu.idle", idle.to_string(), "cpu idle"));
        }
        Ok(())
    }

    /// `pids.max`, which both versions name alike.
    pub fn pids(&mut self, r: &LinuxResources) {
        if let Some(limit) = r.pids() {
            let max = super::convert::pids_max(limit.limit());
            self.writes
                .push(Write::new("pids", "pids.max", max, "pids limit"));
        }
    }

    /// `rdma.max`, one line per device in name order, which both versions name alike.
    pub fn rdma(&mut self, r: &LinuxResources) {
        if let Some(rdma) = r.rdma() {
            let mut devices: Vec<_> = rdma.iter().collect();
            devices.sort_by(|a, b| a.0.cmp(b.0));
            for (dev, l) in devices {
                let line = super::convert::rdma_line(dev, l.hca_handles(), l.hca_objects());
                self.writes
                    .push(Write::new("rdma", "rdma.max", line, "rdma limit"));
            }
        }
    }

    /// A hugepage limit in cgroup v2's files (`controller`: the v2 controller, or the cgroup2
    /// hierarchy of a hybrid host), and the same value as its reservation limit, which is
    /// what the OCI field means where the kernel has them (Linux 5.7).
    pub fn hugetlb_v2(&mut self, controller: &str, size: &str, limit: i64) {
        let v = super::convert::limit_string(limit);
        let what = format!("hugepage limit for {size} pages");
        let max = format!("hugetlb.{size}.max");
        self.writes
            .push(Write::new(controller, max, v.clone(), &what));
        let rsvd = format!("hugetlb.{size}.rsvd.max");
        self.writes
            .push(Write::new(controller, rsvd, v, what).if_exists());
    }

    /// `cpuset.cpus` and `cpuset.mems`, which both versions name alike.
    pub fn cpuset(&mut self, c: &LinuxCpu) {
        if let Some(v) = c.cpus().as_deref().filter(|s| !s.is_empty()) {
            self.writes
                .push(Write::new("cpuset", "cpuset.cpus", v, "cpuset cpus"));
        }
        if let Some(v) = c.mems().as_deref().filter(|s| !s.is_empty()) {
            self.writes
                .push(Write::new("cpuset", "cpuset.mems", v, "cpuset mems"));
        }
    }
}

/// Read access to the cgroup's current files, for the few settings whose writes depend on the
/// present state (the current memory limit, the quota half of `cpu.max`).
pub trait Probe {
    /// The trimmed content of `file` of `controller`, or `None` when it does not exist.
    fn read(&self, controller: &str, file: &str) -> Option<String>;

    fn exists(&self, controller: &str, file: &str) -> bool {
        self.read(controller, file).is_some()
    }
}

/// Performs `writes` in order. `dir_of` gives the directory of a write's controller and makes
/// sure the controller is usable there. Writes marked `retry_last` that fail with EINVAL are
/// tried again after all the others.
pub fn run(writes: &[Write], dir_of: &mut dyn FnMut(&Write) -> Result<PathBuf>) -> Result<()> {
    for w in writes.iter().filter(|w| w.must_exist) {
        let dir = dir_of(w)?;
        if !dir.join(&w.file).is_file() {
            return Err(CgroupError::Invalid(format!(
                "{}: {:?} is not a file of {}",
                w.what,
                w.file,
                dir.display()
            )));
        }
    }
    let mut retry = Vec::new();
    for w in writes {
        let dir = dir_of(w)?;
        if w.if_exists && !dir.join(&w.file).exists() {
            continue;
        }
        match write(&dir, &w.file, &w.value, &w.what) {
            Err(CgroupError::Write { cause, .. })
                if w.retry_last && cause.errno() == Some(Errno::EINVAL) =>
            {
                retry.push((w, dir));
            }
            Err(e) => return Err(explain(e, w, &dir)),
            Ok(()) => {}
        }
    }
    for (w, dir) in retry {
        write(&dir, &w.file, &w.value, &w.what).map_err(|e| explain(e, w, &dir))?;
    }
    Ok(())
}

/// Adds what the kernel's errno means for this file, where that is known.
fn explain(e: CgroupError, w: &Write, dir: &Path) -> CgroupError {
    let CgroupError::Write {
        what,
        path,
        value,
        cause,
    } = e
    else {
        return e;
    };
    let what = match (w.file.as_str(), cause.errno()) {
        ("memory.limit_in_bytes" | "memory.memsw.limit_in_bytes", Some(Errno::EBUSY)) => {
            let usage = read(dir, "memory.usage_in_bytes").unwrap_or_else(|_| "?".into());
            format!("memory limit too low (current usage {usage} bytes)")
        }
        ("memory.memsw.limit_in_bytes", Some(Errno::EINVAL)) => {
            format!("{what} (memory+swap must be at least the memory limit)")
        }
        ("cpuset.cpus" | "cpuset.mems", Some(Errno::EINVAL | Errno::ERANGE)) => {
            // v2 names it cpuset.cpus.effective, v1 cpuset.effective_cpus.
            let names = [
                format!("{}.effective", w.file),
                w.file.replace("cpuset.", "cpuset.effective_"),
            ];
            let parent = dir
                .parent()
                .and_then(|p| names.iter().find_map(|n| read(p, n).ok()))
                .unwrap_or_else(|| "?".into());
            format!("{what} (must be a subset of the parent's {parent:?})")
        }
        ("cgroup.procs", Some(Errno::ENOSPC)) => {
            format!("{what} (cpuset.cpus or cpuset.mems of the cgroup is empty)")
        }
        _ => what,
    };
    CgroupError::Write {
        what,
        path,
        value,
        cause,
    }
}

#[cfg(test)]
pub mod testing {
    use std::collections::BTreeMap;

    use super::Probe;

    /// A probe over fixed file contents, keyed by file name.
    #[derive(Default)]
    pub struct Files(pub BTreeMap<String, String>);

    impl Files {
        pub fn with(pairs: &[(&str, &str)]) -> Files {
            Files(
                pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            )
        }
    }

    impl Probe for Files {
        fn read(&self, _controller: &str, file: &str) -> Option<String> {
            self.0.get(file).cloned()
        }
    }

    /// (file, value) of each write, for compact assertions.
    pub fn pairs(plan: &super::Plan) -> Vec<(String, String)> {
        plan.writes
            .iter()
            .map(|w| (w.file.clone(), w.value.clone()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("rind-plan-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("a"), "old").unwrap();
        d
    }

    #[test]
    fn a_missing_must_exist_file_stops_the_plan_before_any_write() {
        let d = scratch("must");
        let writes = [
            Write::new("x", "a", "new", "setting a"),
            Write::new("x", "nope", "1", "unified nope").must_exist(),
        ];
        let err = run(&writes, &mut |_| Ok(d.clone())).unwrap_err();
        assert!(err.to_string().contains("\"nope\" is not a file"), "{err}");
        assert_eq!(std::fs::read_to_string(d.join("a")).unwrap(), "old");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn optional_files_are_skipped_and_others_written_in_order() {
        let d = scratch("order");
        let writes = [
            Write::new("x", "absent", "1", "optional").if_exists(),
            Write::new("x", "a", "new", "setting a"),
        ];
        run(&writes, &mut |_| Ok(d.clone())).unwrap();
        assert_eq!(std::fs::read_to_string(d.join("a")).unwrap(), "new");
        assert!(!d.join("absent").exists());
        let err = run(&[Write::new("x", "absent", "1", "required")], &mut |_| {
            Ok(d.clone())
        });
        assert!(
            err.unwrap_err()
                .to_string()
                .starts_with("required (the kernel does not provide")
        );
        std::fs::remove_dir_all(&d).unwrap();
    }
}
