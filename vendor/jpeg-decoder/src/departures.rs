//! picday: a record, per thread, of the decodes in which this copy took a path where it
//! knowingly differs from upstream 0.3.2 on damaged data (PICDAY.md, change 2). The
//! differential fuzz target compares this copy's pixels with upstream's and needs to tell
//! those documented departures from a bug. Compiled only with `--cfg fuzzing`.

use std::cell::Cell;

thread_local! {
    static RUN_PAST_BLOCK: Cell<u32> = const { Cell::new(0) };
    static RESTART_SKIP: Cell<u32> = const { Cell::new(0) };
    static TRAILING_INTERVALS: Cell<u32> = const { Cell::new(0) };
}

/// What one decode did that upstream does differently.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Departures {
    /// (a): a coefficient whose run of zeros went past the end of its block, whose value bits
    /// this copy reads (upstream reads them only when the code is in its lookup table).
    pub run_past_block: u32,
    /// (b): a restart interval with bytes left unread at its RST marker, which this copy
    /// skips (upstream fails when they are more than its look-ahead).
    pub restart_skip: u32,
    /// (c): a sequential scan whose data holds more restart intervals than its MCUs need: this
    /// copy reads the scan to its first marker that is not RST and ignores the rest (upstream
    /// fails with "RST found outside of entropy-coded data" at the second RST it meets there).
    pub trailing_intervals: u32,
}

/// The departures recorded on this thread since the last call, which clears them.
pub fn take() -> Departures {
    Departures {
        run_past_block: RUN_PAST_BLOCK.replace(0),
        restart_skip: RESTART_SKIP.replace(0),
        trailing_intervals: TRAILING_INTERVALS.replace(0),
    }
}

pub(crate) fn run_past_block() {
    RUN_PAST_BLOCK.set(RUN_PAST_BLOCK.get() + 1);
}

pub(crate) fn restart_skip() {
    RESTART_SKIP.set(RESTART_SKIP.get() + 1);
}

pub(crate) fn trailing_intervals() {
    TRAILING_INTERVALS.set(TRAILING_INTERVALS.get() + 1);
}
