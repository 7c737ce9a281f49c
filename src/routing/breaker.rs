//! One provider's circuit breaker: closed (requests go) → open after `failure_threshold`
//! consecutive failures (requests skip it for `open_secs`) → half-open (one probe request goes; its
//! success closes the breaker, its failure opens it again). Also the provider's `retry-after`
//! cool-down. Exported as `lunaroute_circuit_breaker_state{provider}` and a transitions counter.
//!
//! A failure is what the fallback loop would move on for: unreachable, no headers in time, 5xx.
//! A 429 is a provider that is up but busy: it counts as a success here and cools the provider
//! down for its `retry-after` instead.

use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    Closed,
    Open,
    HalfOpen,
}

impl State {
    /// The gauge value: 0 closed, 1 open, 2 half-open.
    fn gauge(self) -> f64 {
        match self {
            Self::Closed => 0.0,
            Self::Open => 1.0,
            Self::HalfOpen => 2.0,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::Open => "open",
            Self::HalfOpen => "half_open",
        }
    }
}

struct Inner {
    state: State,
    failures: u32,
    opened_at: Instant,
    /// A half-open probe is out: nobody else goes until it reports.
    probing: bool,
    /// `retry-after`: no requests until then.
    cooldown_until: Option<Instant>,
}

pub(crate) struct Breaker {
    name: &'static str,
    threshold: u32,
    open_for: Duration,
    inner: Mutex<Inner>,
}

/// Why a provider is skipped right now, and for how long at least.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Unavailable {
    pub retry_in: Duration,
    /// Cooling down after a 429 (else: breaker open, or its probe is out).
    pub rate_limited: bool,
}

/// Leave to send one request. Report how it went with `success`/`failure`; dropped without a
/// report (the client left), a probe frees its slot so the next request can probe.
pub(crate) struct Permit<'a> {
    breaker: &'a Breaker,
    probe: bool,
    reported: bool,
}

// === impl Breaker ===

impl Breaker {
    pub fn new(name: &'static str, threshold: u32, open_for: Duration) -> Self {
        crate::metrics::circuit_breaker_state(name, State::Closed.gauge());
        Self {
            name,
            threshold: threshold.max(1),
            open_for,
            inner: Mutex::new(Inner {
                state: State::Closed,
                failures: 0,
                opened_at: Instant::now(),
                probing: false,
                cooldown_until: None,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding this lock cannot leave the state half-written (plain fields).
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    #[cfg(test)]
    pub fn state(&self) -> State {
        self.lock().state
    }

    fn set(&self, inner: &mut Inner, to: State) {
        if inner.state != to {
            inner.state = to;
            crate::metrics::circuit_breaker_state(self.name, to.gauge());
            crate::metrics::circuit_breaker_transition(self.name, to.name());
        }
    }

    /// May a request go to this provider now?
    pub fn admit(&self) -> Result<Permit<'_>, Unavailable> {
        let now = Instant::now();
        let mut inner = self.lock();
        if let Some(until) = inner.cooldown_until {
            if until > now {
                return Err(Unavailable {
                    retry_in: until - now,
                    rate_limited: true,
                });
            }
            inner.cooldown_until = None;
        }
        let probe = match inner.state {
            State::Closed => false,
            State::Open => {
                let reopens = inner.opened_at + self.open_for;
                if now < reopens {
                    return Err(Unavailable {
                        retry_in: reopens - now,
                        rate_limited: false,
                    });
                }
                self.set(&mut inner, State::HalfOpen);
                true
            }
            State::HalfOpen if inner.probing => {
                return Err(Unavailable {
                    retry_in: Duration::from_secs(1),
                    rate_limited: false,
                })
            }
            State::HalfOpen => true,
        };
        inner.probing |= probe;
        Ok(Permit {
            breaker: self,
            probe,
            reported: false,
        })
    }

    /// An open breaker whose `open_secs` ran out is half-open (the next request probes), even
    /// while no request comes to move it there: `/metrics` calls this before it renders, so the
    /// gauge never shows a provider as open when it would be tried.
    pub fn refresh(&self) {
        let mut inner = self.lock();
        if inner.state == State::Open && Instant::now() >= inner.opened_at + self.open_for {
            self.set(&mut inner, State::HalfOpen);
        }
    }

    /// Whether `admit` would let a request through now (without taking a probe slot): the
    /// fallback loop only gives up a provider's error answer when someone else can still try.
    pub fn available(&self) -> bool {
        let now = Instant::now();
        let inner = self.lock();
        if inner.cooldown_until.is_some_and(|until| until > now) {
            return false;
        }
        match inner.state {
            State::Closed => true,
            State::Open => now >= inner.opened_at + self.open_for,
            State::HalfOpen => !inner.probing,
        }
    }

    /// The provider asked for no requests for `wait` (already capped by the caller).
    pub fn cool_down(&self, wait: Duration) {
        if wait.is_zero() {
            return;
        }
        let until = Instant::now() + wait;
        let mut inner = self.lock();
        if inner.cooldown_until.is_none_or(|u| u < until) {
            inner.cooldown_until = Some(until);
        }
    }

    fn report(&self, probe: bool, ok: bool) {
        let mut inner = self.lock();
        if probe {
            inner.probing = false;
        }
        if ok {
            inner.failures = 0;
            self.set(&mut inner, State::Closed);
            return;
        }
        inner.failures = inner.failures.saturating_add(1);
        let trips = match inner.state {
            State::HalfOpen => true,
            State::Closed => inner.failures >= self.threshold,
            // Requests admitted before it opened report late: they keep it open, no new start.
            State::Open => false,
        };
        if trips {
            inner.opened_at = Instant::now();
            self.set(&mut inner, State::Open);
        }
    }
}

// === impl Permit ===

impl Permit<'_> {
    pub fn success(mut self) {
        self.reported = true;
        self.breaker.report(self.probe, true);
    }

    pub fn failure(mut self) {
        self.reported = true;
        self.breaker.report(self.probe, false);
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if self.probe && !self.reported {
            self.breaker.lock().probing = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_the_threshold_then_probes_once_and_closes() {
        let b = Breaker::new("unit-breaker-a", 2, Duration::from_millis(40));
        b.admit().unwrap().failure();
        assert_eq!(b.state(), State::Closed);
        b.admit().unwrap().success();
        b.admit().unwrap().failure();
        assert_eq!(
            b.state(),
            State::Closed,
            "a success in between resets the count"
        );
        b.admit().unwrap().failure();
        assert_eq!(b.state(), State::Open);
        let skipped = b.admit().err().expect("open: skipped");
        assert!(!skipped.rate_limited && skipped.retry_in <= Duration::from_millis(40));

        std::thread::sleep(Duration::from_millis(50));
        let probe = b.admit().expect("the probe goes");
        assert_eq!(b.state(), State::HalfOpen);
        assert!(b.admit().is_err(), "only one probe at a time");
        drop(probe);
        let probe = b.admit().expect("an abandoned probe frees the slot");
        probe.failure();
        assert_eq!(b.state(), State::Open, "a failed probe opens it again");
        std::thread::sleep(Duration::from_millis(50));
        b.admit().unwrap().success();
        assert_eq!(b.state(), State::Closed);
        b.admit().unwrap().success();
    }

    #[test]
    fn retry_after_cools_the_provider_down() {
        let b = Breaker::new("unit-breaker-b", 1, Duration::from_secs(60));
        b.cool_down(Duration::from_millis(30));
        let skipped = b.admit().err().expect("cooling down");
        assert!(skipped.rate_limited);
        std::thread::sleep(Duration::from_millis(40));
        b.admit().expect("cool-down over").success();
        assert_eq!(b.state(), State::Closed);
    }

    #[test]
    fn an_idle_open_breaker_reads_half_open_once_its_time_is_up() {
        let b = Breaker::new("unit-breaker-c", 1, Duration::from_millis(40));
        b.admit().unwrap().failure();
        b.refresh();
        assert_eq!(b.state(), State::Open, "still within open_secs");
        std::thread::sleep(Duration::from_millis(50));
        b.refresh();
        assert_eq!(b.state(), State::HalfOpen, "no request needed to get there");
        let probe = b.admit().expect("the probe goes");
        assert!(b.admit().is_err(), "and only the probe");
        probe.success();
        assert_eq!(b.state(), State::Closed);
    }
}
