//! Message shapes of the gen_server protocol, as OTP's `gen`, `gen_server` and `proc_lib`
//! send them, and the readers for the signal messages every behaviour handles.
//!
//! | what | message |
//! |------|---------|
//! | call | `{'$gen_call', {Caller, Tag}, Request}` |
//! | reply | `{Tag, Reply}` |
//! | cast | `{'$gen_cast', Request}` |
//! | stop | `{system, {Caller, Tag}, {terminate, Reason}}` |
//! | start acknowledgement | `{ack, Tag, {ok, Pid}}`, `{ack, Tag, ignore}`, `{ack, Tag, {error, Reason}}` |
//! | exit signal, trapped | `{'EXIT', Pid, Reason}` |
//! | monitor | `{'DOWN', Ref, process, Pid, Reason}` |
//!
//! # Invariants
//! 1. A call's tag is the reference of the caller's monitor on the server, so the reply and
//!    the `'DOWN'` of that monitor are both found by one reference, and no other message
//!    carries it.
//! 2. Atoms used here are interned once per program and cached.

use heaplab_gc::{Atom, Mu, OwnedTerm, Pid, Ref, Term};

use crate::exit::ExitReason;

/// Defines functions returning atoms interned once (Invariant 2).
macro_rules! atoms {
    ($($(#[$doc:meta])* $function:ident = $name:literal;)*) => {
        $(
            $(#[$doc])*
            pub(crate) fn $function() -> heaplab_gc::Atom {
                static ATOM: std::sync::OnceLock<heaplab_gc::Atom> = std::sync::OnceLock::new();
                *ATOM.get_or_init(|| heaplab_gc::Atom::new($name))
            }
        )*
    };
}
pub(crate) use atoms;

/// The atoms of the protocol.
pub(crate) mod atom {
    super::atoms! {
        gen_call = "$gen_call";
        gen_cast = "$gen_cast";
        system = "system";
        terminate = "terminate";
        ack = "ack";
        ignore = "ignore";
        exit = "EXIT";
        down = "DOWN";
        already_started = "already_started";
    }
}

/// Whether `term` is the atom `atom`.
pub(crate) fn is(term: Term<'_>, atom: Atom) -> bool {
    term.as_atom() == Some(atom)
}

/// An exit reason read from a term (normalised, see [`ExitReason::from_term`]).
pub(crate) fn reason(term: Term<'_>) -> ExitReason {
    ExitReason::from_term(term.to_owned_term())
}

/// `{Caller, Tag}`.
pub(crate) fn from_term<'h>(h: Mu<'h>, caller: Pid, tag: Ref) -> Term<'h> {
    h.tuple(&[h.pid(caller), h.reference(tag)])
}

/// Reads `{Caller, Tag}`.
pub(crate) fn read_from(term: Term<'_>) -> Option<(Pid, Ref)> {
    match term.as_tuple()? {
        [pid, tag] => Some((pid.as_pid()?, tag.as_ref()?)),
        _ => None,
    }
}

/// `{'$gen_call', {Caller, Tag}, Request}`.
pub(crate) fn call<'h>(h: Mu<'h>, caller: Pid, tag: Ref, request: Term<'h>) -> Term<'h> {
    h.tuple(&[h.atom(atom::gen_call()), from_term(h, caller, tag), request])
}

/// `{'$gen_cast', Request}`.
pub(crate) fn cast<'h>(h: Mu<'h>, request: Term<'h>) -> Term<'h> {
    h.tuple(&[h.atom(atom::gen_cast()), request])
}

/// `{system, {Caller, Tag}, {terminate, Reason}}`.
pub(crate) fn stop<'h>(h: Mu<'h>, caller: Pid, tag: Ref, reason: &ExitReason) -> Term<'h> {
    let reason = h.from_owned(&reason.to_term());
    let request = h.tuple(&[h.atom(atom::terminate()), reason]);
    h.tuple(&[h.atom(atom::system()), from_term(h, caller, tag), request])
}

/// `{Tag, Reply}`.
pub(crate) fn reply<'h>(h: Mu<'h>, tag: Ref, reply: Term<'h>) -> Term<'h> {
    h.tuple(&[h.reference(tag), reply])
}

/// The reply in `{Tag, Reply}` for this `tag`.
pub(crate) fn read_reply(message: Term<'_>, tag: Ref) -> Option<Term<'_>> {
    match message.as_tuple()? {
        [t, reply] if t.as_ref() == Some(tag) => Some(*reply),
        _ => None,
    }
}

/// How a start ended, as the new process acknowledges it to its starter.
#[derive(Debug)]
pub(crate) enum Ack {
    Ok,
    Ignore,
    Error(ExitReason),
}

/// `{ack, Tag, Result}`.
pub(crate) fn ack<'h>(h: Mu<'h>, tag: Ref, me: Pid, result: &Ack) -> Term<'h> {
    let result = match result {
        Ack::Ok => h.tuple(&[h.atom(Atom::OK), h.pid(me)]),
        Ack::Ignore => h.atom(atom::ignore()),
        Ack::Error(reason) => {
            let reason = h.from_owned(&reason.to_term());
            h.tuple(&[h.atom(Atom::ERROR), reason])
        }
    };
    h.tuple(&[h.atom(atom::ack()), h.reference(tag), result])
}

/// Reads `{ack, Tag, Result}` for this `tag`.
pub(crate) fn read_ack(message: Term<'_>, tag: Ref) -> Option<Ack> {
    let [a, t, result] = message.as_tuple()? else { return None };
    if !is(*a, atom::ack()) || t.as_ref() != Some(tag) {
        return None;
    }
    if is(*result, atom::ignore()) {
        return Some(Ack::Ignore);
    }
    match result.as_tuple()? {
        [ok, _] if is(*ok, Atom::OK) => Some(Ack::Ok),
        [error, why] if is(*error, Atom::ERROR) => Some(Ack::Error(reason(*why))),
        _ => None,
    }
}

/// `{already_started, Pid}`: the reason a start fails when the name is taken.
pub(crate) fn already_started(holder: Pid) -> ExitReason {
    ExitReason::Other(OwnedTerm::tuple(vec![
        OwnedTerm::Atom(atom::already_started()),
        OwnedTerm::Pid(holder),
    ]))
}

/// Reads `{'EXIT', Pid, Reason}`.
pub(crate) fn read_exit(message: Term<'_>) -> Option<(Pid, Term<'_>)> {
    match message.as_tuple()? {
        [e, pid, why] if is(*e, atom::exit()) => Some((pid.as_pid()?, *why)),
        _ => None,
    }
}

/// The reason of `{'DOWN', Ref, process, Pid, Reason}` for the monitor `monitor`.
pub(crate) fn read_down(message: Term<'_>, monitor: Ref) -> Option<Term<'_>> {
    match message.as_tuple()? {
        [d, r, _, _, why] if r.as_ref() == Some(monitor) && is(*d, atom::down()) => Some(*why),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use heaplab_gc::Heap;

    use super::*;

    #[test]
    fn messages_have_the_otp_shapes() {
        let mut heap = Heap::default();
        let (me, tag) = (Pid::new(7), Ref::new());
        heap.enter(|h| {
            let call = call(h, me, tag, h.atom_named("get"));
            assert_eq!(call.to_string(), format!("{{'$gen_call',{{{me},{tag}}},get}}"));
            assert_eq!(cast(h, h.int(1)).to_string(), "{'$gen_cast',1}");
            let stop = stop(h, me, tag, &ExitReason::Normal);
            assert_eq!(stop.to_string(), format!("{{system,{{{me},{tag}}},{{terminate,normal}}}}"));
            let r = reply(h, tag, h.int(3));
            assert_eq!(read_reply(r, tag).and_then(|t| t.as_int()), Some(3));
            assert!(read_reply(r, Ref::new()).is_none());
        });
    }

    #[test]
    fn acknowledgements_round_trip() {
        let mut heap = Heap::default();
        let (me, tag) = (Pid::new(9), Ref::new());
        heap.enter(|h| {
            assert!(matches!(read_ack(ack(h, tag, me, &Ack::Ok), tag), Some(Ack::Ok)));
            assert!(matches!(read_ack(ack(h, tag, me, &Ack::Ignore), tag), Some(Ack::Ignore)));
            let failed = ack(h, tag, me, &Ack::Error(ExitReason::atom("bad")));
            assert!(matches!(read_ack(failed, tag), Some(Ack::Error(r)) if r == ExitReason::atom("bad")));
            assert!(read_ack(failed, Ref::new()).is_none());
        });
    }
}
