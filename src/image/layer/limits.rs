//! Bounds on what one layer may expand to, so that a small hostile archive cannot fill the
//! disk or the inode table.

/// Limits applied to every layer while it streams. The defaults admit any real image we know
/// of (a Debian rootfs expands about 2x under gzip) while stopping a 1 MiB gzip of zeros long
/// before it reaches a gigabyte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnpackLimits {
    /// Uncompressed bytes (tar stream, and file bytes written, sparse files included) may not
    /// exceed `max_ratio` times the compressed bytes read so far, once past `ratio_floor`.
    pub max_ratio: u64,
    /// Below this many uncompressed bytes the ratio is not checked: small layers of text or
    /// zeros compress far better than 100:1 and are harmless.
    pub ratio_floor: u64,
    /// Hard cap on the uncompressed size of one layer.
    pub max_layer_bytes: u64,
    /// Hard cap on the number of tar entries in one layer.
    pub max_entries: u64,
}

pub const ENV_MAX_RATIO: &str = "RIND_MAX_LAYER_RATIO";
pub const ENV_MAX_BYTES: &str = "RIND_MAX_LAYER_BYTES";
pub const ENV_MAX_ENTRIES: &str = "RIND_MAX_LAYER_ENTRIES";

impl Default for UnpackLimits {
    fn default() -> Self {
        UnpackLimits {
            max_ratio: 100,
            ratio_floor: 256 << 20,
            max_layer_bytes: 64 << 30,
            max_entries: 2_000_000,
        }
    }
}

impl UnpackLimits {
    /// The defaults, with any of `RIND_MAX_LAYER_RATIO`, `RIND_MAX_LAYER_BYTES` and
    /// `RIND_MAX_LAYER_ENTRIES` that are set to a number taking their place. Returns an error
    /// naming the variable when one is set to something that is not a number.
    pub fn from_env() -> Result<UnpackLimits, String> {
        let mut l = UnpackLimits::default();
        for (var, slot) in [
            (ENV_MAX_RATIO, &mut l.max_ratio),
            (ENV_MAX_BYTES, &mut l.max_layer_bytes),
            (ENV_MAX_ENTRIES, &mut l.max_entries),
        ] {
            if let Ok(v) = std::env::var(var) {
                *slot = v
                    .trim()
                    .parse()
                    .map_err(|_| format!("{var}={v:?}: want a whole number"))?;
            }
        }
        Ok(l)
    }

    /// The most uncompressed bytes allowed after `compressed` bytes of input.
    pub fn budget(&self, compressed: u64) -> u64 {
        self.max_ratio
            .saturating_mul(compressed)
            .max(self.ratio_floor)
            .min(self.max_layer_bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_is_floor_then_ratio_then_cap() {
        let l = UnpackLimits {
            max_ratio: 10,
            ratio_floor: 1000,
            max_layer_bytes: 5000,
            max_entries: 1,
        };
        assert_eq!(l.budget(1), 1000);
        assert_eq!(l.budget(200), 2000);
        assert_eq!(l.budget(10_000), 5000);
    }
}
