//! The Python side of the SDK checks: `<target>/sdk-venv` with tests/sdk/requirements.txt
//! installed, built once and reused while that file is unchanged, and child processes bounded by a
//! timeout with their output captured for the failure message.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// `python3 -m venv` plus `pip install` together, on a cold pip cache and a slow network.
const INSTALL_TIMEOUT: Duration = Duration::from_secs(300);
/// Inside the venv; holds the requirements.txt it was built from.
const MARKER: &str = "lunaroute-requirements.txt";
const NO_PYTHON: &str = "python3 is not on PATH: the SDK tests (tests/sdk/README.md) need \
                         Python 3 with its venv module to build target/sdk-venv";

/// The venv's python, building the venv on first use. One build per test process: parallel tests
/// wait here, and a failure is reported to every test instead of being retried.
pub(super) fn sdk_python() -> Result<PathBuf, String> {
    static PYTHON: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    PYTHON
        .get_or_init(|| {
            let started = Instant::now();
            let python = ensure_venv();
            eprintln!("sdk venv ready in {:.1?}: {python:?}", started.elapsed());
            python
        })
        .clone()
}

pub(super) fn requirements_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sdk/requirements.txt")
}

fn python_in(venv: &Path) -> PathBuf {
    venv.join(if cfg!(windows) {
        "Scripts/python.exe"
    } else {
        "bin/python"
    })
}

fn is_ready(venv: &Path, requirements: &str) -> bool {
    let marker = std::fs::read_to_string(venv.join(MARKER));
    marker.is_ok_and(|m| m == requirements) && python_in(venv).exists()
}

/// `<target>/sdk-venv` with requirements.txt installed. A new venv is built beside it as
/// `sdk-venv.partial-<pid>` and renamed into place when complete, so an interrupted build never
/// looks ready and two test processes never write into the same directory.
fn ensure_venv() -> Result<PathBuf, String> {
    let requirements_file = requirements_path();
    let requirements = std::fs::read_to_string(&requirements_file)
        .map_err(|e| format!("{requirements_file:?}: {e}"))?;
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    // `join` keeps an absolute CARGO_TARGET_DIR and resolves a relative one from the manifest.
    let target =
        manifest.join(std::env::var_os("CARGO_TARGET_DIR").unwrap_or_else(|| "target".into()));
    let venv = target.join("sdk-venv");
    if is_ready(&venv, &requirements) {
        return Ok(python_in(&venv));
    }
    std::fs::create_dir_all(&target).map_err(|e| format!("creating {target:?}: {e}"))?;
    remove_stale_partials(&target);
    let partial = target.join(format!("sdk-venv.partial-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&partial);
    let built = build_venv(&partial, &requirements_file).and_then(|()| {
        std::fs::write(partial.join(MARKER), &requirements)
            .map_err(|e| format!("writing marker: {e}"))
    });
    if let Err(e) = built {
        let _ = std::fs::remove_dir_all(&partial);
        return Err(e);
    }
    // A venv with other requirements (or half deleted) is replaced only now that ours works.
    let _ = std::fs::remove_dir_all(&venv);
    match std::fs::rename(&partial, &venv) {
        Ok(()) => Ok(python_in(&venv)),
        // Another test process renamed its venv first; it is just as good.
        Err(_) if is_ready(&venv, &requirements) => {
            let _ = std::fs::remove_dir_all(&partial);
            Ok(python_in(&venv))
        }
        Err(e) => Err(format!("renaming {partial:?} to {venv:?}: {e}")),
    }
}

fn build_venv(dir: &Path, requirements_file: &Path) -> Result<(), String> {
    let deadline = Instant::now() + INSTALL_TIMEOUT;
    let mut venv = Command::new("python3");
    venv.args(["-m", "venv"]).arg(dir);
    let out = run_bounded(venv, INSTALL_TIMEOUT).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => NO_PYTHON.to_string(),
        _ => format!("running python3 -m venv: {e}"),
    })?;
    if !out.success() {
        return Err(out.report(&format!("python3 -m venv {dir:?}")));
    }
    let mut pip = Command::new(python_in(dir));
    pip.args([
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "--no-input",
        "--quiet",
        "-r",
    ])
    .arg(requirements_file);
    let out = run_bounded(pip, deadline.saturating_duration_since(Instant::now()))
        .map_err(|e| format!("running pip in {dir:?}: {e}"))?;
    if !out.success() {
        return Err(out.report(&format!("pip install -r {requirements_file:?}")));
    }
    Ok(())
}

/// Partial venvs left by a killed test process; a live build is at most INSTALL_TIMEOUT old.
fn remove_stale_partials(target: &Path) {
    let Ok(entries) = std::fs::read_dir(target) else {
        return;
    };
    for entry in entries.flatten() {
        let age = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok());
        let partial = entry
            .file_name()
            .to_string_lossy()
            .starts_with("sdk-venv.partial-");
        if partial && age.is_some_and(|age| age > 4 * INSTALL_TIMEOUT) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

// === bounded child processes ===

pub(super) struct Finished {
    /// `None`: killed at the timeout.
    status: Option<ExitStatus>,
    elapsed: Duration,
    stdout: String,
    stderr: String,
}

impl Finished {
    pub(super) fn success(&self) -> bool {
        self.status.is_some_and(|s| s.success())
    }

    pub(super) fn report(&self, what: &str) -> String {
        let how = match self.status {
            Some(status) => format!("exited with {status} after {:.1?}", self.elapsed),
            None => format!("was killed after {:.1?} (timeout)", self.elapsed),
        };
        format!(
            "{what} {how}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.stdout, self.stderr
        )
    }
}

/// Runs `cmd` with its output captured, killing it once `timeout` has passed.
pub(super) fn run_bounded(mut cmd: Command, timeout: Duration) -> std::io::Result<Finished> {
    let started = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    // Drained on threads so a chatty child never blocks on a full pipe while we wait for it.
    let stdout = drain(child.stdout.take().expect("piped stdout"));
    let stderr = drain(child.stderr.take().expect("piped stderr"));
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break Some(status);
        }
        if started.elapsed() >= timeout {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Ok(Finished {
        status,
        elapsed: started.elapsed(),
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    })
}

fn drain(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}
