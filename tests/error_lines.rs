//! Every error is one line, on stderr and in `--log` (issue 13, item 8): a value quoted from a
//! config (through serde's messages) has its newlines and escape sequences escaped, and a
//! 20 KB path is cut to its head and tail. Engines read stderr and the log line by line.

mod common;

use common::*;
use serde_json::{Value, json};

/// Runs `create` of `b`, with `--log FILE --log-format FORMAT`; asserts it fails, and returns
/// stderr and the log's lines.
fn failed_create(rt: &Runtime, b: &Bundle, format: &str) -> (String, Vec<String>) {
    b.write();
    let log = rt.root.path().join(format!(".log-{}", unique("l")));
    let id = unique("oneline");
    let err = rt.fails(&[
        "--log",
        log.to_str().unwrap(),
        "--log-format",
        format,
        "create",
        "--bundle",
        b.path().to_str().unwrap(),
        &id,
    ]);
    let lines = std::fs::read_to_string(&log)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect();
    let _ = std::fs::remove_file(&log);
    assert!(
        !rt.root.path().join(&id).exists(),
        "a failed create left its state"
    );
    (err, lines)
}

/// The start of `text`, for a failure message that must not itself be 20 KB.
fn head(text: &str) -> String {
    text.chars().take(300).collect()
}

fn assert_one_clean_line(what: &str, text: &str) {
    let body = text.strip_suffix('\n').unwrap_or(text);
    assert!(
        !body.contains('\n'),
        "{what} is not one line: {:?}",
        head(text)
    );
    assert!(
        !body.chars().any(|c| c.is_control()),
        "{what} holds a control character: {:?}",
        head(text)
    );
}

#[test]
fn a_config_value_with_newlines_and_escapes_stays_on_one_escaped_line() {
    let rt = Runtime::new();
    let mut b = Bundle::sh("true");
    // serde quotes an unknown variant in its message.
    b.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "pid\nforged line\u{1b}[31mred\r\tx"}));
    for format in ["text", "json"] {
        let (err, log) = failed_create(&rt, &b, format);
        assert_one_clean_line("stderr", &err);
        assert!(err.starts_with("rind: "), "{err}");
        assert!(err.contains(r"pid\nforged line\u{1b}[31mred\r\tx"), "{err}");
        let errors: Vec<&String> = log.iter().filter(|l| l.contains("error")).collect();
        assert_eq!(errors.len(), 1, "{format} log: {log:?}");
        assert_one_clean_line("log line", errors[0]);
        if format == "json" {
            let v: Value = serde_json::from_str(errors[0]).unwrap();
            assert_eq!(v["level"], "error");
            let msg = v["msg"].as_str().unwrap();
            assert!(!msg.contains('\n') && !msg.contains('\u{1b}'), "{msg:?}");
        }
    }
}

#[test]
fn a_20_kb_path_in_an_error_is_cut_to_its_head_and_tail() {
    let rt = Runtime::new();
    let mut b = Bundle::sh("true");
    let deep = format!("/{}x", "d/".repeat(10_000));
    b.add_mount(json!({"destination": deep, "type": "tmpfs", "source": "tmpfs"}));
    for format in ["text", "json"] {
        let (err, log) = failed_create(&rt, &b, format);
        assert_one_clean_line("stderr", &err);
        assert!(err.len() < 1000, "{} bytes: {}", err.len(), head(&err));
        assert!(err.contains("/d/d/d/") && err.contains('…'), "{err}");
        assert!(err.trim_end().ends_with("file name too long"), "{err}");
        let errors: Vec<&String> = log.iter().filter(|l| l.contains("error")).collect();
        assert_eq!(errors.len(), 1, "{format} log: {log:?}");
        assert!(errors[0].len() < 1200, "{} bytes", errors[0].len());
        if format == "json" {
            let v: Value = serde_json::from_str(errors[0]).unwrap();
            assert!(v["msg"].as_str().unwrap().ends_with("file name too long"));
        }
    }
}
