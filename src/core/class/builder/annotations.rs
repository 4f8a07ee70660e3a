//! Class annotations (`ClassExtra`): what `Class::new` and
//! `Module::class` take besides the name — docstrings, `is_final`,
//! `dynamic_attr`, `weak_referenceable`, type supplements.

use std::any::TypeId;
use std::marker::PhantomData;

use crate::core::class::record::TypeRecord;
use crate::core::class::Zeroable;
use crate::core::extras::Doc;

/// What class annotations write to: since the class record and its
/// options are one record, this is [`TypeRecord`].
///
/// ```
/// use ndbind::__core::class::{ClassExtra, ClassOptions}; // plumbing
/// use ndbind::class::is_final;
///
/// /// An annotation of one's own: final classes, under another name.
/// struct Sealed;
/// impl ClassExtra for Sealed {
///     fn apply(self, rec: &mut ClassOptions) {
///         is_final().apply(rec)
///     }
/// }
/// ```
pub type ClassOptions = TypeRecord;

/// One class annotation, or a tuple of them.
///
/// ```
/// # use ndbind::prelude::*;
/// # pub struct Tensor;
/// # ndbind::class!(Tensor);
/// use ndbind::class::is_final;
/// # ndbind::module!(doc_ext, |m| {
/// m.class::<Tensor>("Tensor", (doc("A tensor."), is_final()))?;
/// # Ok(())
/// # });
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a class annotation",
    label = "not a class annotation",
    note = "class annotations are `doc(\"...\")` or a bare string (the docstring), `is_final()`, `dynamic_attr()`, `weak_referenceable()`, `gc::<T>()`, `supplement::<S>()`, `raw_slot(..)`, `()` for none, or a tuple of up to 5 of them"
)]
pub trait ClassExtra {
    /// Records itself in the class record (before the type is created).
    fn apply(self, rec: &mut TypeRecord);
}

impl ClassExtra for () {
    fn apply(self, _: &mut TypeRecord) {}
}
impl ClassExtra for Doc {
    fn apply(self, rec: &mut TypeRecord) {
        rec.doc = Some(self.0.to_owned())
    }
}
impl ClassExtra for &'static str {
    /// A bare string is the docstring.
    fn apply(self, rec: &mut TypeRecord) {
        rec.doc = Some(self.to_owned())
    }
}

/// Class annotation: Python code may not subclass the class.
///
/// ```
/// # pub struct Tensor;
/// # ndbind::class!(Tensor);
/// use ndbind::class::is_final;
/// # ndbind::module!(doc_ext, |m| {
/// m.class::<Tensor>("Tensor", is_final())?;
/// # Ok(())
/// # });
/// ```
pub struct IsFinal;
/// The class may not be subclassed from Python (`TypeError`).
///
/// ```
/// # pub struct Tensor;
/// # ndbind::class!(Tensor);
/// use ndbind::class::is_final;
/// # ndbind::module!(doc_ext, |m| {
/// m.class::<Tensor>("Tensor", is_final())?;
/// # Ok(())
/// # });
/// ```
pub fn is_final() -> IsFinal {
    IsFinal
}
impl ClassExtra for IsFinal {
    fn apply(self, rec: &mut TypeRecord) {
        rec.is_final = true
    }
}

/// Class annotation: instances get a `__dict__` (dynamic attributes) and
/// take part in garbage collection.
///
/// ```
/// # pub struct Dyn;
/// # ndbind::class!(Dyn);
/// use ndbind::class::dynamic_attr;
/// # ndbind::module!(doc_ext, |m| {
/// m.class::<Dyn>("Dyn", dynamic_attr())?;
/// # Ok(())
/// # });
/// ```
pub struct DynamicAttr;
/// Instances accept arbitrary attributes (GC-tracked `__dict__`).
///
/// ```
/// # pub struct Dyn;
/// # ndbind::class!(Dyn);
/// use ndbind::class::dynamic_attr;
/// # ndbind::module!(doc_ext, |m| {
/// m.class::<Dyn>("Dyn", dynamic_attr())?;
/// # Ok(())
/// # });
/// ```
pub fn dynamic_attr() -> DynamicAttr {
    DynamicAttr
}
impl ClassExtra for DynamicAttr {
    fn apply(self, rec: &mut TypeRecord) {
        rec.dynamic_attr = true
    }
}

/// Class annotation: instances can be weakly referenced.
///
/// ```
/// # pub struct Dyn;
/// # ndbind::class!(Dyn);
/// use ndbind::class::weak_referenceable;
/// # ndbind::module!(doc_ext, |m| {
/// m.class::<Dyn>("Dyn", weak_referenceable())?;
/// # Ok(())
/// # });
/// ```
pub struct WeakRefs;
/// Instances support `weakref.ref`.
///
/// ```
/// # pub struct Dyn;
/// # ndbind::class!(Dyn);
/// use ndbind::class::weak_referenceable;
/// # ndbind::module!(doc_ext, |m| {
/// m.class::<Dyn>("Dyn", weak_referenceable())?;
/// # Ok(())
/// # });
/// ```
pub fn weak_referenceable() -> WeakRefs {
    WeakRefs
}
impl ClassExtra for WeakRefs {
    fn apply(self, rec: &mut TypeRecord) {
        rec.weakref = true
    }
}

/// Class annotation: zero-initialised supplemental data of type `S` in the
/// type object (implies [`is_final`]). See [`crate::core::class::type_supplement`].
/// `S` may be aligned to at most 16 bytes (checked at compile time).
///
/// ```
/// # pub struct Tensor;
/// # ndbind::class!(Tensor);
/// use ndbind::class::supplement;
/// # ndbind::module!(doc_ext, |m| {
/// m.class::<Tensor>("Tensor", supplement::<u64>())?;
/// # Ok(())
/// # });
/// ```
pub struct Supplement<S>(PhantomData<S>);
/// Reserves a zero-initialised `S` in the type object.
///
/// ```
/// # pub struct Tensor;
/// # ndbind::class!(Tensor);
/// use ndbind::class::supplement;
/// # ndbind::module!(doc_ext, |m| {
/// m.class::<Tensor>("Tensor", supplement::<u64>())?;
/// # Ok(())
/// # });
/// ```
pub fn supplement<S: Zeroable + Copy + 'static>() -> Supplement<S> {
    const {
        assert!(
            std::mem::align_of::<S>() <= 16,
            "ndbind: a type supplement may be aligned to at most 16 bytes"
        )
    };
    Supplement(PhantomData)
}
impl<S: Zeroable + Copy + 'static> ClassExtra for Supplement<S> {
    fn apply(self, rec: &mut TypeRecord) {
        set_supplement(rec, TypeId::of::<S>(), std::mem::size_of::<S>());
    }
}

/// Reserves `size` zeroed bytes (16-aligned) for a supplement of Rust
/// type `id`; the class becomes final.
fn set_supplement(rec: &mut TypeRecord, id: TypeId, size: usize) {
    rec.supplement = Some((id, vec![0u128; size.div_ceil(16)].into_boxed_slice()));
    rec.is_final = true;
}

macro_rules! class_extra_tuple {
    ($($T:ident $i:tt),+) => {
        impl<$($T: ClassExtra),+> ClassExtra for ($($T,)+) {
            fn apply(self, rec: &mut TypeRecord) { $( self.$i.apply(rec); )+ }
        }
    };
}
class_extra_tuple!(A 0);
class_extra_tuple!(A 0, B 1);
class_extra_tuple!(A 0, B 1, C 2);
class_extra_tuple!(A 0, B 1, C 2, D 3);
class_extra_tuple!(A 0, B 1, C 2, D 3, E 4);
