//! `rind run --image`: every image source, exit codes, --rm, names, the docker-style flags,
//! and a second container that unpacks nothing. Run as root with the image fixtures built.

mod common;
mod shell_support;

use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::process::Stdio;

use shell_support::{Shell, busybox_ref, cgroup_file, images};

const IMG: &str = "busybox";

#[test]
fn run_from_each_source_prints_the_output_and_returns_the_exit_code() {
    let images = images();
    let sources = [
        busybox_ref(&images),
        format!("oci:{}:busybox", images.join("oci-zstd").display()),
        format!(
            "oci-archive:{}:busybox",
            images.join("busybox-oci.tar").display()
        ),
        format!(
            "docker-archive:{}",
            images.join("whiteouts-docker.tar").display()
        ),
    ];
    for src in &sources {
        let sh = Shell::new();
        let out = sh.run(&["run", "--image", src, "--rm"]);
        assert!(
            out.status.success(),
            "{src}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "hello from busybox\n",
            "{src}"
        );
        let out = sh.run(&[
            "run",
            "--image",
            src,
            "--rm",
            "--",
            "echo to stderr >&2; exit 3",
        ]);
        assert_eq!(out.status.code(), Some(3), "{src}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("to stderr"),
            "{src}"
        );
        sh.assert_clean();
    }
    // The docker-archive holds the whiteouts image: its second layer's deletions apply, and
    // the WorkingDir that its opaque /home hides is made again (root-owned), as docker does.
    let sh = Shell::new();
    let out = sh.sh(
        &sources[3],
        &[],
        "pwd; stat -c %U /home/tester; test -e /etc/hostname && echo hostname; test -e /bin/vi && echo vi; cat /opt/rel-link >/dev/null && echo ok",
    );
    assert_eq!(out, "/home/tester\nroot\nok\n");
    sh.assert_clean();
}

#[test]
fn a_stored_image_runs_by_name_and_the_image_config_applies() {
    let images = images();
    let sh = Shell::with_image(&busybox_ref(&images), IMG);
    let out = sh.sh(IMG, &[], "echo $GREETING; pwd; id -un; hostname");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[..3], ["hi", "/home/tester", "tester"]);
    // The hostname defaults to the container's generated name.
    assert!(lines[3].contains('_'), "{out}");
    sh.assert_clean();
}

#[test]
fn a_second_container_from_the_same_image_unpacks_nothing() {
    let images = images();
    let src = busybox_ref(&images);
    let sh = Shell::new();
    let first = sh.run(&["run", "--image", &src, "--rm"]);
    assert!(first.status.success());
    assert!(String::from_utf8_lossy(&first.stderr).contains("unpacked"));
    let layers = sh.store.path().join("layers/sha256");
    let layer = std::fs::read_dir(&layers)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let before = std::fs::metadata(layer.join("diff")).unwrap();

    let second = sh.run(&["run", "--image", &src, "--rm"]);
    assert!(second.status.success());
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(
        err.contains("already in the store") && !err.contains("unpacked"),
        "{err}"
    );
    let after = std::fs::metadata(layer.join("diff")).unwrap();
    assert_eq!((before.ino(), before.mtime()), (after.ino(), after.mtime()));

    // Two running containers share the layer; each writes only to its own upper directory.
    let a = sh.detach(&src, &["-u", "root"], "echo a > /mark; sleep 100");
    let b = sh.detach(&src, &["-u", "root"], "sleep 100");
    assert_eq!(
        sh.mounts().len(),
        2,
        "{}",
        shell_support::mountinfo_lines_under(sh.store.path()).join("\n")
    );
    let bundle = |n: &str| sh.store.path().join("containers").join(n);
    sh.wait_for("a's write", || bundle(&a).join("upper/mark").exists());
    assert!(!bundle(&b).join("upper/mark").exists());
    assert!(!layer.join("diff/mark").exists());
    sh.ok(&["rm", "-f", &a, &b]);
    sh.assert_clean();
}

#[test]
fn without_rm_the_container_stays_until_rm_and_names_are_unique() {
    let images = images();
    let sh = Shell::with_image(&busybox_ref(&images), IMG);
    let out = sh.run(&["run", "--image", IMG, "--name", "keeper", "--", "exit 4"]);
    assert_eq!(out.status.code(), Some(4));
    assert_eq!(sh.status("keeper").as_deref(), Some("stopped"));
    assert_eq!(sh.inspect("keeper")["exitCode"], 4);
    assert_eq!(sh.bundles(), ["keeper"]);
    // The name is taken now, by --name or by the positional id.
    let err = sh.fails(&["run", "--image", IMG, "--name", "keeper"]);
    assert!(err.contains("already in use"), "{err}");
    let err = sh.fails(&["run", "--image", IMG, "keeper"]);
    assert!(err.contains("already in use"), "{err}");
    sh.ok(&["rm", "keeper"]);

    let a = sh.detach(IMG, &[], "sleep 100");
    let b = sh.detach(IMG, &[], "sleep 100");
    assert_ne!(a, b);
    for n in [&a, &b] {
        let (adj, noun) = n.split_once('_').unwrap_or_else(|| panic!("{n}"));
        assert!(adj.chars().all(|c| c.is_ascii_lowercase()), "{n}");
        assert!(noun.chars().all(|c| c.is_ascii_lowercase()), "{n}");
    }
    sh.ok(&["rm", "-f", &a, &b]);
    sh.assert_clean();
}

#[test]
fn env_workdir_user_hostname_and_read_only_flags_apply() {
    let images = images();
    let sh = Shell::with_image(&busybox_ref(&images), IMG);
    let out = sh.sh(
        IMG,
        &[
            "-e",
            "GREETING=hello",
            "-e",
            "NEW=1",
            "-w",
            "/tmp",
            "-u",
            "root",
            "--hostname",
            "box",
        ],
        "echo $GREETING $NEW; pwd; id -u; hostname; touch /x && echo wrote",
    );
    assert_eq!(out, "hello 1\n/tmp\n0\nbox\nwrote\n");
    let out = sh.sh(
        IMG,
        &["-u", "0:100", "--read-only"],
        "id -g; touch /x 2>&1; echo rc=$?",
    );
    assert!(out.starts_with("100\n"), "{out}");
    assert!(
        out.contains("Read-only file system") && out.ends_with("rc=1\n"),
        "{out}"
    );
    sh.assert_clean();
}

#[test]
fn memory_cpu_and_pids_flags_set_the_cgroup() {
    let images = images();
    let sh = Shell::with_image(&busybox_ref(&images), IMG);
    let name = sh.detach(
        IMG,
        &["-m", "64m", "--cpus", "1.5", "--pids-limit", "20"],
        "sleep 100",
    );
    let pid = sh.inspect(&name)["state"]["pid"].as_i64().unwrap();
    let mem = cgroup_file(pid, "memory", "memory.limit_in_bytes", "memory.max");
    assert_eq!(mem, (64u64 << 20).to_string());
    assert_eq!(cgroup_file(pid, "pids", "pids.max", "pids.max"), "20");
    let quota = cgroup_file(pid, "cpu", "cpu.cfs_quota_us", "cpu.max");
    if quota.contains(' ') {
        assert_eq!(quota, "150000 100000");
    } else {
        assert_eq!(quota, "150000");
        assert_eq!(cgroup_file(pid, "cpu", "cpu.cfs_period_us", ""), "100000");
    }
    let cgroups = cgroup_dirs(&sh.inspect(&name)["cgroup"]);
    assert!(!cgroups.is_empty() && cgroups.iter().all(|d| std::path::Path::new(d).exists()));
    sh.ok(&["rm", "-f", &name]);
    for d in cgroups {
        assert!(!std::path::Path::new(&d).exists(), "cgroup {d} left");
    }
    sh.assert_clean();
}

/// Every path in an inspect "cgroup" object.
pub fn cgroup_dirs(v: &serde_json::Value) -> Vec<String> {
    match v {
        serde_json::Value::String(s) if s.starts_with('/') => vec![s.clone()],
        serde_json::Value::Object(m) => m.values().flat_map(cgroup_dirs).collect(),
        _ => Vec::new(),
    }
}

#[test]
fn volumes_bind_host_paths_read_write_or_read_only() {
    let images = images();
    let sh = Shell::with_image(&busybox_ref(&images), IMG);
    let host = common::TempDir::new("vol");
    std::fs::write(host.path().join("in"), "from host\n").unwrap();
    let v = format!("{}:/data", host.path().display());
    let out = sh.sh(
        IMG,
        &["-u", "root", "-v", &v],
        "cat /data/in; echo from ctr > /data/out",
    );
    assert_eq!(out, "from host\n");
    assert_eq!(
        std::fs::read_to_string(host.path().join("out")).unwrap(),
        "from ctr\n"
    );
    let ro = format!("{v}:ro");
    let out = sh.sh(
        IMG,
        &["-u", "root", "-v", &ro],
        "cat /data/in; touch /data/x 2>&1; echo rc=$?",
    );
    assert!(
        out.contains("from host") && out.contains("Read-only file system"),
        "{out}"
    );
    assert!(!host.path().join("x").exists());
    sh.assert_clean();
}

#[test]
fn net_none_has_only_loopback_and_it_is_up_and_net_host_shares_the_host_namespace() {
    let images = images();
    let sh = Shell::with_image(&busybox_ref(&images), IMG);
    // 0x9 = IFF_UP | IFF_LOOPBACK.
    let out = sh.sh(
        IMG,
        &["--net", "none"],
        "ls /sys/class/net; cat /sys/class/net/lo/flags",
    );
    assert_eq!(out, "lo\n0x9\n");
    let out = sh.sh(
        IMG,
        &["-u", "root"],
        "ping -c 1 -W 2 127.0.0.1 >/dev/null && echo pong",
    );
    assert_eq!(out, "pong\n");

    let host_net = std::fs::read_link("/proc/self/ns/net").unwrap();
    let none = sh.detach(IMG, &[], "sleep 100");
    let host = sh.detach(IMG, &["--net", "host"], "sleep 100");
    let ns = |n: &str| {
        let pid = sh.inspect(n)["state"]["pid"].as_i64().unwrap();
        std::fs::read_link(format!("/proc/{pid}/ns/net")).unwrap()
    };
    assert_ne!(ns(&none), host_net);
    assert_eq!(ns(&host), host_net);
    assert_eq!(sh.inspect(&host)["network"], "host");
    sh.ok(&["rm", "-f", &none, &host]);
    sh.assert_clean();
}

#[test]
fn stdin_is_dev_null_unless_interactive() {
    let images = images();
    let sh = Shell::with_image(&busybox_ref(&images), IMG);
    let input = common::TempDir::new("stdin");
    let path = input.path().join("in");
    std::fs::File::create(&path)
        .unwrap()
        .write_all(b"typed\n")
        .unwrap();
    let run = |flags: &[&str]| {
        let mut args = vec!["run", "--image", IMG, "--rm"];
        args.extend_from_slice(flags);
        args.extend_from_slice(&["--", "cat"]);
        let out = sh
            .command(&args)
            .stdin(std::fs::File::open(&path).unwrap())
            .stdout(Stdio::piped())
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(run(&[]), "");
    assert_eq!(run(&["-i"]), "typed\n");
    sh.assert_clean();
}

#[test]
fn bad_flags_fail_with_one_line_and_leave_nothing() {
    let images = images();
    let sh = Shell::with_image(&busybox_ref(&images), IMG);
    for (flags, want) in [
        (vec!["--net", "bridge"], "--net"),
        (vec!["-v", "relative:/x"], "-v"),
        (
            vec!["-v", "/nonexistent-rind-vol:/x"],
            "no such file or directory",
        ),
        (vec!["-e", "NOEQUALS"], "-e"),
        (vec!["-w", "relative"], "-w"),
        (vec!["--cpus", "0"], "--cpus"),
        (vec!["-m", "lots"], "--memory"),
        (vec!["-u", "ghost"], "ghost"),
        (vec!["--name", "bad/name"], "invalid container id"),
        (vec!["-d", "-t"], "--console-socket"),
        (vec!["-d", "-i"], "-i"),
    ] {
        let mut args = vec!["run", "--image", IMG];
        args.extend_from_slice(&flags);
        let err = sh.fails(&args);
        assert!(err.contains(want), "{flags:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{flags:?}: {err}");
    }
    let err = sh.fails(&["run", "--image", "oci:/nonexistent-rind-layout:x"]);
    assert!(err.contains("nonexistent-rind-layout"), "{err}");
    // clap refuses mixing the bundle form with the image form (usage error, exit 2).
    let out = sh.run(&["run", "--image", IMG, "--bundle", "/tmp", "x"]);
    assert_eq!(out.status.code(), Some(2));
    sh.assert_clean();
}

#[test]
fn a_terminal_is_proxied_in_the_foreground_and_lo_is_up_there_too() {
    let images = images();
    let sh = Shell::with_image(&busybox_ref(&images), IMG);
    let out = sh.sh(IMG, &["-t"], "tty; echo $TERM; cat /sys/class/net/lo/flags");
    // The pty's line discipline turns each newline into CR LF.
    assert_eq!(
        out.replace("\r\n", "\n"),
        "/dev/pts/0\nxterm\n0x9\n",
        "{out:?}"
    );

    let input = common::TempDir::new("tty-stdin");
    let path = input.path().join("in");
    std::fs::write(&path, "typed\n").unwrap();
    let out = sh
        .command(&[
            "run",
            "--image",
            IMG,
            "--rm",
            "-it",
            "--",
            "read x; echo got $x; exit 6",
        ])
        .stdin(std::fs::File::open(&path).unwrap())
        .stdout(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(6));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("got typed"),
        "{out:?}"
    );
    sh.assert_clean();
}
