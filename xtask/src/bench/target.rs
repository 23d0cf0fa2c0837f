//! Targets as data: what is compared, the bound it must keep, and whether the measured value keeps
//! it. Benchmarks state their targets; this file alone decides and words "met" or "missed".

use std::fmt::Write as _;

/// The bound a target's value must keep.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Bound {
    AtLeast(f64),
    AtMost(f64),
}

/// One target of a benchmark and the value measured for it.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    /// What is compared, such as "Loopback, 1,000,000 rows: curl ×8 wall / haul c8 wall".
    pub(crate) claim: String,
    pub(crate) bound: Bound,
    pub(crate) value: f64,
    /// The unit of the value and the bound: "x" for ratios, " MB" for sizes.
    pub(crate) unit: &'static str,
    /// The measured figures the value comes from, for the reader to check.
    pub(crate) basis: String,
}

impl Target {
    /// A target on `numerator / denominator`.
    pub(crate) fn ratio(
        claim: String,
        (numerator, denominator): (f64, f64),
        bound: Bound,
        basis: String,
    ) -> Self {
        Self {
            claim,
            bound,
            value: numerator / denominator,
            unit: "x",
            basis,
        }
    }

    /// Whether the value keeps the bound; a value that could not be computed keeps none.
    pub(crate) fn met(&self) -> bool {
        self.value.is_finite()
            && match self.bound {
                Bound::AtLeast(limit) => self.value >= limit,
                Bound::AtMost(limit) => self.value <= limit,
            }
    }

    /// The target as one Markdown list item.
    pub(crate) fn markdown(&self) -> String {
        let (sign, limit) = match self.bound {
            Bound::AtLeast(limit) => ("≥", limit),
            Bound::AtMost(limit) => ("≤", limit),
        };
        // Ratios near a bound need three decimals to show the side they fall on; sizes need one.
        let decimals = if self.unit == "x" { 3 } else { 1 };
        format!(
            "- {} {sign} {limit}{unit}: **{}**: {:.decimals$}{unit} ({}).\n",
            self.claim,
            if self.met() { "met" } else { "missed" },
            self.value,
            self.basis,
            unit = self.unit,
        )
    }
}

/// Targets, then figures that no target decides, as one Markdown list.
pub(crate) fn list(targets: &[Target], untargeted: &[String]) -> String {
    let mut out: String = targets.iter().map(Target::markdown).collect();
    for line in untargeted {
        let _ = writeln!(out, "- {line}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(value: f64, bound: Bound) -> Target {
        Target::ratio("a vs b".into(), (value, 1.0), bound, "basis".into())
    }

    #[test]
    fn bounds_decide_and_the_limit_itself_is_met() {
        assert!(target(0.9, Bound::AtLeast(0.9)).met());
        assert!(!target(0.89, Bound::AtLeast(0.9)).met());
        assert!(target(1.5, Bound::AtMost(1.5)).met());
        assert!(!target(1.51, Bound::AtMost(1.5)).met());
        assert!(!target(f64::NAN, Bound::AtMost(1.5)).met());
        assert!(!Target::ratio("x".into(), (1.0, 0.0), Bound::AtLeast(0.1), String::new()).met());
    }

    #[test]
    fn a_target_reads_as_one_list_item() {
        let size = Target {
            claim: "peak RSS".into(),
            bound: Bound::AtMost(64.0),
            value: 20.215,
            unit: " MB",
            basis: "median".into(),
        };
        assert_eq!(
            size.markdown(),
            "- peak RSS ≤ 64 MB: **met**: 20.2 MB (median).\n"
        );
        assert_eq!(
            target(0.5, Bound::AtLeast(0.8)).markdown(),
            "- a vs b ≥ 0.8x: **missed**: 0.500x (basis).\n"
        );
        assert_eq!(
            list(&[target(2.0, Bound::AtMost(4.0))], &["free".into()]),
            "- a vs b ≤ 4x: **met**: 2.000x (basis).\n- free\n"
        );
    }
}
