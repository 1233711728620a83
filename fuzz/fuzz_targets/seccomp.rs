//! The seccomp profile compiler from text: `parse_profile` (the JSON of `linux.seccomp`), then
//! compilation checked against the profile's meaning (`rind_fuzz::check_seccomp`). An input
//! that starts with the cache file's magic is read as a cached filter instead
//! (`Program::from_bytes`), which must refuse anything the kernel would not load.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rind::linux::seccomp::fuzzing::check;
use rind::linux::seccomp::{Program, parse_profile};

fuzz_target!(|data: &[u8]| {
    if data.starts_with(b"RINDBPF\0") {
        if let Ok(p) = Program::from_bytes(data) {
            if let Err(e) = check(p.instructions()) {
                panic!("a cached filter the kernel would refuse was accepted: {e}");
            }
            assert_eq!(Program::from_bytes(&p.to_bytes()).ok(), Some(p));
        }
        return;
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(profile) = parse_profile(text) {
        rind_fuzz::check_seccomp(&profile, &mut rind_fuzz::noise_from(data));
    }
});
