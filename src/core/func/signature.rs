//! Rendering signatures (`add(a: int, b: int = 1) -> int`), docstrings and
//! the "incompatible function arguments" message. Cold code only.
#![deny(unsafe_op_in_unsafe_fn)]

use std::fmt::Write;

use crate::core::func::func_type::FuncObject;
use crate::core::func::record::FuncRecord;

/// One overload's signature.
pub(crate) fn render(name: &str, r: &FuncRecord) -> String {
    let types: Vec<String> = r.sig.iter().map(|f| crate::core::caster::type_name_of(*f)).collect();
    let mut s = String::new();
    s.push_str(name);
    s.push('(');
    for i in 0..r.nargs {
        if i > 0 {
            s.push_str(", ");
        }
        if i == r.nargs_pos && !r.args.is_empty() {
            s.push_str("*, ");
        }
        if i == 0 && r.site.method {
            s.push_str("self");
            continue;
        }
        match r.args.get(i) {
            Some(a) => s.push_str(a.name_str),
            None if r.nargs == 1 + r.site.method as usize => s.push_str("arg"),
            None => {
                let _ = write!(s, "arg{}", i - r.site.method as usize);
            }
        }
        s.push_str(": ");
        s.push_str(types.get(i).map_or("object", String::as_str));
        if let Some(a) = r.args.get(i) {
            if let Some(repr) = &a.default_repr {
                let _ = write!(s, " = {repr}");
            } else if let Some(d) = &a.default {
                let _ = write!(s, " = {}", d.borrow().repr().unwrap_or_else(|_| "...".into()));
            }
        }
        if !r.args.is_empty()
            && r.nargs_pos_only > r.site.method as usize
            && i + 1 == r.nargs_pos_only
        {
            s.push_str(", /");
        }
    }
    s.push_str(") -> ");
    s.push_str(types.get(r.nargs).map_or("object", String::as_str));
    s
}

/// `__doc__`: every overload's signature, then the docstrings.
pub(crate) fn render_doc(f: &FuncObject) -> String {
    let mut s = String::new();
    for r in &f.overloads {
        s.push_str(&render(&f.name, r));
        s.push('\n');
    }
    let docs: Vec<_> = f.overloads.iter().filter_map(|r| r.doc).collect();
    if f.overloads.len() == 1 {
        if let Some(d) = docs.first() {
            let _ = write!(s, "\n{d}\n");
        }
    } else if !docs.is_empty() {
        s.push_str("\nOverloaded function.\n");
        for (i, r) in f.overloads.iter().enumerate() {
            let _ = write!(s, "\n{}. ``{}``\n", i + 1, render(&f.name, r));
            if let Some(d) = r.doc {
                let _ = write!(s, "\n{d}\n");
            }
        }
    }
    s.truncate(s.trim_end().len());
    s
}

/// `__text_signature__` for `inspect.signature`: only for single-overload
/// functions, in the format CPython's parser accepts (no annotations).
pub(crate) fn render_text_signature(f: &FuncObject) -> Option<String> {
    let [r] = f.overloads.as_slice() else { return None };
    if r.site.method && r.nargs == 1 {
        return Some("($self)".to_owned());
    }
    if r.args.is_empty() && r.nargs > 0 {
        return None;
    }
    let mut parts = Vec::new();
    for (i, a) in r.args.iter().enumerate() {
        if i == r.nargs_pos {
            parts.push("*".to_owned());
        }
        if i == 0 && r.site.method {
            parts.push("$self".to_owned());
            continue;
        }
        match &a.default {
            Some(d) => parts.push(format!("{}={}", a.name_str, d.borrow().repr().ok()?)),
            None => parts.push(a.name_str.to_owned()),
        }
        if r.nargs_pos_only > r.site.method as usize && i + 1 == r.nargs_pos_only {
            parts.push("/".to_owned());
        }
    }
    Some(format!("({})", parts.join(", ")))
}

/// The `TypeError` message for a call that matched no overload.
pub(crate) fn mismatch_message(
    f: &FuncObject,
    args: &[String],
    kwargs: &[(String, String)],
) -> String {
    let mut s = format!(
        "{}(): incompatible function arguments. The following argument types are supported:\n",
        f.name
    );
    for (i, r) in f.overloads.iter().enumerate() {
        let _ = writeln!(s, "    {}. {}", i + 1, render(&f.name, r));
    }
    s.push_str("\nInvoked with types: ");
    s.push_str(&args.join(", "));
    if !kwargs.is_empty() {
        if !args.is_empty() {
            s.push_str(", ");
        }
        let kw: Vec<String> = kwargs.iter().map(|(k, t)| format!("{k}: {t}")).collect();
        let _ = write!(s, "kwargs = {{ {} }}", kw.join(", "));
    }
    s
}
