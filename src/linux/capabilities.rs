//! The five capability sets of the container process, exactly as the spec lists them.

use caps::{CapSet, Capability, CapsHashSet};
use oci_spec::runtime::{Capabilities as SpecCaps, LinuxCapabilities};

use crate::error::{Cause, SysError};

/// The spec's capability sets converted to kernel capabilities. Names the running kernel does
/// not know are dropped (as runc does), so a newer spec still runs on an older kernel.
#[derive(Clone, Debug, Default)]
pub struct CapabilitySets {
    pub bounding: CapsHashSet,
    pub effective: CapsHashSet,
    pub inheritable: CapsHashSet,
    pub permitted: CapsHashSet,
    pub ambient: CapsHashSet,
}

fn convert(set: &Option<SpecCaps>, supported: &CapsHashSet) -> CapsHashSet {
    set.iter()
        .flatten()
        .filter_map(|c| format!("CAP_{c}").parse::<Capability>().ok())
        .filter(|c| supported.contains(c))
        .collect()
}

impl CapabilitySets {
    pub fn from_spec(c: &LinuxCapabilities) -> Self {
        let supported = caps::runtime::thread_all_supported();
        CapabilitySets {
            bounding: convert(c.bounding(), &supported),
            effective: convert(c.effective(), &supported),
            inheritable: convert(c.inheritable(), &supported),
            permitted: convert(c.permitted(), &supported),
            ambient: convert(c.ambient(), &supported),
        }
    }

    /// Drops every capability not in the bounding set. Needs CAP_SETPCAP, so it runs before
    /// the user switch.
    pub fn drop_bounding(&self) -> Result<(), SysError> {
        for cap in caps::runtime::thread_all_supported() {
            if !self.bounding.contains(&cap) {
                caps::drop(None, CapSet::Bounding, cap)
                    .map_err(|e| err(&format!("drop {cap} from the bounding set"), e))?;
            }
        }
        Ok(())
    }

    /// Sets the inheritable, permitted, effective and ambient sets, in the order the kernel
    /// requires (effective within permitted, ambient within permitted and inheritable).
    pub fn apply(&self) -> Result<(), SysError> {
        // Effective first shrinks to what permitted will allow, so the permitted write below
        // never leaves effective outside it.
        let eff_now = caps::read(None, CapSet::Effective).unwrap_or_default();
        let eff_tmp: CapsHashSet = eff_now.intersection(&self.permitted).copied().collect();
        caps::set(None, CapSet::Effective, &eff_tmp)
            .map_err(|e| err("set effective capabilities", e))?;
        // Inheritable before permitted: the kernel only lets the inheritable set grow within
        // the current permitted set, and a spec may list inheritable capabilities that are not
        // permitted (runc sets all three in one capset(2) and accepts that).
        caps::set(None, CapSet::Inheritable, &self.inheritable)
            .map_err(|e| err("set inheritable capabilities", e))?;
        caps::set(None, CapSet::Permitted, &self.permitted)
            .map_err(|e| err("set permitted capabilities", e))?;
        caps::set(None, CapSet::Effective, &self.effective)
            .map_err(|e| err("set effective capabilities", e))?;
        caps::clear(None, CapSet::Ambient).map_err(|e| err("clear ambient capabilities", e))?;
        // The kernel keeps an ambient capability only if it is both permitted and inheritable.
        // runc's default spec lists ambient capabilities without an inheritable set; like runc,
        // those are left out rather than failing the container.
        for cap in self
            .ambient
            .iter()
            .filter(|c| self.permitted.contains(c) && self.inheritable.contains(c))
        {
            caps::raise(None, CapSet::Ambient, *cap)
                .map_err(|e| err(&format!("raise ambient capability {cap}"), e))?;
        }
        Ok(())
    }
}

fn err(step: &str, e: caps::errors::CapsError) -> SysError {
    SysError::new(step, Cause::Other(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_names_convert_to_kernel_capabilities() {
        let c: LinuxCapabilities = serde_json::from_value(serde_json::json!({
            "bounding": ["CAP_KILL", "CAP_NET_BIND_SERVICE"],
            "effective": ["CAP_KILL"]
        }))
        .unwrap();
        let s = CapabilitySets::from_spec(&c);
        assert!(s.bounding.contains(&Capability::CAP_KILL));
        assert!(s.bounding.contains(&Capability::CAP_NET_BIND_SERVICE));
        assert_eq!(s.effective.len(), 1);
        assert!(s.permitted.is_empty());
    }

    #[test]
    fn unknown_capability_name_is_a_parse_error() {
        let r: Result<LinuxCapabilities, _> =
            serde_json::from_value(serde_json::json!({"bounding": ["CAP_NOT_A_THING"]}));
        assert!(r.is_err());
    }
}
