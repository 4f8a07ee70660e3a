//! `Class<T>`: binding a Rust type as a Python class (nanobind's
//! `nb::class_<T>`). [`Class::new`] fills in the class's one record
//! ([`TypeRecord`]) from the Rust type and the annotations, and hands it
//! to the non-generic core, which creates the type; each method is a thin
//! generic shell over non-generic code.

use std::any::TypeId;
use std::marker::PhantomData;

use pyo3_ffi as ffi;

use crate::core::caster::{FromPy, IntoPy, Param};
use crate::core::class::cast::ClassRef;
use crate::core::class::create::{add_property, create_type};
use crate::core::class::getset::{self, Erased, PropRecord};
use crate::core::class::init::IntoInit;
use crate::core::class::record::{record_of, RustBase, TypeRecord};
use crate::core::class::{MaybeClass, PyClass};
use crate::core::error::{PyErr, PyResult};
use crate::core::extras::{arg, Extra, FuncExtras};
use crate::core::func::{define_in, FuncKind, IntoFunction};
use crate::core::module::Module;
use crate::core::object::{Borrowed, Object};

mod annotations;
pub use annotations::*;

/// # Safety
/// `p` points to a constructed `T`, dropped once.
unsafe fn drop_in_place_of<T>(p: *mut u8) {
    // SAFETY: (caller) a constructed T, dropped once.
    unsafe { std::ptr::drop_in_place(p as *mut T) }
}

/// A bound class, to which methods, fields and properties are added.
///
/// ```
/// use ndbind::prelude::*;
///
/// #[derive(PartialEq)]
/// pub struct Point { x: f64, y: f64 }
/// ndbind::class!(Point);
///
/// ndbind::module!(geometry, |m| {
///     let c = m.class::<Point>("Point", doc("A point in the plane."))?;
///     c.init(|x: f64, y: f64| Point { x, y }, (arg("x"), arg("y")))?
///         .def("norm", |p: &Point| p.x.hypot(p.y), ())?
///         .def("scale", |p: &mut Point, f: f64| { p.x *= f; p.y *= f }, arg("f"))?
///         .field("x", |p| &p.x, |p| &mut p.x)?
///         .def_static("origin", || Point { x: 0.0, y: 0.0 }, ())?
///         .repr(|p| format!("Point(x={:?}, y={:?})", p.x, p.y))?
///         .eq()?;
///     Ok(())
/// });
/// ```
pub struct Class<T> {
    ty: Object,
    module: String,
    qualname: String,
    _t: PhantomData<T>,
}

impl Module {
    /// Binds the Rust type `T` (declared with [`crate::class!`]) as class
    /// `name` of this module; `extras` are class annotations ([`doc`](crate::doc),
    /// [`is_final`], [`dynamic_attr`], [`weak_referenceable`], [`supplement`]).
    ///
    /// ```
    /// # use ndbind::prelude::*;
    /// # pub struct Point { x: f64, y: f64 }
    /// # ndbind::class!(Point);
    /// # ndbind::module!(doc_ext, |m| {
    /// let c = m.class::<Point>("Point", doc("A point."))?;
    /// # Ok(())
    /// # });
    /// ```
    pub fn class<T: PyClass>(&self, name: &str, extras: impl ClassExtra) -> PyResult<Class<T>> {
        Class::new(self.as_object().borrow(), self.name(), name, extras)
    }
}

impl<T: PyClass> Class<T> {
    /// Creates the class and adds it to `scope` (a module) as `name`.
    ///
    /// ```
    /// # use ndbind::prelude::*;
    /// # pub struct Point { x: f64, y: f64 }
    /// # ndbind::class!(Point);
    /// # ndbind::module!(doc_ext, |m| {
    /// let c = Class::<Point>::new(m.as_object().borrow(), m.name(), "Point", ())?;
    /// # Ok(())
    /// # });
    /// ```
    pub fn new(
        scope: Borrowed<'_>,
        module: &str,
        name: &str,
        extras: impl ClassExtra,
    ) -> PyResult<Class<T>> {
        Class::create(scope, module, name, None, Self::record(extras))
    }

    /// The record of `T`, with `extras` applied.
    fn record(extras: impl ClassExtra) -> Box<TypeRecord> {
        let mut rec = TypeRecord::new(
            T::type_slot(),
            std::any::type_name::<T>(),
            TypeId::of::<T>(),
            std::mem::size_of::<T>(),
            std::mem::align_of::<T>(),
        );
        rec.drop =
            std::mem::needs_drop::<T>().then_some(drop_in_place_of::<T> as unsafe fn(*mut u8));
        rec.clone = T::CLONE;
        rec.zeroable = T::ZEROABLE;
        rec.base = <T::Base as MaybeClass>::slot().map(|slot| RustBase {
            slot,
            offset: T::BASE_OFFSET,
            rust_name: std::any::type_name::<T::Base>(),
        });
        extras.apply(&mut rec);
        rec
    }

    fn create(
        scope: Borrowed<'_>,
        module: &str,
        name: &str,
        outer: Option<&str>,
        rec: Box<TypeRecord>,
    ) -> PyResult<Class<T>> {
        let qualname = match outer {
            Some(o) => format!("{o}.{name}"),
            None => name.to_owned(),
        };
        let ty = new_class(scope, module, name, &qualname, rec)?;
        crate::core::class::poly::register::<T>();
        Ok(Class { ty, module: module.to_owned(), qualname, _t: PhantomData })
    }

    /// Binds the Rust type `U` (declared with [`crate::class!`]) as class
    /// `name` nested in this class: `Outer.Inner`, with `__qualname__`
    /// `"Outer.Inner"` and `__module__` this class's module (nanobind's
    /// `nb::class_<Inner>(outer, "Inner")`). `extras` as for
    /// [`Module::class`].
    ///
    /// ```
    /// use ndbind::prelude::*;
    ///
    /// pub struct Tree { size: usize }
    /// ndbind::class!(Tree);
    /// #[derive(Clone)]
    /// pub struct Node { depth: usize }
    /// ndbind::class!(Node, clone);
    ///
    /// ndbind::module!(doc_ext, |m| {
    ///     let tree = m.class::<Tree>("Tree", ())?;
    ///     tree.init(|size: usize| Tree { size }, arg("size"))?;
    ///     // Tree.Node, with __qualname__ "Tree.Node".
    ///     tree.class::<Node>("Node", doc("A node of a tree."))?
    ///         .init(|depth: usize| Node { depth }, arg("depth"))?;
    ///     Ok(())
    /// });
    /// ```
    pub fn class<U: PyClass>(&self, name: &str, extras: impl ClassExtra) -> PyResult<Class<U>> {
        Class::<U>::create(
            self.ty.borrow(),
            &self.module,
            name,
            Some(&self.qualname),
            Class::<U>::record(extras),
        )
    }

    /// The type object.
    ///
    /// ```
    /// # pub struct Tensor;
    /// # ndbind::class!(Tensor);
    /// use ndbind::class::lowlevel::set_type_supplement;
    /// use ndbind::class::supplement;
    /// # ndbind::module!(doc_ext, |m| {
    /// let c = m.class::<Tensor>("Tensor", supplement::<u64>())?;
    /// set_type_supplement::<u64>(c.type_object(), 42)?;
    /// # Ok(())
    /// # });
    /// ```
    pub fn type_object(&self) -> Borrowed<'_> {
        self.ty.borrow()
    }

    fn tp(&self) -> *mut ffi::PyTypeObject {
        self.ty.as_ptr() as *mut ffi::PyTypeObject
    }

    /// `setattr(cls, name, value)` by ndbind itself.
    fn set(&self, name: &std::ffi::CStr, value: Borrowed<'_>) -> PyResult<()> {
        self.ty.borrow().setattr(name, value)
    }

    fn define(
        &self,
        name: &str,
        parts: crate::core::func::FuncParts,
        extras: impl Extra,
        kind: FuncKind,
    ) -> PyResult<Object> {
        self.define_parts(name, parts, extras.into_extras(), kind)
    }

    #[inline(never)]
    fn define_parts(
        &self,
        name: &str,
        parts: crate::core::func::FuncParts,
        e: FuncExtras,
        kind: FuncKind,
    ) -> PyResult<Object> {
        define_in(self.ty.borrow(), &self.module, Some(&self.qualname), name, parts, e, kind)
    }

    /// Adds a constructor overload: `f` builds the value from the
    /// arguments (`T` or `Result<T, E>`); `extras` name them.
    ///
    /// ```
    /// # use ndbind::prelude::*;
    /// # #[derive(Clone, PartialEq)]
    /// # pub struct Point { x: f64, y: f64 }
    /// # ndbind::class!(Point, clone);
    /// # ndbind::module!(doc_ext, |m| {
    /// # let c = m.class::<Point>("Point", ())?;
    /// c.init(|x: f64, y: f64| Point { x, y }, (arg("x"), arg("y")))?;
    /// # Ok(())
    /// # });
    /// ```
    pub fn init<M, F: IntoInit<T, M>>(&self, f: F, extras: impl Extra) -> PyResult<&Self> {
        let func = self.define("__init__", f.into_parts(), extras, FuncKind::Method)?;
        install_init(&self.ty, &func);
        Ok(self)
    }

    /// Adds a method: `f`'s first parameter is `&T` or `&mut T` (`self`);
    /// `extras` name the other parameters.
    ///
    /// ```
    /// # use ndbind::prelude::*;
    /// # #[derive(Clone, PartialEq)]
    /// # pub struct Point { x: f64, y: f64 }
    /// # ndbind::class!(Point, clone);
    /// # ndbind::module!(doc_ext, |m| {
    /// # let c = m.class::<Point>("Point", ())?;
    /// c.def("norm", |p: &Point| p.x.hypot(p.y), ())?;
    /// # Ok(())
    /// # });
    /// ```
    pub fn def<M, F: IntoFunction<M>>(
        &self,
        name: &str,
        f: F,
        extras: impl Extra,
    ) -> PyResult<&Self> {
        self.define(name, f.into_parts(), extras, FuncKind::Method)?;
        Ok(self)
    }

    /// Adds an operator method (`__add__`, `__lt__`, ...): arguments that
    /// match no overload give `NotImplemented`, so Python tries the
    /// reflected operation.
    ///
    /// ```
    /// # use ndbind::prelude::*;
    /// # #[derive(Clone)]
    /// # pub struct V(f64);
    /// # ndbind::class!(V, clone);
    /// # ndbind::module!(doc_ext, |m| {
    /// # let c = m.class::<V>("V", ())?;
    /// c.def_operator("__add__", |a: &V, b: &V| V(a.0 + b.0), arg("other"))?;
    /// # Ok(())
    /// # });
    /// ```
    pub fn def_operator<M, F: IntoFunction<M>>(
        &self,
        name: &str,
        f: F,
        extras: impl Extra,
    ) -> PyResult<&Self> {
        self.define(name, f.into_parts(), extras, FuncKind::Operator)?;
        Ok(self)
    }

    /// Adds a static method (no `self`).
    ///
    /// ```
    /// # use ndbind::prelude::*;
    /// # #[derive(Clone, PartialEq)]
    /// # pub struct Point { x: f64, y: f64 }
    /// # ndbind::class!(Point, clone);
    /// # ndbind::module!(doc_ext, |m| {
    /// # let c = m.class::<Point>("Point", ())?;
    /// c.def_static("origin", || Point { x: 0.0, y: 0.0 }, ())?;
    /// # Ok(())
    /// # });
    /// ```
    pub fn def_static<M, F: IntoFunction<M>>(
        &self,
        name: &str,
        f: F,
        extras: impl Extra,
    ) -> PyResult<&Self> {
        self.define(name, f.into_parts(), extras, FuncKind::Function)?;
        Ok(self)
    }

    /// Adds a method returning a reference into `self` (return value policy
    /// `reference_internal`): the result is a `U` instance that points into
    /// this object (no copy), keeps it alive and shares its borrow state.
    /// The field is named with [`crate::field_of!`]: `def_ref("first_ref",
    /// field_of!(Pair, first), ())`.
    ///
    /// ```
    /// # pub struct Pod { a: f64, b: f64 }
    /// # ndbind::class!(Pod);
    /// # pub struct Pair { first: Pod, second: Pod }
    /// # ndbind::class!(Pair);
    /// # ndbind::module!(doc_ext, |m| {
    /// # m.class::<Pod>("Pod", ())?;
    /// # let c = m.class::<Pair>("Pair", ())?;
    /// c.def_ref("first_ref", ndbind::field_of!(Pair, first), ())?;
    /// # Ok(())
    /// # });
    /// ```
    pub fn def_ref<U: PyClass>(
        &self,
        name: &str,
        field: crate::core::class::FieldProj<T, U>,
        extras: impl Extra,
    ) -> PyResult<&Self> {
        self.define(
            name,
            crate::core::class::refs::ref_parts::<T, U>(field),
            extras,
            FuncKind::Method,
        )?;
        Ok(self)
    }

    fn add_prop(
        &self,
        name: &str,
        doc: Option<&str>,
        types: getset::PropTypes,
        get: getset::GetFn,
        gdata: Erased,
        set: Option<(getset::SetFn, Erased)>,
    ) -> PyResult<&Self> {
        let qualname = format!("{}.{}", self.qualname, name);
        let rec = PropRecord::new(qualname, name, doc, types, get, gdata, set)?;
        let tp = self.ty.as_ptr() as *mut ffi::PyTypeObject;
        // SAFETY: a bound class and its own record.
        unsafe { add_property(tp, record_of(tp).expect("bound class"), rec)? };
        Ok(self)
    }

    /// A read/write field: `get` and `set` project the field out of `T`;
    /// reading converts a clone of it.
    ///
    /// ```
    /// # use ndbind::prelude::*;
    /// # #[derive(Clone, PartialEq)]
    /// # pub struct Point { x: f64, y: f64 }
    /// # ndbind::class!(Point, clone);
    /// # ndbind::module!(doc_ext, |m| {
    /// # let c = m.class::<Point>("Point", ())?;
    /// c.field("x", |p| &p.x, |p| &mut p.x)?;
    /// # Ok(())
    /// # });
    /// ```
    pub fn field<V, G, S>(&self, name: &str, get: G, set: S) -> PyResult<&Self>
    where
        V: IntoPy + FromPy + Clone + 'static,
        G: for<'a> Fn(&'a T) -> &'a V + 'static,
        S: for<'a> Fn(&'a mut T) -> &'a mut V + 'static,
    {
        self.property(name, move |t: &T| get(t).clone(), move |t: &mut T, v: V| *set(t) = v)
    }

    /// A read-only field.
    ///
    /// ```
    /// # pub struct Tensor { rank: usize }
    /// # ndbind::class!(Tensor);
    /// # ndbind::module!(doc_ext, |m| {
    /// # let c = m.class::<Tensor>("Tensor", ())?;
    /// c.field_readonly("rank", |t| &t.rank)?;
    /// # Ok(())
    /// # });
    /// ```
    pub fn field_readonly<V, G>(&self, name: &str, get: G) -> PyResult<&Self>
    where
        V: IntoPy + Clone + 'static,
        G: for<'a> Fn(&'a T) -> &'a V + 'static,
    {
        self.property_readonly(name, move |t: &T| get(t).clone())
    }

    /// A read/write property from a getter and a setter.
    ///
    /// ```
    /// # use ndbind::prelude::*;
    /// # #[derive(Clone, PartialEq)]
    /// # pub struct Point { x: f64, y: f64 }
    /// # ndbind::class!(Point, clone);
    /// # impl Point {
    /// #     fn set_radius(&mut self, r: f64) {
    /// #         let s = r / self.x.hypot(self.y);
    /// #         (self.x, self.y) = (self.x * s, self.y * s);
    /// #     }
    /// # }
    /// # ndbind::module!(doc_ext, |m| {
    /// # let c = m.class::<Point>("Point", ())?;
    /// c.property("r", |p: &Point| p.x.hypot(p.y), |p: &mut Point, r: f64| p.set_radius(r))?;
    /// # Ok(())
    /// # });
    /// ```
    pub fn property<R, V, G, S>(&self, name: &str, get: G, set: S) -> PyResult<&Self>
    where
        R: IntoPy,
        V: FromPy,
        G: Fn(&T) -> R + 'static,
        S: Fn(&mut T, V) + 'static,
    {
        let set = (getset::set_impl::<T, V, S> as getset::SetFn, Erased::new(set));
        let types = getset::PropTypes { get: R::type_name, set: Some(V::type_name) };
        self.add_prop(name, None, types, getset::get_impl::<T, R, G>, Erased::new(get), Some(set))
    }

    /// A read-only property.
    ///
    /// ```
    /// # pub struct Pair { first: i64, second: i64 }
    /// # ndbind::class!(Pair);
    /// # ndbind::module!(doc_ext, |m| {
    /// # let c = m.class::<Pair>("Pair", ())?;
    /// c.property_readonly("first", |p: &Pair| p.first)?;
    /// # Ok(())
    /// # });
    /// ```
    pub fn property_readonly<R: IntoPy, G: Fn(&T) -> R + 'static>(
        &self,
        name: &str,
        get: G,
    ) -> PyResult<&Self> {
        let types = getset::PropTypes { get: R::type_name, set: None };
        self.add_prop(name, None, types, getset::get_impl::<T, R, G>, Erased::new(get), None)
    }

    /// A read-only property returning the field `field` of `T` (named with
    /// [`crate::field_of!`]), itself of a bound class `U`, by reference
    /// (nanobind's default `reference_internal` for properties): the
    /// result is a `U` instance that points into this object (no copy:
    /// writes through it are seen here), keeps it alive and shares its
    /// borrow state. Reading it twice while the first result lives gives
    /// the same object. See [`Class::def_ref`] for the method form.
    ///
    /// ```
    /// # use ndbind::prelude::*;
    /// pub struct Pod { a: f64, b: f64 }
    /// ndbind::class!(Pod);
    /// pub struct Pair { first: Pod, second: Pod }
    /// ndbind::class!(Pair);
    ///
    /// ndbind::module!(doc_ext, |m| {
    ///     m.class::<Pod>("Pod", ())?;
    ///     m.class::<Pair>("Pair", ())?
    ///         .property_ref("first", ndbind::field_of!(Pair, first))?
    ///         .property_doc("first", "The first Pod, by reference.")?;
    ///     Ok(())
    /// });
    /// ```
    pub fn property_ref<U: PyClass>(
        &self,
        name: &str,
        field: crate::core::class::FieldProj<T, U>,
    ) -> PyResult<&Self> {
        let types =
            getset::PropTypes { get: crate::core::class::cast::push_type_name::<U>, set: None };
        let get = getset::ref_get_impl::<T, U>;
        self.add_prop(name, None, types, get, Erased::new(field.offset()), None)
    }

    /// Sets the docstring of the property or static property `name` of
    /// this class (nanobind passes it with `def_prop_ro_static(name,
    /// getter, "doc")`): `Class.__dict__[name].__doc__` is the rendered
    /// `name: T` line (with `; read-only` or the setter's type), then
    /// this text. `AttributeError` when the class has no such property.
    ///
    /// ```
    /// # use ndbind::prelude::*;
    /// # pub struct Point { x: f64, y: f64 }
    /// # ndbind::class!(Point);
    /// # ndbind::module!(doc_ext, |m| {
    /// # let c = m.class::<Point>("Point", ())?;
    /// c.static_property_readonly("version", || 3)?
    ///     .property_doc("version", "The version of the point format.")?;
    /// # Ok(())
    /// # });
    /// ```
    pub fn property_doc(&self, name: &str, doc: &str) -> PyResult<&Self> {
        // SAFETY: a bound class with its own record; the GIL is held.
        let rec = unsafe { record_of(self.tp()) }.expect("bound class");
        if let Some(p) =
            rec.props.borrow_mut().iter_mut().find(|p| p.name.to_bytes() == name.as_bytes())
        {
            p.set_doc(doc)?;
            return Ok(self);
        }
        let cname =
            std::ffi::CString::new(name).map_err(|_| PyErr::value_error("NUL in property name"))?;
        // SAFETY: a live, ready bound type; the lookup runs no Python code
        // and returns a new reference.
        let own = unsafe { crate::core::abi::own_attr_str(self.tp(), &cname) };
        match own {
            Some(v) if getset::set_static_property_doc(v.borrow(), doc)? => Ok(self),
            _ => Err(PyErr::attribute_error(format!(
                "{}: no property '{name}' is defined on this class",
                self.qualname
            ))),
        }
    }

    fn add_static_prop(
        &self,
        name: &str,
        types: getset::PropTypes,
        get: getset::GetFn,
        gdata: Erased,
        set: Option<(getset::SetFn, Erased)>,
    ) -> PyResult<&Self> {
        let qualname = format!("{}.{}", self.qualname, name);
        let rec = PropRecord::new(qualname, name, None, types, get, gdata, set)?;
        let obj = getset::new_static_property(rec)?;
        let cname =
            std::ffi::CString::new(name).map_err(|_| PyErr::value_error("NUL in property name"))?;
        // Through `type.__setattr__` (the metaclass would call a setter of
        // an existing static property of that name instead).
        let key = Object::intern_held(&cname)?;
        // SAFETY: valid type, name and value; the GIL is held.
        let rc = unsafe {
            let set = crate::core::abi::type_type::setattro();
            set(self.ty.as_ptr(), key.as_ptr(), obj.as_ptr())
        };
        if rc != 0 {
            return Err(PyErr::fetch());
        }
        Ok(self)
    }

    /// A static property: `Class.name` calls `get`, `Class.name = v` calls
    /// `set` (also through instances).
    ///
    /// ```
    /// # use ndbind::prelude::*;
    /// # pub struct Point { x: f64, y: f64 }
    /// # ndbind::class!(Point);
    /// use std::sync::atomic::{AtomicIsize, Ordering::Relaxed};
    ///
    /// static LIVE: AtomicIsize = AtomicIsize::new(0);
    /// # ndbind::module!(doc_ext, |m| {
    /// # let c = m.class::<Point>("Point", ())?;
    /// c.static_property("live", || LIVE.load(Relaxed), |v: isize| LIVE.store(v, Relaxed))?;
    /// # Ok(())
    /// # });
    /// ```
    pub fn static_property<R, V, G, S>(&self, name: &str, get: G, set: S) -> PyResult<&Self>
    where
        R: IntoPy,
        V: FromPy,
        G: Fn() -> R + 'static,
        S: Fn(V) + 'static,
    {
        let set = (getset::static_set_impl::<V, S> as getset::SetFn, Erased::new(set));
        let types = getset::PropTypes { get: R::type_name, set: Some(V::type_name) };
        let get_fn = getset::static_get_impl::<R, G>;
        self.add_static_prop(name, types, get_fn, Erased::new(get), Some(set))
    }

    /// A read-only static property.
    ///
    /// ```
    /// # use ndbind::prelude::*;
    /// # #[derive(Clone, PartialEq)]
    /// # pub struct Point { x: f64, y: f64 }
    /// # ndbind::class!(Point, clone);
    /// # ndbind::module!(doc_ext, |m| {
    /// # let c = m.class::<Point>("Point", ())?;
    /// c.static_property_readonly("version", || 3)?;
    /// # Ok(())
    /// # });
    /// ```
    pub fn static_property_readonly<R: IntoPy, G: Fn() -> R + 'static>(
        &self,
        name: &str,
        get: G,
    ) -> PyResult<&Self> {
        let types = getset::PropTypes { get: R::type_name, set: None };
        self.add_static_prop(name, types, getset::static_get_impl::<R, G>, Erased::new(get), None)
    }

    /// `__repr__` from a formatting function.
    ///
    /// ```
    /// # use ndbind::prelude::*;
    /// # #[derive(Clone, PartialEq)]
    /// # pub struct Point { x: f64, y: f64 }
    /// # ndbind::class!(Point, clone);
    /// # ndbind::module!(doc_ext, |m| {
    /// # let c = m.class::<Point>("Point", ())?;
    /// c.repr(|p| format!("Point(x={:?}, y={:?})", p.x, p.y))?;
    /// # Ok(())
    /// # });
    /// ```
    pub fn repr<F: Fn(&T) -> String + 'static>(&self, f: F) -> PyResult<&Self>
    where
        for<'a> &'a T: Param<Caster = ClassRef<T>>,
    {
        self.def("__repr__", move |t: &T| f(t), ())
    }

    /// `__eq__` / `__ne__` from `PartialEq` (anything else compares
    /// unequal). Without [`Class::hash`] the class becomes unhashable, as
    /// in Python.
    ///
    /// ```
    /// # use ndbind::prelude::*;
    /// # #[derive(Clone, PartialEq)]
    /// # pub struct Point { x: f64, y: f64 }
    /// # ndbind::class!(Point, clone);
    /// # ndbind::module!(doc_ext, |m| {
    /// # let c = m.class::<Point>("Point", ())?;
    /// c.eq()?; // Point(1, 2) == Point(1, 2)
    /// # Ok(())
    /// # });
    /// ```
    pub fn eq(&self) -> PyResult<&Self>
    where
        T: PartialEq,
        for<'a> &'a T: Param<Caster = ClassRef<T>>,
    {
        self.def_operator("__eq__", |a: &T, b: &T| a == b, ())?;
        self.def_operator("__ne__", |a: &T, b: &T| a != b, ())?;
        if !self.has_own("__hash__") {
            self.set(c"__hash__", Object::none_held().borrow())?;
        }
        Ok(self)
    }

    /// `__hash__` from `Hash`.
    ///
    /// ```
    /// # #[derive(PartialEq, Hash)]
    /// # pub struct Cell { row: i64, col: i64 }
    /// # ndbind::class!(Cell);
    /// # ndbind::module!(doc_ext, |m| {
    /// # let c = m.class::<Cell>("Cell", ())?;
    /// c.eq()?.hash()?;
    /// # Ok(())
    /// # });
    /// ```
    pub fn hash(&self) -> PyResult<&Self>
    where
        T: std::hash::Hash,
        for<'a> &'a T: Param<Caster = ClassRef<T>>,
    {
        self.def(
            "__hash__",
            |a: &T| {
                use std::hash::Hasher;
                let mut h = std::collections::hash_map::DefaultHasher::new();
                a.hash(&mut h);
                h.finish() as i64
            },
            (),
        )
    }

    /// Sets class attribute `name`.
    ///
    /// ```
    /// # use ndbind::prelude::*;
    /// # #[derive(Clone, PartialEq)]
    /// # pub struct Point { x: f64, y: f64 }
    /// # ndbind::class!(Point, clone);
    /// # ndbind::module!(doc_ext, |m| {
    /// # let c = m.class::<Point>("Point", ())?;
    /// c.attr("DIMENSIONS", 2)?;
    /// # Ok(())
    /// # });
    /// ```
    pub fn attr(&self, name: &str, value: impl IntoPy) -> PyResult<&Self> {
        let v = value.into_py(&crate::core::caster::ReturnCtx::held())?;
        let cname = std::ffi::CString::new(name)
            .map_err(|_| PyErr::value_error("NUL in attribute name"))?;
        self.set(&cname, v.borrow())?;
        Ok(self)
    }

    fn has_own(&self, name: &str) -> bool {
        let Ok(cname) = std::ffi::CString::new(name) else { return false };
        // SAFETY: a ready type; the GIL is held.
        unsafe { crate::core::abi::own_attr_str(self.tp(), &cname).is_some() }
    }
}

/// Points the bound class `ty` at its `__init__` function `func` and sets
/// up the construction fast path (one overload, positional parameters).
fn install_init(ty: &Object, func: &Object) {
    // SAFETY: the type is a bound class with its own record; the
    // function is owned by the type's dict, which outlives the record's
    // borrowed pointer use (both die with the type).
    unsafe {
        let tp = ty.as_ptr() as *mut ffi::PyTypeObject;
        let rec = record_of(tp).expect("bound class");
        rec.init.set(func.as_ptr());
        // The function's own single-overload fast path decides.
        rec.init_fast.set(crate::core::func::func_type::as_func(func.borrow()).and_then(|f| {
            let r = f
                .overloads
                .first()
                .filter(|_| f.fast_nargs != crate::core::func::func_type::NO_FAST_PATH)?;
            Some(crate::core::class::record::InitFast {
                call: r.call,
                site: r.site,
                nargs: r.nargs,
                none_reject: r.none_reject_mask,
            })
        }));
        // Assigning `__init__` turned the construction fast path off.
        crate::core::class::meta::set_class_vectorcall(
            tp,
            Some(crate::core::class::inst::class_vectorcall),
        );
    }
}

/// The non-generic part of [`Class::new`]: creates the type from `rec`,
/// sets it on `scope` and, for clonable values, binds
/// `__copy__`/`__deepcopy__`.
fn new_class(
    scope: Borrowed<'_>,
    module: &str,
    name: &str,
    qualname: &str,
    rec: Box<TypeRecord>,
) -> PyResult<Object> {
    if let Some(b) = &rec.base {
        if b.slot.type_ptr().is_null() {
            return Err(PyErr::type_error(format!(
                "{name}: its Rust base class must be bound before it ({})",
                b.rust_name
            )));
        }
    }
    let (slot, clonable) = (rec.slot, rec.clone.is_some());
    // A Rust subclass inherits its base's trampoline (see `overridable`).
    let tramp = rec.base.as_ref().and_then(|b| Some(b.offset + b.slot.trampoline_offset()?));
    let ty = create_type(rec, module, name, qualname)?;
    if let Some(off) = tramp {
        slot.set_trampoline_offset(off);
    }
    let cname =
        std::ffi::CString::new(name).map_err(|_| PyErr::value_error("NUL in class name"))?;
    scope.setattr(&cname, ty.borrow())?;
    if clonable {
        let def = |n: &str, parts, extras| {
            define_in(ty.borrow(), module, Some(qualname), n, parts, extras, FuncKind::Method)
        };
        def(
            "__copy__",
            IntoFunction::into_parts(|o: Borrowed<'_>| crate::core::class::inst_clone(o)),
            ().into_extras(),
        )?;
        let deepcopy = |o: Borrowed<'_>, _memo: Borrowed<'_>| crate::core::class::inst_clone(o);
        def("__deepcopy__", IntoFunction::into_parts(deepcopy), arg("memo").into_extras())?;
    }
    Ok(ty)
}
