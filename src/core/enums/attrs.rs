//! Methods, operators, static methods and properties of bound enum
//! classes (`EnumBuilder::def` & co.): held by the builder until `finish`
//! adds them to the class.

use super::*;

/// A bound closure not yet given to a function object: released (with
/// its captures) if the builder is dropped before `finish`.
pub(super) struct PendingParts(Option<FuncParts>);

impl PendingParts {
    fn take(&mut self) -> FuncParts {
        self.0.take().expect("taken once")
    }
}

impl Drop for PendingParts {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            // SAFETY: `data` was made for `free` by FuncParts::new and was
            // never handed to a function record, so this is its only release.
            unsafe { (p.free)(p.data) }
        }
    }
}

/// A method or property of an enum class, added by [`EnumBuilder::finish`].
pub(super) enum EnumAttr {
    Func { name: String, parts: PendingParts, extras: FuncExtras, kind: FuncKind },
    Prop { name: String, get: PendingParts, set: Option<PendingParts> },
}

impl<T: PyEnum> EnumBuilder<'_, T> {
    /// Adds a method (nanobind's `enum_::def`): `f`'s first parameter is
    /// the member (`self`, taken as `T`, or as [`Flags<T>`] to accept flag
    /// combinations too); `extras` name the other parameters. Dunder names
    /// define Python's protocols on the class (`__str__`, `__call__`, ...);
    /// for a binary operator use [`def_operator`](Self::def_operator).
    ///
    /// ```
    /// # use ndbind::prelude::*;
    /// # #[derive(Clone, Copy, PartialEq)]
    /// # pub enum Color { Red = 1, Green = 2, Blue = 4 }
    /// # ndbind::enum_type!(Color);
    /// # ndbind::module!(doc_ext, |m| {
    /// m.enum_::<Color>("Color", EnumKind::Enum)
    ///     .value("Red", Color::Red, "")
    ///     .value("Green", Color::Green, "")
    ///     .value("Blue", Color::Blue, "")
    ///     .def("is_warm", |c: Color| c == Color::Red, ()) // Color.Red.is_warm()
    ///     .finish()?;
    /// # Ok(())
    /// # });
    /// ```
    pub fn def<M, F: IntoFunction<M>>(self, name: &str, f: F, extras: impl Extra) -> Self {
        self.push_func(name, f.into_parts(), extras.into_extras(), FuncKind::Method)
    }

    /// Adds an operator method (`__or__`, `__add__`, `__lt__`, ...):
    /// arguments that match no overload give `NotImplemented`, so Python
    /// tries the reflected operation (then raises `TypeError`).
    ///
    /// ```
    /// # use ndbind::prelude::*;
    /// # #[derive(Clone, Copy, PartialEq)]
    /// # pub enum Level { Low = 1, High = 2 }
    /// # ndbind::enum_type!(Level);
    /// # ndbind::module!(doc_ext, |m| {
    /// m.enum_::<Level>("Level", EnumKind::Enum)
    ///     .value("Low", Level::Low, "")
    ///     .value("High", Level::High, "")
    ///     // Level.Low < Level.High
    ///     .def_operator("__lt__", |a: Level, b: Level| (a as i32) < (b as i32), arg("other"))
    ///     .finish()?;
    /// # Ok(())
    /// # });
    /// ```
    pub fn def_operator<M, F: IntoFunction<M>>(self, name: &str, f: F, extras: impl Extra) -> Self {
        self.push_func(name, f.into_parts(), extras.into_extras(), FuncKind::Operator)
    }

    /// Adds a static method (no `self`), callable on the class and its
    /// members.
    ///
    /// ```
    /// # use ndbind::prelude::*;
    /// # #[derive(Clone, Copy, PartialEq)]
    /// # pub enum Color { Red = 1, Green = 2 }
    /// # ndbind::enum_type!(Color);
    /// # ndbind::module!(doc_ext, |m| {
    /// m.enum_::<Color>("Color", EnumKind::Enum)
    ///     .value("Red", Color::Red, "")
    ///     .value("Green", Color::Green, "")
    ///     .def_static("default", || Color::Green, ()) // Color.default() is Color.Green
    ///     .finish()?;
    /// # Ok(())
    /// # });
    /// ```
    pub fn def_static<M, F: IntoFunction<M>>(self, name: &str, f: F, extras: impl Extra) -> Self {
        self.push_func(name, f.into_parts(), extras.into_extras(), FuncKind::Function)
    }

    /// A read-only property of the members (a Python `property`): `get`
    /// takes the member.
    ///
    /// ```
    /// # use ndbind::prelude::*;
    /// # #[derive(Clone, Copy, PartialEq)]
    /// # pub enum Color { Red = 1, Green = 2 }
    /// # ndbind::enum_type!(Color);
    /// # ndbind::module!(doc_ext, |m| {
    /// m.enum_::<Color>("Color", EnumKind::Enum)
    ///     .value("Red", Color::Red, "")
    ///     .value("Green", Color::Green, "")
    ///     .property_readonly("hex", |c: Color| match c {
    ///         Color::Red => "#ff0000",
    ///         Color::Green => "#00ff00",
    ///     }) // Color.Red.hex == "#ff0000"
    ///     .finish()?;
    /// # Ok(())
    /// # });
    /// ```
    pub fn property_readonly<M, G: IntoFunction<M>>(mut self, name: &str, get: G) -> Self {
        let get = PendingParts(Some(get.into_parts()));
        self.attrs.push(EnumAttr::Prop { name: name.to_owned(), get, set: None });
        self
    }

    /// A read/write property of the members: `get` takes the member, `set`
    /// the member and the new value. Members are shared constants, so a
    /// setter stores elsewhere (a table, a global).
    ///
    /// ```
    /// # use ndbind::prelude::*;
    /// # #[derive(Clone, Copy, PartialEq)]
    /// # pub enum Color { Red = 1 }
    /// # ndbind::enum_type!(Color);
    /// use std::sync::atomic::{AtomicI64, Ordering::Relaxed};
    ///
    /// static RED_WEIGHT: AtomicI64 = AtomicI64::new(1);
    /// # ndbind::module!(doc_ext, |m| {
    /// m.enum_::<Color>("Color", EnumKind::Enum)
    ///     .value("Red", Color::Red, "")
    ///     .property(
    ///         "weight",
    ///         |_: Color| RED_WEIGHT.load(Relaxed),
    ///         |_: Color, w: i64| RED_WEIGHT.store(w, Relaxed),
    ///     ) // Color.Red.weight = 3
    ///     .finish()?;
    /// # Ok(())
    /// # });
    /// ```
    pub fn property<M1, M2, G: IntoFunction<M1>, S: IntoFunction<M2>>(
        mut self,
        name: &str,
        get: G,
        set: S,
    ) -> Self {
        let get = PendingParts(Some(get.into_parts()));
        let set = Some(PendingParts(Some(set.into_parts())));
        self.attrs.push(EnumAttr::Prop { name: name.to_owned(), get, set });
        self
    }

    fn push_func(
        mut self,
        name: &str,
        parts: FuncParts,
        extras: FuncExtras,
        kind: FuncKind,
    ) -> Self {
        let parts = PendingParts(Some(parts));
        self.attrs.push(EnumAttr::Func { name: name.to_owned(), parts, extras, kind });
        self
    }
}

/// The non-generic part of the builder's methods and properties: adds
/// each to `class` (the enum class `name` of `module`), in order.
pub(super) fn add_attrs(
    module: &Module,
    name: &str,
    class: Borrowed<'_>,
    attrs: &mut [EnumAttr],
) -> PyResult<()> {
    let mut property = None;
    for attr in attrs {
        match attr {
            EnumAttr::Func { name: fname, parts, extras, kind } => {
                let f = crate::core::func::define_in(
                    class,
                    module.name(),
                    Some(name),
                    fname,
                    parts.take(),
                    std::mem::take(extras),
                    *kind,
                )?;
                permanent(&f);
            }
            EnumAttr::Prop { name: pname, get, set } => {
                let property = match &property {
                    Some(p) => p,
                    None => property
                        .insert(Object::import_held(c"builtins")?.borrow().getattr(c"property")?),
                };
                let fget = crate::core::func::new_standalone(
                    pname,
                    Some(module.name()),
                    get.take(),
                    FuncExtras::default(),
                )?;
                let fset = match set {
                    Some(s) => crate::core::func::new_standalone(
                        pname,
                        Some(module.name()),
                        s.take(),
                        FuncExtras::default(),
                    )?,
                    None => Object::none_held(),
                };
                permanent(&fget);
                permanent(&fset);
                let prop = property.borrow().call(&[fget.borrow(), fset.borrow()])?;
                let cname = CString::new(pname.as_str())
                    .map_err(|_| PyErr::value_error("NUL in property name"))?;
                class.setattr(&cname, prop.borrow())?;
            }
        }
    }
    Ok(())
}

/// The enum class is never freed (its `EnumSlot` holds it), nor are the
/// functions defined in it: that is by design, not a leak to report.
fn permanent(f: &Object) {
    if crate::core::func::func_type::as_func(f.borrow()).is_some() {
        crate::core::leak_report::func_permanent(f.as_ptr() as usize);
    }
}
