//! Per-heap tuning knobs, with the BEAM's defaults and validation.
//!
//! # Invariants
//! 1. A [`HeapOptions`] accepted by [`HeapOptions::validate`] has `min_heap_size` at least
//!    [`MIN_ALLOWED_HEAP_SIZE`] and a `max_heap_size`, when set, at least `min_heap_size`.

use std::fmt;

use crate::sizes::{DEFAULT_FULLSWEEP_AFTER, DEFAULT_MIN_BIN_VHEAP_SIZE, DEFAULT_MIN_HEAP_SIZE};

/// The smallest `min_heap_size` accepted: the smallest table entry that holds a tuple of
/// a few elements. The BEAM accepts any table entry; tinier heaps only mean more GCs.
pub const MIN_ALLOWED_HEAP_SIZE: usize = 12;

/// Options of one process heap. `Default` gives the BEAM's defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeapOptions {
    /// Words of the first young heap and the floor for shrinking (`min_heap_size`, 233).
    pub min_heap_size: usize,
    /// Words of off-heap binary data referenced from the young heap before a collection is
    /// forced, and the floor of that budget (`min_bin_vheap_size`, 46422).
    pub min_bin_vheap_size: usize,
    /// Minor collections between two fullsweeps (`fullsweep_after`, 65535).
    pub fullsweep_after: u32,
    /// Largest total heap (young + old generation, words) a collection may leave; `None` is
    /// unlimited (`max_heap_size`, 0 on the BEAM).
    pub max_heap_size: Option<usize>,
}

impl Default for HeapOptions {
    fn default() -> Self {
        HeapOptions {
            min_heap_size: DEFAULT_MIN_HEAP_SIZE,
            min_bin_vheap_size: DEFAULT_MIN_BIN_VHEAP_SIZE,
            fullsweep_after: DEFAULT_FULLSWEEP_AFTER,
            max_heap_size: None,
        }
    }
}

/// Why a set of options was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfigError {
    /// `min_heap_size` below [`MIN_ALLOWED_HEAP_SIZE`].
    MinHeapTooSmall {
        /// The value given.
        given: usize,
    },
    /// `min_bin_vheap_size` was zero.
    VheapZero,
    /// `max_heap_size` below `min_heap_size`.
    MaxBelowMin {
        /// The max given.
        max: usize,
        /// The min in force.
        min: usize,
    },
    /// `max_heap_size` under the shared heap, where no process has a heap of its own.
    MaxHeapSizeShared,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::MinHeapTooSmall { given } => write!(
                f,
                "min_heap_size {given} words is too small; it must be at least {MIN_ALLOWED_HEAP_SIZE} words"
            ),
            ConfigError::VheapZero => write!(f, "min_bin_vheap_size must be at least 1 word"),
            ConfigError::MaxBelowMin { max, min } => {
                write!(f, "max_heap_size {max} words is below min_heap_size {min} words")
            }
            ConfigError::MaxHeapSizeShared => write!(
                f,
                "max_heap_size limits a process's own heap; under the shared heap no process has one"
            ),
        }
    }
}

impl std::error::Error for ConfigError {}

impl HeapOptions {
    /// Checks the options (Invariant 1).
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.min_heap_size < MIN_ALLOWED_HEAP_SIZE {
            return Err(ConfigError::MinHeapTooSmall { given: self.min_heap_size });
        }
        if self.min_bin_vheap_size == 0 {
            return Err(ConfigError::VheapZero);
        }
        if let Some(max) = self.max_heap_size {
            if max < self.min_heap_size {
                return Err(ConfigError::MaxBelowMin { max, min: self.min_heap_size });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_beams_and_valid() {
        let o = HeapOptions::default();
        assert_eq!((o.min_heap_size, o.min_bin_vheap_size, o.fullsweep_after), (233, 46422, 65535));
        assert_eq!(o.validate(), Ok(()));
    }

    #[test]
    fn bad_options_are_named() {
        let o = HeapOptions { min_heap_size: 3, ..Default::default() };
        assert_eq!(o.validate(), Err(ConfigError::MinHeapTooSmall { given: 3 }));
        let o = HeapOptions { max_heap_size: Some(100), ..Default::default() };
        assert!(o.validate().unwrap_err().to_string().contains("max_heap_size 100"));
    }
}
