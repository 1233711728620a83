//! Namespaced kernel parameters (`linux.sysctl`), checked before the container starts.
//!
//! A sysctl is only safe to set when it belongs to a namespace the container owns; otherwise
//! the write would change the host. The rules are runc's: IPC sysctls need a private IPC
//! namespace, `net.*` a private network namespace, and the UTS names a private UTS namespace.

use oci_spec::runtime::LinuxNamespaceType;
use std::collections::HashMap;

use crate::error::SysError;

/// A sysctl that would reach outside the container.
#[derive(Debug, thiserror::Error)]
#[error("sysctl {key:?} is not allowed: {reason}")]
pub struct SysctlError {
    pub key: String,
    pub reason: String,
}

const IPC_SYSCTLS: &[&str] = &[
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
];

/// Checks every key against the namespaces the container has (`private` says whether a
/// namespace type is the container's own).
pub fn validate(
    sysctls: &HashMap<String, String>,
    private: impl Fn(LinuxNamespaceType) -> bool,
) -> Result<(), SysctlError> {
    for key in sysctls.keys() {
        let needs = |ns: LinuxNamespaceType, name: &str| {
            if private(ns) {
                Ok(())
            } else {
                Err(SysctlError {
                    key: key.clone(),
                    reason: format!("the container does not have a private {name} namespace"),
                })
            }
        };
        if key.is_empty() || key.contains("..") || key.starts_with(['/', '.']) {
            return Err(SysctlError {
                key: key.clone(),
                reason: "malformed name".into(),
            });
        }
        let dotted = key.replace('/', ".");
        if IPC_SYSCTLS.contains(&dotted.as_str()) || dotted.starts_with("fs.mqueue.") {
            needs(LinuxNamespaceType::Ipc, "IPC")?;
        } else if is_net(key) {
            needs(LinuxNamespaceType::Network, "network")?;
        } else if dotted == "kernel.hostname" || dotted == "kernel.domainname" {
            needs(LinuxNamespaceType::Uts, "UTS")?;
        } else {
            return Err(SysctlError {
                key: key.clone(),
                reason: "it is not namespaced".into(),
            });
        }
    }
    Ok(())
}

/// Whether a sysctl key (dotted or slashed) belongs to the network namespace.
pub fn is_net(key: &str) -> bool {
    key.starts_with("net.") || key.starts_with("net/")
}

/// Writes each sysctl through the verified procfs handle ([`procfs`](super::procfs)), never
/// through a `/proc/sys` path the image could have redirected (CVE-2025-52881).
pub fn apply(sysctls: &HashMap<String, String>) -> Result<(), SysError> {
    for (key, value) in sysctls {
        super::procfs::write_sysctl(key, value)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(k: &str) -> HashMap<String, String> {
        HashMap::from([(k.to_string(), "1".to_string())])
    }

    #[test]
    fn net_sysctl_needs_a_network_namespace() {
        let none = |_| false;
        let net = |t| t == LinuxNamespaceType::Network;
        assert!(validate(&map("net.ipv4.ip_forward"), none).is_err());
        assert!(validate(&map("net.ipv4.ip_forward"), net).is_ok());
    }

    #[test]
    fn host_wide_sysctl_is_refused() {
        let all = |_| true;
        let err = validate(&map("vm.swappiness"), all).unwrap_err();
        assert!(err.to_string().contains("not namespaced"), "{err}");
    }

    #[test]
    fn ipc_sysctls_need_an_ipc_namespace() {
        let ipc = |t| t == LinuxNamespaceType::Ipc;
        assert!(validate(&map("kernel.shmmax"), ipc).is_ok());
        assert!(validate(&map("fs.mqueue.msg_max"), ipc).is_ok());
        assert!(validate(&map("kernel.shmmax"), |_| false).is_err());
    }
}
