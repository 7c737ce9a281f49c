//! `Tasks`: spawned work that shutdown has to account for (connections with their HTTP/2 streams,
//! WebSocket relays). Each task is counted while it runs, so `server::run` can say how many are
//! open, wait (bounded by the grace period) until none are, and then `cut` the rest. A cut task's
//! future is dropped on the spot, which runs the drops inside it (a response body's end phase, a
//! relay's recorder tap) before `idle` resolves; only then may the recorder shut down.
//!
//! A count and a cut flag in two `watch` channels rather than a `JoinSet`: hyper's executor spawns
//! HTTP/2 streams through `&self`, and nothing piles up to be reaped as tasks finish.

use std::future::Future;
use std::sync::Arc;
use tokio::sync::watch;

#[derive(Clone)]
pub(crate) struct Tasks {
    inner: Arc<Inner>,
}

struct Inner {
    live: watch::Sender<usize>,
    cut: watch::Sender<bool>,
}

impl Default for Tasks {
    fn default() -> Self {
        Self {
            inner: Arc::new(Inner {
                live: watch::Sender::new(0),
                cut: watch::Sender::new(false),
            }),
        }
    }
}

/// Counts one task from `spawn` until its future is gone (finished, cut, or the runtime dropped it).
struct Live(Arc<Inner>);

impl Drop for Live {
    fn drop(&mut self) {
        self.0.live.send_modify(|n| *n -= 1);
    }
}

impl Tasks {
    /// Runs `task` on the runtime, counted until it ends or is cut. After `cut`, `task` is dropped
    /// without being polled again (it may still finish within the poll that sees the cut, see
    /// `cut_signal`).
    pub fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        self.inner.live.send_modify(|n| *n += 1);
        let live = Live(self.inner.clone());
        let cut = self.cut_signal();
        tokio::spawn(async move {
            tokio::select! {
                biased;
                () = task => {}
                () = cut => {}
            }
            // `task` is gone by now: whatever its drops record is queued before the count falls.
            drop(live);
        });
    }

    /// Tasks running now.
    pub fn len(&self) -> usize {
        *self.inner.live.borrow()
    }

    /// Resolves once no task is running.
    pub async fn idle(&self) {
        let mut live = self.inner.live.subscribe();
        let _ = live.wait_for(|n| *n == 0).await;
    }

    /// Ends every task: from now on each is dropped at its next wake-up (woken at once).
    pub fn cut(&self) {
        self.inner.cut.send_replace(true);
    }

    /// Whether `cut` was called: a body dropped now was cut by the proxy, not left by its client.
    pub fn is_cut(&self) -> bool {
        *self.inner.cut.borrow()
    }

    /// Resolves on `cut`. A task that selects on it ends itself in the poll that sees the cut
    /// (`spawn` polls the task first), so it can say why before it goes.
    pub fn cut_signal(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut cut = self.inner.cut.subscribe();
        async move {
            let _ = cut.wait_for(|cut| *cut).await;
        }
    }
}

/// hyper's executor for a connection's own tasks (HTTP/2 streams): counted like the connection, so
/// a stream's response body is dropped (and its request recorded) before shutdown moves on.
#[derive(Clone)]
pub(crate) struct TrackedExecutor(pub Tasks);

impl<F> hyper::rt::Executor<F> for TrackedExecutor
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn execute(&self, fut: F) {
        self.0.spawn(async move {
            fut.await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    /// Sets its flag when dropped: stands in for a response body's end phase.
    struct Dropped(Arc<AtomicBool>);
    impl Drop for Dropped {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    #[tokio::test]
    async fn counts_tasks_until_they_finish() {
        let tasks = Tasks::default();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tasks.spawn(async {
            let _ = rx.await;
        });
        tasks.spawn(async {});
        assert!(tasks.len() >= 1);
        let _ = tx.send(());
        tokio::time::timeout(Duration::from_secs(5), tasks.idle())
            .await
            .expect("idle once both finished");
        assert_eq!(tasks.len(), 0);
    }

    #[tokio::test]
    async fn cut_drops_a_pending_task_before_idle_resolves() {
        let tasks = Tasks::default();
        let dropped = Arc::new(AtomicBool::new(false));
        let guard = Dropped(dropped.clone());
        tasks.spawn(async move {
            let _guard = guard;
            std::future::pending::<()>().await;
        });
        assert!(!tasks.is_cut());
        assert!(
            tokio::time::timeout(Duration::from_millis(50), tasks.idle())
                .await
                .is_err(),
            "a pending task keeps the set busy"
        );
        tasks.cut();
        assert!(tasks.is_cut());
        tokio::time::timeout(Duration::from_secs(5), tasks.idle())
            .await
            .expect("idle right after the cut");
        assert!(dropped.load(Ordering::SeqCst), "the task's drops ran first");
    }

    #[tokio::test]
    async fn a_task_watching_the_cut_signal_ends_itself() {
        let tasks = Tasks::default();
        let said = Arc::new(AtomicBool::new(false));
        let (cut, said2) = (tasks.cut_signal(), said.clone());
        tasks.spawn(async move {
            tokio::select! {
                () = std::future::pending::<()>() => {}
                () = cut => said2.store(true, Ordering::SeqCst),
            }
        });
        tasks.cut();
        tokio::time::timeout(Duration::from_secs(5), tasks.idle())
            .await
            .expect("idle");
        assert!(said.load(Ordering::SeqCst), "the task saw the cut itself");
    }
}
