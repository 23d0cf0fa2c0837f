//! Field values of generated rows, computed from (seed, object, field, row index) alone, written
//! straight into the caller's buffer: no allocation per value.

use super::schema::{Gen, OBJECTS, ObjectSchema};
use crate::ids;
use crate::rng::{hash_str, mix};

const ADJECTIVES: &[&str] = &[
    "Acme",
    "Global",
    "United",
    "Pacific",
    "Northern",
    "Blue",
    "Golden",
    "Summit",
    "Pioneer",
    "Atlas",
    "Vertex",
    "Silver",
    "Evergreen",
    "Red Rock",
    "Harbor",
    "Quantum",
    "Prairie",
    "Union",
];
const NOUNS: &[&str] = &[
    "Systems",
    "Foods",
    "Logistics",
    "Media",
    "Labs",
    "Energy",
    "Partners",
    "Textiles",
    "Motors",
    "Health",
    "Analytics",
    "Capital",
    "Robotics",
    "Outfitters",
    "Farms",
    "Networks",
];
const COMPANY_SUFFIXES: &[&str] = &[
    "",
    " Inc.",
    ", Inc.",
    " LLC",
    " & Sons",
    " \"Holdings\"",
    ", Ltd.",
    " Co.",
];
const FIRST_NAMES: &[&str] = &[
    "Jane", "John", "Aiko", "Carlos", "Fatima", "Liam", "Olivia", "Noah", "Mei", "Sven", "Priya",
    "Kwame", "Zoë", "Mateo", "Ingrid", "Omar",
];
const LAST_NAMES: &[&str] = &[
    "Dunn",
    "Smith",
    "O'Brien",
    "Nguyen",
    "García",
    "Müller",
    "Okafor",
    "Tanaka",
    "Rossi",
    "Smith \"Smitty\"",
    "Kowalski",
    "Haddad",
    "Johansson",
    "Patel",
    "Lee",
    "de la Cruz",
];
const CITIES: &[&str] = &[
    "San Francisco",
    "New York",
    "Washington, D.C.",
    "St. Louis",
    "Austin",
    "Chicago",
    "Seattle",
    "Paris",
    "Tokyo",
    "London",
    "Toronto",
    "São Paulo",
    "Sydney",
    "Berlin",
    "Nairobi",
    "Mumbai",
];
const PROSE: &[&str] = &[
    "Key account.",
    "Renewal due; call before Q3.",
    "Met at \"Dreamforce\", follow up.",
    "Line one\nLine two",
    "Prefers email, not phone.",
    "Multi-line note:\n- budget approved\n- legal review",
    "Uses commas, semicolons; pipes | and carets ^ freely.",
    "Back`quote and tab\tinside.",
];

/// 2015-01-01T00:00:00Z, the start of generated dates.
const EPOCH_2015: i64 = 1_420_070_400;
const TEN_YEARS: u64 = 10 * 365 * 86_400;

/// Generates field values for a seed. Cheap to copy into every result set.
#[derive(Debug, Clone)]
pub(crate) struct Generator {
    /// Per object (in `OBJECTS` order) and field: the salt of that column.
    salts: Vec<Vec<u64>>,
    /// Per object: how many rows are generated (the base of the overlay's index space).
    base_rows: Vec<u64>,
}

impl Generator {
    pub(crate) fn new(seed: u64, base_rows: Vec<u64>) -> Self {
        let salts = OBJECTS
            .iter()
            .map(|o| {
                let object_salt = mix(seed ^ hash_str(o.name));
                o.fields
                    .iter()
                    .map(|f| mix(object_salt ^ hash_str(f.name)))
                    .collect()
            })
            .collect();
        Self { salts, base_rows }
    }

    /// Generated rows of the object at position `object` of `OBJECTS`.
    pub(crate) fn base_rows(&self, object: usize) -> u64 {
        self.base_rows[object]
    }

    /// Appends the raw (unquoted) text of one value; returns false for null, with nothing written.
    pub(crate) fn write(
        &self,
        object: &ObjectSchema,
        ordinal: usize,
        field: usize,
        row: u64,
        out: &mut Vec<u8>,
    ) -> bool {
        let h = mix(self.salts[ordinal][field] ^ row.wrapping_mul(0xD6E8_FEB8_6659_FD93));
        match object.fields[field].generator {
            Gen::Id => ids::write_id(&prefix(object.key_prefix), row, out),
            Gen::Company => {
                push(out, pick(ADJECTIVES, h));
                out.push(b' ');
                push(out, pick(NOUNS, h >> 8));
                push(out, pick(COMPANY_SUFFIXES, h >> 16));
            }
            Gen::FirstName => push(out, pick(FIRST_NAMES, h)),
            Gen::LastName => push(out, pick(LAST_NAMES, h)),
            Gen::Email => {
                out.extend_from_slice(b"user");
                push(out, itoa::Buffer::new().format(row));
                out.extend_from_slice(b"@example");
                push(out, itoa::Buffer::new().format(h % 100));
                out.extend_from_slice(b".com");
            }
            Gen::City => push(out, pick(CITIES, h)),
            Gen::Pick(values, null_one_in) => {
                if null_one_in > 0 && (h >> 32).is_multiple_of(null_one_in) {
                    return false;
                }
                push(out, pick(values, h));
            }
            Gen::Int(min, max) => {
                let span = max.abs_diff(min).max(1);
                push(out, itoa::Buffer::new().format(min + (h % span) as i64));
            }
            Gen::Cents(max) => write_cents(h % max.max(1), out),
            Gen::DateTime => write_datetime(EPOCH_2015 + (h % TEN_YEARS) as i64, out),
            Gen::Date => write_date(EPOCH_2015 / 86_400 + (h % (12 * 365)) as i64, out),
            Gen::Prose => {
                if h.is_multiple_of(3) {
                    return false;
                }
                push(out, pick(PROSE, h >> 4));
            }
            Gen::Ref(target) => {
                let Some(n) = OBJECTS
                    .iter()
                    .position(|o| o.key_prefix == target)
                    .map(|i| self.base_rows[i])
                else {
                    return false;
                };
                if n == 0 {
                    return false;
                }
                ids::write_id(&prefix(target), h % n, out);
            }
            Gen::Code(code_prefix) => {
                push(out, code_prefix);
                push(out, itoa::Buffer::new().format(row));
            }
            Gen::Null => return false,
        }
        true
    }
}

fn prefix(key: &str) -> [u8; 3] {
    let b = key.as_bytes();
    [b[0], b[1], b[2]]
}

fn pick(values: &'static [&'static str], h: u64) -> &'static str {
    values[(h % values.len() as u64) as usize]
}

fn push(out: &mut Vec<u8>, text: &str) {
    out.extend_from_slice(text.as_bytes());
}

fn write_cents(cents: u64, out: &mut Vec<u8>) {
    push(out, itoa::Buffer::new().format(cents / 100));
    let rest = (cents % 100) as u8;
    out.extend_from_slice(&[b'.', b'0' + rest / 10, b'0' + rest % 10]);
}

/// `YYYY-MM-DDTHH:MM:SS.000Z`, the format of date-times in Bulk API CSV.
pub(crate) fn write_datetime(unix: i64, out: &mut Vec<u8>) {
    let secs = unix.rem_euclid(86_400);
    write_date(unix.div_euclid(86_400), out);
    out.push(b'T');
    two(out, secs / 3600);
    out.push(b':');
    two(out, secs / 60 % 60);
    out.push(b':');
    two(out, secs % 60);
    out.extend_from_slice(b".000Z");
}

/// `YYYY-MM-DD` for days since 1970-01-01 (Howard Hinnant's civil_from_days).
pub(crate) fn write_date(days: i64, out: &mut Vec<u8>) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    two(out, year / 100);
    two(out, year % 100);
    out.push(b'-');
    two(out, month);
    out.push(b'-');
    two(out, day);
}

fn two(out: &mut Vec<u8>, n: i64) {
    out.extend_from_slice(&[b'0' + (n / 10) as u8, b'0' + (n % 10) as u8]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::schema;

    #[test]
    fn dates_format_like_the_vendor() {
        let mut out = Vec::new();
        write_datetime(1_544_464_219, &mut out);
        assert_eq!(out, b"2018-12-10T17:50:19.000Z");
        out.clear();
        write_date(0, &mut out);
        assert_eq!(out, b"1970-01-01");
        out.clear();
        write_date(19_417, &mut out); // 2023-03-01, after a non-leap February
        assert_eq!(out, b"2023-03-01");
    }

    #[test]
    fn values_are_deterministic_per_seed_and_vary_between_rows() {
        let account = schema::object("Account").expect("exists");
        let a = Generator::new(42, vec![10; OBJECTS.len()]);
        let b = Generator::new(43, vec![10; OBJECTS.len()]);
        let render = |g: &Generator, row| {
            let mut out = Vec::new();
            g.write(account, 0, 1, row, &mut out);
            out
        };
        assert_eq!(render(&a, 5), render(&a, 5));
        let names: std::collections::HashSet<_> = (0..200).map(|r| render(&a, r)).collect();
        assert!(names.len() > 50);
        assert!((0..200).any(|r| render(&a, r) != render(&b, r)));
        assert!(names.iter().any(|n| n.contains(&b',')) && names.iter().any(|n| n.contains(&b'"')));
    }
}
