//! Regression tests for the known container-escape classes of runc, crun and youki, one module
//! per CVE (or per class where several CVEs share one). Each test is the attacker's actual
//! steps against the real binary, racing where the original raced, bounded in time. The
//! threat model and the table of classes and tests are in docs/security.md.

#[path = "../common/mod.rs"]
mod common;
mod cve_2021_41091;
mod cve_2021_41103;
mod id_path_traversal;
