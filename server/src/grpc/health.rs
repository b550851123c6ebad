//! `grpc.health.v1` as load balancers and Kubernetes read it: SERVING only while the store
//! can commit.
//!
//! A probe runs every [`PROBE_EVERY`]: the embedded store must not be poisoned (a failed
//! flush stops every write), a PostgreSQL store must answer `SELECT 1` within
//! [`PROBE_TIMEOUT`]. When it cannot, the server as a whole (`""`) and every entente
//! service report NOT_SERVING, until a probe succeeds again. Reads of what the server
//! holds in memory would still work, but a balancer should send clients where writes do.

use std::time::Duration;

use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use crate::scheduler::{Scheduler, WeakScheduler};

/// How often the store is probed.
pub const PROBE_EVERY: Duration = Duration::from_secs(1);
/// How long a probe may take before the store counts as down.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Probes `scheduler`'s store for as long as it lives and reports each of `services` (and
/// the server, `""`) SERVING or NOT_SERVING by the result.
pub fn follow_store(scheduler: &Scheduler, reporter: HealthReporter, services: Vec<&'static str>) {
    let weak = scheduler.downgrade();
    tokio::spawn(probe(weak, reporter, services));
}

async fn probe(weak: WeakScheduler, reporter: HealthReporter, services: Vec<&'static str>) {
    let mut tick = tokio::time::interval(PROBE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut serving = true;
    loop {
        tick.tick().await;
        let Some(scheduler) = Scheduler::upgrade(&weak) else {
            return;
        };
        let outcome = tokio::time::timeout(PROBE_TIMEOUT, scheduler.store_ready()).await;
        drop(scheduler);
        let ready = matches!(outcome, Ok(Ok(())));
        if ready == serving {
            continue;
        }
        serving = ready;
        match outcome {
            Ok(Ok(())) => tracing::info!("the store answers again: SERVING"),
            Ok(Err(e)) => tracing::warn!(error = %e, "the store cannot commit: NOT_SERVING"),
            Err(_) => tracing::warn!(
                timeout = ?PROBE_TIMEOUT,
                "the store does not answer: NOT_SERVING"
            ),
        }
        let status = if ready {
            ServingStatus::Serving
        } else {
            ServingStatus::NotServing
        };
        for name in std::iter::once("").chain(services.iter().copied()) {
            reporter.set_service_status(name, status).await;
        }
    }
}
