//! The `main` both benches share: the full run under `cargo bench` (which passes `--bench`), the
//! few-second smoke run otherwise (`cargo test --benches`), on a two-worker tokio runtime. The
//! report is printed, after a full run also written to `target/bench-<name>.json`, and the exit
//! code fails when the run could not finish or found problems.

use super::client::BoxError;
use std::future::Future;
use std::path::PathBuf;
use std::process::ExitCode;

/// What a bench run hands back to [`main`].
pub trait Outcome {
    /// The table on stdout.
    fn print(&self);
    /// The JSON file.
    fn to_json(&self) -> serde_json::Value;
    /// Things that went wrong; any one fails the run.
    fn problems(&self) -> &[String];
}

/// Runs `run` with `full` or `smoke` (see the module doc); `name` names the bench in messages
/// and the JSON file.
pub fn main<P, R, F>(
    name: &str,
    full: &'static P,
    smoke: &'static P,
    run: impl FnOnce(&'static P) -> F,
) -> ExitCode
where
    R: Outcome,
    F: Future<Output = Result<R, BoxError>>,
{
    let full_run = std::env::args().any(|a| a == "--bench");
    let plan = if full_run { full } else { smoke };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    match runtime.block_on(run(plan)) {
        Ok(report) => {
            report.print();
            if full_run {
                let path = target_dir().join(format!("bench-{name}.json"));
                let text = serde_json::to_string_pretty(&report.to_json()).unwrap_or_default();
                match std::fs::write(&path, text + "\n") {
                    Ok(()) => println!("\nwrote {}", path.display()),
                    Err(e) => eprintln!("could not write {}: {e}", path.display()),
                }
            }
            if report.problems().is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("{name} bench failed: {e}");
            ExitCode::FAILURE
        }
    }
}

/// CPUs this process may use (0 when unknown), for the report's header.
pub fn cpus() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0)
}

/// Where `cargo` puts build output: `$CARGO_TARGET_DIR`, else `target/` in the package.
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"))
}
