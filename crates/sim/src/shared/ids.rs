//! Salesforce record ids: 15 significant characters plus the 3-character case-safe suffix.
//!
//! Layout: key prefix (3) + `Hs0` (pod and reserved characters) + the serial number in base 62
//! (9 characters) + checksum (3). Base 62 in ASCII order keeps fixed-width ids sortable by serial.

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const SUFFIX: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";
const POD: &[u8; 3] = b"Hs0";

/// Appends the 18-character id with `prefix` and `serial` to `out`.
pub(crate) fn write_id(prefix: &[u8; 3], serial: u64, out: &mut Vec<u8>) {
    let mut id = [0u8; 18];
    id[..3].copy_from_slice(prefix);
    id[3..6].copy_from_slice(POD);
    let mut n = serial;
    for slot in id[6..15].iter_mut().rev() {
        *slot = BASE62[(n % 62) as usize];
        n /= 62;
    }
    for group in 0..3 {
        let mut flags = 0usize;
        for (bit, c) in id[group * 5..group * 5 + 5].iter().enumerate() {
            if c.is_ascii_uppercase() {
                flags |= 1 << bit;
            }
        }
        id[15 + group] = SUFFIX[flags];
    }
    out.extend_from_slice(&id);
}

/// The 18-character id with `prefix` and `serial`.
pub(crate) fn id_string(prefix: &str, serial: u64) -> String {
    let mut out = Vec::with_capacity(18);
    write_id(&prefix_bytes(prefix), serial, &mut out);
    String::from_utf8(out).unwrap_or_default()
}

/// The serial number inside an id minted here with `prefix`, accepting the 15- and 18-character
/// forms; `None` for anything else (a malformed id or another object's).
pub(crate) fn parse_id(prefix: &str, id: &str) -> Option<u64> {
    let bytes = id.as_bytes();
    if !(bytes.len() == 15 || bytes.len() == 18) || !id.starts_with(prefix) || &bytes[3..6] != POD {
        return None;
    }
    let mut serial: u64 = 0;
    for &c in &bytes[6..15] {
        let digit = BASE62.iter().position(|&d| d == c)? as u64;
        serial = serial.checked_mul(62)?.checked_add(digit)?;
    }
    let canonical = id_string(prefix, serial);
    (bytes.len() == 15 || canonical == id).then_some(serial)
}

/// Whether `id` looks like any Salesforce id (15 or 18 letters and digits).
pub(crate) fn is_id_shaped(id: &str) -> bool {
    (id.len() == 15 || id.len() == 18) && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

fn prefix_bytes(prefix: &str) -> [u8; 3] {
    let mut out = [b'0'; 3];
    for (slot, b) in out.iter_mut().zip(prefix.bytes()) {
        *slot = b;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use haul_types::SalesforceId;

    #[test]
    fn ids_round_trip_and_are_valid_salesforce_ids() {
        for serial in [0, 1, 61, 62, 12_345_678, 62u64.pow(9) - 1] {
            let id = id_string("001", serial);
            assert_eq!(id.len(), 18);
            let parsed: SalesforceId = id.parse().expect("valid id");
            assert_eq!(parsed.key_prefix(), "001");
            assert_eq!(parse_id("001", &id), Some(serial));
            assert_eq!(parse_id("001", &id[..15]), Some(serial));
            assert_eq!(parse_id("003", &id), None);
        }
    }

    #[test]
    fn checksum_follows_the_case_safe_algorithm() {
        // Group "750Hs" has one capital at position 3 (bit 3 = 8 = 'I'); "00000" has none ('A').
        assert_eq!(id_string("750", 0), "750Hs0000000000IAA");
        let mut id = id_string("750", 42);
        id.replace_range(15..18, "ZZZ");
        assert_eq!(parse_id("750", &id), None);
    }
}
