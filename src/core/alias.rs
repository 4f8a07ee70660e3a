//! The alias check made before a call runs: a parameter that hands out
//! mutable access to memory shared with Python (a writable array view) must
//! not alias another argument's memory, nor itself (a Rust `&mut` never
//! aliases).
//!
//! Arguments report the memory they expose as [`Span`]s ([`crate::FromPy::spans`]);
//! `Spans::check` tests every writable span for self-overlap (stride 0,
//! overlapping windows) and every pair with a writable member for a shared
//! byte, exactly (strided intervals, gcd of strides: see `overlap`), with
//! bounded work. When the exact test gives up, the call is refused and the
//! error says so.

use std::mem::MaybeUninit;

use crate::core::error::PyErr;
use crate::core::gil_cell::GilLock;
use crate::core::overlap::{overlap, self_overlap, Overlap, Strided, DEFAULT_BUDGET};

/// The work bound of the exact overlap tests: [`DEFAULT_BUDGET`], or
/// `NDBIND_OVERLAP_BUDGET` (read once) — lower means more calls refused
/// (never fewer checks), so it only serves tests of the refusal.
fn budget() -> u64 {
    static BUDGET: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *BUDGET.get_or_init(|| {
        // `var_os`, as the leak report reads its variable: `env::var` would
        // add its own copy of the lookup.
        std::env::var_os("NDBIND_OVERLAP_BUDGET")
            .and_then(|v| v.to_str()?.parse().ok())
            .map_or(DEFAULT_BUDGET, |b: u64| b.min(DEFAULT_BUDGET))
    })
}

/// Strided memory an argument exposes: element `(i_0, .., i_k)` occupies
/// the bytes `[base + itemsize * Σ i_j * strides[j], + itemsize)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span<'a> {
    /// Address of the element at index `[0, 0, ..]`.
    pub base: usize,
    /// Extents.
    pub shape: &'a [i64],
    /// Strides, in elements (may be negative or zero).
    pub strides: &'a [i64],
    /// Bytes per element.
    pub itemsize: usize,
    /// Whether the parameter hands out mutable access.
    pub writable: bool,
    /// Whether the parameter is itself a Rust view for the whole call (an
    /// `ArrayView`/`ArrayViewMut` parameter): such memory is lent out
    /// (see `Loan`) while the call runs. An `NdArray` lends nothing until
    /// its `view()`/`view_mut()` is called.
    pub lends: bool,
}

impl Span<'_> {
    fn strided(&self) -> Strided<'_> {
        Strided {
            base: self.base,
            shape: self.shape,
            strides: self.strides,
            itemsize: self.itemsize,
        }
    }
}

/// Spans kept inline: calls with more array arguments (or lists of arrays)
/// spill to the heap.
const INLINE: usize = 6;

/// Where a span came from, for error messages.
#[derive(Clone, Copy)]
struct Origin {
    arg: usize,
    item: usize,
}

/// The spans of one call's arguments (see the module docs).
pub struct Spans<'a> {
    arg: usize,
    item: usize,
    len: usize,
    inline: [MaybeUninit<(Origin, Span<'a>)>; INLINE],
    spill: Vec<(Origin, Span<'a>)>,
    writable: bool,
    lends: bool,
}

impl Default for Spans<'_> {
    fn default() -> Self {
        Spans {
            arg: 0,
            item: 0,
            len: 0,
            inline: [MaybeUninit::uninit(); INLINE],
            spill: Vec::new(),
            writable: false,
            lends: false,
        }
    }
}

impl<'a> Spans<'a> {
    /// Records memory exposed by the current argument.
    #[inline]
    pub fn push(&mut self, span: Span<'a>) {
        let origin = Origin { arg: self.arg, item: self.item };
        self.item += 1;
        self.writable |= span.writable;
        self.lends |= span.lends;
        if self.len < INLINE {
            self.inline[self.len].write((origin, span));
        } else {
            self.spill.push((origin, span));
        }
        self.len += 1;
    }

    /// The spans pushed from now on belong to argument `i`.
    #[inline]
    pub(crate) fn set_arg(&mut self, i: usize) {
        self.arg = i;
        self.item = 0;
    }

    fn get(&self, i: usize) -> (Origin, Span<'a>) {
        if i < INLINE {
            // SAFETY: the first `min(len, INLINE)` slots were written by `push`.
            unsafe { self.inline[i].assume_init() }
        } else {
            self.spill[i - INLINE]
        }
    }

    /// The alias check of a call: `None`, with `ValueError` set, when a
    /// writable span overlaps itself or another span, or when a view
    /// parameter's memory is lent out already in a conflicting way (see
    /// [`Loan`]). Otherwise the loans of the view parameters, to be held
    /// for the call. Free when nothing is writable or lent.
    #[inline]
    pub(crate) fn check(&self) -> Option<Loans> {
        if self.writable && !self.check_writable() {
            return None;
        }
        if !self.lends {
            return Some(Loans::NONE);
        }
        self.lend()
    }

    /// Lends the view parameters' memory for the call.
    #[inline(never)]
    fn lend(&self) -> Option<Loans> {
        let span_at = |i: usize| Some(self.get(i).1).filter(|s| s.lends);
        lend_each(self.len, &span_at, &|i| describe(self.get(i).0))
    }

    #[cold]
    #[inline(never)]
    fn check_writable(&self) -> bool {
        for i in 0..self.len {
            let (oa, a) = self.get(i);
            if a.writable {
                match self_overlap(a.shape, a.strides, a.itemsize, budget()) {
                    Overlap::No => {}
                    r => {
                        return refuse(&[
                            Piece::Origin(oa),
                            Piece::Str(" is writable, but "),
                            Piece::Str(if r == Overlap::Yes {
                                "some of its elements share memory (a stride of 0, as broadcasting makes, or overlapping strides)"
                            } else {
                                "the exact overlap test gave up before it could prove that its elements do not share memory"
                            }),
                            Piece::Str(": a mutable view must not alias itself (pass a copy)"),
                        ])
                    }
                }
            }
            for j in i + 1..self.len {
                let (ob, b) = self.get(j);
                if !(a.writable || b.writable) {
                    continue;
                }
                let w = if a.writable { oa } else { ob };
                let (how, why) = match overlap(&a.strided(), &b.strided(), budget()) {
                    Overlap::No => continue,
                    Overlap::Yes => (
                        " overlap in memory, but ",
                        " is writable (a mutable view must not alias another argument)",
                    ),
                    Overlap::TooHard => (
                        " may overlap in memory, and ",
                        " is writable: the exact overlap test gave up \
                         (its work bound was reached) before it could prove they do not, so the call is refused",
                    ),
                };
                return refuse(&[
                    Piece::Origin(oa),
                    Piece::Str(" and "),
                    Piece::Origin(ob),
                    Piece::Str(how),
                    Piece::Origin(w),
                    Piece::Str(why),
                ]);
            }
        }
        true
    }
}

/// A part of an alias-check message.
enum Piece {
    Str(&'static str),
    Origin(Origin),
}

/// Appends how the error messages name the argument (or item) `o`.
fn push_origin(s: &mut String, o: Origin) {
    use crate::core::error::push_decimal;
    if o.item == 0 {
        s.push_str("array argument ");
    } else {
        s.push_str("array ");
        push_decimal(s, o.item);
        s.push_str(" inside argument ");
    }
    push_decimal(s, o.arg);
}

fn describe(o: Origin) -> String {
    let mut s = String::new();
    push_origin(&mut s, o);
    s
}

/// Raises the `ValueError` made of `pieces` (no `format!`: cold code kept
/// small); false.
#[cold]
#[inline(never)]
fn refuse(pieces: &[Piece]) -> bool {
    let mut s = String::new();
    for p in pieces {
        match p {
            Piece::Str(t) => s.push_str(t),
            Piece::Origin(o) => push_origin(&mut s, *o),
        }
    }
    PyErr::value_error(s).restore();
    false
}

/// Memory lent out to Rust views right now, beyond the arguments of the
/// running call: views made by `NdArray::view()`/`view_mut()` (of stored
/// handles too), and the view parameters of the calls in progress (outer
/// calls of a re-entrant one, other threads' calls that released the
/// GIL). A new view of memory that a live writable view covers, or a new
/// writable view of memory that any live view covers, is refused: two Rust
/// views never alias unless both are shared.
struct LoanTable {
    next: u64,
    live: Vec<Loan>,
}

impl Default for LoanTable {
    fn default() -> Self {
        LoanTable { next: 1, live: Vec::new() }
    }
}

/// One lent view (see [`LoanTable`]), with its own copy of the shape and
/// strides: a loan may outlive the handle it was made from (a forgotten
/// or leaked one), and then only blocks its memory, never dangles.
struct Loan {
    id: u64,
    base: usize,
    /// Shape then strides; inline up to four axes.
    dims: LoanDims,
    itemsize: usize,
    writable: bool,
}

enum LoanDims {
    Inline(u8, [i64; 8]),
    Heap(Box<[i64]>),
}

impl Loan {
    fn strided(&self) -> Strided<'_> {
        let (n, all): (usize, &[i64]) = match &self.dims {
            LoanDims::Inline(n, a) => (*n as usize, a),
            LoanDims::Heap(b) => (b.len() / 2, b),
        };
        Strided {
            base: self.base,
            shape: &all[..n],
            strides: &all[n..2 * n],
            itemsize: self.itemsize,
        }
    }
}

static LOANS: GilLock<LoanTable> = GilLock::new();

/// Loans to end when dropped: the ids `first..first + count` (loans made
/// together get consecutive ids).
#[must_use]
pub(crate) struct Loans {
    first: u64,
    count: u64,
}

impl Default for Loans {
    fn default() -> Self {
        Loans::NONE
    }
}

impl Loans {
    /// No loan.
    pub(crate) const NONE: Loans = Loans { first: 0, count: 0 };

    /// The id of a single loan (ids start at 1), kept in a word; 0 for none.
    pub(crate) fn into_id(self) -> u64 {
        debug_assert!(self.count <= 1);
        let id = if self.count == 0 { 0 } else { self.first };
        std::mem::forget(self);
        id
    }

    /// The single loan `id` (0: none) that [`Loans::into_id`] gave.
    pub(crate) fn from_id(id: u64) -> Loans {
        Loans { first: id, count: (id != 0) as u64 }
    }
}

impl Drop for Loans {
    #[inline]
    fn drop(&mut self) {
        if self.count != 0 {
            end_loans(self.first, self.count)
        }
    }
}

#[cold]
#[inline(never)]
fn end_loans(first: u64, count: u64) {
    // A view kept in a `thread_local!` ends when its thread exits, without
    // the GIL: its loan then stays (over memory that stays leaked).
    if !crate::core::gil::may_release() {
        return;
    }
    LOANS.with_made(|t| t.live.retain(|l| !(first..first + count).contains(&l.id)));
}

/// The first live loan that a new view of `span` would conflict with (any
/// loan for a mutable view, a mutable loan for a shared one): whether that
/// loan is mutable, and whether the overlap test gave up.
fn conflict(live: &[Loan], span: &Span<'_>) -> Option<(bool, bool)> {
    live.iter().filter(|l| span.writable || l.writable).find_map(|l| {
        match overlap(&span.strided(), &l.strided(), budget()) {
            Overlap::No => None,
            r => Some((l.writable, r == Overlap::TooHard)),
        }
    })
}

/// Lends `span`'s memory to a new Rust view: `None`, with `ValueError`
/// set, when a live loan conflicts (see [`LoanTable`]). `what` names the
/// view in the error (made only then). The GIL is held.
pub(crate) fn lend(span: Span<'_>, what: &dyn Fn() -> String) -> Option<Loans> {
    lend_each(1, &|_| Some(span), &|_| what())
}

/// Lends the spans `span_at(0..n)` (`None`: nothing to lend) in one step,
/// each checked against the live loans and the ones lent before it: all
/// of them, with consecutive ids (so that one [`Loans`] ends them), or
/// none, with `ValueError` set naming `what(i)` of the first refused.
/// One lock for the whole call: free-threaded, another thread's loans
/// never come between (their ids would end with ours).
fn lend_each<'s>(
    n: usize,
    span_at: &dyn Fn(usize) -> Option<Span<'s>>,
    what: &dyn Fn(usize) -> String,
) -> Option<Loans> {
    let lent = LOANS.with(|t| {
        let (first, before) = (t.next, t.live.len());
        for i in 0..n {
            let Some(span) = span_at(i) else { continue };
            if let Some(refused) = conflict(&t.live, &span) {
                t.live.truncate(before);
                return Err((i, span.writable, refused));
            }
            let id = t.next;
            t.next += 1;
            t.live.push(Loan {
                id,
                base: span.base,
                dims: loan_dims(&span),
                itemsize: span.itemsize,
                writable: span.writable,
            });
        }
        Ok(Loans { first, count: (t.live.len() - before) as u64 })
    });
    match lent {
        Ok(loans) => Some(loans),
        Err((i, writable, (other_writable, gave_up))) => {
            refuse_loan(&what(i), writable, other_writable, gave_up);
            None
        }
    }
}

/// The shape and strides a loan keeps of `span`.
fn loan_dims(span: &Span<'_>) -> LoanDims {
    let n = span.shape.len();
    if n <= 4 {
        let mut a = [0; 8];
        a[..n].copy_from_slice(span.shape);
        a[n..2 * n].copy_from_slice(span.strides);
        LoanDims::Inline(n as u8, a)
    } else {
        // Two slice copies (a chained iterator's `collect` is ~1 KiB of code).
        let mut v = Vec::with_capacity(2 * n);
        v.extend_from_slice(span.shape);
        v.extend_from_slice(span.strides);
        LoanDims::Heap(v.into_boxed_slice())
    }
}

/// Whether `span` may be read right now (no live mutable view covers it),
/// as [`lend`] would decide for a shared view, without lending;
/// `ValueError` set when not.
pub(crate) fn readable(span: Span<'_>, what: &str) -> bool {
    let found = LOANS.with_made(|t| conflict(&t.live, &Span { writable: false, ..span })).flatten();
    match found {
        Some((_, gave_up)) => {
            refuse_loan(what, false, true, gave_up);
            false
        }
        None => true,
    }
}

#[cold]
fn refuse_loan(what: &str, writable: bool, other_writable: bool, gave_up: bool) {
    let how = if gave_up { "may overlap (the exact overlap test gave up)" } else { "overlaps" };
    let other = if other_writable { "a live mutable view" } else { "a live view" };
    let mine = if writable { "a mutable view" } else { "a view" };
    PyErr::value_error(format!(
        "{what}: cannot make {mine} of memory that {how} {other} (an array viewed by a running function or a \
         stored NdArray); a Rust &mut must not alias another view"
    ))
    .restore();
}
