//! Shared by the tests that run the real binary: reading its "ready" line.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout};

/// Reads the binary's first line (`SSE hub ready: http://…/sse-demo`) and
/// returns the base URL, with the rest of its stdout.
pub fn ready(child: &mut Child) -> (String, BufReader<ChildStdout>) {
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout piped"));
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let base = line
        .trim()
        .strip_prefix("SSE hub ready: ")
        .and_then(|u| u.strip_suffix("/sse-demo"))
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    (base, stdout)
}
