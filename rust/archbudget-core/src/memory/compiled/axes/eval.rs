//! A fitted model's polynomials at a candidate: the basis values from the axes'
//! coordinates, then each polynomial a candidate reads (a prefix of them, `evaluated`),
//! one pass over their terms in order.
use super::{AxisModel, Coords, LIMIT};

impl AxisModel {
    /// The polynomials at the point of `coords` into `out.polys` (where not `all`, only
    /// those a candidate reads: the first `evaluated`).
    pub(super) fn polys_at(&self, coords: &[Coords], out: &mut Numbers, all: bool) -> Option<()> {
        if let (false, Some(unchecked)) = (all, &self.unchecked) {
            if unchecked.contains(coords) {
                return unchecked.polys(coords, self.ends.len(), out);
            }
        }
        let Numbers { basis, polys, .. } = out;
        basis.clear();
        let mut start = 0;
        for &end in &self.factor_ends {
            let mut v = 1i64;
            for &(a, j) in &self.factors[start..end as usize] {
                v = v.checked_mul(coords[a as usize][j as usize])?;
            }
            start = end as usize;
            // past the limit the sums below could overflow: the caller builds the step
            if v.unsigned_abs() > LIMIT as u64 {
                return None;
            }
            basis.push(v);
        }
        polys.resize(self.ends.len(), 0);
        if all {
            return self.prefix::<i128>(self.ends.len(), basis, polys);
        }
        // no sum leaves i64 where the largest basis value times the largest sum of a
        // polynomial's coefficients' magnitudes fits in it: one 64-bit multiply-add
        // per term
        let largest = basis.iter().map(|v| v.unsigned_abs()).max().unwrap_or(0);
        if largest as u128 * self.coef_reach as u128 <= i64::MAX as u128 {
            self.prefix::<i64>(self.evaluated, basis, polys)
        } else {
            self.prefix::<i128>(self.evaluated, basis, polys)
        }
    }

    /// The first `n` polynomials at the basis values `basis` into `polys` (`None` where
    /// one is negative or past `u64`), each summed in `T`: at most MAX_TERMS products of
    /// two numbers of at most LIMIT cannot overflow an `i128`.
    #[inline]
    fn prefix<T: Sum>(&self, n: usize, basis: &[i64], polys: &mut [u64]) -> Option<()> {
        let mut start = 0;
        for (value, &end) in polys[..n].iter_mut().zip(&self.ends[..n]) {
            let mut acc = T::ZERO;
            for &(b, c) in &self.coefs[start..end as usize] {
                acc = acc.add_product(c, basis[b as usize]);
            }
            start = end as usize;
            *value = acc.to_u64()?;
        }
        Some(())
    }
}

/// A polynomial's running sum: `i64` where the bounds allow (`AxisModel::polys_at`).
trait Sum: Copy {
    const ZERO: Self;
    fn add_product(self, c: i64, basis: i64) -> Self;
    fn to_u64(self) -> Option<u64>;
}

impl Sum for i64 {
    const ZERO: i64 = 0;
    #[inline]
    fn add_product(self, c: i64, basis: i64) -> i64 {
        self + c * basis
    }
    #[inline]
    fn to_u64(self) -> Option<u64> {
        u64::try_from(self).ok()
    }
}

impl Sum for i128 {
    const ZERO: i128 = 0;
    #[inline]
    fn add_product(self, c: i64, basis: i64) -> i128 {
        self + c as i128 * basis as i128
    }
    #[inline]
    fn to_u64(self) -> Option<u64> {
        u64::try_from(self).ok()
    }
}

/// A candidate's basis values, polynomials and extras, reused per thread.
#[derive(Default)]
pub(super) struct Numbers {
    pub(super) basis: Vec<i64>,
    pub(super) polys: Vec<u64>,
    pub(super) numbers: Vec<u64>,
}
