// A `&str` borrowed from an argument, returned. `&str` converts to
// Python, so this is a lifetime error, which rustc itself words.
use ndbind::prelude::*;

fn first_word(s: &str) -> &str {
    s.split(' ').next().unwrap_or("")
}

ndbind::module!(text, |m| {
    m.def("first_word", first_word, arg("s"))?;
    Ok(())
});

fn main() {}
