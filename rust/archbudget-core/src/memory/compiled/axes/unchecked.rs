//! A fitted model's polynomials at the candidates of its whole box where nothing can
//! overflow: no check per candidate.
use super::eval::Numbers;
use super::{poly_terms, AxisModel, Coords, MAX_AXES};

/// The most bases a model evaluates unchecked: each indexed by a byte.
const BASES: usize = 256;

/// How a model's candidates are evaluated unchecked ([`AxisModel::unchecked`]): one
/// multiply per factor and one multiply-add per term, each list in one loop. Ordered by
/// rank (every basis's first factor, then every second one...), consecutive updates
/// touch different values: no update waits on the one before it, and no loop's length
/// varies from one basis or polynomial to the next.
#[derive(Debug)]
pub(super) struct Unchecked {
    /// Per axis, the coordinates of the box's largest values.
    top: Vec<Coords>,
    bases: usize,
    /// (basis, coordinate: axis · 3 + order) per factor.
    factors: Vec<(u8, u8)>,
    /// (polynomial, basis, coefficient) per term of the evaluated polynomials.
    terms: Vec<(u32, u8, i64)>,
    evaluated: usize,
}

impl AxisModel {
    /// How the candidates of the model's whole box are evaluated with no check, or
    /// `None` where a basis value or a running sum could leave `i64` somewhere in it.
    /// Coordinates are nonnegative there and a basis value, their product, grows with
    /// each, so the box's largest values bound every basis value; a sum is at most the
    /// largest basis value times the largest sum of a polynomial's coefficients'
    /// magnitudes.
    pub(super) fn unchecked(&self) -> Option<Unchecked> {
        let top: Vec<Coords> = (0..self.axes.len())
            .map(|a| self.coordinates(a, self.axes[a].max))
            .collect::<Option<_>>()?;
        if self.factor_ends.len() > BASES {
            return None;
        }
        let mut largest = 0i128;
        let mut start = 0;
        let mut by_basis: Vec<Vec<(u8, u8)>> = Vec::new();
        for (b, &end) in self.factor_ends.iter().enumerate() {
            let factors = &self.factors[start..end as usize];
            start = end as usize;
            let mut v = 1i128;
            for &(a, j) in factors {
                v *= top[a as usize][j as usize] as i128;
                if v > i64::MAX as i128 {
                    return None;
                }
            }
            largest = largest.max(v);
            by_basis.push(factors.iter().map(|&(a, j)| (b as u8, 3 * a + j)).collect());
        }
        if largest * self.coef_reach as i128 > i64::MAX as i128 {
            return None;
        }
        let by_poly: Vec<Vec<(u32, u8, i64)>> = (0..self.evaluated)
            .map(|p| {
                let terms = poly_terms(&self.coefs, &self.ends, p);
                terms.iter().map(|&(b, c)| (p as u32, b as u8, c)).collect()
            })
            .collect();
        Some(Unchecked {
            top,
            bases: self.factor_ends.len(),
            factors: by_rank(&by_basis),
            terms: by_rank(&by_poly),
            evaluated: self.evaluated,
        })
    }
}

impl Unchecked {
    pub(super) fn contains(&self, coords: &[Coords]) -> bool {
        coords.len() == self.top.len()
            && coords
                .iter()
                .zip(&self.top)
                .all(|(c, top)| (0..=top[1]).contains(&c[1]) && (0..=top[2]).contains(&c[2]))
    }

    /// The evaluated polynomials (of `polys` in all) at `coords` into `out.polys`, or
    /// `None` where one is negative.
    pub(super) fn polys(&self, coords: &[Coords], polys: usize, out: &mut Numbers) -> Option<()> {
        let mut flat = [0i64; 32];
        for (a, c) in coords.iter().enumerate().take(MAX_AXES) {
            flat[3 * a..3 * a + 3].copy_from_slice(c);
        }
        out.basis.resize(BASES, 0);
        let basis: &mut [i64; BASES] = (&mut out.basis[..BASES]).try_into().ok()?;
        basis[..self.bases].fill(1);
        for &(b, at) in &self.factors {
            basis[b as usize] *= flat[at as usize & 31];
        }
        out.polys.resize(polys, 0);
        let values = &mut out.polys[..self.evaluated];
        values.fill(0);
        for &(p, b, c) in &self.terms {
            let v = &mut values[p as usize];
            *v = (*v as i64 + c * basis[b as usize]) as u64;
        }
        // one sign test for all: no early exit to predict per value
        let signs = values.iter().fold(0, |signs, &v| signs | v);
        (signs as i64 >= 0).then_some(())
    }
}

/// Each list's entries, every list's first entry first, then every second one...
fn by_rank<T: Copy>(lists: &[Vec<T>]) -> Vec<T> {
    let longest = lists.iter().map(Vec::len).max().unwrap_or(0);
    (0..longest)
        .flat_map(|rank| lists.iter().filter_map(move |list| list.get(rank).copied()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::{AxisRange, Probed};
    use super::*;
    use crate::memory::families::Mlp;
    use crate::memory::RunSettings;

    /// Every point of an mlp's box: the unchecked polynomials equal those summed in
    /// `i128` with every check.
    #[test]
    fn unchecked_equals_checked_over_the_box() {
        let axes = [
            AxisRange {
                min: 32,
                max: 512,
                step: 32,
            },
            AxisRange {
                min: 256,
                max: 2048,
                step: 256,
            },
            AxisRange {
                min: 10,
                max: 100,
                step: 10,
            },
        ];
        let mut probe = |p: &[i64]| -> Option<Probed> {
            let mlp = Mlp {
                input_dim: 784,
                depth: 3,
                width: p[1] as u64,
                classes: p[2] as u64,
            };
            Some(Probed {
                graph: mlp.graph(p[0] as u64).ok()?,
                run: RunSettings::default(),
                extras: Vec::new(),
            })
        };
        let model = AxisModel::fit(&axes, &mut probe).unwrap();
        let unchecked = model.unchecked().expect("an mlp's sizes fit in i64");
        let (mut fast, mut checked) = (Numbers::default(), Numbers::default());
        let mut points = 0;
        for batch in (32..=512).step_by(32) {
            for width in (256..=2048).step_by(256) {
                for classes in (10..=100).step_by(10) {
                    let coords: Vec<Coords> = [batch, width, classes]
                        .iter()
                        .enumerate()
                        .map(|(a, &x)| model.coordinates(a, x).unwrap())
                        .collect();
                    assert!(unchecked.contains(&coords));
                    unchecked
                        .polys(&coords, model.ends.len(), &mut fast)
                        .unwrap();
                    model.polys_at(&coords, &mut checked, true).unwrap();
                    let n = model.evaluated;
                    assert_eq!(fast.polys[..n], checked.polys[..n]);
                    points += 1;
                }
            }
        }
        assert_eq!(points, 16 * 8 * 10);
    }
}
