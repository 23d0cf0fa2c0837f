//! Generating the low-level client from the OpenAPI specs with progenitor.
//!
//! Every generator setting lives in [`settings`]; every spec and the module it becomes, in [`FAMILIES`].
//! One setting progenitor lacks is applied to its output: [`received`] makes the types that responses
//! hold `#[non_exhaustive]`.

mod received;

use std::fmt::Write as _;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, anyhow, bail};
use progenitor::{GenerationSettings, Generator, InterfaceStyle, TagStyle, TypeImpl};
use sha2::{Digest, Sha256};

use received::mark_received_types;

/// One API family: its spec, and the module of `haul-client` generated from it.
struct Family {
    spec: &'static str,
    module: &'static str,
}

const FAMILIES: &[Family] = &[
    Family {
        spec: "specs/salesforce-bulk-query.yaml",
        module: "salesforce_bulk_query",
    },
    Family {
        spec: "specs/salesforce-bulk-ingest.yaml",
        module: "salesforce_bulk_ingest",
    },
    Family {
        spec: "specs/salesforce-async-soql.yaml",
        module: "salesforce_async_soql",
    },
    Family {
        spec: "specs/salesforce-rest.yaml",
        module: "salesforce_rest",
    },
    Family {
        spec: "specs/looker-query-tasks.yaml",
        module: "looker_query_tasks",
    },
    Family {
        spec: "specs/databricks-sql-statements.yaml",
        module: "databricks_sql_statements",
    },
];

const GENERATED_DIR: &str = "crates/client/src/generated";

/// Schemas that map onto hand-written `haul-types` types, and the traits those types implement.
/// A schema name a spec does not use is simply not replaced there.
const REPLACEMENTS: &[(&str, &str)] = &[
    ("ApiVersion", "haul_types::ApiVersion"),
    ("AsyncQueryOperation", "haul_types::AsyncQueryOperation"),
    ("AsyncQueryStatus", "haul_types::AsyncQueryStatus"),
    ("ColumnDelimiter", "haul_types::ColumnDelimiter"),
    ("ColumnTypeName", "haul_types::ColumnTypeName"),
    ("ConcurrencyMode", "haul_types::ConcurrencyMode"),
    ("ContentType", "haul_types::ContentType"),
    ("Disposition", "haul_types::StatementDisposition"),
    ("FieldType", "haul_types::FieldType"),
    ("IngestJobState", "haul_types::IngestJobState"),
    ("IngestOperation", "haul_types::IngestOperation"),
    ("JobType", "haul_types::JobType"),
    ("LineEnding", "haul_types::LineEnding"),
    ("Limit", "haul_types::OrgLimit"),
    ("Limits", "haul_types::OrgLimits"),
    ("QueryJobState", "haul_types::QueryJobState"),
    ("QueryOperation", "haul_types::QueryOperation"),
    ("QueryTaskStatus", "haul_types::QueryTaskStatus"),
    ("ResultFormat", "haul_types::LookerResultFormat"),
    ("SalesforceId", "haul_types::SalesforceId"),
    ("StatementFormat", "haul_types::StatementFormat"),
    ("StatementState", "haul_types::StatementState"),
];

/// Whether to write the generated files or compare them with what is committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Write,
    Check,
}

/// The single place where progenitor is configured.
fn settings() -> GenerationSettings {
    let mut settings = GenerationSettings::default();
    settings
        .with_interface(InterfaceStyle::Builder)
        .with_tag(TagStyle::Merged)
        .with_inner_type(quote::quote! { crate::Context })
        .with_map_type("::std::collections::BTreeMap");
    for (schema, rust_type) in REPLACEMENTS {
        settings.with_replacement(*schema, *rust_type, [TypeImpl::Display].into_iter());
    }
    settings
}

pub(crate) fn run(root: &Path, mode: Mode) -> Result<()> {
    let mut stale = Vec::new();
    let mut failures = Vec::new();
    for family in FAMILIES {
        let generated = match generate(root, family) {
            Ok(generated) => generated,
            Err(error) => {
                failures.push(format!("{error:#}"));
                continue;
            }
        };
        let target = root
            .join(GENERATED_DIR)
            .join(format!("{}.rs", family.module));
        match mode {
            Mode::Write => {
                std::fs::write(&target, &generated)
                    .with_context(|| format!("writing {}", target.display()))?;
                println!("wrote {}", relative(root, &target));
            }
            Mode::Check => {
                let committed = std::fs::read_to_string(&target).unwrap_or_default();
                if committed != generated {
                    eprintln!(
                        "{}",
                        unified_diff(&committed, &generated, &relative(root, &target))
                    );
                    stale.push(relative(root, &target));
                }
            }
        }
    }
    if !failures.is_empty() {
        bail!(
            "{} of {} specs failed to generate:\n{}",
            failures.len(),
            FAMILIES.len(),
            failures.join("\n")
        );
    }
    stale.extend(unexpected_files(root)?);
    if !stale.is_empty() {
        bail!(
            "generated code is out of date with specs/: {}\nrun `cargo xtask regen` and commit the result",
            stale.join(", ")
        );
    }
    if mode == Mode::Check {
        println!(
            "generated code matches specs/ ({} families)",
            FAMILIES.len()
        );
    }
    Ok(())
}

/// Generates one family's module: the header, then progenitor's output formatted by prettyplease.
fn generate(root: &Path, family: &Family) -> Result<String> {
    let spec_path = root.join(family.spec);
    let text =
        std::fs::read_to_string(&spec_path).with_context(|| format!("reading {}", family.spec))?;
    generate_source(family.spec, &text)
}

/// The module generated from one spec's text; `spec` names it in the header and in errors.
fn generate_source(spec: &str, text: &str) -> Result<String> {
    let parsed: openapiv3::OpenAPI =
        serde_norway::from_str(text).with_context(|| format!("parsing {spec}"))?;
    let tokens = catch_generator_panic(spec, || {
        Generator::new(&settings()).generate_tokens(&parsed)
    })?
    .map_err(|error| anyhow!("progenitor rejected {spec}: {error}"))?;
    let mut file: syn::File = syn::parse2(tokens)
        .with_context(|| format!("progenitor produced unparsable code for {spec}"))?;
    mark_received_types(&parsed, &mut file)
        .with_context(|| format!("marking the response types of {spec}"))?;
    Ok(format!(
        "{}{}",
        header(spec, text),
        prettyplease::unparse(&file)
    ))
}

/// progenitor panics (`todo!`, `assert!`) on some inputs it does not support; report those as errors
/// naming the spec instead of crashing with a backtrace into the generator.
fn catch_generator_panic<T>(spec: &str, generate: impl FnOnce() -> T) -> Result<T> {
    let previous_hook = panic::take_hook();
    panic::set_hook(Box::new(|_| {}));
    let outcome = panic::catch_unwind(AssertUnwindSafe(generate));
    panic::set_hook(previous_hook);
    outcome.map_err(|payload| {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "(no message)".to_owned());
        anyhow!("progenitor panicked while generating from {spec}: {message}")
    })
}

fn header(spec: &str, text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    let mut hex = String::with_capacity(64);
    for byte in digest {
        let _ = write!(hex, "{byte:02x}");
    }
    format!(
        "// @generated by `cargo xtask regen` from {spec}. DO NOT EDIT.\n\
         // Change the spec and run `cargo xtask regen` instead.\n\
         // spec-sha256: {hex}\n\n"
    )
}

/// Files in the generated folder that no spec produces: left over from a removed or renamed spec.
fn unexpected_files(root: &Path) -> Result<Vec<String>> {
    let dir = root.join(GENERATED_DIR);
    let expected: Vec<PathBuf> = FAMILIES
        .iter()
        .map(|f| dir.join(format!("{}.rs", f.module)))
        .collect();
    let mut unexpected = Vec::new();
    for entry in std::fs::read_dir(&dir).with_context(|| format!("reading {GENERATED_DIR}"))? {
        let path = entry?.path();
        if !expected.contains(&path) {
            unexpected.push(format!("{} (no spec produces it)", relative(root, &path)));
        }
    }
    Ok(unexpected)
}

fn unified_diff(old: &str, new: &str, name: &str) -> String {
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(
            &format!("{name} (committed)"),
            &format!("{name} (from specs)"),
        )
        .to_string()
}

fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 200 with a body beside a 204 without one makes progenitor 0.15 panic (progenitor-notes.md).
    const PANICKING_SPEC: &str = r#"
openapi: 3.0.3
info: {title: t, version: "1"}
paths:
  /results:
    get:
      operationId: results
      responses:
        "200":
          description: done
          content:
            application/json:
              schema: {type: object}
        "204":
          description: not yet
"#;

    #[test]
    fn a_generator_panic_is_an_error_naming_the_spec() {
        let error = generate_source("specs/broken.yaml", PANICKING_SPEC).unwrap_err();
        let message = format!("{error:#}");
        assert!(message.contains("progenitor panicked"), "{message}");
        assert!(message.contains("specs/broken.yaml"), "{message}");
    }

    #[test]
    fn output_is_deterministic_and_carries_the_spec_digest() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let family = &FAMILIES[0];
        let first = generate(root, family).unwrap();
        assert_eq!(first, generate(root, family).unwrap());
        let text = std::fs::read_to_string(root.join(family.spec)).unwrap();
        let digest: String = Sha256::digest(text.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert!(
            first
                .lines()
                .take(3)
                .any(|line| line == format!("// spec-sha256: {digest}"))
        );
    }

    #[test]
    fn a_spec_that_is_not_openapi_is_an_error_naming_it() {
        let error = generate_source("specs/nonsense.yaml", "just: [text").unwrap_err();
        assert!(
            format!("{error:#}").contains("parsing specs/nonsense.yaml"),
            "{error:#}"
        );
    }
}
