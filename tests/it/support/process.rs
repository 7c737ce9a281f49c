//! The real `lunaroute-server` binary as a subprocess, for the tests that need a process of its
//! own (exit codes, signals, `kill -9`): a throw-away HOME, an empty environment, a guard that
//! kills the child on drop, and stderr forwarded line by line so every wait can be bounded.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_lunaroute-server");

/// A directory used as HOME (and for any files) for one run, removed afterwards.
pub struct TempHome(PathBuf);

impl TempHome {
    pub fn new() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("lunaroute-it-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp HOME");
        Self(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn write(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, contents).expect("write temp file");
        path
    }
}

impl Drop for TempHome {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The binary with nothing inherited: no LUNAROUTE_* from the shell (or from a `figment::Jail` in a
/// concurrently running config test), HOME pointing at `home`, plain log output.
pub fn server(home: &TempHome) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env_clear()
        .env("HOME", home.path())
        .env("NO_COLOR", "1")
        .current_dir(home.path());
    cmd.stdin(Stdio::null());
    cmd
}

/// Runs to completion, killing the process if it takes longer than 30 s.
pub fn run(cmd: &mut Command) -> (Option<i32>, String, String) {
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn lunaroute-server");
    let guard = Guard(Some(child));
    let output = guard.wait_output(Duration::from_secs(30));
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (
        output.status.code(),
        text(&output.stdout),
        text(&output.stderr),
    )
}

/// Kills the child on drop, so a failed assertion never leaves a server running.
pub struct Guard(Option<Child>);

impl Guard {
    pub fn child(&mut self) -> &mut Child {
        self.0.as_mut().expect("child still owned")
    }

    pub fn wait_exit(&mut self, within: Duration) -> ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child().try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "lunaroute-server did not exit within {within:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn wait_output(mut self, within: Duration) -> Output {
        // Drain the pipes on threads so a chatty child cannot block on a full pipe.
        let mut out = self.child().stdout.take().expect("stdout piped");
        let mut err = self.child().stderr.take().expect("stderr piped");
        let out = std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = out.read_to_end(&mut buf);
            buf
        });
        let err = std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = err.read_to_end(&mut buf);
            buf
        });
        let status = self.wait_exit(within);
        Output {
            status,
            stdout: out.join().unwrap(),
            stderr: err.join().unwrap(),
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            if matches!(child.try_wait(), Ok(None)) {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

/// Spawns the server and waits (bounded) for its `listening on` line. Returns the guard, the
/// address, the stderr lines so far and the channel carrying the rest.
pub fn start(cmd: &mut Command) -> (Guard, String, Vec<String>, mpsc::Receiver<String>) {
    let child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn lunaroute-server");
    let mut guard = Guard(Some(child));
    // Forward stderr lines over a channel so every read can be bounded by a timeout.
    let stderr = guard.child().stderr.take().expect("stderr piped");
    let (tx, lines) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    let addr = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = lines
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("no `listening on` line; stderr so far: {seen:#?}"));
        let found = line.split("listening on http://").nth(1).map(|rest| {
            rest.chars()
                .take_while(|c| c.is_ascii_alphanumeric() || ".:[]".contains(*c))
                .collect::<String>()
        });
        seen.push(line);
        if let Some(addr) = found {
            break addr;
        }
    };
    (guard, addr, seen, lines)
}

/// Sends SIGTERM (the graceful shutdown every service manager uses).
pub fn sigterm(guard: &mut Guard) {
    signal(guard, "TERM");
}

/// Sends SIGINT (Ctrl-C in a terminal).
pub fn sigint(guard: &mut Guard) {
    signal(guard, "INT");
}

fn signal(guard: &mut Guard, name: &str) {
    let pid = guard.child().id().to_string();
    // An explicit PATH: a config test's `figment::Jail` may have cleared this process's environment.
    let killed = Command::new("kill")
        .args([&format!("-{name}"), &pid])
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .status()
        .expect("run kill");
    assert!(killed.success());
}
