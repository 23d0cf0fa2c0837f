//! Exact decimals: a number's text, in plain (`-12.50`) or exponent notation (`1.5E+7`,
//! `-2.50e-3`), read into an integer of units of `10^-scale`, never through a float and never
//! rounded; and written back as plain text with every digit of its scale.

/// The largest precision a 128-bit decimal holds.
pub(crate) const MAX_PRECISION: u8 = 38;

/// `text` as a count of `10^-scale` units, with at most `precision` digits in all.
///
/// A value with more significant fractional digits than `scale` (`1.234` at scale 2), or more
/// digits than `precision` allows, is refused with the reason; trailing zeros beyond the scale
/// are not digits that matter (`10.0` is 10 at scale 0).
pub(crate) fn parse(text: &str, precision: u8, scale: u8) -> Result<i128, String> {
    match parse_plain(text.as_bytes(), precision, scale) {
        Some(units) => Ok(units),
        None => parse_general(text, precision, scale),
    }
}

/// `[+-]digits[.digits]` that fits `decimal(precision, scale)` without dropping a fractional
/// digit: the form nearly every value takes (`-1234.50`), read digit by digit without the general
/// path's buffer of digits (an allocation a value). `None` leaves anything else, and every
/// refusal, to [`parse_general`], which gives the same answer for what this reads (a proptest
/// holds the two together).
fn parse_plain(text: &[u8], precision: u8, scale: u8) -> Option<i128> {
    if precision == 0 || precision > MAX_PRECISION || scale > precision {
        return None;
    }
    let (negative, unsigned) = match text.first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let (mut value, mut significant, mut any) = (0i128, 0usize, false);
    // Digits after the point, once one is seen.
    let mut fraction: Option<usize> = None;
    for &byte in unsigned {
        match byte {
            b'0'..=b'9' => {
                any = true;
                if let Some(digits) = &mut fraction {
                    *digits += 1;
                }
                if significant > 0 || byte != b'0' {
                    significant += 1;
                    if significant > usize::from(precision) {
                        return None;
                    }
                    value = value * 10 + i128::from(byte - b'0');
                }
            }
            b'.' if fraction.is_none() => fraction = Some(0),
            _ => return None,
        }
    }
    let fraction = fraction.unwrap_or(0);
    if !any || fraction > usize::from(scale) {
        return None;
    }
    // At most `precision` (38) digits in all, so the value stays below 10^38 < i128::MAX.
    let shift = usize::from(scale) - fraction;
    if significant > 0 && significant + shift > usize::from(precision) {
        return None;
    }
    for _ in 0..shift {
        value *= 10;
    }
    Some(if negative { -value } else { value })
}

/// Any form [`parse`] reads, exponent notation included, and the reason for a refusal.
fn parse_general(text: &str, precision: u8, scale: u8) -> Result<i128, String> {
    if precision == 0 || precision > MAX_PRECISION || scale > precision {
        return Err(format!("decimal({precision}, {scale}) is not a valid type"));
    }
    let (negative, unsigned) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(at) => (&unsigned[..at], Some(&unsigned[at + 1..])),
        None => (unsigned, None),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() && fraction.is_empty() || !all_digits(whole) || !all_digits(fraction) {
        return Err("it is not a number".into());
    }
    let exponent: i64 = match exponent {
        None => 0,
        Some(e) => {
            let digits = e.strip_prefix(['+', '-']).unwrap_or(e);
            if digits.is_empty() || digits.len() > 6 || !all_digits(digits) {
                return Err("its exponent is not a number".into());
            }
            e.parse().map_err(|_| "its exponent is not a number")?
        }
    };
    // The value is digits × 10^(exponent - fraction.len()); in units of 10^-scale, the digits are
    // shifted by `shift` places.
    let digits: Vec<u8> = whole.bytes().chain(fraction.bytes()).collect();
    let shift = exponent - fraction.len() as i64 + i64::from(scale);
    let significant = match digits.iter().position(|&d| d != b'0') {
        Some(first) => &digits[first..],
        None => return Ok(0),
    };
    let units: &[u8] = if shift < 0 {
        let dropped = usize::try_from(-shift).unwrap_or(usize::MAX);
        if dropped > significant.len()
            || significant[significant.len() - dropped..]
                .iter()
                .any(|&d| d != b'0')
        {
            return Err(format!("it has more than {scale} digits after the point"));
        }
        &significant[..significant.len() - dropped]
    } else {
        significant
    };
    let length = units.len() as i64 + shift.max(0);
    if length > i64::from(precision) {
        return Err(format!(
            "it has more than {} digits before the point",
            precision - scale
        ));
    }
    let mut value: i128 = 0;
    for &digit in units {
        value = value * 10 + i128::from(digit - b'0');
    }
    for _ in 0..shift.max(0) {
        value *= 10;
    }
    Ok(if negative { -value } else { value })
}

/// `units` of `10^-scale` as plain text: no exponent, every digit of the scale written (`1234.50`
/// at scale 2), a `0` before the point (`0.05`), `-` before a negative value.
pub(crate) fn to_text(units: i128, scale: u8) -> String {
    let digits = units.unsigned_abs().to_string();
    let scale = usize::from(scale);
    let mut text = String::with_capacity(digits.len() + scale + 3);
    if units < 0 {
        text.push('-');
    }
    if scale == 0 {
        text.push_str(&digits);
    } else if digits.len() <= scale {
        text.push_str("0.");
        text.extend(std::iter::repeat_n('0', scale - digits.len()));
        text.push_str(&digits);
    } else {
        let (whole, fraction) = digits.split_at(digits.len() - scale);
        text.push_str(whole);
        text.push('.');
        text.push_str(fraction);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn plain_and_exponent_notation_read_exactly() {
        assert_eq!(parse("12.50", 18, 2), Ok(1250));
        assert_eq!(parse("-12.5", 18, 2), Ok(-1250));
        assert_eq!(parse("+7", 5, 0), Ok(7));
        assert_eq!(parse("10.0", 3, 0), Ok(10));
        assert_eq!(parse(".5", 3, 1), Ok(5));
        assert_eq!(parse("5.", 3, 1), Ok(50));
        assert_eq!(parse("1.5E+7", 18, 0), Ok(15_000_000));
        assert_eq!(parse("1.6147805824397E13", 18, 0), Ok(16_147_805_824_397));
        assert_eq!(parse("-2.50e-3", 10, 5), Ok(-250));
        assert_eq!(parse("2.5e-3", 10, 4), Ok(25));
        assert_eq!(parse("0E+999999", 5, 2), Ok(0));
        assert_eq!(parse("-0.000", 5, 2), Ok(0));
        assert_eq!(
            parse("99999999999999999999999999999999999999", 38, 0),
            Ok(99_999_999_999_999_999_999_999_999_999_999_999_999)
        );
    }

    #[test]
    fn values_that_do_not_fit_are_refused_never_rounded() {
        assert!(
            parse("1.234", 18, 2)
                .unwrap_err()
                .contains("after the point")
        );
        assert!(
            parse("2.5e-3", 10, 3)
                .unwrap_err()
                .contains("after the point")
        );
        assert!(
            parse("1000", 5, 2)
                .unwrap_err()
                .contains("before the point")
        );
        assert!(
            parse("1.5E+7", 7, 0)
                .unwrap_err()
                .contains("before the point")
        );
        assert!(parse("1E+99", 38, 0).is_err());
        assert!(parse("1E-99", 38, 10).is_err());
        assert!(parse("100000000000000000000000000000000000000", 38, 0).is_err());
    }

    #[test]
    fn what_is_not_a_number_is_refused() {
        for bad in [
            "",
            "-",
            ".",
            "abc",
            "1,5",
            "1.2.3",
            "1e",
            "1e+",
            "--1",
            "1 ",
            "0x10",
            "1e1.5",
            "NaN",
            "Infinity",
            "1e9999999",
        ] {
            assert!(parse(bad, 18, 2).is_err(), "{bad:?}");
        }
        assert!(parse("1", 0, 0).is_err());
        assert!(parse("1", 39, 0).is_err());
        assert!(parse("1", 5, 6).is_err());
    }

    #[test]
    fn written_back_with_every_digit_of_the_scale() {
        assert_eq!(to_text(123_450, 2), "1234.50");
        assert_eq!(to_text(-5, 2), "-0.05");
        assert_eq!(to_text(0, 2), "0.00");
        assert_eq!(to_text(0, 0), "0");
        assert_eq!(to_text(16_147_805_824_397, 0), "16147805824397");
        assert_eq!(to_text(-250, 5), "-0.00250");
        assert_eq!(to_text(100, 2), "1.00");
        assert_eq!(
            to_text(i128::MIN, 38),
            "-1.70141183460469231731687303715884105728"
        );
    }

    proptest! {
        /// Any value of a decimal(p, s), printed plainly or in exponent notation with any
        /// exponent, reads back as exactly itself.
        #[test]
        fn printed_decimals_read_back_exactly(
            units in -999_999_999_999_999_999i128..=999_999_999_999_999_999,
            scale in 0u8..=18,
            exponent in -30i32..30,
            upper in any::<bool>(),
        ) {
            let precision = 18;
            let magnitude = units.unsigned_abs().to_string();
            let sign = if units < 0 { "-" } else { "" };
            // units × 10^-scale = mantissa × 10^exponent, with mantissa's point moved.
            let point = magnitude.len() as i32 - i32::from(scale) - exponent;
            let mantissa = if point <= 0 {
                format!("0.{}{magnitude}", "0".repeat((-point) as usize))
            } else if point as usize >= magnitude.len() {
                format!("{magnitude}{}", "0".repeat(point as usize - magnitude.len()))
            } else {
                format!("{}.{}", &magnitude[..point as usize], &magnitude[point as usize..])
            };
            let e = if upper { 'E' } else { 'e' };
            let text = format!("{sign}{mantissa}{e}{exponent:+}");
            prop_assert_eq!(parse(&text, precision, scale), Ok(units), "{}", text);
            // Written back plainly, it reads as itself again.
            prop_assert_eq!(parse(&to_text(units, scale), precision, scale), Ok(units));
        }

        /// The plain form's reader answers as the general one wherever it answers at all, and
        /// answers for every plain value that fits.
        #[test]
        fn the_plain_reader_agrees_with_the_general_one(
            text in "[+-]?[0-9]{0,22}(\\.[0-9]{0,22})?",
            precision in 1u8..=38,
            scale in 0u8..=38,
        ) {
            let general = parse_general(&text, precision, scale);
            match parse_plain(text.as_bytes(), precision, scale) {
                Some(units) => prop_assert_eq!(Ok(units), general, "{}", &text),
                None => {
                    let refused = general.is_err()
                        || scale > precision
                        || text.split('.').nth(1).is_some_and(|f| f.len() > usize::from(scale));
                    prop_assert!(refused, "{} read only by the general path", &text);
                }
            }
        }

        /// A value with one significant digit beyond the scale is refused.
        #[test]
        fn one_digit_too_many_is_refused(units in 1i128..1_000_000_000, scale in 0u8..=8) {
            let text = format!("{units}1E-{}", u32::from(scale) + 1);
            prop_assert!(parse(&text, 38, scale).is_err(), "{}", text);
        }
    }
}
