//! Process priorities, as on the BEAM: `max`, `high`, `normal`, `low`.
//!
//! A scheduler always runs `max` work first, then `high`, then `normal` and `low`, which
//! share one level where a `low` process runs once for every [`LOW_SKIPS`] `normal` picks
//! while normal work waits (erl_process.c `RESCHEDULE_LOW`, 8).

/// Normal picks per low pick while both have work.
pub const LOW_SKIPS: u32 = 8;

/// A process priority.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[repr(u8)]
pub enum Priority {
    /// Runs before everything else.
    Max = 0,
    /// Runs before normal and low.
    High = 1,
    /// The default.
    #[default]
    Normal = 2,
    /// Runs when normal work has had its turns.
    Low = 3,
}

impl Priority {
    pub(crate) fn from_u8(v: u8) -> Priority {
        match v {
            0 => Priority::Max,
            1 => Priority::High,
            3 => Priority::Low,
            _ => Priority::Normal,
        }
    }

    /// All priorities, highest first.
    pub const ALL: [Priority; 4] = [Priority::Max, Priority::High, Priority::Normal, Priority::Low];
}
