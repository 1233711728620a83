//! Regression tests for the known container-escape classes of runc, crun and youki, one module
//! per CVE (or per class where several CVEs share one). Each test is the attacker's actual
//! steps against the real binary, racing where the original raced, bounded in time. The
//! threat model and the table of classes and tests are in docs/security.md.

#[path = "../common/mod.rs"]
mod common;

mod rootfs_attack;

mod cve_2025_31133;
mod cve_2025_52565;
mod cve_2025_52881;
