//! Cooperative cancellation of a running sweep or count: the caller (the Python binding,
//! on SIGINT) sets the flag, and every worker polls it between small runs of candidates,
//! so a stop takes milliseconds whatever the size of the space.
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::{Error, Result};

/// Candidates a worker evaluates between two looks at the flag: small enough that even
/// the slowest family (a transformers memory model, ~100 µs) stops within tens of ms.
pub const POLL_EVERY: u64 = 256;

#[derive(Debug, Default)]
pub struct Cancel(AtomicBool);

impl Cancel {
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// `Err(Error::Cancelled)` once cancelled, for `?` in the workers.
    pub fn check(&self) -> Result<()> {
        if self.is_cancelled() {
            Err(Error::Cancelled)
        } else {
            Ok(())
        }
    }
}
