//! Compile-fail tests: each file in `tests/compile_fail/` makes one common
//! mistake in a binding, and its `.stderr` pins the error rustc reports,
//! whose first line names the cause (ndbind's traits carry
//! `#[diagnostic::on_unimplemented]` messages and notes).
//!
//! The `.stderr` files are rustc's exact output, so they are tied to the
//! toolchain (rustc 1.95 made them; another version may word or order the
//! notes differently) and to the ndbind source lines the notes quote (not
//! to their line numbers, which trybuild strips). After a toolchain update
//! or such an edit, regenerate them with
//! `TRYBUILD=overwrite cargo test --test compile_fail` and review the diff:
//! each first line must still name the cause.
//!
//! Cost: trybuild builds ndbind and its dependencies once more, in
//! `target/tests/trybuild` (about a minute cold); warm, the test takes a
//! few seconds.

#[test]
fn compile_fail() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/compile_fail/*.rs");
}
