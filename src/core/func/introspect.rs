//! `__signature__` of bound functions: an `inspect.Signature` built from
//! the records, so `inspect.signature`, `help()` and IDEs see parameter
//! names, kinds, defaults and annotations. Cold code only: built on each
//! access, never on the call path.
//!
//! - One overload: its parameters (unnamed ones are `arg` / `arg0`, ...,
//!   positional-only, as rendered), the default objects of the binding (a
//!   default known only by its text, `arg(..).default_repr(..)` without a
//!   value, is the value of that text when it is a Python literal
//!   (`ast.literal_eval`), else an object whose `repr` is that text), and
//!   the rendered type
//!   names as string annotations. A custom `sig(...)` text is parsed
//!   instead (its defaults are the binding's objects where a parameter of
//!   that name has one, else their text, as for `default_repr`).
//! - Several overloads taking the same parameters (names, kinds and
//!   defaults): those parameters, each annotation the overloads' types
//!   joined with `|` (the return annotation too).
//! - Several overloads taking different parameters: `(*args, **kwargs)`
//!   (`(self, /, *args, **kwargs)` for methods), since one parameter list
//!   would refuse calls that another overload accepts.

use crate::core::caster::{IntoPy, ReturnCtx};
use crate::core::error::{push_decimal, PyResult};
use crate::core::func::func_type::FuncObject;
use crate::core::func::record::FuncRecord;
use crate::core::func::signature::{push_type, split_top, var_prefix};
use crate::core::gil_cell::GilCell;
use crate::core::handles::{Dict, List, Tuple};
use crate::core::object::Object;

/// `inspect.Parameter` kinds, numbered as `inspect._ParameterKind`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    PositionalOnly = 0,
    PositionalOrKeyword = 1,
    VarPositional = 2,
    KeywordOnly = 3,
    VarKeyword = 4,
}

/// A parameter's default.
#[derive(Clone)]
enum DefaultValue {
    None,
    Value(Object),
    Text(String),
}

impl DefaultValue {
    /// The same default (the same object, or the same text).
    fn same(&self, other: &DefaultValue) -> bool {
        match (self, other) {
            (DefaultValue::None, DefaultValue::None) => true,
            (DefaultValue::Value(a), DefaultValue::Value(b)) => a.as_ptr() == b.as_ptr(),
            (DefaultValue::Text(a), DefaultValue::Text(b)) => a == b,
            _ => false,
        }
    }
}

/// One parameter, collected in Rust before any Python code runs.
#[derive(Clone)]
struct Param {
    name: String,
    kind: Kind,
    /// Empty: no annotation.
    annotation: String,
    default: DefaultValue,
}

/// One overload's parameters and return annotation.
struct Overload {
    params: Vec<Param>,
    ret: String,
}

/// The parameters of one rendered overload.
fn from_record(r: &FuncRecord) -> Overload {
    let method = r.site.method as usize;
    let mut params = Vec::with_capacity(r.nargs);
    for i in 0..r.nargs {
        if let Some((prefix, name)) = var_prefix(r, i) {
            let kind = if prefix == "*" { Kind::VarPositional } else { Kind::VarKeyword };
            params.push(Param {
                name: name.to_owned(),
                kind,
                annotation: String::new(),
                default: DefaultValue::None,
            });
            continue;
        }
        let kind = if i < r.nargs_pos_only {
            Kind::PositionalOnly
        } else if i < r.nargs_pos {
            Kind::PositionalOrKeyword
        } else {
            Kind::KeywordOnly
        };
        if i == 0 && method == 1 {
            params.push(Param {
                name: "self".to_owned(),
                kind: Kind::PositionalOnly,
                annotation: String::new(),
                default: DefaultValue::None,
            });
            continue;
        }
        let mut name = String::new();
        match r.args.get(i) {
            Some(a) => name.push_str(a.name_str),
            None if r.nargs == 1 + method => name.push_str("arg"),
            None => {
                name.push_str("arg");
                push_decimal(&mut name, i - method);
            }
        }
        let mut annotation = String::new();
        push_type(&mut annotation, r, i);
        let mut default = DefaultValue::None;
        if let Some(a) = r.args.get(i) {
            if a.none_shown {
                annotation.push_str(" | None");
            }
            default = match (&a.default, &a.default_repr) {
                (Some(d), _) => DefaultValue::Value(d.clone()),
                (None, Some(text)) => DefaultValue::Text(text.clone()),
                (None, None) => DefaultValue::None,
            };
        }
        params.push(Param { name, kind, annotation, default });
    }
    let mut ret = String::new();
    push_type(&mut ret, r, r.nargs);
    Overload { params, ret }
}

/// The parameters of a custom signature text (`sig(...)`): `None` when
/// the text has no parameter list.
fn from_custom(text: &str, r: &FuncRecord) -> Option<Overload> {
    let open = text.find('(')?;
    let inner = &text[open + 1..];
    let close = split_top(inner, ')').first()?.len();
    if close == inner.len() {
        return None;
    }
    let ret = inner[close + 1..].trim().strip_prefix("->").map_or("", |t| t.trim());
    let ret = ret.trim_end_matches(':').trim().to_owned();
    let mut params: Vec<Param> = Vec::new();
    let mut kw_only = false;
    for p in split_top(&inner[..close], ',') {
        let p = p.trim();
        match p {
            "" => continue,
            "/" => {
                for q in &mut params {
                    q.kind = Kind::PositionalOnly;
                }
                continue;
            }
            "*" => {
                kw_only = true;
                continue;
            }
            _ => {}
        }
        let parts = split_top(p, '=');
        let (decl, default) = match parts.as_slice() {
            [d, rest @ ..] if !rest.is_empty() => (*d, Some(p[d.len() + 1..].trim())),
            _ => (p, None),
        };
        let pieces = split_top(decl, ':');
        let name = pieces[0].trim();
        let annotation =
            if pieces.len() > 1 { decl[pieces[0].len() + 1..].trim() } else { "" }.to_owned();
        let (kind, name) = if let Some(n) = name.strip_prefix("**") {
            (Kind::VarKeyword, n)
        } else if let Some(n) = name.strip_prefix('*') {
            kw_only = true;
            (Kind::VarPositional, n)
        } else if kw_only {
            (Kind::KeywordOnly, name)
        } else if params.is_empty() && r.site.method {
            // `self`: positional-only, as `$self` in `__text_signature__`.
            (Kind::PositionalOnly, name)
        } else {
            (Kind::PositionalOrKeyword, name)
        };
        let default = match default {
            None => DefaultValue::None,
            Some(text) => {
                match r.args.iter().find(|a| a.name_str == name).and_then(|a| a.default.clone()) {
                    Some(d) => DefaultValue::Value(d),
                    None => DefaultValue::Text(text.to_owned()),
                }
            }
        };
        params.push(Param { name: name.to_owned(), kind, annotation, default });
    }
    Some(Overload { params, ret })
}

/// Joins `b` into the union `a` (`int | float`), once.
fn join_union(a: &mut String, b: &str) {
    if a.is_empty() || b.is_empty() {
        return;
    }
    if !split_top(a, '|').iter().any(|t| t.trim() == b) {
        a.push_str(" | ");
        a.push_str(b);
    }
}

/// What `__signature__` describes: see the module documentation.
fn collect(f: &FuncObject) -> Overload {
    let mut all = f
        .overloads
        .iter()
        .map(|r| r.custom_sig.and_then(|t| from_custom(t, r)).unwrap_or_else(|| from_record(r)));
    let Some(mut first) = all.next() else {
        return Overload { params: Vec::new(), ret: String::new() };
    };
    let mut same = true;
    for o in all {
        join_union(&mut first.ret, &o.ret);
        same &= o.params.len() == first.params.len()
            && o.params
                .iter()
                .zip(&first.params)
                .all(|(a, b)| a.name == b.name && a.kind == b.kind && a.default.same(&b.default));
        if same {
            for (p, q) in first.params.iter_mut().zip(&o.params) {
                join_union(&mut p.annotation, &q.annotation);
            }
        }
    }
    if !same {
        let method = f.overloads.first().is_some_and(|r| r.site.method);
        let var = |name: &str, kind| Param {
            name: name.to_owned(),
            kind,
            annotation: String::new(),
            default: DefaultValue::None,
        };
        first.params.clear();
        if method {
            first.params.push(var("self", Kind::PositionalOnly));
        }
        first.params.push(var("args", Kind::VarPositional));
        first.params.push(var("kwargs", Kind::VarKeyword));
    }
    first
}

/// The Python half: `make(params, ret)` builds the `inspect.Signature`
/// from `(name, kind, annotation, default_kind, default)` tuples
/// (`default_kind`: 0 none, 1 the object, 2 its text).
const HELPER: &str = r#"
import ast as _ast
import inspect as _inspect

class DefaultText:
    """A default known by its text only (ndbind's `default_repr`)."""
    __slots__ = ("text",)
    def __init__(self, text):
        self.text = text
    def __repr__(self):
        return self.text

def make(params, ret):
    P = _inspect.Parameter
    out = []
    for name, kind, ann, dkind, default in params:
        kw = {}
        if ann:
            kw["annotation"] = ann
        if dkind == 1:
            kw["default"] = default
        elif dkind == 2:
            # A Python literal is its value (what a stub's `= 'a,b'` is to
            # stubtest); any other text stays text.
            try:
                kw["default"] = _ast.literal_eval(default)
            except Exception:
                kw["default"] = DefaultText(default)
        out.append(P(name, _inspect._ParameterKind(kind), **kw))
    if ret:
        return _inspect.Signature(out, return_annotation=ret)
    return _inspect.Signature(out)
"#;

static MAKE: GilCell<Object> = GilCell::new();

/// The helper's `make`, compiled once per process.
fn make_fn() -> PyResult<&'static Object> {
    MAKE.get_or_try_init(|| {
        let globals = Dict::new()?;
        globals.set_item("__name__", "ndbind")?;
        let builtins = Object::import_held(c"builtins")?;
        let exec = builtins.borrow().getattr(c"exec")?;
        let src = Object::str_held(HELPER)?;
        let g = globals.into_object();
        exec.borrow().call(&[src.borrow(), g.borrow()])?;
        g.borrow().get_item("make")
    })
}

/// `__signature__` of `f`.
pub(crate) fn signature(f: &FuncObject) -> PyResult<Object> {
    // Everything is read from the records first: Python code below may
    // run anything, including code that changes `f`.
    let o = collect(f);
    let params = List::new()?;
    for p in o.params {
        let (dkind, default) = match p.default {
            DefaultValue::None => (0i64, Object::none_held()),
            DefaultValue::Value(v) => (1, v),
            DefaultValue::Text(t) => (2, Object::str_held(&t)?),
        };
        let entry = Tuple::new([
            Object::str_held(&p.name)?,
            (p.kind as i64).into_py(&ReturnCtx::default())?,
            Object::str_held(&p.annotation)?,
            dkind.into_py(&ReturnCtx::default())?,
            default,
        ])?;
        params.append(entry)?;
    }
    let ret = Object::str_held(&o.ret)?;
    let make = make_fn()?.clone();
    let params = params.into_object();
    make.borrow().call(&[params.borrow(), ret.borrow()])
}
