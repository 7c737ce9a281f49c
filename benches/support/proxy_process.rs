//! The proxy under test, run as its own process: the real `lunaroute-server` binary Cargo built
//! for this bench, so its memory is its own and can be read from `/proc/<pid>/status`.
//!
//! It gets `--host 127.0.0.1 --port 0`, a throw-away `HOME` (no user config, no user data), both
//! providers pointed at the bench upstream through the flat `LUNAROUTE_*_BASE_URL` variables, and
//! none of the caller's other `LUNAROUTE_*` variables. The address comes from its
//! `listening on http://ADDR` log line. Dropping the handle kills the process, so a panicking
//! bench never leaves a proxy behind.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

/// How long the proxy may take to print its address.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a SIGTERM'd proxy may take to exit before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);
/// Stderr lines kept for the report (the proxy logs only at startup and shutdown at `info`).
const KEEP_LOG_LINES: usize = 200;

/// Memory figures from `/proc/<pid>/status`, in KiB.
#[derive(Clone, Copy, Debug, Default)]
pub struct Mem {
    /// Resident set size now.
    pub rss_kib: u64,
    /// Peak resident set size since start (`VmHWM`).
    pub hwm_kib: u64,
}

/// How the proxy exited when asked to.
pub struct Stopped {
    pub status: Option<ExitStatus>,
    pub took: Duration,
    /// `true` when it ignored SIGTERM for `STOP_TIMEOUT` and had to be killed.
    pub killed: bool,
}

pub struct ProxyProcess {
    child: Option<Child>,
    pub addr: SocketAddr,
    home: PathBuf,
    log: Arc<Mutex<Vec<String>>>,
}

// === impl ProxyProcess ===

impl ProxyProcess {
    /// Starts `binary` against the upstream at `upstream` and waits for its listening address,
    /// with `env` set on top (after the caller's `LUNAROUTE_*` variables are removed).
    /// Each proxy gets its own throw-away `HOME`, so several can run side by side.
    pub fn start_with(
        binary: &str,
        upstream: SocketAddr,
        env: &[(&str, String)],
    ) -> Result<Self, String> {
        static STARTED: AtomicUsize = AtomicUsize::new(0);
        let nth = STARTED.fetch_add(1, Ordering::Relaxed);
        let home =
            std::env::temp_dir().join(format!("lunaroute-bench-{}-{nth}", std::process::id()));
        std::fs::create_dir_all(&home).map_err(|e| format!("creating {}: {e}", home.display()))?;

        let mut cmd = Command::new(binary);
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("LUNAROUTE_") {
                cmd.env_remove(name);
            }
        }
        cmd.args(["--host", "127.0.0.1", "--port", "0"])
            .env("HOME", &home)
            .env("NO_COLOR", "1")
            .env("LUNAROUTE_ANTHROPIC_BASE_URL", format!("http://{upstream}"))
            .env("LUNAROUTE_OPENAI_BASE_URL", format!("http://{upstream}/v1"))
            .env("LUNAROUTE_SHUTDOWN_GRACE_SECS", "2")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (name, value) in env {
            cmd.env(name, value);
        }
        let mut child = cmd.spawn().map_err(|e| format!("starting {binary}: {e}"))?;
        let stderr = child.stderr.take().expect("stderr was piped");

        // Reads stderr for the whole run (a full pipe would stall the proxy) and reports the
        // first listening address. Ends at EOF, i.e. when the proxy exits.
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        let keep = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                // The IPv4 listener is bound (and logged) first; `[::1]` comes after it.
                if let Some(addr) = listening_addr(&line).filter(SocketAddr::is_ipv4) {
                    let _ = tx.send(addr);
                }
                let mut kept = keep.lock().unwrap_or_else(|e| e.into_inner());
                if kept.len() < KEEP_LOG_LINES {
                    kept.push(line);
                }
            }
        });

        let mut proxy = Self {
            child: Some(child),
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            home,
            log,
        };
        match rx.recv_timeout(STARTUP_TIMEOUT) {
            Ok(addr) => {
                proxy.addr = addr;
                Ok(proxy)
            }
            Err(_) => {
                // Give the reader a moment to collect the proxy's last words before quoting them.
                std::thread::sleep(Duration::from_millis(100));
                Err(format!(
                    "the proxy never said where it listens; its stderr:\n{}",
                    proxy.log().join("\n")
                ))
            }
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).unwrap_or(0)
    }

    /// The proxy's stderr so far.
    pub fn log(&self) -> Vec<String> {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// `VmRSS` and `VmHWM` now, or `None` once the process is gone.
    pub fn mem(&self) -> Option<Mem> {
        read_mem(self.pid())
    }

    /// CPU time used so far (see `read_cpu_time`).
    pub fn cpu_time(&self) -> Option<Duration> {
        read_cpu_time(self.pid())
    }

    /// SIGTERM (graceful shutdown), wait up to `STOP_TIMEOUT`, then SIGKILL if it is still there.
    pub fn stop(mut self) -> Stopped {
        let started = Instant::now();
        let Some(mut child) = self.child.take() else {
            return Stopped {
                status: None,
                took: Duration::ZERO,
                killed: false,
            };
        };
        // std has no SIGTERM without libc; the `kill` utility sends it to this one pid.
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        while started.elapsed() < STOP_TIMEOUT {
            if let Ok(Some(status)) = child.try_wait() {
                return Stopped {
                    status: Some(status),
                    took: started.elapsed(),
                    killed: false,
                };
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let status = child.wait().ok();
        Stopped {
            status,
            took: started.elapsed(),
            killed: true,
        }
    }

    /// [`stop`](Self::stop), then what went wrong, naming the proxy `who`: an unclean exit, and
    /// each `WARN` or `ERROR` line it logged before it was stopped.
    pub fn stop_and_check(self, who: &str) -> Vec<String> {
        let log = self.log();
        let stopped = self.stop();
        let mut problems = Vec::new();
        match (stopped.status, stopped.killed) {
            (Some(status), false) if status.success() => {}
            (status, killed) => problems.push(format!(
                "{who} did not exit cleanly on SIGTERM (status {status:?}, killed: {killed}, after {:?})",
                stopped.took
            )),
        }
        let warnings = log
            .iter()
            .filter(|l| l.contains("WARN") || l.contains("ERROR"));
        problems.extend(warnings.map(|line| format!("{who} logged: {line}")));
        problems
    }
}

impl Drop for ProxyProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.home);
    }
}

/// `VmRSS` and `VmHWM` of `pid`, from `/proc/<pid>/status` (Linux only; `None` elsewhere).
pub fn read_mem(pid: u32) -> Option<Mem> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse::<u64>().ok())
    };
    Some(Mem {
        rss_kib: field("VmRSS:")?,
        hwm_kib: field("VmHWM:")?,
    })
}

/// User + system CPU time of `pid`, from `/proc/<pid>/stat` (fields 14 and 15, in clock ticks;
/// `USER_HZ` is 100 on every mainstream Linux, so this has 10 ms resolution).
pub fn read_cpu_time(pid: u32) -> Option<Duration> {
    read_stat_cpu_time(&format!("/proc/{pid}/stat"))
}

/// User + system CPU time from a `stat` file: `/proc/<pid>/stat` for a process (all its threads),
/// `/proc/<pid>/task/<tid>/stat` for one thread.
pub fn read_stat_cpu_time(path: &str) -> Option<Duration> {
    let stat = std::fs::read_to_string(path).ok()?;
    // The command name (field 2) may hold spaces; count fields after its closing paren.
    let after_name = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
    // `after_name` starts at field 3, so utime (14) and stime (15) are at 11 and 12.
    Some(Duration::from_millis((ticks(11)? + ticks(12)?) * 10))
}

/// `... LunaRoute 0.1.0 listening on http://127.0.0.1:43121` → the address.
fn listening_addr(line: &str) -> Option<SocketAddr> {
    let rest = &line[line.find("listening on http://")? + "listening on http://".len()..];
    let end = rest
        .find(|c: char| c.is_whitespace() || c == '\u{1b}')
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}
