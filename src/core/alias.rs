//! The alias check made before a call runs: a parameter that hands out
//! mutable access to memory shared with Python (a writable array view) must
//! not alias another argument's memory, nor itself (a Rust `&mut` never
//! aliases).
//!
//! Arguments report the memory they expose as [`Span`]s ([`crate::FromPy::spans`]);
//! [`Spans::check`] tests every writable span for self-overlap (stride 0,
//! overlapping windows) and every pair with a writable member for a shared
//! byte, exactly (strided intervals, gcd of strides: see `overlap`), with
//! bounded work. When the exact test gives up, the call is refused and the
//! error says so.

use std::mem::MaybeUninit;

use crate::core::error::PyErr;
use crate::core::overlap::{overlap, self_overlap, Overlap, Strided, DEFAULT_BUDGET};

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
}

impl Span<'_> {
    fn strided(&self) -> Strided<'_> {
        Strided { base: self.base, shape: self.shape, strides: self.strides, itemsize: self.itemsize }
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
}

impl Default for Spans<'_> {
    fn default() -> Self {
        Spans { arg: 0, item: 0, len: 0, inline: [MaybeUninit::uninit(); INLINE], spill: Vec::new(), writable: false }
    }
}

impl<'a> Spans<'a> {
    /// Records memory exposed by the current argument.
    #[inline]
    pub fn push(&mut self, span: Span<'a>) {
        let origin = Origin { arg: self.arg, item: self.item };
        self.item += 1;
        self.writable |= span.writable;
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

    /// False, with `ValueError` set, when a writable span overlaps itself
    /// or another span. Free when nothing is writable.
    #[inline]
    pub(crate) fn check(&self) -> bool {
        !self.writable || self.check_writable()
    }

    #[cold]
    #[inline(never)]
    fn check_writable(&self) -> bool {
        for i in 0..self.len {
            let (oa, a) = self.get(i);
            if a.writable {
                match self_overlap(a.shape, a.strides, a.itemsize, DEFAULT_BUDGET) {
                    Overlap::No => {}
                    r => return refuse(format!(
                        "{} is writable, but {}: a mutable view must not alias itself (pass a copy)",
                        describe(oa),
                        if r == Overlap::Yes {
                            "some of its elements share memory (a stride of 0, as broadcasting makes, or overlapping strides)"
                        } else {
                            "the exact overlap test gave up before it could prove that its elements do not share memory"
                        }
                    )),
                }
            }
            for j in i + 1..self.len {
                let (ob, b) = self.get(j);
                if !(a.writable || b.writable) {
                    continue;
                }
                let w = if a.writable { oa } else { ob };
                match overlap(&a.strided(), &b.strided(), DEFAULT_BUDGET) {
                    Overlap::No => {}
                    Overlap::Yes => {
                        return refuse(format!(
                            "{} and {} overlap in memory, but {} is writable (a mutable view must not alias another argument)",
                            describe(oa),
                            describe(ob),
                            describe(w)
                        ))
                    }
                    Overlap::TooHard => {
                        return refuse(format!(
                            "{} and {} may overlap in memory, and {} is writable: the exact overlap test gave up \
                             (its work bound was reached) before it could prove they do not, so the call is refused",
                            describe(oa),
                            describe(ob),
                            describe(w)
                        ))
                    }
                }
            }
        }
        true
    }
}

fn describe(o: Origin) -> String {
    if o.item == 0 {
        format!("array argument {}", o.arg)
    } else {
        format!("array {} inside argument {}", o.item, o.arg)
    }
}

#[cold]
fn refuse(msg: String) -> bool {
    PyErr::value_error(msg).restore();
    false
}
