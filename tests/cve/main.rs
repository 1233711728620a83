//! Regression tests for the known container-escape classes of runc, crun and youki, one module
//! per CVE (or per class where several CVEs share one). Each test is the attacker's actual
//! steps against the real binary, racing where the original raced, bounded in time. The
//! threat model and the table of classes and tests are in docs/security.md.

#[path = "../common/mod.rs"]
mod common;

mod attacker;
mod rootfs_attack;

mod cve_2016_9962;
mod cve_2019_16884;
mod cve_2019_18837;
mod cve_2019_19921;
mod cve_2019_5736;
mod cve_2021_30465;
mod cve_2021_41091;
mod cve_2021_41103;
mod cve_2023_25809;
mod cve_2023_27561;
mod cve_2023_28642;
mod cve_2024_21626;
mod cve_2024_45310;
mod cve_2025_31133;
mod cve_2025_52565;
mod cve_2025_52881;
mod cve_2025_54867;
mod cve_2026_41579;
mod cve_2026_88264;
mod id_path_traversal;
