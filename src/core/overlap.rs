//! Exact memory-overlap tests for strided arrays, in pure Rust.
//!
//! Two questions, both about the bytes that elements occupy:
//!
//! * [`self_overlap`]: do two distinct index tuples of one array touch a
//!   common byte (an in-place write through it would be ill-defined)?
//! * [`overlap`]: does some byte belong to both of two arrays?
//!
//! Both reduce to a bounded linear Diophantine problem: find integers
//! `0 <= z_k <= u_k` with `sum c_k z_k = target`, all `c_k > 0`. The byte
//! offset inside an item is modelled as one more term of coefficient 1 (as
//! NumPy's `mem_overlap.c` does), so the problem is exact at byte level. It is
//! NP-hard in general, hence the work `budget` and [`Overlap::TooHard`]; the
//! layouts that occur in practice are decided by the fast paths or within a
//! handful of search steps.
//!
//! All arithmetic is in `i128`, with checked operations wherever hostile
//! extents, strides or item sizes could overflow even that; an overflow yields
//! [`Overlap::TooHard`], never a panic. The byte bounds of an array come from
//! the layout module ([`ndbind_dlpack::layout::byte_span`]), which refuses
//! spans beyond `isize` (`TooHard` here); real arrays never get there.

use ndbind_dlpack::layout::byte_span;

/// Work units [`self_overlap`] and [`overlap`] may spend on the exact search
/// by default. One unit is one node of the depth-first search (a few dozen
/// integer operations) or one sub-problem set-up, so the default bounds the
/// worst case to a few milliseconds; typical layouts use fewer than ten.
pub(crate) const DEFAULT_BUDGET: u64 = 100_000;

/// Answer of an overlap test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Overlap {
    /// No byte is shared (exact).
    No,
    /// Some byte is shared (exact).
    Yes,
    /// The budget ran out, or the numbers overflow (`i128`, or an array's
    /// byte bounds): treat as "maybe".
    TooHard,
}

/// A strided array's memory: element `(i_0, .., i_k)` occupies the bytes
/// `[base + itemsize * sum(i_j * strides[j]), + itemsize)`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Strided<'a> {
    /// Byte address of element `[0, 0, ..]`.
    pub base: usize,
    /// Extents; an extent `<= 0` makes the array empty.
    pub shape: &'a [i64],
    /// Strides in elements (not bytes); may be negative or zero.
    pub strides: &'a [i64],
    /// Bytes per element.
    pub itemsize: usize,
}

/// Axes kept on the stack by the fast path of [`self_overlap`] (zeroed on
/// every writable argument of every call: small); arrays with more axes
/// take a small heap buffer.
const STACK_AXES: usize = 16;

/// Whether two distinct index tuples of the array touch a common byte.
///
/// Exact unless [`Overlap::TooHard`]. Without allocation and in
/// O(ndim log ndim) it decides every layout where, axes sorted by `|stride|`,
/// each axis' byte stride is at least the byte span of all smaller axes plus
/// the item (contiguous, sliced, transposed arrays: `No`), as well as zero
/// strides and repeated strides (`Yes`). Anything else goes to the exact
/// search, bounded by `budget` work units. Mismatched `shape` / `strides`
/// lengths give `TooHard`.
pub(crate) fn self_overlap(
    shape: &[i64],
    strides: &[i64],
    itemsize: usize,
    budget: u64,
) -> Overlap {
    if shape.len() != strides.len() {
        return Overlap::TooHard;
    }
    if itemsize == 0 || shape.iter().any(|&n| n <= 0) {
        return Overlap::No; // touches no byte at all
    }
    let item = itemsize as i128;

    // (|stride| in elements, extent - 1) of the axes with extent > 1; the
    // others never change an address. Sorting by |stride| equals sorting by
    // byte stride, since the item size is a common factor.
    let mut stack = [(0u64, 0u64); STACK_AXES];
    let mut heap = Vec::new();
    let buf: &mut [(u64, u64)] = if shape.len() <= STACK_AXES {
        &mut stack[..]
    } else {
        heap.resize(shape.len(), (0, 0));
        &mut heap[..]
    };
    let mut m = 0;
    for (&n, &s) in shape.iter().zip(strides) {
        if n == 1 {
            continue;
        }
        if s == 0 {
            return Overlap::Yes; // two indices along this axis, one address
        }
        buf[m] = (s.unsigned_abs(), n as u64 - 1);
        m += 1;
    }
    let axes = &mut buf[..m];
    sort_small(axes, |&(s, _)| s);

    // `span`: bytes covered by the item plus all smaller axes. An axis whose
    // byte stride reaches past that span can never bring two indices within
    // one item of each other, whatever the smaller axes do.
    let mut span = item;
    let mut needs_search = false;
    for i in 0..m {
        if i > 0 && axes[i].0 == axes[i - 1].0 {
            return Overlap::Yes; // (.., x+1, .., y, ..) and (.., x, .., y+1, ..)
        }
        let Some(c) = (axes[i].0 as i128).checked_mul(item) else {
            return Overlap::TooHard;
        };
        if c < span {
            needs_search = true;
        }
        match c.checked_mul(axes[i].1 as i128).and_then(|w| w.checked_add(span)) {
            Some(s) => span = s,
            None => return Overlap::TooHard,
        }
    }
    if !needs_search {
        return Overlap::No;
    }
    exact_self_overlap(axes, item, budget)
}

/// Exact search for [`self_overlap`]; `axes` sorted by ascending, distinct,
/// nonzero `|stride|`, all extents > 1, spans known to fit `i128`.
///
/// Two tuples differ by `d` (`d != 0`, `|d_j| <= u_j`) and share a byte iff
/// `|sum c_j d_j| < itemsize`. Since `(d, -d)` are both solutions or neither,
/// fix the sign of the first nonzero `d_k` in descending-stride order:
/// `d_k >= 1`, larger axes 0, smaller axes free. Shifting every variable to
/// start at 0 gives one bounded sub-problem per `k`, with target
/// `span_k - 1 - c_k`, negative (no solution) exactly when axis `k` passed the
/// fast test.
fn exact_self_overlap(axes: &[(u64, u64)], item: i128, budget: u64) -> Overlap {
    let mut work = Work { left: budget };
    let mut terms = Vec::with_capacity(axes.len() + 1);
    let mut too_hard = false;
    let mut span = item;
    for (k, &(s, u)) in axes.iter().enumerate() {
        let (c, u) = (s as i128 * item, u as i128); // fit: checked by the caller
        if c < span {
            if !work.take() {
                return Overlap::TooHard;
            }
            terms.clear();
            // d_k = 1 + z, z in [0, u - 1]
            terms.push(Term { c, u: u - 1 });
            // d_j = z - u_j, z in [0, 2 u_j]
            terms.extend(
                axes[..k].iter().map(|&(sj, uj)| Term { c: sj as i128 * item, u: 2 * uj as i128 }),
            );
            // byte difference e = z - (item - 1), z in [0, 2 (item - 1)]
            terms.push(Term { c: 1, u: 2 * (item - 1) });
            match solve(&mut terms, span - 1 - c, &mut work) {
                Overlap::Yes => return Overlap::Yes,
                Overlap::No => {}
                Overlap::TooHard => too_hard = true,
            }
        }
        span += c * u;
    }
    if too_hard {
        Overlap::TooHard
    } else {
        Overlap::No
    }
}

/// Whether some byte is touched by both `a` and `b`.
///
/// Exact unless [`Overlap::TooHard`]. Empty arrays and disjoint byte bounds
/// are decided without allocation; otherwise the exact search runs, bounded
/// by `budget` work units.
pub(crate) fn overlap(a: &Strided, b: &Strided, budget: u64) -> Overlap {
    let (alo, ahi) = match byte_bounds(a) {
        Bounds::Empty => return Overlap::No,
        Bounds::Overflow => return Overlap::TooHard,
        Bounds::Bytes(lo, hi) => (lo, hi),
    };
    let (blo, bhi) = match byte_bounds(b) {
        Bounds::Empty => return Overlap::No,
        Bounds::Overflow => return Overlap::TooHard,
        Bounds::Bytes(lo, hi) => (lo, hi),
    };
    if ahi < blo || bhi < alo {
        return Overlap::No;
    }
    // A byte of `a` is `alo + sum c x + e`, x counted from the low end of
    // each axis (negative strides flipped) and e the byte inside the item; a
    // byte of `b` likewise. Counting b's variables from their HIGH end makes
    // all coefficients positive: sum_a c x + e_a + sum_b c y + e_b = bhi - alo.
    let mut terms = Vec::with_capacity(a.shape.len() + b.shape.len() + 2);
    for s in [a, b] {
        let item = s.itemsize as i128;
        for (&n, &st) in s.shape.iter().zip(s.strides) {
            if n > 1 && st != 0 {
                // Fits: byte_bounds multiplied the same numbers.
                terms.push(Term { c: (st as i128).abs() * item, u: n as i128 - 1 });
            }
        }
        terms.push(Term { c: 1, u: item - 1 });
    }
    solve(&mut terms, bhi - alo, &mut Work { left: budget })
}

/// Result of [`byte_bounds`].
enum Bounds {
    /// No byte touched.
    Empty,
    /// Overflow (see [`ndbind_dlpack::layout::byte_bounds`]), or shape and
    /// strides of different lengths.
    Overflow,
    /// First and last byte touched.
    Bytes(i128, i128),
}

/// Lowest and highest byte `s` touches, by the layout module's arithmetic
/// (axes of extent 1 left out: their strides never matter; a real array's
/// span always fits).
fn byte_bounds(s: &Strided) -> Bounds {
    if s.shape.len() != s.strides.len() {
        return Bounds::Overflow;
    }
    if s.itemsize == 0 || s.shape.iter().any(|&n| n <= 0) {
        return Bounds::Empty;
    }
    let axes = s.shape.iter().copied().zip(s.strides.iter().copied()).filter(|&(n, _)| n > 1);
    let span = isize::try_from(s.itemsize).ok().and_then(|item| byte_span(axes, item));
    match span {
        Some((lo, hi)) => {
            Bounds::Bytes(s.base as i128 + lo as i128, s.base as i128 + hi as i128 - 1)
        }
        None => Bounds::Overflow,
    }
}

/// One term `c * z`, `0 <= z <= u`, of the bounded problem.
#[derive(Debug, Clone, Copy)]
struct Term {
    c: i128,
    u: i128,
}

/// Remaining work units.
struct Work {
    left: u64,
}

impl Work {
    /// Spends one unit; false when none is left.
    fn take(&mut self) -> bool {
        if self.left == 0 {
            return false;
        }
        self.left -= 1;
        true
    }
}

/// Does `sum c_k z_k = target` have a solution with `0 <= z_k <= u_k`?
/// All `c_k > 0`, `u_k >= 0`.
///
/// Terms are sorted by descending coefficient and equal coefficients merged
/// (`c z1 + c z2` with bounds `u1, u2` is `c w` with `w <= u1 + u2`). The
/// depth-first search then fixes `z_0, z_1, ..` in turn. At level `i` with
/// remainder `r`, the rest `i+1..` can reach exactly nothing outside
/// `[0, M_{i+1}]` (its maximum) and nothing that `g_{i+1}` (its gcd) does
/// not divide. The first bounds `z_i` to an interval; the second is the
/// congruence `c_i z_i = r (mod g_{i+1})`, i.e. `z_i = z* (mod p_i)` with
/// `p_i = g_{i+1} / gcd(c_i, g_{i+1})`, so only every `p_i`-th value is
/// tried. The last term is then always solvable (its gcd is its
/// coefficient), so a valid `z` at the second-to-last level is a solution.
fn solve(terms: &mut Vec<Term>, target: i128, work: &mut Work) -> Overlap {
    if target < 0 {
        return Overlap::No;
    }
    if target == 0 {
        return Overlap::Yes; // all z = 0
    }
    terms.retain(|t| t.u > 0);
    sort_small(terms, |t| std::cmp::Reverse(t.c));
    let mut overflow = false;
    terms.dedup_by(|next, kept| {
        if next.c != kept.c {
            return false;
        }
        match kept.u.checked_add(next.u) {
            Some(u) => kept.u = u,
            None => overflow = true,
        }
        true
    });
    let n = terms.len();
    if overflow {
        return Overlap::TooHard;
    }
    if n == 0 {
        return Overlap::No;
    }

    // Suffix gcd and suffix maximum; index n is the empty suffix.
    let mut g = vec![0i128; n + 1];
    let mut max = vec![0i128; n + 1];
    for i in (0..n).rev() {
        g[i] = gcd(terms[i].c, g[i + 1]);
        match terms[i].c.checked_mul(terms[i].u).and_then(|w| w.checked_add(max[i + 1])) {
            Some(m) => max[i] = m,
            None => return Overlap::TooHard,
        }
    }
    if target > max[0] || target % g[0] != 0 {
        return Overlap::No;
    }
    if n == 1 {
        return Overlap::Yes;
    }

    // Per level: the congruence period and the inverse of c_i / g_i modulo
    // it, fixed for the whole search.
    let mut period = vec![1i128; n];
    let mut inverse = vec![0i128; n];
    for i in 0..n - 1 {
        period[i] = g[i + 1] / g[i];
        if period[i] > 1 {
            inverse[i] = mod_inverse((terms[i].c / g[i]) % period[i], period[i]);
        }
    }
    // Levels 0..n-2 are searched; z runs downwards from its first candidate.
    let candidates = |i: usize, r: i128| -> Result<Option<(i128, i128)>, ()> {
        let Term { c, u } = terms[i];
        let zmin = (r - max[i + 1]).max(0);
        let zmin = -(-zmin).div_euclid(c); // ceil
        let zmax = u.min(r.div_euclid(c));
        if zmax < zmin {
            return Ok(None);
        }
        let p = period[i];
        let zstar = mul_mod((r / g[i]).rem_euclid(p), inverse[i], p).ok_or(())?;
        let z = zmax - (zmax - zstar).rem_euclid(p);
        Ok((z >= zmin).then_some((z, zmin)))
    };

    let mut rem = vec![0i128; n - 1];
    let mut z = vec![0i128; n - 1];
    let mut zmin = vec![0i128; n - 1];
    let mut lvl = 0;
    rem[0] = target;
    match candidates(0, target) {
        Err(()) => return Overlap::TooHard,
        Ok(None) => return Overlap::No,
        Ok(Some((z0, lo))) => (z[0], zmin[0]) = (z0, lo),
    }
    loop {
        if !work.take() {
            return Overlap::TooHard;
        }
        if lvl == n - 2 {
            return Overlap::Yes;
        }
        let r = rem[lvl] - terms[lvl].c * z[lvl];
        match candidates(lvl + 1, r) {
            Err(()) => return Overlap::TooHard,
            Ok(Some((zn, lo))) => {
                lvl += 1;
                (rem[lvl], z[lvl], zmin[lvl]) = (r, zn, lo);
            }
            Ok(None) => loop {
                // Next candidate at this level, backtracking when exhausted.
                z[lvl] -= period[lvl];
                if z[lvl] >= zmin[lvl] {
                    break;
                }
                if lvl == 0 {
                    return Overlap::No;
                }
                lvl -= 1;
            },
        }
    }
}

/// Greatest common divisor of non-negative numbers; `gcd(a, 0) = a`.
fn gcd(mut a: i128, mut b: i128) -> i128 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// `a^-1 mod m` for coprime `0 <= a < m`, `m >= 2` (extended Euclid; the
/// coefficients stay below `m` in magnitude).
fn mod_inverse(a: i128, m: i128) -> i128 {
    let (mut r0, mut r1) = (a, m);
    let (mut s0, mut s1) = (1i128, 0i128);
    while r1 != 0 {
        let q = r0 / r1;
        (r0, r1) = (r1, r0 - q * r1);
        (s0, s1) = (s1, s0 - q * s1);
    }
    s0.rem_euclid(m)
}

/// `a * b mod m` for `0 <= a, b < m`, without overflow; `None` if `m` is too
/// large for the doubling fallback (never for real arrays).
fn mul_mod(a: i128, b: i128, m: i128) -> Option<i128> {
    if let Some(p) = a.checked_mul(b) {
        return Some(p % m);
    }
    if m >= 1 << 126 {
        return None;
    }
    // Double and add: every intermediate stays below 2m < 2^127.
    let (mut acc, mut a, mut b) = (0i128, a, b);
    while b > 0 {
        if b & 1 == 1 {
            acc = (acc + a) % m;
        }
        a = (a + a) % m;
        b >>= 1;
    }
    Some(acc)
}

/// Insertion sort: the slices sorted here have one entry per array axis (a
/// few, at most `2 * MAX_NDIM + 2` terms), where it beats std's sorts, which add ~10 KiB of code to every
/// extension module.
fn sort_small<T: Copy, K: Ord>(v: &mut [T], key: impl Fn(&T) -> K) {
    for i in 1..v.len() {
        let x = v[i];
        let mut j = i;
        while j > 0 && key(&v[j - 1]) > key(&x) {
            v[j] = v[j - 1];
            j -= 1;
        }
        v[j] = x;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{HashMap, HashSet};

    const B: usize = 1 << 20; // a base address, far from 0

    fn s<'a>(base: usize, shape: &'a [i64], strides: &'a [i64], itemsize: usize) -> Strided<'a> {
        Strided { base, shape, strides, itemsize }
    }

    /// Both argument orders must agree.
    fn ov(a: Strided, b: Strided) -> Overlap {
        let r = overlap(&a, &b, DEFAULT_BUDGET);
        assert_eq!(r, overlap(&b, &a, DEFAULT_BUDGET), "asymmetric: {a:?} {b:?}");
        r
    }

    #[test]
    fn overlap_even_odd_slices() {
        // x: 20 f64; x[::2] vs x[1::2]
        assert_eq!(ov(s(B, &[10], &[2], 8), s(B + 8, &[10], &[2], 8)), Overlap::No);
        assert_eq!(ov(s(B, &[10], &[2], 8), s(B + 16, &[9], &[2], 8)), Overlap::Yes);
    }

    #[test]
    fn overlap_adjacent_slices() {
        // x: 10 f64; x[:5] vs x[5:], x[:6] vs x[5:]
        assert_eq!(ov(s(B, &[5], &[1], 8), s(B + 40, &[5], &[1], 8)), Overlap::No);
        assert_eq!(ov(s(B, &[6], &[1], 8), s(B + 40, &[5], &[1], 8)), Overlap::Yes);
        // Byte-level: an f64 array and a u8 view of its last byte.
        assert_eq!(ov(s(B, &[5], &[1], 8), s(B + 39, &[1], &[1], 1)), Overlap::Yes);
        assert_eq!(ov(s(B, &[5], &[1], 8), s(B + 40, &[3], &[1], 1)), Overlap::No);
    }

    #[test]
    fn overlap_complex_real_imag() {
        // complex128 (7, 3) C-contiguous viewed as f64 (7, 6): [..., ::2] vs [..., 1::2]
        let (re, im) = (s(B, &[7, 3], &[6, 2], 8), s(B + 8, &[7, 3], &[6, 2], 8));
        assert_eq!(ov(re, im), Overlap::No);
        assert_eq!(ov(re, re), Overlap::Yes);
        // complex64 parts viewed as f32, 1-D
        assert_eq!(ov(s(B, &[100], &[2], 4), s(B + 4, &[100], &[2], 4)), Overlap::No);
    }

    #[test]
    fn overlap_columns() {
        // a: (50, 7) f64 C-contiguous; a[:, 0] vs a[:, 1], a[:, 0] vs a[1:, 0]
        assert_eq!(ov(s(B, &[50], &[7], 8), s(B + 8, &[50], &[7], 8)), Overlap::No);
        assert_eq!(ov(s(B, &[50], &[7], 8), s(B + 56, &[49], &[7], 8)), Overlap::Yes);
        // a[:, :3] vs a[:, 3:]
        assert_eq!(ov(s(B, &[50, 3], &[7, 1], 8), s(B + 24, &[50, 4], &[7, 1], 8)), Overlap::No);
        // a[::2] vs a[1::2] (row blocks)
        assert_eq!(ov(s(B, &[25, 7], &[14, 1], 8), s(B + 56, &[25, 7], &[14, 1], 8)), Overlap::No);
    }

    #[test]
    fn overlap_transpose_and_negative_strides() {
        let a = s(B, &[4, 6], &[6, 1], 4);
        let t = s(B, &[6, 4], &[1, 6], 4);
        assert_eq!(ov(a, t), Overlap::Yes);
        assert_eq!(ov(t, t), Overlap::Yes);
        // x: 10 f64; x[::-1] vs x, x[::-2] vs x[-2::-2], x[::-2] vs x[::2]
        assert_eq!(ov(s(B + 72, &[10], &[-1], 8), s(B, &[10], &[1], 8)), Overlap::Yes);
        assert_eq!(ov(s(B + 72, &[5], &[-2], 8), s(B + 64, &[5], &[-2], 8)), Overlap::No);
        assert_eq!(ov(s(B + 72, &[5], &[-2], 8), s(B, &[5], &[2], 8)), Overlap::No);
        assert_eq!(ov(s(B + 64, &[5], &[-2], 8), s(B, &[5], &[2], 8)), Overlap::Yes);
        // a[::-1, ::-1] vs a[:, 0]
        assert_eq!(ov(s(B + 4 * 23, &[4, 6], &[-6, -1], 4), s(B, &[4], &[6], 4)), Overlap::Yes);
    }

    #[test]
    fn overlap_fast_paths() {
        assert_eq!(ov(s(B, &[0, 5], &[5, 1], 8), s(B, &[5], &[1], 8)), Overlap::No);
        assert_eq!(ov(s(B, &[5], &[1], 8), s(B + 4096, &[5], &[1], 8)), Overlap::No);
        // Disjoint bounds decide even with no budget.
        assert_eq!(overlap(&s(B, &[5], &[1], 8), &s(B + 40, &[5], &[1], 8), 0), Overlap::No);
        // A search that needs a step gives up without budget; one refuted by
        // the bounds of its first level needs none.
        assert_eq!(overlap(&s(B, &[6], &[1], 8), &s(B + 40, &[5], &[1], 8), 0), Overlap::TooHard);
        assert_eq!(overlap(&s(B, &[10], &[2], 8), &s(B + 8, &[10], &[2], 8), 0), Overlap::No);
    }

    #[test]
    fn self_overlap_named_cases() {
        let so = |shape: &[i64], strides: &[i64], item| {
            self_overlap(shape, strides, item, DEFAULT_BUDGET)
        };
        assert_eq!(so(&[4], &[0], 8), Overlap::Yes); // as_strided(x, (4,), (0,))
        assert_eq!(so(&[3, 3], &[1, 1], 8), Overlap::Yes); // (3, 3), (8, 8) bytes
        assert_eq!(so(&[2, 2], &[2, 1], 8), Overlap::No); // (2, 2), (16, 8) bytes
        assert_eq!(so(&[1, 5], &[0, 1], 8), Overlap::No); // stride 0 on extent 1
        assert_eq!(so(&[0, 5], &[0, 0], 8), Overlap::No); // empty
        assert_eq!(so(&[], &[], 8), Overlap::No); // 0-d
        assert_eq!(so(&[3, 4, 5], &[20, 5, 1], 4), Overlap::No); // C
        assert_eq!(so(&[3, 4, 5], &[1, 3, 12], 4), Overlap::No); // F
        assert_eq!(so(&[5, 4, 3], &[1, 5, 20], 2), Overlap::No); // C transposed
        assert_eq!(so(&[2, 2, 3], &[-40, 10, -2], 8), Overlap::No); // sliced, negative
        assert_eq!(so(&[10, 4], &[3, 2], 1), Overlap::Yes); // 3*2 = 2*3
        assert_eq!(so(&[10, 3], &[3, 2], 1), Overlap::No); // needs the search: 3 < 1 + 4
        assert_eq!(so(&[3, 2], &[2, 3], 1), Overlap::No); // needs the search: 3 < 1 + 4
        assert_eq!(so(&[4, 3], &[2, 3], 1), Overlap::Yes); // 2*3 = 3*2
        assert_eq!(so(&[2], &[1], 16), Overlap::No);
        // Mismatched lengths cannot be judged.
        assert_eq!(so(&[2, 2], &[1], 8), Overlap::TooHard);
    }

    /// xorshift64*: enough randomness for layout fuzzing, no dependency.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
        fn range(&mut self, lo: i64, hi: i64) -> i64 {
            lo + (self.next() % (hi - lo + 1) as u64) as i64
        }
    }

    /// (flat element index, byte address) for every byte the array touches.
    fn bytes(a: &Strided) -> Vec<(usize, i64)> {
        let total: i64 = a.shape.iter().product();
        let mut out = Vec::new();
        for flat in 0..total.max(0) {
            let (mut rest, mut addr) = (flat, a.base as i64);
            for (&n, &st) in a.shape.iter().zip(a.strides).rev() {
                addr += (rest % n) * st * a.itemsize as i64;
                rest /= n;
            }
            out.extend((0..a.itemsize as i64).map(|k| (flat as usize, addr + k)));
        }
        out
    }

    fn brute_self(a: &Strided) -> Overlap {
        let mut owner = HashMap::new();
        for (e, byte) in bytes(a) {
            if *owner.entry(byte).or_insert(e) != e {
                return Overlap::Yes;
            }
        }
        Overlap::No
    }

    fn brute_overlap(a: &Strided, b: &Strided) -> Overlap {
        let set: HashSet<i64> = bytes(a).into_iter().map(|(_, x)| x).collect();
        if bytes(b).into_iter().any(|(_, x)| set.contains(&x)) {
            Overlap::Yes
        } else {
            Overlap::No
        }
    }

    fn random_layout(
        rng: &mut Rng,
        shape: &mut Vec<i64>,
        strides: &mut Vec<i64>,
        max_ndim: i64,
        max_n: i64,
    ) {
        let ndim = rng.range(1, max_ndim) as usize;
        shape.clear();
        strides.clear();
        for _ in 0..ndim {
            shape.push(rng.range(0, max_n));
            strides.push(rng.range(-6, 6));
        }
    }

    fn fuzz(seed: u64, rounds: usize, max_ndim: i64, max_n: i64) {
        let mut rng = Rng(seed);
        let (mut sa, mut ta, mut sb, mut tb) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut decided = [0usize; 2];
        for _ in 0..rounds {
            random_layout(&mut rng, &mut sa, &mut ta, max_ndim, max_n);
            random_layout(&mut rng, &mut sb, &mut tb, max_ndim, max_n);
            let ia = 1 << rng.range(0, 3);
            let ib = 1 << rng.range(0, 3);
            // Offset keeps every address positive for the brute force.
            let a = s(10_000 + rng.range(0, 63) as usize, &sa, &ta, ia);
            let b = s(10_000 + rng.range(0, 63) as usize, &sb, &tb, ib);

            let got = self_overlap(a.shape, a.strides, a.itemsize, 10_000_000);
            assert_eq!(got, brute_self(&a), "self_overlap {a:?}");
            let got = overlap(&a, &b, 10_000_000);
            let want = brute_overlap(&a, &b);
            assert_eq!(got, want, "overlap {a:?} {b:?}");
            decided[(want == Overlap::Yes) as usize] += 1;
            // A small budget may give up, but never answers wrongly.
            let small = overlap(&a, &b, 2);
            assert!(small == want || small == Overlap::TooHard, "budget 2: {a:?} {b:?}");
            let small = self_overlap(a.shape, a.strides, a.itemsize, 1);
            assert!(small == brute_self(&a) || small == Overlap::TooHard, "budget 1: {a:?}");
        }
        // The generator must exercise both answers.
        assert!(decided[0] > rounds / 20 && decided[1] > rounds / 20, "{decided:?}");
    }

    #[test]
    fn fuzz_small_against_brute_force() {
        fuzz(0x9E37_79B9_7F4A_7C15, 20_000, 3, 5);
    }

    #[test]
    fn fuzz_wider_against_brute_force() {
        fuzz(0xD1B5_4A32_D192_ED03, 1_500, 4, 7);
    }

    #[test]
    fn fuzz_same_buffer_views() {
        // Views into one buffer with shared base are the common real case:
        // compare both functions when b is a reversed / shifted copy of a.
        let mut rng = Rng(0x1234_5678_9ABC_DEF1);
        let (mut sa, mut ta) = (Vec::new(), Vec::new());
        for _ in 0..5_000 {
            random_layout(&mut rng, &mut sa, &mut ta, 3, 5);
            let item = 1 << rng.range(0, 3);
            let a = s(10_000, &sa, &ta, item);
            let shift = rng.range(-3, 3) * item as i64;
            let b = s((10_000 + shift) as usize, &sa, &ta, item);
            assert_eq!(overlap(&a, &b, 10_000_000), brute_overlap(&a, &b), "{a:?} {b:?}");
        }
    }

    #[test]
    fn hostile_inputs_return_quickly() {
        let start = std::time::Instant::now();
        let mut rng = Rng(42);
        for round in 0..20 {
            let ndim = 32;
            let shape: Vec<i64> = (0..ndim).map(|_| (1 << 40) + rng.range(0, 1 << 20)).collect();
            let strides: Vec<i64> = (0..ndim).map(|_| rng.range(-(1 << 40), 1 << 40)).collect();
            let a = s(usize::MAX / 2, &shape, &strides, 8);
            let _ = self_overlap(&shape, &strides, 8, DEFAULT_BUDGET);
            let b = s(usize::MAX / 2 + 8 * round, &shape[..ndim - round], &strides[round..], 8);
            let _ = overlap(&a, &b, DEFAULT_BUDGET);
        }
        // Extremes of every field: overflow must come out as an answer, never a panic.
        let big = [i64::MAX; 64];
        let min = [i64::MIN; 64];
        let mixed: Vec<i64> =
            (0..64).map(|k| if k % 2 == 0 { i64::MAX } else { i64::MIN }).collect();
        for item in [1, 16, usize::MAX] {
            for strides in [&big[..], &min[..], &mixed[..]] {
                let _ = self_overlap(&big, strides, item, DEFAULT_BUDGET);
                for base in [0, usize::MAX] {
                    let a = s(base, &big, strides, item);
                    let b = s(usize::MAX - base, &big[..3], &strides[..3], item);
                    let _ = overlap(&a, &b, DEFAULT_BUDGET);
                }
            }
        }
        // Distinct huge strides, extent 2: decided, no overflow in real-sized cases.
        let shape = [2i64; 40];
        let strides: Vec<i64> = (0..40).map(|k| 1i64 << k).collect();
        assert_eq!(self_overlap(&shape, &strides, 1, DEFAULT_BUDGET), Overlap::No);
        assert!(start.elapsed().as_secs() < 20, "took {:?}", start.elapsed());
    }

    #[test]
    fn helpers() {
        assert_eq!(gcd(12, 18), 6);
        assert_eq!(gcd(7, 0), 7);
        assert_eq!(mod_inverse(3, 7), 5);
        let m = (1i128 << 100) + 7;
        let (a, b) = ((1i128 << 99) + 3, (1i128 << 98) + 5);
        // (2^99 + 3)(2^98 + 5) mod m, computed by hand via 2^100 = -7 (mod m).
        let want = ((1i128 << 97) * -7 + 5 * (1i128 << 99) + 3 * (1i128 << 98) + 15).rem_euclid(m);
        assert_eq!(mul_mod(a, b, m), Some(want));
    }
}
