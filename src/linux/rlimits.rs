//! POSIX resource limits (`process.rlimits`).

use nix::sys::resource::{Resource, setrlimit};
use oci_spec::runtime::{PosixRlimit, PosixRlimitType};

use crate::error::{StepContext, SysError};

fn resource(t: PosixRlimitType) -> Resource {
    use PosixRlimitType as T;
    match t {
        T::RlimitCpu => Resource::RLIMIT_CPU,
        T::RlimitFsize => Resource::RLIMIT_FSIZE,
        T::RlimitData => Resource::RLIMIT_DATA,
        T::RlimitStack => Resource::RLIMIT_STACK,
        T::RlimitCore => Resource::RLIMIT_CORE,
        T::RlimitRss => Resource::RLIMIT_RSS,
        T::RlimitNproc => Resource::RLIMIT_NPROC,
        T::RlimitNofile => Resource::RLIMIT_NOFILE,
        T::RlimitMemlock => Resource::RLIMIT_MEMLOCK,
        T::RlimitAs => Resource::RLIMIT_AS,
        T::RlimitLocks => Resource::RLIMIT_LOCKS,
        T::RlimitSigpending => Resource::RLIMIT_SIGPENDING,
        T::RlimitMsgqueue => Resource::RLIMIT_MSGQUEUE,
        T::RlimitNice => Resource::RLIMIT_NICE,
        T::RlimitRtprio => Resource::RLIMIT_RTPRIO,
        T::RlimitRttime => Resource::RLIMIT_RTTIME,
    }
}

/// Sets each limit. Raising a hard limit needs CAP_SYS_RESOURCE; without it the kernel's
/// "operation not permitted" names the limit.
pub fn apply(limits: &[PosixRlimit]) -> Result<(), SysError> {
    for l in limits {
        setrlimit(resource(l.typ()), l.soft(), l.hard())
            .step(|| format!("setrlimit {} soft={} hard={}", l.typ(), l.soft(), l.hard()))?;
    }
    Ok(())
}
