//! Tuples of 1 to 8 elements ↔ `tuple`.

use pyo3_ffi as ffi;

use crate::core::caster::{FromPy, IntoPy, ReturnCtx};
use crate::core::error::PyResult;
use crate::core::object::{Borrowed, Object};

macro_rules! tuple_caster {
    ($n:expr; $($T:ident $i:tt),+) => {
        impl<$($T: FromPy),+> FromPy for ($($T,)+) {
            const MAY_WRITE: bool = false $(|| $T::MAY_WRITE)+;
            fn spans<'a>(&'a self, out: &mut crate::core::caster::Spans<'a>) {
                $( self.$i.spans(out); )+
            }
            fn recheck(&mut self) -> bool {
                true $(&& self.$i.recheck())+
            }
            fn commit(&mut self) {
                $( self.$i.commit(); )+
            }
            fn from_py(obj: Borrowed<'_>, convert: bool) -> Option<Self> {
                // SAFETY: exact size checked before borrowing items of the tuple.
                unsafe {
                    let p = obj.as_ptr();
                    if ffi::PyTuple_Check(p) == 0 || crate::core::abi::tuple_size(p) != $n {
                        return None;
                    }
                    let mut t = ($($T::from_py(Borrowed::from_ptr(crate::core::abi::tuple_get_item(p, $i)), convert)?,)+);
                    // Items converted later may have run Python code.
                    (true $(&& ($i + 1 == $n || t.$i.recheck()))+).then_some(t)
                }
            }
            fn type_name(out: &mut String) {
                out.push_str("tuple[");
                $( if $i > 0 { out.push_str(", "); } $T::type_name(out); )+
                out.push(']');
            }
        }

        impl<$($T: IntoPy),+> IntoPy for ($($T,)+) {
            fn into_py(self, ctx: &ReturnCtx) -> PyResult<Object> {
                // SAFETY: PyTuple_New gives `n` empty slots that
                // PyTuple_SET_ITEM fills, stealing each new reference.
                unsafe {
                    let t = Object::from_owned_or_err(ffi::PyTuple_New($n))?;
                    $( crate::core::abi::tuple_set_item(t.as_ptr(), $i, self.$i.into_py(ctx)?.into_ptr()); )+
                    Ok(t)
                }
            }
            fn type_name(out: &mut String) {
                out.push_str("tuple[");
                $( if $i > 0 { out.push_str(", "); } $T::type_name(out); )+
                out.push(']');
            }
        }
    };
}

tuple_caster!(1; A 0);
tuple_caster!(2; A 0, B 1);
tuple_caster!(3; A 0, B 1, C 2);
tuple_caster!(4; A 0, B 1, C 2, D 3);
tuple_caster!(5; A 0, B 1, C 2, D 3, E 4);
tuple_caster!(6; A 0, B 1, C 2, D 3, E 4, F 5);
tuple_caster!(7; A 0, B 1, C 2, D 3, E 4, F 5, G 6);
tuple_caster!(8; A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7);
