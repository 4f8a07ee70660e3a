//! Returning a reference to a value Python already holds: [`Same<T>`]
//! gives back the very Python object (nanobind's instance-map lookup for
//! its by-reference return policies), never a new wrapper or a copy.
//!
//! A result is found by its address *and* its class (as nanobind keys its
//! `inst_map` on the pointer and the type): a field at offset 0 of a
//! `Pair` has the pair's address, but it is no `Pair`, so the `Pair`
//! argument is not returned for it.
//!
//! Where it looks, in order: the call's arguments (`self` first), the
//! references made by [`crate::class::Class::def_ref`] /
//! [`crate::class::inst_reference`], and the instances holding an `Arc`.
//! Only addresses are compared, nothing is read through the pointer: a
//! `Same` is safe to make from any `&T`, and returning one that names no
//! live Python object raises `TypeError` (nanobind's `rv_policy::none`):
//! a new reference wrapper would need the value to outlive it, which a
//! plain `&T` does not promise (bind a field with `def_ref` instead).

use pyo3_ffi as ffi;

use crate::core::caster::{IntoPy, ReturnCtx};
use crate::core::class::borrow::InstFlags;
use crate::core::class::cast::{not_bound, push_type_name};
use crate::core::class::inst::InstHeader;
use crate::core::class::record::record_of;
use crate::core::class::PyClass;
use crate::core::error::{PyErr, PyResult};
use crate::core::object::{Borrowed, Object};

/// A returned reference to a bound value that Python already holds: it
/// converts to that same Python object (`a.me() is a`), with one new
/// reference. Made from any `&T` ([`Same::of`]); `T` may be a bound class
/// or a trait object made returnable by [`crate::dyn_return!`].
///
/// A bound function cannot return a `&T` borrowed from its arguments
/// (a result must outlive the call's borrows), so a method written
/// `fn me(&self) -> &Self` is bound as `|s: &Node| Same::of(s.me())`.
///
/// ```
/// use ndbind::class::Same;
/// use ndbind::prelude::*;
///
/// pub struct Node { value: i64 }
/// impl Node {
///     fn me(&self) -> &Self { self }
/// }
/// ndbind::class!(Node);
///
/// fn larger<'a>(a: &'a Node, b: &'a Node) -> &'a Node {
///     if a.value >= b.value { a } else { b }
/// }
///
/// ndbind::module!(doc_ext, |m| {
///     m.class::<Node>("Node", ())?
///         .init(|value: i64| Node { value }, arg("value"))?
///         .def("me", |n: &Node| Same::of(n.me()), ())?; // n.me() is n
///     // larger(a, b) is a or b, never a copy.
///     m.def("larger", |a: &Node, b: &Node| Same::of(larger(a, b)), (arg("a"), arg("b")))?;
///     Ok(())
/// });
/// ```
///
/// A reference to something no Python object holds (a field that was
/// never returned through `def_ref`, a value in a Rust collection) raises
/// `TypeError`: return the value (a copy or a move), a `Box`, an `Arc`, or
/// bind the field with [`crate::class::Class::def_ref`].
pub struct Same<T: ?Sized> {
    /// Only compared, never dereferenced (hence no lifetime).
    ptr: *const T,
}

impl<T: ?Sized> Same<T> {
    /// The Python object that holds `value` (looked up when returned).
    ///
    /// ```
    /// # use ndbind::class::Same;
    /// # pub struct Node { value: i64 }
    /// # ndbind::class!(Node);
    /// # fn f(n: &Node) -> Same<Node> {
    /// Same::of(n)
    /// # }
    /// ```
    #[inline]
    pub fn of(value: &T) -> Same<T> {
        Same { ptr: value }
    }

    /// The address of the value (a trait object's data address).
    ///
    /// ```
    /// # use ndbind::class::Same;
    /// let x = 5u8;
    /// assert_eq!(Same::of(&x).addr(), &x as *const u8 as usize);
    /// ```
    #[inline]
    pub fn addr(&self) -> usize {
        self.ptr as *const u8 as usize
    }
}

impl<'a, T: ?Sized> From<&'a T> for Same<T> {
    fn from(value: &'a T) -> Same<T> {
        Same::of(value)
    }
}

impl<T: PyClass> IntoPy for Same<T> {
    fn into_py(self, ctx: &ReturnCtx) -> PyResult<Object> {
        let tp = T::type_slot().type_ptr();
        if tp.is_null() {
            return Err(not_bound::<T>());
        }
        find_existing(self.addr(), tp, ctx).ok_or_else(|| not_found(tp))
    }
    fn type_name(out: &mut String) {
        push_type_name::<T>(out)
    }
}

/// The live Python object whose value of class `tp` lies at `addr`: an
/// argument of the call of `ctx`, a reference instance, or an `Arc`-held
/// instance. Compares addresses only.
pub(crate) fn find_existing(
    addr: usize,
    tp: *mut ffi::PyTypeObject,
    ctx: &ReturnCtx<'_>,
) -> Option<Object> {
    crate::core::gil::assert_held("returning a reference");
    for arg in ctx.args() {
        if holds_at(arg, addr, tp) {
            return Some(arg.to_owned());
        }
    }
    if let Some(o) = crate::core::class::refs::id_map_find(addr as *mut u8, tp) {
        return Some(o);
    }
    let o = crate::core::class::holder::arc_lookup(addr as *const u8)?;
    holds_at(o.borrow(), addr, tp).then_some(o)
}

/// Whether `obj` is a constructed instance whose value of class `tp` (its
/// own, or a Rust base's) lies at `addr`.
fn holds_at(obj: Borrowed<'_>, addr: usize, tp: *mut ffi::PyTypeObject) -> bool {
    // SAFETY: a live object; the record of a bound class lives as long as
    // its type, and the header of its instances is read only for those.
    unsafe {
        let Some(rec) = record_of(obj.type_ptr()) else { return false };
        let Some(off) = rec.offset_of(tp) else { return false };
        let h = obj.as_ptr() as *mut InstHeader;
        (*h).flags.contains(InstFlags::READY) && ((*h).value as usize).wrapping_add(off) == addr
    }
}

#[cold]
#[inline(never)]
pub(crate) fn not_found(tp: *mut ffi::PyTypeObject) -> PyErr {
    // SAFETY: a live bound class.
    let name = unsafe { record_of(tp) }.map_or("?", |r| r.name());
    PyErr::type_error(format!(
        "ndbind: the returned reference to a '{name}' is to no existing Python object \
         (Same<T> returns an argument, self, or an instance made by def_ref or from an Arc): \
         return the value, a Box or an Arc, or bind the field with Class::def_ref"
    ))
}
