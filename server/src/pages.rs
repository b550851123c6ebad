//! Small memory pages while a store opens.
//!
//! Opening a store touches its whole working set at once (~850 MiB at 1M events). The
//! server's allocator, mimalloc, asks Linux for transparent huge pages on its arenas, and
//! on a VM whose host takes back the memory that earlier processes freed, first-touching
//! 2 MiB pages made a cold open of 1M events take 2.4-2.9 s against 1.4-1.5 s with 4 KiB
//! pages (bench/README.md). Once the store is open, huge pages may still pay (fewer TLB
//! misses on index walks), so they are turned off for the open only; Linux's khugepaged
//! may merge the opened data into huge pages later, in the background.
//!
//! The switch is per process (`prctl(PR_SET_THP_DISABLE)`), so overlapping opens share it:
//! the first turns huge pages off, the last puts back what the first found. A process that
//! had turned them off itself keeps them off. Elsewhere than on Linux this does nothing.

use std::sync::{Mutex, MutexGuard};

/// Opens in progress, and whether the last one to finish turns huge pages back on.
struct Opening {
    count: usize,
    restore: bool,
}

static OPENING: Mutex<Opening> = Mutex::new(Opening {
    count: 0,
    restore: false,
});

fn opening() -> MutexGuard<'static, Opening> {
    // The state is two plain fields, consistent even if a holder panicked.
    OPENING
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Keeps transparent huge pages off for this process until dropped.
#[derive(Debug)]
pub(crate) struct SmallPages(());

impl SmallPages {
    /// Turns huge pages off, unless another open already did.
    pub(crate) fn new() -> SmallPages {
        let mut o = opening();
        if o.count == 0 {
            o.restore = turn_off();
        }
        o.count += 1;
        SmallPages(())
    }
}

impl Drop for SmallPages {
    fn drop(&mut self) {
        let mut o = opening();
        o.count -= 1;
        if o.count == 0 && std::mem::take(&mut o.restore) {
            turn_on();
        }
    }
}

/// Turns huge pages off; true if they were on (so they are to be turned back on).
#[cfg(target_os = "linux")]
fn turn_off() -> bool {
    use rustix::thread::{disable_transparent_huge_pages, transparent_huge_pages_are_disabled};
    matches!(transparent_huge_pages_are_disabled(), Ok(false))
        && disable_transparent_huge_pages(true).is_ok()
}

#[cfg(target_os = "linux")]
fn turn_on() {
    // Only a lost optimisation if it fails: nothing to report to a caller.
    if let Err(e) = rustix::thread::disable_transparent_huge_pages(false) {
        tracing::debug!(error = %e, "could not turn transparent huge pages back on");
    }
}

#[cfg(not(target_os = "linux"))]
fn turn_off() -> bool {
    false
}

#[cfg(not(target_os = "linux"))]
fn turn_on() {}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use rustix::thread::transparent_huge_pages_are_disabled as disabled;

    #[test]
    fn overlapping_opens_turn_huge_pages_off_until_the_last_one_ends() {
        // The only test in this crate that reads the flag; other tests' opens may overlap
        // and keep it off for longer, never turn it on early.
        // Where the sandbox refuses the prctl, an open just keeps the pages it gets.
        let Ok(before) = disabled() else { return };
        if rustix::thread::disable_transparent_huge_pages(before).is_err() {
            return;
        }
        let first = SmallPages::new();
        assert!(disabled().expect("prctl"));
        let second = SmallPages::new();
        drop(first);
        assert!(disabled().expect("prctl"), "still off while an open runs");
        drop(second);
        if !before {
            // Another test's open may still run: check at a moment when none does (the
            // lock keeps a new one from starting meanwhile).
            loop {
                let o = opening();
                if o.count == 0 {
                    assert!(!disabled().expect("prctl"), "back on once no open runs");
                    break;
                }
                drop(o);
                std::thread::yield_now();
            }
        }
    }
}
