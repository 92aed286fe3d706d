//! Symbolic integers for shapes.
//!
//! A [`Dim`] is a constant plus integer multiples of atoms; an atom is a symbol (`B`, `H`,
//! `classes`), a floor division the arithmetic could not simplify (`(H - 1)/2`), or a product of
//! two non-constant dims. Every operation normalises, so two dims are equal exactly when they are
//! built the same way: `conv(k=3, s=2, p=1)` and `conv(k=1, s=2, p=0)` both give `(H - 1)/2 + 1`,
//! which is what a ResNet shortcut needs. Arithmetic saturates instead of overflowing: the fuzzer
//! feeds absurd numbers, and a range error is reported elsewhere.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Atom {
    Sym(String),
    FloorDiv(Box<Dim>, i64),
    Mul(Box<Dim>, Box<Dim>),
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Dim {
    constant: i64,
    terms: BTreeMap<Atom, i64>,
}

impl Dim {
    pub fn known(n: i64) -> Dim {
        Dim { constant: n, terms: BTreeMap::new() }
    }

    pub fn sym(name: &str) -> Dim {
        Dim::atom(Atom::Sym(name.to_string()))
    }

    fn atom(atom: Atom) -> Dim {
        Dim { constant: 0, terms: BTreeMap::from([(atom, 1)]) }
    }

    /// The value, when it does not depend on any symbol.
    pub fn value(&self) -> Option<i64> {
        self.terms.is_empty().then_some(self.constant)
    }

    /// Symbols this dim depends on.
    pub fn symbols(&self) -> Vec<String> {
        let mut out = Vec::new();
        for atom in self.terms.keys() {
            match atom {
                Atom::Sym(s) => out.push(s.clone()),
                Atom::FloorDiv(d, _) => out.extend(d.symbols()),
                Atom::Mul(a, b) => {
                    out.extend(a.symbols());
                    out.extend(b.symbols());
                }
            }
        }
        out.sort();
        out.dedup();
        out
    }

    pub fn add(&self, other: &Dim) -> Dim {
        let mut out = self.clone();
        out.constant = out.constant.saturating_add(other.constant);
        for (atom, k) in &other.terms {
            let entry = out.terms.entry(atom.clone()).or_insert(0);
            *entry = entry.saturating_add(*k);
        }
        out.terms.retain(|_, k| *k != 0);
        out
    }

    pub fn scale(&self, k: i64) -> Dim {
        if k == 0 {
            return Dim::known(0);
        }
        Dim {
            constant: self.constant.saturating_mul(k),
            terms: self.terms.iter().map(|(a, c)| (a.clone(), c.saturating_mul(k))).collect(),
        }
    }

    pub fn sub(&self, other: &Dim) -> Dim {
        self.add(&other.scale(-1))
    }

    pub fn plus(&self, n: i64) -> Dim {
        self.add(&Dim::known(n))
    }

    pub fn mul(&self, other: &Dim) -> Dim {
        match (self.value(), other.value()) {
            (Some(a), _) => other.scale(a),
            (_, Some(b)) => self.scale(b),
            _ => {
                let (a, b) = if self <= other { (self, other) } else { (other, self) };
                Dim::atom(Atom::Mul(Box::new(a.clone()), Box::new(b.clone())))
            }
        }
    }

    /// `floor(self / n)`; `n` must be positive (callers check ranges first). A non-positive `n`
    /// yields an opaque symbol rather than a panic.
    pub fn floor_div(&self, n: i64) -> Dim {
        if n <= 0 {
            return Dim::sym("?");
        }
        if n == 1 {
            return self.clone();
        }
        // floor((k·n·X + c) / n) = k·X + floor(c / n) when every coefficient divides by n.
        if self.terms.values().all(|k| k % n == 0) {
            return Dim {
                constant: self.constant.div_euclid(n),
                terms: self.terms.iter().map(|(a, k)| (a.clone(), k / n)).collect(),
            };
        }
        // floor((X + q·n + r) / n) = q + floor((X + r) / n), so `(H - 2)/2 + 1` is `H/2`.
        let (q, r) = (self.constant.div_euclid(n), self.constant.rem_euclid(n));
        let rest = Dim { constant: r, terms: self.terms.clone() };
        Dim::atom(Atom::FloorDiv(Box::new(rest), n)).plus(q)
    }

    /// Replaces symbols by their bindings.
    pub fn subst(&self, bindings: &HashMap<String, Dim>) -> Dim {
        let mut out = Dim::known(self.constant);
        for (atom, k) in &self.terms {
            let value = match atom {
                Atom::Sym(s) => bindings.get(s).cloned().unwrap_or_else(|| Dim::sym(s)),
                Atom::FloorDiv(d, n) => d.subst(bindings).floor_div(*n),
                Atom::Mul(a, b) => a.subst(bindings).mul(&b.subst(bindings)),
            };
            out = out.add(&value.scale(*k));
        }
        out
    }

    /// Whether two dims can be told apart for sure: both known and different, or differing by a
    /// non-zero constant only. Symbolic dims that are merely built differently might still agree
    /// once bound, so they do not count as different.
    pub fn surely_differs(&self, other: &Dim) -> bool {
        let diff = self.sub(other);
        diff.terms.is_empty() && diff.constant != 0
    }
}

impl fmt::Display for Atom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Atom::Sym(s) => write!(f, "{s}"),
            Atom::FloorDiv(d, n) if d.terms.len() + usize::from(d.constant != 0) > 1 => write!(f, "({d})/{n}"),
            Atom::FloorDiv(d, n) => write!(f, "{d}/{n}"),
            Atom::Mul(a, b) => write!(f, "{}*{}", Paren(a), Paren(b)),
        }
    }
}

struct Paren<'a>(&'a Dim);

impl fmt::Display for Paren<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.terms.len() + usize::from(self.0.constant != 0) > 1 {
            write!(f, "({})", self.0)
        } else {
            write!(f, "{}", self.0)
        }
    }
}

impl fmt::Display for Dim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for (atom, k) in &self.terms {
            let (sign, k) = if *k < 0 { ("-", -k) } else { ("+", *k) };
            if first {
                if sign == "-" {
                    write!(f, "-")?;
                }
            } else {
                write!(f, " {sign} ")?;
            }
            if k != 1 {
                write!(f, "{k}*")?;
            }
            write!(f, "{atom}")?;
            first = false;
        }
        if first {
            write!(f, "{}", self.constant)
        } else if self.constant > 0 {
            write!(f, " + {}", self.constant)
        } else if self.constant < 0 {
            write!(f, " - {}", self.constant.unsigned_abs())
        } else {
            Ok(())
        }
    }
}

/// A tensor shape: one dim per axis.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Shape(pub Vec<Dim>);

impl Shape {
    pub fn rank(&self) -> usize {
        self.0.len()
    }

    pub fn subst(&self, bindings: &HashMap<String, Dim>) -> Shape {
        Shape(self.0.iter().map(|d| d.subst(bindings)).collect())
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[")?;
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                write!(f, ", ")?;
            }
            write!(f, "{d}")?;
        }
        write!(f, "]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conv(h: &Dim, k: i64, s: i64, p: i64) -> Dim {
        h.plus(2 * p - k).floor_div(s).plus(1)
    }

    #[test]
    fn resnet_shortcut_agrees_symbolically() {
        let h = Dim::sym("H");
        assert_eq!(conv(&h, 3, 2, 1), conv(&h, 1, 2, 0));
        assert_eq!(conv(&h, 3, 1, 1), h);
        assert_eq!(conv(&h, 3, 2, 1).to_string(), "(H + 1)/2");
        // A 2×2 max-pool halves.
        assert_eq!(h.plus(-2).floor_div(2).plus(1), h.floor_div(2));
    }

    #[test]
    fn constants_fold() {
        assert_eq!(conv(&Dim::known(28), 3, 1, 0).value(), Some(26));
        assert_eq!(Dim::sym("H").scale(4).floor_div(2), Dim::sym("H").scale(2));
        let bound = HashMap::from([("H".to_string(), Dim::known(32))]);
        assert_eq!(conv(&Dim::sym("H"), 3, 2, 1).subst(&bound).value(), Some(16));
    }

    #[test]
    fn huge_values_saturate() {
        let d = Dim::known(i64::MAX).mul(&Dim::known(i64::MAX)).plus(i64::MAX);
        assert_eq!(d.value(), Some(i64::MAX));
        assert_eq!(Dim::sym("H").floor_div(0), Dim::sym("?"));
    }
}
