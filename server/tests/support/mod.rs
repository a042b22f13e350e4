//! Shared by the tests that run the real binary: starting it and reading
//! its "ready" line, and killing it when the test is done.

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout, Command, Stdio};

/// Reads the binary's first line (`SSE hub ready: http://…/sse-demo`, or
/// with `--log-format json` an object whose `url` is that URL) and returns
/// the base URL and the line, with the rest of its stdout.
fn ready(child: &mut Child) -> (String, String, BufReader<ChildStdout>) {
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout piped"));
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let url = match serde_json::from_str::<serde_json::Value>(&line) {
        Ok(v) => v["url"].as_str().map(str::to_string),
        Err(_) => line
            .trim()
            .strip_prefix("SSE hub ready: ")
            .map(str::to_string),
    };
    let base = url
        .as_deref()
        .and_then(|u| u.strip_suffix("/sse-demo"))
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    (base, line.trim_end().to_string(), stdout)
}

/// A running binary, killed (and reaped) when dropped.
pub struct Running {
    pub child: Child,
    /// `http://127.0.0.1:PORT` (or `https://`).
    pub base: String,
    /// The ready line it printed first (read by some of the test binaries
    /// that share this file, not all).
    #[allow(dead_code)]
    pub ready_line: String,
    /// What it prints after its ready line (demo mode's warning), held
    /// open for as long as it runs.
    pub stdout: BufReader<ChildStdout>,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Kept open until the child is gone: its writes never meet a
        // closed pipe.
        let _ = &self.stdout;
    }
}

/// Starts `cmd` with its stdout piped and waits for its ready line.
pub fn run(cmd: &mut Command) -> Running {
    let mut child = cmd
        .stdout(Stdio::piped())
        .spawn()
        .expect("server binary starts");
    let (base, ready_line, stdout) = ready(&mut child);
    Running {
        child,
        base,
        ready_line,
        stdout,
    }
}
