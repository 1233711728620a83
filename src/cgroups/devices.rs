//! Device access rules (`linux.resources.devices`) as one table that both layouts use: v1 writes
//! it to `devices.allow`/`devices.deny`, v2 compiles it to an eBPF program.
//!
//! The table follows the v1 kernel's model, as runc's emulator does: a default (allow or deny
//! every device) plus exceptions keyed by type, major and minor, each with an access set. An
//! `a` rule resets the default and drops every exception; any other rule either adds access to
//! an exception (when its action differs from the default) or takes access away from the
//! exception with exactly the same key. Taking access away from a device that only a wider
//! wildcard exception grants ("punching a hole") is refused: v1 would silently ignore it.
//!
//! Access checks: with a deny default, a request is allowed when one exception matches the
//! device and grants every requested access; with an allow default, it is denied when an
//! exception matches the device and shares any requested access (the kernel's rule).

use std::collections::BTreeMap;
use std::fmt;

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};

use super::{CgroupError, Result};

/// `m`: create the device node.
pub const ACC_MKNOD: u8 = 1;
/// `r`: open for reading.
pub const ACC_READ: u8 = 2;
/// `w`: open for writing.
pub const ACC_WRITE: u8 = 4;
/// `rwm`.
pub const ACC_ALL: u8 = ACC_MKNOD | ACC_READ | ACC_WRITE;

/// A device type that device rules can name. The values are the kernel's `BPF_DEVCG_DEV_*`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DeviceKind {
    Block = 1,
    Char = 2,
}

/// Which devices an exception covers; `None` is the `*` wildcard.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DeviceMatch {
    pub kind: DeviceKind,
    pub major: Option<u32>,
    pub minor: Option<u32>,
}

impl DeviceMatch {
    /// True when this key covers the device `kind major:minor`.
    pub fn covers(&self, kind: DeviceKind, major: u32, minor: u32) -> bool {
        self.kind == kind
            && self.major.is_none_or(|m| m == major)
            && self.minor.is_none_or(|m| m == minor)
    }
}

/// One rule, in the order the spec lists them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceRule {
    /// `a *:* rwm`: every device allowed (`allow`) or denied, exceptions dropped.
    Reset { allow: bool },
    /// A rule for one type of device.
    Device {
        allow: bool,
        key: DeviceMatch,
        access: u8,
    },
}

impl DeviceRule {
    /// Converts one OCI rule. A missing type means `a`, a missing access means `rwm`, a missing
    /// or negative major/minor means `*`. Type `u` is a character device. Type `p` (FIFO) and an
    /// `a` rule narrowed by a number or by access are refused: the v1 kernel would read any `a`
    /// rule as "every device, every access", so such a rule never means what it says.
    pub fn from_oci(rule: &LinuxDeviceCgroup) -> Result<DeviceRule> {
        let access = match rule.access().as_deref() {
            None | Some("") => ACC_ALL,
            Some(s) => parse_access(s)?,
        };
        let number = |n: Option<i64>, what: &str| -> Result<Option<u32>> {
            match n {
                None => Ok(None),
                Some(v) if v < 0 => Ok(None),
                Some(v) => u32::try_from(v).map(Some).map_err(|_| {
                    CgroupError::Invalid(format!("device rule {what} number {v} is out of range"))
                }),
            }
        };
        let major = number(rule.major(), "major")?;
        let minor = number(rule.minor(), "minor")?;
        let kind = match rule.typ().unwrap_or(LinuxDeviceType::A) {
            LinuxDeviceType::A => {
                if major.is_some() || minor.is_some() || access != ACC_ALL {
                    return Err(CgroupError::Invalid(format!(
                        "device rule {:?} is not supported: a rule of type \"a\" must cover every \
                         device with \"rwm\" (cgroup v1 reads any \"a\" rule that way); use \
                         \"b\" and \"c\" rules instead",
                        rule.to_string().trim()
                    )));
                }
                return Ok(DeviceRule::Reset {
                    allow: rule.allow(),
                });
            }
            LinuxDeviceType::B => DeviceKind::Block,
            LinuxDeviceType::C | LinuxDeviceType::U => DeviceKind::Char,
            LinuxDeviceType::P => {
                return Err(CgroupError::Invalid(
                    "device rule of type \"p\" (FIFO) is not supported: the devices controller \
                     only governs block and character devices"
                        .into(),
                ));
            }
        };
        Ok(DeviceRule::Device {
            allow: rule.allow(),
            key: DeviceMatch { kind, major, minor },
            access,
        })
    }
}

/// Parses an access string such as `rwm` or `r`. An `a` adds nothing: runc reads access sets
/// by their `r`, `w` and `m` alone, so `rwa` is `rw` there (its own tests write it), and the
/// same here. Anything else is refused.
pub fn parse_access(s: &str) -> Result<u8> {
    let mut acc = 0;
    for c in s.chars() {
        acc |= match c {
            'r' => ACC_READ,
            'w' => ACC_WRITE,
            'm' => ACC_MKNOD,
            'a' => 0,
            _ => {
                return Err(CgroupError::Invalid(format!(
                    "device access {s:?} may only contain r, w and m (and a, which adds nothing)"
                )));
            }
        };
    }
    Ok(acc)
}

/// The access set as the kernel writes it: `rwm` order.
pub fn access_string(acc: u8) -> String {
    let mut s = String::new();
    for (bit, c) in [(ACC_READ, 'r'), (ACC_WRITE, 'w'), (ACC_MKNOD, 'm')] {
        if acc & bit != 0 {
            s.push(c);
        }
    }
    s
}

impl fmt::Display for DeviceMatch {
    /// The v1 form without the access: `c 1:3`, `b *:*`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            DeviceKind::Block => 'b',
            DeviceKind::Char => 'c',
        };
        let n = |v: Option<u32>| v.map_or_else(|| "*".to_string(), |v| v.to_string());
        write!(f, "{kind} {}:{}", n(self.major), n(self.minor))
    }
}

/// The effective device policy: a default plus exceptions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceTable {
    /// Every device not covered by an exception is allowed (true) or denied.
    pub default_allow: bool,
    /// Exceptions to the default, with their access sets (never empty).
    pub exceptions: BTreeMap<DeviceMatch, u8>,
}

impl Default for DeviceTable {
    /// A new cgroup allows every device until a rule says otherwise.
    fn default() -> Self {
        DeviceTable {
            default_allow: true,
            exceptions: BTreeMap::new(),
        }
    }
}

impl DeviceTable {
    /// The table that a list of OCI rules makes, applied in order from "allow everything".
    pub fn from_oci(rules: &[LinuxDeviceCgroup]) -> Result<DeviceTable> {
        let mut table = DeviceTable::default();
        for r in rules {
            table.apply(DeviceRule::from_oci(r)?)?;
        }
        Ok(table)
    }

    /// Applies one rule, as the v1 kernel would, except that punching a hole in a wildcard
    /// exception is refused.
    pub fn apply(&mut self, rule: DeviceRule) -> Result<()> {
        match rule {
            DeviceRule::Reset { allow } => {
                self.default_allow = allow;
                self.exceptions.clear();
            }
            DeviceRule::Device { allow, key, access } => {
                if allow != self.default_allow {
                    *self.exceptions.entry(key).or_insert(0) |= access;
                } else {
                    self.remove(key, access)?;
                }
            }
        }
        Ok(())
    }

    fn remove(&mut self, key: DeviceMatch, access: u8) -> Result<()> {
        let wider = [
            DeviceMatch { major: None, ..key },
            DeviceMatch { minor: None, ..key },
            DeviceMatch {
                major: None,
                minor: None,
                ..key
            },
        ];
        for w in wider.iter().filter(|w| **w != key) {
            if self.exceptions.get(w).is_some_and(|a| a & access != 0) {
                return Err(CgroupError::Invalid(format!(
                    "device rule {key} {} cannot narrow the earlier wildcard rule {w} {}: \
                     cgroup v1 would ignore it; list the specific devices instead",
                    access_string(access),
                    access_string(self.exceptions[w])
                )));
            }
        }
        if let Some(a) = self.exceptions.get_mut(&key) {
            *a &= !access;
            if *a == 0 {
                self.exceptions.remove(&key);
            }
        }
        Ok(())
    }

    /// Whether the table lets a process use `kind major:minor` with every access in `access`.
    pub fn permits(&self, kind: DeviceKind, major: u32, minor: u32, access: u8) -> bool {
        let mut matching = self
            .exceptions
            .iter()
            .filter(|(k, _)| k.covers(kind, major, minor));
        if self.default_allow {
            !matching.any(|(_, a)| a & access != 0)
        } else {
            matching.any(|(_, a)| access & !a == 0)
        }
    }

    /// Reads a v1 `devices.list`. That file only lists what is allowed: `a *:* rwm` means the
    /// cgroup allows everything by default (and its deny exceptions cannot be read back).
    pub fn from_v1_list(text: &str) -> Result<DeviceTable> {
        let mut table = DeviceTable {
            default_allow: false,
            exceptions: BTreeMap::new(),
        };
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let rule = parse_v1_line(line, true)?;
            table.apply(rule)?;
        }
        Ok(table)
    }

    /// The writes that take a v1 cgroup from `current` to `self` without first denying every
    /// device when that is avoidable (so a running container's open devices keep working during
    /// an update). Each item is (`devices.allow` when true, else `devices.deny`, rule line).
    pub fn v1_transition(&self, current: &DeviceTable) -> Vec<(bool, String)> {
        let mut out = Vec::new();
        let mut old = &current.exceptions;
        let empty = BTreeMap::new();
        // In allow-by-default mode devices.list cannot show the deny exceptions, so the state
        // is unknown and has to be reset.
        if current.default_allow || current.default_allow != self.default_allow {
            out.push((self.default_allow, "a *:* rwm".to_string()));
            old = &empty;
        }
        for (key, acc) in old {
            let dropped = acc & !self.exceptions.get(key).copied().unwrap_or(0);
            if dropped != 0 {
                out.push((
                    self.default_allow,
                    format!("{key} {}", access_string(dropped)),
                ));
            }
        }
        for (key, acc) in &self.exceptions {
            let gained = acc & !old.get(key).copied().unwrap_or(0);
            if gained != 0 {
                out.push((
                    !self.default_allow,
                    format!("{key} {}", access_string(gained)),
                ));
            }
        }
        out
    }
}

/// Parses one v1 rule line (`c 1:3 rwm`, `a *:* rwm`) with the given action.
pub fn parse_v1_line(line: &str, allow: bool) -> Result<DeviceRule> {
    let bad = || {
        CgroupError::Invalid(format!(
            "device rule {line:?} is not \"TYPE MAJOR:MINOR ACCESS\""
        ))
    };
    let mut parts = line.split_whitespace();
    let (Some(kind), Some(numbers), Some(access), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    let (major, minor) = numbers.split_once(':').ok_or_else(bad)?;
    let num = |s: &str| -> Result<Option<u32>> {
        if s == "*" {
            Ok(None)
        } else {
            s.parse().map(Some).map_err(|_| bad())
        }
    };
    let access = parse_access(access)?;
    let kind = match kind {
        "a" => return Ok(DeviceRule::Reset { allow }),
        "b" => DeviceKind::Block,
        "c" => DeviceKind::Char,
        _ => return Err(bad()),
    };
    Ok(DeviceRule::Device {
        allow,
        key: DeviceMatch {
            kind,
            major: num(major)?,
            minor: num(minor)?,
        },
        access,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::LinuxDeviceCgroupBuilder;

    fn oci(
        allow: bool,
        typ: Option<LinuxDeviceType>,
        maj: Option<i64>,
        min: Option<i64>,
        acc: &str,
    ) -> LinuxDeviceCgroup {
        let mut b = LinuxDeviceCgroupBuilder::default().allow(allow).access(acc);
        if let Some(t) = typ {
            b = b.typ(t);
        }
        if let Some(m) = maj {
            b = b.major(m);
        }
        if let Some(m) = min {
            b = b.minor(m);
        }
        b.build().unwrap()
    }

    fn runc_default() -> Vec<LinuxDeviceCgroup> {
        use LinuxDeviceType::*;
        vec![
            oci(false, None, None, None, "rwm"),
            oci(true, Some(C), Some(1), Some(3), "rwm"),
            oci(true, Some(C), Some(1), Some(5), "rwm"),
            oci(true, Some(C), Some(136), None, "rwm"),
            oci(true, Some(C), Some(5), Some(0), "r"),
        ]
    }

    #[test]
    fn deny_all_then_allow_list_permits_only_listed_devices() {
        let t = DeviceTable::from_oci(&runc_default()).unwrap();
        assert!(!t.default_allow);
        assert!(t.permits(DeviceKind::Char, 1, 3, ACC_READ | ACC_WRITE));
        assert!(t.permits(DeviceKind::Char, 136, 7, ACC_ALL));
        assert!(t.permits(DeviceKind::Char, 5, 0, ACC_READ));
        assert!(!t.permits(DeviceKind::Char, 5, 0, ACC_READ | ACC_WRITE));
        assert!(!t.permits(DeviceKind::Block, 1, 3, ACC_READ));
        assert!(!t.permits(DeviceKind::Char, 1, 9, ACC_READ));
    }

    #[test]
    fn allow_default_denies_on_any_shared_access() {
        use LinuxDeviceType::*;
        let t = DeviceTable::from_oci(&[
            oci(true, None, None, None, ""),
            oci(false, Some(C), Some(1), Some(3), "w"),
        ])
        .unwrap();
        assert!(t.default_allow);
        assert!(t.permits(DeviceKind::Char, 1, 3, ACC_READ));
        assert!(!t.permits(DeviceKind::Char, 1, 3, ACC_READ | ACC_WRITE));
        assert!(t.permits(DeviceKind::Block, 8, 0, ACC_ALL));
    }

    #[test]
    fn same_key_rules_merge_and_subtract_access() {
        use LinuxDeviceType::*;
        let t = DeviceTable::from_oci(&[
            oci(false, None, None, None, "rwm"),
            oci(true, Some(C), Some(1), Some(3), "r"),
            oci(true, Some(C), Some(1), Some(3), "w"),
            oci(false, Some(C), Some(1), Some(3), "r"),
        ])
        .unwrap();
        assert!(t.permits(DeviceKind::Char, 1, 3, ACC_WRITE));
        assert!(!t.permits(DeviceKind::Char, 1, 3, ACC_READ));
    }

    #[test]
    fn punching_a_hole_in_a_wildcard_is_refused() {
        use LinuxDeviceType::*;
        let err = DeviceTable::from_oci(&[
            oci(false, None, None, None, "rwm"),
            oci(true, Some(C), None, None, "rwm"),
            oci(false, Some(C), Some(1), Some(3), "rwm"),
        ])
        .unwrap_err();
        assert!(err.to_string().contains("cannot narrow"), "{err}");
    }

    #[test]
    fn narrowed_a_rules_and_fifo_rules_are_refused() {
        use LinuxDeviceType::*;
        assert!(DeviceRule::from_oci(&oci(true, Some(A), Some(1), None, "rwm")).is_err());
        assert!(DeviceRule::from_oci(&oci(true, None, None, None, "r")).is_err());
        assert!(DeviceRule::from_oci(&oci(true, Some(P), None, None, "rwm")).is_err());
        assert!(DeviceRule::from_oci(&oci(true, Some(C), Some(1 << 40), None, "r")).is_err());
        assert!(DeviceRule::from_oci(&oci(true, Some(C), Some(1), None, "rx")).is_err());
        assert_eq!(
            DeviceRule::from_oci(&oci(true, Some(U), Some(1), Some(-1), "rw")).unwrap(),
            DeviceRule::Device {
                allow: true,
                key: DeviceMatch {
                    kind: DeviceKind::Char,
                    major: Some(1),
                    minor: None
                },
                access: ACC_READ | ACC_WRITE
            }
        );
    }

    /// runc's tests write `rwa`; runc reads access by r, w and m alone.
    #[test]
    fn an_a_in_an_access_set_adds_nothing() {
        use LinuxDeviceType::*;
        let rule = DeviceRule::from_oci(&oci(false, Some(C), Some(1), Some(11), "rwa")).unwrap();
        let DeviceRule::Device { access, .. } = rule else {
            panic!("{rule:?}")
        };
        assert_eq!(access, ACC_READ | ACC_WRITE);
        assert!(DeviceRule::from_oci(&oci(true, Some(C), Some(1), None, "rwx")).is_err());
    }

    #[test]
    fn v1_lines_parse_and_print_back() {
        let r = parse_v1_line("c 136:* rwm", true).unwrap();
        let DeviceRule::Device { key, access, .. } = r else {
            panic!("{r:?}")
        };
        assert_eq!(format!("{key} {}", access_string(access)), "c 136:* rwm");
        assert_eq!(
            parse_v1_line("a *:* rwm", false).unwrap(),
            DeviceRule::Reset { allow: false }
        );
        assert!(parse_v1_line("c 1:3", true).is_err());
        assert!(parse_v1_line("x 1:3 r", true).is_err());
        assert!(parse_v1_line("c 1;3 r", true).is_err());
    }

    #[test]
    fn v1_transition_from_fresh_cgroup_resets_then_allows() {
        let target = DeviceTable::from_oci(&runc_default()).unwrap();
        let fresh = DeviceTable::from_v1_list("a *:* rwm\n").unwrap();
        let writes = target.v1_transition(&fresh);
        assert_eq!(writes[0], (false, "a *:* rwm".to_string()));
        assert!(writes.contains(&(true, "c 1:3 rwm".to_string())));
        assert!(writes.contains(&(true, "c 5:0 r".to_string())));
        assert_eq!(writes.len(), 5);
    }

    #[test]
    fn v1_update_only_writes_the_difference() {
        let target = DeviceTable::from_oci(&runc_default()).unwrap();
        let current = DeviceTable::from_v1_list(
            "c 1:3 rwm\nc 1:5 rwm\nc 136:* rwm\nc 5:0 rw\nc 10:200 rwm\n",
        )
        .unwrap();
        let writes = target.v1_transition(&current);
        assert_eq!(
            writes,
            vec![
                (false, "c 5:0 w".to_string()),
                (false, "c 10:200 rwm".to_string())
            ]
        );
    }
}
