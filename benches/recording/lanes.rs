//! The latency phase's sides: one keep-alive connection per way to the upstream (direct, through
//! the proxy without recording, recording, recording with PII redaction), each with its own
//! conversation series, measured in interleaved batches.

use crate::support::client::{self, Conn, Samples, Target};
use crate::workload::Workload;
use crate::{BoxError, Plan};

/// direct, off, on, pii.
pub const SIDES: usize = 4;

/// One way to the upstream, with its own conversation series (same bodies as the other sides).
pub struct Lane {
    pub name: &'static str,
    pub target: Target,
    pub conn: Conn,
    pub series: u16,
    /// Requests built (and sent) so far on this lane.
    pub sent: u64,
}

// === impl Lane ===

impl Lane {
    pub async fn open(name: &'static str, target: Target, series: u16) -> Result<Self, BoxError> {
        Ok(Self {
            name,
            target,
            conn: Conn::open(target).await?,
            series,
            sent: 0,
        })
    }

    pub async fn paced(
        &mut self,
        plan: &Plan,
        workload: &Workload,
        stream: bool,
        expect_len: usize,
        n: usize,
    ) -> Samples {
        let Self {
            target,
            conn,
            series,
            sent,
            ..
        } = self;
        let next = || {
            *sent += 1;
            workload.request(*series, *sent - 1, stream)
        };
        client::paced_with(conn, *target, expect_len, n, plan.period, next).await
    }
}

/// `count` paced requests per side in batches; the side that goes first rotates every batch.
pub async fn interleaved(
    plan: &Plan,
    workload: &Workload,
    lanes: &mut [Lane; SIDES],
    stream: bool,
    expect_len: usize,
    count: usize,
) -> [Samples; SIDES] {
    let mut samples: [Samples; SIDES] = std::array::from_fn(|_| Samples::default());
    for batch in 0..count.div_ceil(plan.batch) {
        let n = plan.batch.min(count - batch * plan.batch);
        for k in 0..SIDES {
            let side = (batch + k) % SIDES;
            samples[side].absorb(
                lanes[side]
                    .paced(plan, workload, stream, expect_len, n)
                    .await,
            );
        }
    }
    samples
}
