//! Rendering signatures (`add(a: int, b: int = 1) -> int`), docstrings and
//! the "incompatible function arguments" message. Cold code only.

use pyo3_ffi as ffi;

use crate::core::error::push_decimal;
use crate::core::func::func_type::FuncObject;
use crate::core::func::record::FuncRecord;
use crate::core::object::Borrowed;

/// Appends the type name of entry `i` of the signature table (the
/// parameters', then the return type's).
pub(crate) fn push_type(s: &mut String, r: &FuncRecord, i: usize) {
    match r.sig.get(i) {
        Some(f) => f(s),
        None => s.push_str("object"),
    }
}

/// The `*` or `**` of parameter `i` when it is `*args` / `**kwargs`, with
/// its name.
pub(crate) fn var_prefix(r: &FuncRecord, i: usize) -> Option<(&'static str, &'static str)> {
    let (prefix, dflt) = if Some(i) == r.var_args {
        ("*", "args")
    } else if Some(i) == r.var_kw {
        ("**", "kwargs")
    } else {
        return None;
    };
    Some((prefix, r.args.get(i).map_or(dflt, |a| a.name_str)))
}

/// Appends one overload's signature (`add(a: int, b: int = 1) -> int`), or
/// its custom text (`sig(...)`).
fn render_into(s: &mut String, name: &str, r: &FuncRecord) {
    if let Some(text) = r.custom_sig {
        match text.strip_prefix("def ") {
            Some(rest) => s.push_str(rest.trim().trim_end_matches(':')),
            None => {
                s.push_str(name);
                s.push_str(text.trim());
            }
        }
        return;
    }
    s.push_str(name);
    s.push('(');
    for i in 0..r.nargs {
        if i > 0 {
            s.push_str(", ");
        }
        if let Some((prefix, var)) = var_prefix(r, i) {
            s.push_str(prefix);
            s.push_str(var);
            continue;
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
                s.push_str("arg");
                push_decimal(s, i - r.site.method as usize);
            }
        }
        s.push_str(": ");
        push_type(s, r, i);
        if let Some(a) = r.args.get(i) {
            if a.none_shown {
                s.push_str(" | None");
            }
            if let Some(repr) = &a.default_repr {
                s.push_str(" = ");
                s.push_str(repr);
            } else if let Some(d) = &a.default {
                s.push_str(" = ");
                match d.borrow().repr() {
                    Ok(repr) => s.push_str(&repr),
                    Err(_) => s.push_str("..."),
                }
            }
        }
        // After the last positional-only parameter (`self` alone is not
        // marked); unnamed parameters are all positional-only, as in
        // nanobind.
        if r.nargs_pos_only > r.site.method as usize && i + 1 == r.nargs_pos_only {
            s.push_str(", /");
        }
    }
    s.push_str(") -> ");
    push_type(s, r, r.nargs);
}

/// `__doc__`: every overload's signature, then the docstrings.
pub(crate) fn render_doc(f: &FuncObject) -> String {
    if let Some(raw) = f.overloads.iter().find(|r| r.raw_doc) {
        return raw.doc.unwrap_or_default().to_owned();
    }
    let mut s = String::new();
    for r in &f.overloads {
        render_into(&mut s, &f.name, r);
        s.push('\n');
    }
    let mut docs = f.overloads.iter().filter_map(|r| r.doc);
    if f.overloads.len() == 1 {
        if let Some(d) = docs.next() {
            s.push('\n');
            s.push_str(d);
            s.push('\n');
        }
    } else if docs.next().is_some() {
        s.push_str("\nOverloaded function.\n");
        for (i, r) in f.overloads.iter().enumerate() {
            s.push('\n');
            push_decimal(&mut s, i + 1);
            s.push_str(". ``");
            render_into(&mut s, &f.name, r);
            s.push_str("``\n");
            if let Some(d) = r.doc {
                s.push('\n');
                s.push_str(d);
                s.push('\n');
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
    if let Some(text) = r.custom_sig {
        return text_signature_of(text, r.site.method);
    }
    if r.site.method && r.nargs == 1 {
        return Some("($self)".to_owned());
    }
    if r.args.is_empty() && r.nargs > 0 {
        return None;
    }
    let mut s = String::from("(");
    // Each part after the first is preceded by ", ".
    let sep = |s: &mut String| {
        if s.len() > 1 {
            s.push_str(", ");
        }
    };
    for (i, a) in r.args.iter().enumerate() {
        if let Some((prefix, var)) = var_prefix(r, i) {
            sep(&mut s);
            s.push_str(prefix);
            s.push_str(var);
            continue;
        }
        if i == r.nargs_pos {
            sep(&mut s);
            s.push('*');
        }
        sep(&mut s);
        if i == 0 && r.site.method {
            s.push_str("$self");
            continue;
        }
        s.push_str(a.name_str);
        if let Some(d) = &a.default {
            s.push('=');
            s.push_str(&d.borrow().repr().ok()?);
        }
        if r.nargs_pos_only > r.site.method as usize && i + 1 == r.nargs_pos_only {
            s.push_str(", /");
        }
    }
    s.push(')');
    Some(s)
}

/// Splits `text` at the top-level occurrences of `sep` (outside brackets
/// and string literals).
pub(crate) fn split_top(text: &str, sep: char) -> Vec<&str> {
    let (mut out, mut depth, mut quote, mut start) = (Vec::new(), 0i32, None, 0);
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        match (quote, c) {
            (Some(_), '\\') => {
                chars.next();
            }
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, c) if c == sep && depth == 0 => {
                out.push(&text[start..i]);
                start = i + c.len_utf8();
            }
            (None, '(' | '[' | '{') => depth += 1,
            (None, ')' | ']' | '}') => depth -= 1,
            _ => {}
        }
    }
    out.push(&text[start..]);
    out
}

/// `__text_signature__` of a custom signature text: its parenthesised
/// parameter list without annotations (`(x: int = 0) -> int` gives
/// `(x=0)`); a method's first parameter becomes `$self`. `None` when the
/// text has no parameter list.
fn text_signature_of(text: &str, method: bool) -> Option<String> {
    let open = text.find('(')?;
    // The matching `)`: the first top-level part after `(`.
    let inner = &text[open + 1..];
    let close = split_top(inner, ')').first()?.len();
    if close == inner.len() {
        return None;
    }
    let mut out = String::from("(");
    for (i, p) in split_top(&inner[..close], ',').into_iter().enumerate() {
        let p = p.trim();
        if p.is_empty() {
            continue;
        }
        if out.len() > 1 {
            out.push_str(", ");
        }
        let (decl, default) = match split_top(p, '=').as_slice() {
            [d, rest @ ..] if !rest.is_empty() => (*d, Some(p[d.len() + 1..].trim())),
            _ => (p, None),
        };
        let pname = split_top(decl, ':')[0].trim();
        if i == 0 && method && !pname.starts_with('*') && pname != "/" {
            out.push('$');
        }
        out.push_str(pname);
        if let Some(d) = default {
            out.push('=');
            out.push_str(d);
        }
    }
    out.push(')');
    Some(out)
}

/// The `TypeError` message for a call that matched no overload: `args`
/// holds the `nargs` positional arguments, then one per keyword name of
/// `kwnames` (a tuple of `str`, or NULL).
///
/// # Safety
/// `args` and `kwnames` are valid as described, and live.
pub(crate) unsafe fn mismatch_message(
    f: &FuncObject,
    args: *const *mut ffi::PyObject,
    nargs: usize,
    kwnames: *mut ffi::PyObject,
) -> String {
    let mut s = String::new();
    s.push_str(&f.name);
    s.push_str(
        "(): incompatible function arguments. The following argument types are supported:\n",
    );
    for (i, r) in f.overloads.iter().enumerate() {
        s.push_str("    ");
        push_decimal(&mut s, i + 1);
        s.push_str(". ");
        render_into(&mut s, &f.name, r);
        s.push('\n');
    }
    s.push_str("\nInvoked with types: ");
    // SAFETY: the caller's contract (a tuple when not NULL).
    let nkw = if kwnames.is_null() {
        0
    } else {
        // SAFETY: as above.
        (unsafe { crate::core::abi::tuple_size(kwnames) }) as usize
    };
    for i in 0..nargs {
        if i > 0 {
            s.push_str(", ");
        }
        // SAFETY: `i < nargs`: a live argument (the caller's contract).
        s.push_str(&super::mismatch::full_type_name(unsafe { Borrowed::from_ptr(*args.add(i)) }));
    }
    if nkw != 0 {
        if nargs != 0 {
            s.push_str(", ");
        }
        s.push_str("kwargs = { ");
        for k in 0..nkw {
            if k > 0 {
                s.push_str(", ");
            }
            // SAFETY: `k` is below the tuple's size; keyword values follow
            // the positional arguments (the caller's contract).
            let (key, value) = unsafe {
                (
                    Borrowed::from_ptr(crate::core::abi::tuple_get_item(
                        kwnames,
                        k as ffi::Py_ssize_t,
                    )),
                    Borrowed::from_ptr(*args.add(nargs + k)),
                )
            };
            s.push_str(key.to_str().unwrap_or("?"));
            s.push_str(": ");
            s.push_str(&super::mismatch::full_type_name(value));
        }
        s.push_str(" }");
    }
    s
}
