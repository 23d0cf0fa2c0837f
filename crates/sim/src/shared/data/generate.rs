//! Field values of generated rows, computed from (seed, object, field, row index) alone, written
//! straight into the caller's buffer: no allocation per value.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::schema::{Gen, OBJECTS, ObjectSchema};
use crate::shared::ids;
use crate::shared::rng::{hash_str, mix};

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
/// Days covered by generated dates (twelve years from 2015).
const DAYS: u64 = 12 * 365;
/// How long after its creation a generated row was last modified, at most.
const YEAR: u64 = 365 * 86_400;

/// Values of a field drawn from a fixed list, pre-rendered raw and as quoted CSV, so that serving
/// a row copies bytes instead of escaping them.
#[derive(Debug, Clone)]
struct Table {
    raw: Vec<Box<str>>,
    quoted: Vec<Box<[u8]>>,
    /// Null once in this many rows (0: never).
    null_one_in: u64,
}

impl Table {
    fn new(values: Vec<String>, null_one_in: u64) -> Self {
        let quoted = values
            .iter()
            .map(|v| {
                let mut out = Vec::with_capacity(v.len() + 2);
                crate::shared::csv::write_quoted(&mut out, v.as_bytes());
                out.into_boxed_slice()
            })
            .collect();
        Self {
            raw: values.into_iter().map(String::into_boxed_str).collect(),
            quoted,
            null_one_in,
        }
    }

    /// The index of the value for hash `h`, or `None` for null.
    fn pick(&self, h: u64) -> Option<usize> {
        if self.null_one_in > 0 && reduce(h.rotate_left(32), self.null_one_in) == 0 {
            return None;
        }
        Some(reduce(h, self.raw.len() as u64) as usize)
    }
}

/// The list a table-driven generator draws from, if it is one.
fn table_for(generator: Gen) -> Option<Table> {
    let list = |values: &[&str]| values.iter().map(|v| (*v).to_owned()).collect::<Vec<_>>();
    match generator {
        Gen::Company => {
            let mut names = Vec::new();
            for adjective in ADJECTIVES {
                for noun in NOUNS {
                    for suffix in COMPANY_SUFFIXES {
                        names.push(format!("{adjective} {noun}{suffix}"));
                    }
                }
            }
            Some(Table::new(names, 0))
        }
        Gen::FirstName => Some(Table::new(list(FIRST_NAMES), 0)),
        Gen::LastName => Some(Table::new(list(LAST_NAMES), 0)),
        Gen::City => Some(Table::new(list(CITIES), 0)),
        Gen::Prose => Some(Table::new(list(PROSE), 3)),
        Gen::Pick(values, null_one_in) => Some(Table::new(list(values), null_one_in)),
        _ => None,
    }
}

/// Maps a hash onto `0..n` without a division (Lemire's multiply-shift).
fn reduce(h: u64, n: u64) -> u64 {
    ((u128::from(h) * u128::from(n)) >> 64) as u64
}

/// Generates field values for a seed. Cheap to copy into every result set.
#[derive(Debug, Clone)]
pub(crate) struct Generator {
    /// Per object (in `OBJECTS` order) and field: the salt of that column.
    salts: Vec<Vec<u64>>,
    /// Per object and field: the value list of table-driven fields.
    tables: Vec<Vec<Option<Table>>>,
    /// Per object and field: how many rows a lookup field can point at.
    ref_rows: Vec<Vec<u64>>,
    /// Per object: how many rows are generated (the base of the overlay's index space).
    base_rows: Vec<u64>,
    /// Per object: the index of `CreatedDate`, which `LastModifiedDate` follows.
    created: Vec<Option<usize>>,
    /// Per object: how many consecutive rows share one modification stamp (0: none do).
    bursts: Vec<u64>,
    /// `YYYY-MM-DD` of every day from 2015 on, so dates are copied, not computed.
    days: Vec<[u8; 10]>,
}

impl Generator {
    /// Values for `seed`, with `base_rows` generated rows and modification stamps shared by runs
    /// of `bursts` rows, per object in `OBJECTS` order.
    pub(crate) fn new(seed: u64, base_rows: Vec<u64>, bursts: Vec<u64>) -> Self {
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
        let tables = OBJECTS
            .iter()
            .map(|o| o.fields.iter().map(|f| table_for(f.generator)).collect())
            .collect();
        let ref_rows = OBJECTS
            .iter()
            .map(|o| {
                o.fields
                    .iter()
                    .map(|f| match f.generator {
                        Gen::Ref(target) => OBJECTS
                            .iter()
                            .position(|t| t.key_prefix == target)
                            .map_or(0, |i| base_rows[i]),
                        _ => 0,
                    })
                    .collect()
            })
            .collect();
        let days = (0..DAYS)
            .map(|d| {
                let mut out = Vec::with_capacity(10);
                write_date(EPOCH_2015 / 86_400 + d as i64, &mut out);
                out.try_into().unwrap_or([b'0'; 10])
            })
            .collect();
        let created = OBJECTS
            .iter()
            .map(|o| o.field_index("CreatedDate"))
            .collect();
        Self {
            salts,
            tables,
            ref_rows,
            base_rows,
            created,
            bursts,
            days,
        }
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
        self.emit(object, ordinal, field, row, out, false)
    }

    /// Appends one value as a CSV field: double-quoted, or nothing for null.
    pub(crate) fn write_csv(
        &self,
        object: &ObjectSchema,
        ordinal: usize,
        field: usize,
        row: u64,
        out: &mut Vec<u8>,
    ) {
        self.emit(object, ordinal, field, row, out, true);
    }

    fn emit(
        &self,
        object: &ObjectSchema,
        ordinal: usize,
        field: usize,
        row: u64,
        out: &mut Vec<u8>,
        quoted: bool,
    ) -> bool {
        let h = self.hash(ordinal, field, row);
        if let Some(table) = &self.tables[ordinal][field] {
            let Some(i) = table.pick(h) else { return false };
            out.extend_from_slice(if quoted {
                &table.quoted[i]
            } else {
                table.raw[i].as_bytes()
            });
            return true;
        }
        // What remains is ids, numbers, dates, codes and base64: nothing in them needs escaping.
        let start = out.len();
        if quoted {
            out.push(b'"');
        }
        if !self.write_plain(object, ordinal, field, row, h, out) {
            out.truncate(start);
            return false;
        }
        if quoted {
            out.push(b'"');
        }
        true
    }

    /// The hash a value of (object, field, row) is drawn from.
    fn hash(&self, ordinal: usize, field: usize, row: u64) -> u64 {
        mix(self.salts[ordinal][field] ^ row.wrapping_mul(0xD6E8_FEB8_6659_FD93))
    }

    /// Appends a value that needs no escaping; false (and possibly a partial write the caller
    /// discards) for null.
    fn write_plain(
        &self,
        object: &ObjectSchema,
        ordinal: usize,
        field: usize,
        row: u64,
        h: u64,
        out: &mut Vec<u8>,
    ) -> bool {
        match object.fields[field].generator {
            Gen::Id => ids::write_id(&prefix(object.key_prefix), row, out),
            Gen::Email => {
                out.extend_from_slice(b"user");
                push(out, itoa::Buffer::new().format(row));
                out.extend_from_slice(b"@example");
                push(out, itoa::Buffer::new().format(reduce(h, 100)));
                out.extend_from_slice(b".com");
            }
            Gen::Int(min, max) => {
                let span = max.abs_diff(min).max(1);
                push(
                    out,
                    itoa::Buffer::new().format(min + reduce(h, span) as i64),
                );
            }
            Gen::Cents(max) => write_cents(reduce(h, max.max(1)), out),
            Gen::Fixed(min, max, scale) => {
                let span = max.abs_diff(min).max(1);
                write_fixed(min + reduce(h, span) as i64, scale, out);
            }
            Gen::Sci(min, max) => {
                if reduce(h.rotate_left(32), 6) == 0 {
                    return false;
                }
                let span = max.abs_diff(min).max(1);
                push(out, &java_double((min + reduce(h, span) as i64) as f64));
            }
            Gen::DateTime => {
                let secs = reduce(h, TEN_YEARS);
                out.extend_from_slice(&self.days[(secs / 86_400) as usize]);
                write_time(secs % 86_400, out);
            }
            Gen::Modified => {
                let Some(secs) = self.modified(ordinal, row) else {
                    return false;
                };
                out.extend_from_slice(&self.days[(secs / 86_400) as usize]);
                write_time(secs % 86_400, out);
            }
            Gen::Date => out.extend_from_slice(&self.days[reduce(h, DAYS) as usize]),
            Gen::Time => {
                // `HH:MM:SS.000Z`: the date-time's time without its `T`.
                let at = out.len();
                write_time(reduce(h, 86_400), out);
                out.remove(at);
            }
            Gen::Ref(target) => {
                let targets = self.ref_rows[ordinal][field];
                if targets == 0 {
                    return false;
                }
                ids::write_id(&prefix(target), reduce(h, targets), out);
            }
            Gen::Code(code_prefix) => {
                push(out, code_prefix);
                push(out, itoa::Buffer::new().format(row));
            }
            Gen::Phone => {
                push(out, "(");
                push(out, itoa::Buffer::new().format(200 + reduce(h, 800)));
                push(out, ") 555-");
                push(out, &format!("{:04}", row % 10_000));
            }
            Gen::Url => {
                push(out, "https://www.example.com/");
                push(out, itoa::Buffer::new().format(row));
            }
            Gen::Multi(values) => return write_multi(values, h, out),
            Gen::Base64 => {
                let file = format!("Notes for record {row}.\n");
                push(out, &STANDARD.encode(file.as_bytes()));
            }
            _ => return false,
        }
        true
    }

    /// Seconds after 2015 at which a generated row was last modified, drawn from the creation's
    /// hash, not a field's, so that every field that uses it (`LastModifiedDate`,
    /// `SystemModstamp`) holds the same time: within a year after the row's creation; or, in
    /// an object with bursts, one time for each run of `bursts` consecutive rows (a data load
    /// that stamped them all within one second), drawn in the year after every generated
    /// creation so that no row is modified before it was created.
    fn modified(&self, ordinal: usize, row: u64) -> Option<u64> {
        let created = self.created[ordinal]?;
        if let Some(burst) = row.checked_div(self.bursts[ordinal]) {
            let salt = self.salts[ordinal][created];
            return Some(TEN_YEARS + reduce(mix(salt ^ burst), YEAR));
        }
        let created_hash = self.hash(ordinal, created, row);
        let created = reduce(created_hash, TEN_YEARS);
        Some(created + reduce(mix(created_hash ^ 0x9E37_79B9_7F4A_7C15), YEAR))
    }
}

/// Up to all of `values` (a bit mask drawn from `h`) joined by `;`; null one in four rows.
fn write_multi(values: &[&str], h: u64, out: &mut Vec<u8>) -> bool {
    if values.is_empty() || reduce(h.rotate_left(32), 4) == 0 {
        return false;
    }
    let mask = 1 + reduce(h, (1u64 << values.len().min(16)) - 1);
    let chosen: Vec<&str> = values
        .iter()
        .enumerate()
        .filter(|(i, _)| mask & (1 << i) != 0)
        .map(|(_, v)| *v)
        .collect();
    push(out, &chosen.join(";"));
    true
}

/// `units / 10^scale` with `scale` decimals, and at least one (`10.0`), as Bulk API CSV prints
/// percent and number fields.
fn write_fixed(units: i64, scale: u8, out: &mut Vec<u8>) {
    let divisor = 10u64.pow(u32::from(scale));
    if units < 0 {
        out.push(b'-');
    }
    let magnitude = units.unsigned_abs();
    push(out, itoa::Buffer::new().format(magnitude / divisor));
    out.push(b'.');
    if scale == 0 {
        out.push(b'0');
    } else {
        let fraction = format!(
            "{:0width$}",
            magnitude % divisor,
            width = usize::from(scale)
        );
        push(out, &fraction);
    }
}

/// A double as Java's `Double.toString` prints it, which is how a real org prints double
/// fields in Bulk API results: plain with at least one decimal below 10^7 (`4021.0`), in
/// computerized scientific notation from 10^7 on (`1.6147805824397E13`, forcedotcom/cli#3367).
pub(crate) fn java_double(value: f64) -> String {
    let magnitude = value.abs();
    if magnitude == 0.0 || (1e-3..1e7).contains(&magnitude) {
        let plain = format!("{value}");
        return if plain.contains('.') {
            plain
        } else {
            format!("{plain}.0")
        };
    }
    let scientific = format!("{value:e}");
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    if mantissa.contains('.') {
        format!("{mantissa}E{exponent}")
    } else {
        format!("{mantissa}.0E{exponent}")
    }
}

fn prefix(key: &str) -> [u8; 3] {
    let b = key.as_bytes();
    [b[0], b[1], b[2]]
}

fn push(out: &mut Vec<u8>, text: &str) {
    out.extend_from_slice(text.as_bytes());
}

/// `THH:MM:SS.000Z` for seconds into a day.
fn write_time(secs: u64, out: &mut Vec<u8>) {
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    let d = |n: u64| b'0' + n as u8;
    out.extend_from_slice(&[
        b'T',
        d(h / 10),
        d(h % 10),
        b':',
        d(m / 10),
        d(m % 10),
        b':',
        d(s / 10),
        d(s % 10),
    ]);
    out.extend_from_slice(b".000Z");
}

fn write_cents(cents: u64, out: &mut Vec<u8>) {
    push(out, itoa::Buffer::new().format(cents / 100));
    let rest = (cents % 100) as u8;
    out.extend_from_slice(&[b'.', b'0' + rest / 10, b'0' + rest % 10]);
}

/// `YYYY-MM-DDTHH:MM:SS.000Z`, the format of date-times in Bulk API CSV.
#[cfg(test)]
fn write_datetime(unix: i64, out: &mut Vec<u8>) {
    write_date(unix.div_euclid(86_400), out);
    write_time(unix.rem_euclid(86_400) as u64, out);
}

/// `YYYY-MM-DD` for days since 1970-01-01 (Howard Hinnant's civil_from_days).
fn write_date(days: i64, out: &mut Vec<u8>) {
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
    use crate::shared::data::schema;

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
    fn csv_form_is_the_quoted_raw_form() {
        let g = Generator::new(7, vec![50; OBJECTS.len()], vec![0; OBJECTS.len()]);
        for (ordinal, object) in OBJECTS.iter().enumerate() {
            for field in 0..object.fields.len() {
                for row in 0..50 {
                    let (mut raw, mut quoted) = (Vec::new(), Vec::new());
                    let present = g.write(object, ordinal, field, row, &mut raw);
                    g.write_csv(object, ordinal, field, row, &mut quoted);
                    let mut expected = Vec::new();
                    if present {
                        crate::shared::csv::write_quoted(&mut expected, &raw);
                    }
                    assert_eq!(
                        quoted, expected,
                        "{}.{}",
                        object.name, object.fields[field].name
                    );
                }
            }
        }
    }

    #[test]
    fn doubles_print_as_java_prints_them() {
        assert_eq!(java_double(16_147_805_824_397.0), "1.6147805824397E13");
        assert_eq!(java_double(10_000_000.0), "1.0E7");
        assert_eq!(java_double(4_021.0), "4021.0");
        assert_eq!(java_double(0.5), "0.5");
        let mut out = Vec::new();
        write_fixed(-1_234_567, 6, &mut out);
        assert_eq!(out, b"-1.234567");
        out.clear();
        write_fixed(42, 0, &mut out);
        assert_eq!(out, b"42.0");
    }

    #[test]
    fn bursts_share_one_modification_stamp_that_follows_every_creation() {
        let ordinal = OBJECTS
            .iter()
            .position(|o| o.name == "Account")
            .expect("Account");
        let account = &OBJECTS[ordinal];
        let field = |name| account.field_index(name).expect("audit field");
        let g = Generator::new(5, vec![100; OBJECTS.len()], vec![40; OBJECTS.len()]);
        let text = |name, row| {
            let mut out = Vec::new();
            assert!(g.write(account, ordinal, field(name), row, &mut out));
            String::from_utf8(out).expect("ASCII")
        };
        let stamps: Vec<String> = (0..100).map(|r| text("SystemModstamp", r)).collect();
        assert!(stamps[..40].iter().all(|s| *s == stamps[0]), "{stamps:?}");
        assert!(
            stamps[40..80].iter().all(|s| *s == stamps[40]),
            "{stamps:?}"
        );
        assert_ne!(stamps[0], stamps[40]);
        assert_ne!(stamps[40], stamps[80]);
        for (row, stamp) in stamps.iter().enumerate() {
            let row = row as u64;
            assert_eq!(*stamp, text("LastModifiedDate", row));
            // The fixed-width format sorts as time does.
            assert!(*stamp > text("CreatedDate", row), "row {row}");
        }
        let plain = Generator::new(5, vec![100; OBJECTS.len()], vec![0; OBJECTS.len()]);
        let mut first = Vec::new();
        let mut second = Vec::new();
        plain.write(account, ordinal, field("SystemModstamp"), 0, &mut first);
        plain.write(account, ordinal, field("SystemModstamp"), 1, &mut second);
        assert_ne!(first, second, "without bursts every row has its own stamp");
    }

    #[test]
    fn values_are_deterministic_per_seed_and_vary_between_rows() {
        let account = schema::object("Account").expect("exists");
        let a = Generator::new(42, vec![10; OBJECTS.len()], vec![0; OBJECTS.len()]);
        let b = Generator::new(43, vec![10; OBJECTS.len()], vec![0; OBJECTS.len()]);
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
