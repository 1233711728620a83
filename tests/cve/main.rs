//! Regression tests for the known container-escape classes of runc, crun and youki, one module
//! per CVE (or per class where several CVEs share one). Each test is the attacker's actual
//! steps against the real binary, racing where the original raced, bounded in time. The
//! threat model and the table of classes and tests are in docs/security.md.

#[path = "../common/mod.rs"]
mod common;

mod attacker;
mod cve_2016_9962;
mod cve_2019_5736;
mod cve_2024_21626;
