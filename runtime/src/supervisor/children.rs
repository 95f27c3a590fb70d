//! The children of one supervisor: an ordered list of static children, or the dynamic
//! children of a `simple_one_for_one` template.
//!
//! # Invariants
//! 1. Static children are kept in start order: a child added later comes later, and
//!    shutdown goes through the list backwards.
//! 2. Ids of static children are unique; at most one child has a given pid.
//! 3. A dynamic child is keyed by its pid, or by the pid it had while its restart is being
//!    retried (it is then [`ChildState::Restarting`]); its arguments are kept for restarts,
//!    except for a temporary template, whose children are never restarted.
//!
//! Static children are looked up by a scan: a supervisor has as many as its code lists,
//! rarely more than a few hundred, and a scan keeps the order and the lookup in one place.
//! Dynamic children can number in the hundreds of thousands and live in a hash map.

use std::collections::HashMap;

use heaplab_gc::{Atom, OwnedTerm, Pid};

use super::spec::{ChildSpec, Restart};

/// A child's process, as `which_children` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChildState {
    /// Running as this process.
    Running(Pid),
    /// Its restart failed and is being retried (`restarting`).
    Restarting,
    /// Not running: terminated, ignored at start, or ended without a restart (`undefined`).
    Undefined,
}

impl ChildState {
    /// The pid, if running.
    pub fn pid(self) -> Option<Pid> {
        match self {
            ChildState::Running(pid) => Some(pid),
            _ => None,
        }
    }
}

/// A static child.
#[derive(Debug)]
pub(crate) struct Child {
    pub(crate) spec: ChildSpec,
    pub(crate) state: ChildState,
}

/// Static children in start order (Invariant 1).
#[derive(Debug, Default)]
pub(crate) struct StaticChildren {
    list: Vec<Child>,
}

impl StaticChildren {
    /// Children not started yet; `Err(id)` for the first duplicated id (Invariant 2).
    pub(crate) fn new(specs: Vec<ChildSpec>) -> Result<StaticChildren, Atom> {
        let mut children = StaticChildren::default();
        for spec in specs {
            if children.position(spec.id).is_some() {
                return Err(spec.id);
            }
            children.list.push(Child { spec, state: ChildState::Undefined });
        }
        Ok(children)
    }

    pub(crate) fn len(&self) -> usize {
        self.list.len()
    }

    /// The position of the child called `id`.
    pub(crate) fn position(&self, id: Atom) -> Option<usize> {
        self.list.iter().position(|c| c.spec.id == id)
    }

    /// The position of the child running as `pid`.
    pub(crate) fn position_of_pid(&self, pid: Pid) -> Option<usize> {
        self.list.iter().position(|c| c.state == ChildState::Running(pid))
    }

    pub(crate) fn get(&self, i: usize) -> &Child {
        &self.list[i]
    }

    pub(crate) fn set_state(&mut self, i: usize, state: ChildState) {
        self.list[i].state = state;
    }

    /// Adds a child after all others (Invariant 1).
    pub(crate) fn push(&mut self, spec: ChildSpec, state: ChildState) {
        debug_assert!(self.position(spec.id).is_none(), "duplicate child id");
        self.list.push(Child { spec, state });
    }

    pub(crate) fn remove(&mut self, i: usize) -> Child {
        self.list.remove(i)
    }

    pub(crate) fn iter(&self) -> impl DoubleEndedIterator<Item = &Child> {
        self.list.iter()
    }
}

/// A dynamic child.
#[derive(Debug)]
pub(crate) struct DynamicChild {
    /// The extra arguments it was started with (`[]` for a temporary template).
    pub(crate) args: OwnedTerm,
    pub(crate) restarting: bool,
}

/// The children of a `simple_one_for_one` supervisor (Invariant 3).
#[derive(Debug)]
pub(crate) struct DynamicChildren {
    pub(crate) template: ChildSpec,
    children: HashMap<Pid, DynamicChild>,
}

impl DynamicChildren {
    pub(crate) fn new(template: ChildSpec) -> DynamicChildren {
        DynamicChildren { template, children: HashMap::new() }
    }

    /// Children, those being restarted included.
    pub(crate) fn len(&self) -> usize {
        self.children.len()
    }

    pub(crate) fn get(&self, pid: Pid) -> Option<&DynamicChild> {
        self.children.get(&pid)
    }

    /// Adds a running child.
    pub(crate) fn insert(&mut self, pid: Pid, args: OwnedTerm) {
        let args = if self.template.restart == Restart::Temporary { OwnedTerm::Nil } else { args };
        self.children.insert(pid, DynamicChild { args, restarting: false });
    }

    pub(crate) fn remove(&mut self, pid: Pid) -> Option<DynamicChild> {
        let removed = self.children.remove(&pid);
        if self.children.is_empty() {
            // An emptied map gives its memory back: the template may see bursts.
            self.children.shrink_to_fit();
        }
        removed
    }

    /// Marks the child known as `pid` as restarting (Invariant 3).
    pub(crate) fn set_restarting(&mut self, pid: Pid) {
        if let Some(child) = self.children.get_mut(&pid) {
            child.restarting = true;
        }
    }

    /// Every child: its key and its state.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (Pid, ChildState)> + '_ {
        self.children.iter().map(|(&pid, c)| {
            (pid, if c.restarting { ChildState::Restarting } else { ChildState::Running(pid) })
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::supervisor::spec::StartFn;

    fn spec(id: &str) -> ChildSpec {
        let start: StartFn = Arc::new(|_, _| unreachable!("never started"));
        ChildSpec::new(id, start)
    }

    #[test]
    fn static_children_keep_start_order_and_unique_ids() {
        assert_eq!(StaticChildren::new(vec![spec("a"), spec("b"), spec("a")]).unwrap_err(), Atom::new("a"));
        let mut children = StaticChildren::new(vec![spec("a"), spec("b")]).unwrap();
        children.push(spec("c"), ChildState::Running(Pid::new(3)));
        let ids: Vec<&str> = children.iter().map(|c| c.spec.id.name()).collect();
        assert_eq!(ids, ["a", "b", "c"]);
        assert_eq!(children.position_of_pid(Pid::new(3)), Some(2));
        assert_eq!(children.position(Atom::new("b")), Some(1));
        children.set_state(1, ChildState::Running(Pid::new(5)));
        assert_eq!(children.remove(1).state, ChildState::Running(Pid::new(5)));
        assert_eq!(children.position_of_pid(Pid::new(5)), None);
        assert_eq!(children.len(), 2);
    }

    #[test]
    fn dynamic_children_keep_arguments_unless_temporary() {
        let mut permanent = DynamicChildren::new(spec("t"));
        permanent.insert(Pid::new(1), OwnedTerm::Int(7));
        permanent.set_restarting(Pid::new(1));
        assert_eq!(permanent.iter().collect::<Vec<_>>(), [(Pid::new(1), ChildState::Restarting)]);
        assert!(matches!(permanent.get(Pid::new(1)).unwrap().args, OwnedTerm::Int(7)));
        let mut temporary = DynamicChildren::new(spec("t").restart(Restart::Temporary));
        temporary.insert(Pid::new(2), OwnedTerm::Int(7));
        assert!(matches!(temporary.get(Pid::new(2)).unwrap().args, OwnedTerm::Nil));
        assert!(temporary.remove(Pid::new(2)).is_some());
        assert_eq!(temporary.len(), 0);
    }
}
