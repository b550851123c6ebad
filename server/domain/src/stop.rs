//! Cooperative cancellation: long computations (a slot search, an import) check a
//! [`Stop`] now and then and give up once their caller has gone away or run out of time
//! (`work` sets it).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::{Error, Result};

/// Tells heavy work to stop: set when its caller goes away.
#[derive(Debug, Default, Clone)]
pub struct Stop(Arc<AtomicBool>);

impl Stop {
    /// A stop nobody sets (an embedder's own call, a test).
    pub fn never() -> Stop {
        Stop::default()
    }

    /// Tells the work to stop.
    pub fn set(&self) {
        self.0.store(true, Ordering::Release);
    }

    /// Whether the work should stop.
    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }

    /// `Err` once the work should stop.
    pub fn check(&self) -> Result<()> {
        if self.is_set() {
            Err(Error::DeadlineExceeded(
                "the request was cancelled or ran out of time; its work stopped".into(),
            ))
        } else {
            Ok(())
        }
    }
}
