//! Heavy work: requests whose cost grows with their input or the store (FindSlots, an
//! iCalendar import, a feed render, a holiday import's parse) run here rather than on the
//! async workers, so that one client's big request never stalls everyone else's small
//! ones.
//!
//! - [`Stop`]: cooperative cancellation. Heavy loops call [`Stop::check`] every so often;
//!   it fails once the caller has gone (its call cancelled, or the server's request
//!   timeout dropped it), so abandoned work stops within milliseconds instead of running
//!   to the end on a core nobody is waiting for.
//! - [`Pool`]: runs such work on threads of its own, at most `workers` at once for the
//!   whole server and one at a time per office: an office's second heavy request queues
//!   behind its first, and its waiting costs nothing but a place in the queue. Being at most
//!   one fewer than the cores, the pool always leaves a core to the async workers.
//!
//! The pool's threads run at the usual priority, not a lower one: heavy work still takes
//! the state's read lock for moments (an import reads the store event by event), and a
//! low-priority thread preempted while it holds the lock makes every writer wait until the
//! scheduler gets back to it (a priority inversion; see bench/README.md, "One client
//! against everyone else").

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::Semaphore;

use crate::error::{Error, Result};
use crate::lock;

pub use crate::stop::Stop;

/// Sets its stop when dropped: held by the future that awaits the work, so a caller who
/// goes away (which drops that future) stops the work.
#[derive(Debug)]
struct StopOnDrop(Stop);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.set();
    }
}

/// Where heavy work runs: see the module docs.
#[derive(Debug)]
pub struct Pool {
    workers: Arc<Semaphore>,
    offices: Mutex<HashMap<String, Arc<Semaphore>>>,
    threads: Threads,
}

impl Default for Pool {
    /// One worker fewer than the machine has cores (at least one), so that at least one
    /// core is left for everything else.
    fn default() -> Pool {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Pool::new(cores.saturating_sub(1).max(1))
    }
}

impl Pool {
    /// A pool that runs at most `workers` pieces of heavy work at once.
    pub fn new(workers: usize) -> Pool {
        let workers = workers.max(1);
        Pool {
            workers: Arc::new(Semaphore::new(workers)),
            offices: Mutex::new(HashMap::new()),
            threads: Threads::new(workers),
        }
    }

    /// Runs `f` on one of the pool's threads once `office` has no other heavy work running
    /// and a worker is free; `f` gets the [`Stop`] that is set if this future is dropped.
    pub async fn run<T: Send + 'static>(
        &self,
        office: &str,
        f: impl FnOnce(&Stop) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let turn = self.turn(office).await?;
        self.work_holding(turn, f).await
    }

    /// Waits until `office` has no other heavy request running; its next one waits until
    /// the returned turn is dropped. For a request that runs pieces of work ([`Pool::work`])
    /// between awaits of its own.
    pub async fn turn(&self, office: &str) -> Result<Turn> {
        let turn = {
            let mut offices = lock(&self.offices);
            offices
                .entry(office.to_string())
                .or_insert_with(|| Arc::new(Semaphore::new(1)))
                .clone()
        };
        let permit = turn
            .acquire_owned()
            .await
            .map_err(|_| Error::ShuttingDown)?;
        Ok(Turn(Some(permit)))
    }

    /// Runs `f` on one of the pool's threads once a worker is free (the caller holds its
    /// office's [`Pool::turn`]).
    pub async fn work<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Stop) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        self.work_holding(Turn(None), f).await
    }

    async fn work_holding<T: Send + 'static>(
        &self,
        turn: Turn,
        f: impl FnOnce(&Stop) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let worker = self
            .workers
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| Error::ShuttingDown)?;
        let stop = Stop::default();
        let guard = StopOnDrop(stop.clone());
        let (tx, rx) = tokio::sync::oneshot::channel();
        // The permits go with the work: a caller that gives up frees its turn and worker
        // only once the work has seen the stop, so cancelling and asking again never runs
        // more than the limits allow.
        self.threads.send(Box::new(move || {
            let _held = (turn, worker);
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&stop)));
            let _ = tx.send(result);
        }))?;
        let result = rx.await.map_err(|_| Error::ShuttingDown)?;
        drop(guard);
        match result {
            Ok(r) => r,
            // The caller's panic, as if the work had run in its task.
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
}

type Job = Box<dyn FnOnce() + Send + 'static>;

/// The pool's threads, started on first use and ended when the pool is dropped.
#[derive(Debug)]
struct Threads {
    count: usize,
    queue: Mutex<Option<std::sync::mpsc::Sender<Job>>>,
}

impl Threads {
    fn new(count: usize) -> Threads {
        Threads {
            count,
            queue: Mutex::new(None),
        }
    }

    fn send(&self, job: Job) -> Result<()> {
        let mut queue = lock(&self.queue);
        if queue.is_none() {
            let (tx, rx) = std::sync::mpsc::channel::<Job>();
            let rx = Arc::new(Mutex::new(rx));
            for i in 0..self.count {
                let rx = rx.clone();
                std::thread::Builder::new()
                    .name(format!("entente-heavy-{i}"))
                    .spawn(move || {
                        // Ends when the pool (the only sender) is dropped.
                        while let Ok(job) = { lock(&rx).recv() } {
                            job();
                        }
                    })
                    .map_err(|e| Error::Io {
                        context: "starting a heavy-work thread".into(),
                        source: e,
                    })?;
            }
            *queue = Some(tx);
        }
        queue
            .as_ref()
            .and_then(|tx| tx.send(job).ok())
            .ok_or(Error::ShuttingDown)
    }
}

/// An office's turn at heavy work (see [`Pool::turn`]): held, never read.
#[derive(Debug)]
pub struct Turn(#[allow(dead_code)] Option<tokio::sync::OwnedSemaphorePermit>);

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn dropping_the_caller_stops_the_work() {
        let pool = Arc::new(Pool::new(1));
        let (seen_tx, seen_rx) = std::sync::mpsc::channel();
        let (started_tx, started_rx) = tokio::sync::oneshot::channel();
        let p = pool.clone();
        let call = tokio::spawn(async move {
            p.run("office", move |stop| {
                let _ = started_tx.send(());
                while stop.check().is_ok() {
                    std::thread::yield_now();
                }
                let _ = seen_tx.send(());
                Ok(())
            })
            .await
        });
        started_rx.await.expect("started");
        call.abort();
        tokio::task::spawn_blocking(move || {
            seen_rx
                .recv_timeout(std::time::Duration::from_secs(5))
                .expect("the work saw its stop")
        })
        .await
        .expect("joined");
        // The worker is free again for the same office.
        pool.run("office", |_| Ok(())).await.expect("runs");
    }
}
