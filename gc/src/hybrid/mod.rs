//! The hybrid heap (Johansson, Sagonas and Wilhelmsson, ISMM 2002): private heaps for each
//! process's own data, and one shared [`MessageArea`] for every message, so that a send
//! copies nothing and a private collection stays private. `docs/hybrid-heap.md` compares it
//! with the papers and with OTP's hybrid heap.
//!
//! - [`MessageArea::build`] runs a message's build closure under a fresh brand and hands the
//!   result to the area: the closure is the allocation site (no message analysis needed);
//! - a private [`Heap`](crate::Heap) made by [`MessageArea::heap`] receives area messages
//!   ([`Heap::deliver_area`](crate::Heap::deliver_area)) by reference; its collections leave
//!   area objects in place and record the words that point at them (its remembered set);
//! - [`MessageArea::collect`] collects the area stop-the-world, generationally, with every
//!   registered heap's references (and the messages in flight) as roots, rewriting them;
//! - [`MessageArea::collect_increment`] collects it incrementally instead (ISMM 2004): each
//!   call does a bounded share of a cycle's copying.

mod area;
mod builder;
mod collector;
mod incremental;

pub use area::{
    AreaCollector, AreaConfigError, AreaError, AreaMessage, AreaOptions, AreaStats, MessageArea,
    DEFAULT_AREA_INCREMENT_WORDS,
};
pub(crate) use area::{AreaLink, AreaState};
pub use incremental::AreaIncrement;
