//! config.json: `spec::load` (which cuts `linux.seccomp` out as text and parses the rest), the
//! profile's own parse, `spec::validate` and the device rules; and, whenever the profile
//! parses, its compilation (`rind_fuzz::check_seccomp`).
//!
//! The property beyond "no panic": the split parse means what the whole file means. `load`
//! plus `SeccompText::parse` succeed exactly when `parse_config` of the whole file does, and
//! give the same spec.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rind::spec;

fuzz_target!(|data: &[u8]| {
    let bundle = rind_fuzz::sandbox::enter().join("bundle");
    let _ = std::fs::create_dir(&bundle);
    std::fs::write(bundle.join("config.json"), data).expect("write config.json");

    let whole = spec::parse_config(data);
    let split = spec::load(&bundle).map(|loaded| {
        let profile = loaded.seccomp.as_ref().map(|t| t.parse());
        (loaded.spec, profile)
    });
    let spec = match (whole, split) {
        (Err(_), Err(_)) => return,
        (Ok(_), Err(e)) => panic!("load refuses a file parse_config accepts: {e}"),
        (Err(_), Ok((_, Some(Err(_))))) => return,
        (Err(w), Ok(_)) => panic!("load accepts a file parse_config refuses: {w}"),
        (Ok(_), Ok((_, Some(Err(e))))) => {
            panic!("the profile cut out does not parse, the whole file does: {e}")
        }
        (Ok(w), Ok((mut s, profile))) => {
            if let Some(Ok(p)) = profile {
                let mut linux = s.linux().clone().expect("a profile was cut out of linux");
                assert!(
                    linux.seccomp().is_none(),
                    "load left the profile in the spec"
                );
                linux.set_seccomp(Some(p));
                s.set_linux(Some(linux));
            }
            assert_eq!(s, w, "the split parse differs from the whole parse");
            w
        }
    };
    let _ = spec::validate(&spec);
    let _ = spec::device_rules(&spec);
    if let Some(profile) = spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()) {
        rind_fuzz::check_seccomp(profile, &mut rind_fuzz::noise_from(data));
    }
});
