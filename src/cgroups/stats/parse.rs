//! Parsers for the cgroup statistics files. Each takes the file's text and returns plain values;
//! the caller adds the path to any error.

use std::collections::BTreeMap;

use super::BlkioEntry;

/// A flat-keyed file (`memory.stat`, `cpu.stat`, `memory.events`): `key value` per line. Lines
/// that do not parse are skipped (kernels add fields; some are not numbers).
pub fn flat_keyed(text: &str) -> BTreeMap<String, u64> {
    text.lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let (k, v) = (it.next()?, it.next()?);
            Some((k.to_string(), super::super::files::parse_u64(v)?))
        })
        .collect()
}

/// One line of a nested-keyed file (`io.stat`): `8:0 rbytes=1 wbytes=2`.
pub struct NestedLine {
    pub major: u64,
    pub minor: u64,
    pub values: BTreeMap<String, u64>,
}

/// Parses a nested-keyed file whose lines start with `MAJOR:MINOR`.
pub fn nested_keyed(text: &str) -> Vec<NestedLine> {
    let mut out = Vec::new();
    for line in text.lines() {
        let mut it = line.split_whitespace();
        let Some((major, minor)) = it.next().and_then(|d| d.split_once(':')) else {
            continue;
        };
        let (Ok(major), Ok(minor)) = (major.parse(), minor.parse()) else {
            continue;
        };
        let values = it
            .filter_map(|kv| {
                let (k, v) = kv.split_once('=')?;
                Some((k.to_string(), super::super::files::parse_u64(v)?))
            })
            .collect();
        out.push(NestedLine {
            major,
            minor,
            values,
        });
    }
    out
}

/// A v1 blkio recursive file: `8:0 Read 1024` per device and operation, then `Total N` (which
/// runc leaves out, as it does here).
pub fn blkio_v1(text: &str) -> Vec<BlkioEntry> {
    let mut out = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let (dev, op, value) = match f.as_slice() {
            [dev, op, value] => (*dev, op.to_string(), *value),
            // Files without an operation column (blkio.time_recursive, sectors).
            [dev, value] if dev.contains(':') => (*dev, String::new(), *value),
            _ => continue,
        };
        let Some((major, minor)) = dev.split_once(':') else {
            continue;
        };
        let (Ok(major), Ok(minor), Ok(value)) = (major.parse(), minor.parse(), value.parse())
        else {
            continue;
        };
        out.push(BlkioEntry {
            major,
            minor,
            op,
            value,
        });
    }
    out
}

/// v2 `io.stat` as runc reports it in the v1 shape: bytes and operations per direction.
/// Returns (bytes entries, operations entries).
pub fn io_stat_v2(text: &str) -> (Vec<BlkioEntry>, Vec<BlkioEntry>) {
    let mut bytes = Vec::new();
    let mut ios = Vec::new();
    for line in nested_keyed(text) {
        for (key, op, is_bytes) in [
            ("rbytes", "Read", true),
            ("wbytes", "Write", true),
            ("dbytes", "Discard", true),
            ("rios", "Read", false),
            ("wios", "Write", false),
            ("dios", "Discard", false),
        ] {
            if let Some(&value) = line.values.get(key) {
                let table = if is_bytes { &mut bytes } else { &mut ios };
                table.push(BlkioEntry {
                    major: line.major,
                    minor: line.minor,
                    op: op.into(),
                    value,
                });
            }
        }
    }
    (bytes, ios)
}

/// A cpu or memory-node list (`0-3,8,10-11`).
pub fn cpu_list(text: &str) -> Option<Vec<u16>> {
    let mut out = Vec::new();
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (u16, u16) = (a.parse().ok()?, b.parse().ok()?);
                if a > b {
                    return None;
                }
                out.extend(a..=b);
            }
            None => out.push(part.parse().ok()?),
        }
    }
    Some(out)
}

/// Space-separated numbers (`cpuacct.usage_percpu`).
pub fn numbers(text: &str) -> Vec<u64> {
    text.split_whitespace()
        .filter_map(|n| n.parse().ok())
        .collect()
}

/// `cpuacct.usage_all`: a header line, then `cpu user system` per cpu, in nanoseconds.
/// Returns (per-cpu kernel, per-cpu user).
pub fn cpuacct_usage_all(text: &str) -> (Vec<u64>, Vec<u64>) {
    let mut kernel = Vec::new();
    let mut user = Vec::new();
    for line in text.lines().skip(1) {
        let n = numbers(line);
        if let [_, u, s] = n.as_slice() {
            user.push(*u);
            kernel.push(*s);
        }
    }
    (kernel, user)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_keyed_reads_numbers_and_max() {
        let m = flat_keyed("usage_usec 1500\nnr_periods 3\nbogus\nlow 0\nmax max\n");
        assert_eq!(m["usage_usec"], 1500);
        assert_eq!(m["nr_periods"], 3);
        assert_eq!(m["max"], u64::MAX);
        assert!(!m.contains_key("bogus"));
    }

    #[test]
    fn io_stat_maps_to_runc_blkio_entries() {
        let (bytes, ios) = io_stat_v2(
            "8:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n253:1 rbytes=1 wbytes=0 rios=1 wios=0\n",
        );
        assert_eq!(bytes.len(), 5);
        assert_eq!(
            bytes[0],
            BlkioEntry {
                major: 8,
                minor: 0,
                op: "Read".into(),
                value: 4096
            }
        );
        assert_eq!(bytes[1].op, "Write");
        assert_eq!(bytes[1].value, 8192);
        assert_eq!(ios.iter().filter(|e| e.major == 253).count(), 2);
    }

    #[test]
    fn blkio_v1_skips_the_total_line() {
        let e = blkio_v1("8:0 Read 100\n8:0 Write 50\n8:0 Total 150\nTotal 150\n");
        assert_eq!(e.len(), 3);
        assert_eq!(e[2].op, "Total");
        assert_eq!(blkio_v1("8:16 7\n")[0].value, 7);
    }

    #[test]
    fn cpu_lists_expand_ranges() {
        assert_eq!(cpu_list("0-2,5,7-8\n").unwrap(), vec![0, 1, 2, 5, 7, 8]);
        assert_eq!(cpu_list("").unwrap(), Vec::<u16>::new());
        assert!(cpu_list("3-1").is_none());
        assert!(cpu_list("a").is_none());
    }

    #[test]
    fn cpuacct_usage_all_splits_user_and_system() {
        let (k, u) = cpuacct_usage_all("cpu user system\n0 100 20\n1 300 40\n");
        assert_eq!(u, vec![100, 300]);
        assert_eq!(k, vec![20, 40]);
    }
}
