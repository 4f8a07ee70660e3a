// `enum_type!` on an enum that does not derive `PartialEq` (the README's
// old example).
#[derive(Clone, Copy)]
pub enum Color {
    Red = 1,
    Green = 2,
}
ndbind::enum_type!(Color);

fn main() {}
