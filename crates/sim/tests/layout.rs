//! The simulator's module boundaries, checked on its source: the shared core imports no family,
//! no family imports another, and nothing imports haul's client crates (the simulator is the
//! independent other side of the wire).

use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`, with its path relative to `src/`.
fn sources(dir: &Path, src: &Path, out: &mut Vec<(String, String)>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("readable source directory")
        .map(|e| e.expect("readable entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            sources(&path, src, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let relative = path.strip_prefix(src).expect("under src");
            let text = std::fs::read_to_string(&path).expect("readable source");
            out.push((relative.to_string_lossy().replace('\\', "/"), text));
        }
    }
}

fn all_sources() -> Vec<(String, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = Vec::new();
    sources(&src, &src, &mut out);
    assert!(out.len() > 20, "found only {} source files", out.len());
    out
}

/// Files under `prefix` that mention any of `forbidden`, as `file: word`.
fn offenders(files: &[(String, String)], prefix: &str, forbidden: &[&str]) -> Vec<String> {
    files
        .iter()
        .filter(|(path, _)| path.starts_with(prefix))
        .flat_map(|(path, text)| {
            forbidden
                .iter()
                .filter(|word| text.contains(*word))
                .map(move |word| format!("{path}: {word}"))
        })
        .collect()
}

#[test]
fn the_shared_core_imports_no_family() {
    let files = all_sources();
    let bad = offenders(
        &files,
        "shared/",
        &["crate::salesforce", "crate::looker", "crate::app"],
    );
    assert!(bad.is_empty(), "{bad:#?}");
}

#[test]
fn no_family_imports_another() {
    let files = all_sources();
    let families = [
        ("salesforce/query/", "query"),
        ("salesforce/ingest/", "ingest"),
        ("salesforce/async_soql/", "async_soql"),
    ];
    for (dir, own) in families {
        let mut forbidden = vec!["crate::looker".to_owned(), "crate::app".to_owned()];
        for (_, other) in families.iter().filter(|(_, other)| *other != own) {
            forbidden.push(format!("salesforce::{other}"));
            forbidden.push(format!("super::super::{other}"));
        }
        let forbidden: Vec<&str> = forbidden.iter().map(String::as_str).collect();
        let bad = offenders(&files, dir, &forbidden);
        assert!(bad.is_empty(), "{bad:#?}");
        // From a family's mod.rs, `super` is the Salesforce side itself.
        let siblings: Vec<String> = families
            .iter()
            .filter(|(_, other)| *other != own)
            .map(|(_, other)| format!("super::{other}"))
            .collect();
        let siblings: Vec<&str> = siblings.iter().map(String::as_str).collect();
        let bad = offenders(&files, &format!("{dir}mod.rs"), &siblings);
        assert!(bad.is_empty(), "{bad:#?}");
    }
    let bad = offenders(&files, "looker/", &["crate::salesforce", "crate::app"]);
    assert!(bad.is_empty(), "{bad:#?}");
}

#[test]
fn nothing_imports_the_client_crates() {
    let files = all_sources();
    let bad = offenders(&files, "", &["haul_client", "haul::", "use haul;"]);
    assert!(bad.is_empty(), "{bad:#?}");
    let manifest = include_str!("../Cargo.toml");
    assert!(!manifest.contains("haul-client") && !manifest.contains("\nhaul ="));
}
