//! Generating the low-level client from the OpenAPI specs with progenitor.
//!
//! Every generator setting lives in [`settings`]; every spec and the module it becomes, in [`FAMILIES`].
//! One setting progenitor lacks is applied to its output: [`mark_received_types`] makes the types that
//! responses hold `#[non_exhaustive]`.

use std::borrow::Borrow;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, anyhow, bail};
use openapiv3::{
    AdditionalProperties, OpenAPI, Parameter, ReferenceOr, RequestBody, Response, Schema,
    SchemaKind, Type,
};
use progenitor::{GenerationSettings, Generator, InterfaceStyle, TagStyle, TypeImpl};
use sha2::{Digest, Sha256};
use syn::visit::Visit;

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
        spec: "specs/looker-query-tasks.yaml",
        module: "looker_query_tasks",
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
    ("ConcurrencyMode", "haul_types::ConcurrencyMode"),
    ("ContentType", "haul_types::ContentType"),
    ("IngestJobState", "haul_types::IngestJobState"),
    ("IngestOperation", "haul_types::IngestOperation"),
    ("JobType", "haul_types::JobType"),
    ("LineEnding", "haul_types::LineEnding"),
    ("QueryJobState", "haul_types::QueryJobState"),
    ("QueryOperation", "haul_types::QueryOperation"),
    ("QueryTaskStatus", "haul_types::QueryTaskStatus"),
    ("ResultFormat", "haul_types::LookerResultFormat"),
    ("SalesforceId", "haul_types::SalesforceId"),
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

/// Adds `#[non_exhaustive]` to the generated types a response can hold, so that a field the vendor adds
/// to a spec later is not a breaking change for code that reads them.
///
/// The spec says which named schemas responses reach (through `$ref`s in properties, items, maps and
/// `allOf`/`oneOf`/`anyOf`); typify names the inline schemas inside them itself, so those are found by
/// following the field types of the generated code. Types that a request can carry stay exhaustive:
/// callers build them, with struct literals too. Newtypes (arrays, maps and strings given a name) stay
/// exhaustive as well: they have no fields to add.
fn mark_received_types(spec: &OpenAPI, file: &mut syn::File) -> Result<()> {
    let types = types_module(file)?;
    let received = generated_closure(types, &spec_closure(spec, received_roots(spec)?)?)?;
    let sent = generated_closure(types, &spec_closure(spec, sent_roots(spec)?)?)?;
    for item in types.iter_mut() {
        let name = item_name(item);
        if name.is_some_and(|name| received.contains(&name) && !sent.contains(&name)) {
            mark_non_exhaustive(item);
        }
    }
    Ok(())
}

/// The items of the generated `types` module.
fn types_module(file: &mut syn::File) -> Result<&mut Vec<syn::Item>> {
    file.items
        .iter_mut()
        .find_map(|item| match item {
            syn::Item::Mod(module) if module.ident == "types" => {
                module.content.as_mut().map(|(_, items)| items)
            }
            _ => None,
        })
        .ok_or_else(|| anyhow!("progenitor produced no `types` module"))
}

/// The name of a generated type; `None` for impls, modules and the rest.
fn item_name(item: &syn::Item) -> Option<String> {
    match item {
        syn::Item::Struct(item) => Some(item.ident.to_string()),
        syn::Item::Enum(item) => Some(item.ident.to_string()),
        syn::Item::Type(item) => Some(item.ident.to_string()),
        _ => None,
    }
}

/// Marks a struct with named fields, or an enum, `#[non_exhaustive]`, where typify puts extra attributes:
/// after the doc comment, before the derive.
fn mark_non_exhaustive(item: &mut syn::Item) {
    let attrs = match item {
        syn::Item::Struct(item) if matches!(item.fields, syn::Fields::Named(_)) => &mut item.attrs,
        syn::Item::Enum(item) => &mut item.attrs,
        _ => return,
    };
    let at = attrs
        .iter()
        .position(|attr| attr.path().is_ident("derive"))
        .unwrap_or(attrs.len());
    attrs.insert(at, syn::parse_quote!(#[non_exhaustive]));
}

/// The generated types that the named schemas become, and every type their fields and variants name,
/// transitively. A schema must have a type of its own name unless it is replaced by a `haul-types` type.
fn generated_closure(items: &[syn::Item], schemas: &BTreeSet<String>) -> Result<BTreeSet<String>> {
    let by_name: BTreeMap<String, &syn::Item> = items
        .iter()
        .filter_map(|item| item_name(item).map(|name| (name, item)))
        .collect();
    let mut todo = Vec::new();
    for schema in schemas {
        if by_name.contains_key(schema) {
            todo.push(schema.clone());
        } else if !REPLACEMENTS.iter().any(|(replaced, _)| replaced == schema) {
            bail!("schema {schema} has no generated type of that name; name schemas in PascalCase");
        }
    }
    let mut closure = BTreeSet::new();
    while let Some(name) = todo.pop() {
        if closure.insert(name.clone()) {
            let named = field_type_names(by_name[&name]);
            todo.extend(named.into_iter().filter(|n| by_name.contains_key(n)));
        }
    }
    Ok(closure)
}

/// Every identifier in the types of an item's fields (or of its variants' fields, or its alias).
fn field_type_names(item: &syn::Item) -> BTreeSet<String> {
    /// Collects the identifiers of every path segment it visits.
    #[derive(Default)]
    struct Names(BTreeSet<String>);
    impl<'ast> Visit<'ast> for Names {
        fn visit_path_segment(&mut self, segment: &'ast syn::PathSegment) {
            self.0.insert(segment.ident.to_string());
            syn::visit::visit_path_segment(self, segment);
        }
    }
    let mut names = Names::default();
    let fields: Vec<&syn::Field> = match item {
        syn::Item::Struct(item) => item.fields.iter().collect(),
        syn::Item::Enum(item) => item.variants.iter().flat_map(|v| &v.fields).collect(),
        syn::Item::Type(item) => {
            names.visit_type(&item.ty);
            Vec::new()
        }
        _ => Vec::new(),
    };
    for field in fields {
        names.visit_type(&field.ty);
    }
    names.0
}

/// The schemas named directly by any response of any operation, error responses included.
///
/// A response whose inline schema becomes a type of its own is an error: typify would name that type
/// after the operation, which the spec cannot tell, and it would be left exhaustive.
fn received_roots(spec: &OpenAPI) -> Result<Vec<String>> {
    let mut names = Vec::new();
    for (path, method, operation) in spec.operations() {
        let responses = &operation.responses;
        for response in responses.default.iter().chain(responses.responses.values()) {
            let response: &Response =
                resolve(spec, response, "responses", |c, n| c.responses.get(n))?;
            for schema in response.content.values().filter_map(|m| m.schema.as_ref()) {
                if becomes_a_type(schema) {
                    bail!(
                        "{method} {path} answers with an inline schema that becomes a type; \
                         name it in components/schemas and $ref it"
                    );
                }
                schema_refs(schema, &mut names);
            }
        }
    }
    Ok(names)
}

/// Whether typify makes a type of its own for a schema written inline: anything but a `$ref`, a plain
/// string, number, integer or boolean, or an array of those.
fn becomes_a_type<S: Borrow<Schema>>(schema: &ReferenceOr<S>) -> bool {
    let ReferenceOr::Item(schema) = schema else {
        return false;
    };
    match &schema.borrow().schema_kind {
        SchemaKind::Type(Type::String(string)) => !string.enumeration.is_empty(),
        SchemaKind::Type(Type::Number(_) | Type::Integer(_) | Type::Boolean(_)) => false,
        SchemaKind::Type(Type::Array(array)) => array.items.as_ref().is_some_and(becomes_a_type),
        _ => true,
    }
}

/// The schemas named directly by any request body or parameter of any operation.
fn sent_roots(spec: &OpenAPI) -> Result<Vec<String>> {
    let mut names = Vec::new();
    for (path, item) in spec.paths.iter() {
        let Some(item) = item.as_item() else {
            bail!("path {path} is a $ref, which progenitor does not support");
        };
        let mut parameters: Vec<&ReferenceOr<Parameter>> = item.parameters.iter().collect();
        for (_, operation) in item.iter() {
            parameters.extend(&operation.parameters);
            if let Some(body) = &operation.request_body {
                let body: &RequestBody =
                    resolve(spec, body, "requestBodies", |c, n| c.request_bodies.get(n))?;
                for media in body.content.values() {
                    media.schema.iter().for_each(|s| schema_refs(s, &mut names));
                }
            }
        }
        for parameter in parameters {
            let parameter: &Parameter =
                resolve(spec, parameter, "parameters", |c, n| c.parameters.get(n))?;
            if let openapiv3::ParameterSchemaOrContent::Schema(schema) =
                &parameter.parameter_data_ref().format
            {
                schema_refs(schema, &mut names);
            }
        }
    }
    Ok(names)
}

/// The component an object of the spec stands for: itself, or what its `$ref` names in `components/<kind>`.
fn resolve<'a, T>(
    spec: &'a OpenAPI,
    object: &'a ReferenceOr<T>,
    kind: &str,
    lookup: impl Fn(&'a openapiv3::Components, &str) -> Option<&'a ReferenceOr<T>>,
) -> Result<&'a T> {
    let reference = match object {
        ReferenceOr::Item(item) => return Ok(item),
        ReferenceOr::Reference { reference } => reference,
    };
    reference
        .strip_prefix(&format!("#/components/{kind}/"))
        .and_then(|name| lookup(spec.components.as_ref()?, name))
        .and_then(ReferenceOr::as_item)
        .ok_or_else(|| anyhow!("cannot resolve {reference}"))
}

/// The named schemas, and every schema they name, transitively.
fn spec_closure(spec: &OpenAPI, roots: Vec<String>) -> Result<BTreeSet<String>> {
    let schemas = spec.components.as_ref().map(|c| &c.schemas);
    let mut closure = BTreeSet::new();
    let mut todo = roots;
    while let Some(name) = todo.pop() {
        if closure.contains(&name) {
            continue;
        }
        let schema = schemas
            .and_then(|schemas| schemas.get(&name))
            .ok_or_else(|| anyhow!("$ref to #/components/schemas/{name}, which does not exist"))?;
        schema_refs(schema, &mut todo);
        closure.insert(name);
    }
    Ok(closure)
}

/// Pushes the names of the component schemas that a schema refers to, looking inside its inline parts.
fn schema_refs<S: Borrow<Schema>>(schema: &ReferenceOr<S>, names: &mut Vec<String>) {
    let schema = match schema {
        ReferenceOr::Reference { reference } => {
            names.extend(
                reference
                    .strip_prefix("#/components/schemas/")
                    .map(str::to_owned),
            );
            return;
        }
        ReferenceOr::Item(schema) => schema.borrow(),
    };
    let map_refs = |extra: &Option<AdditionalProperties>, names: &mut Vec<String>| {
        if let Some(AdditionalProperties::Schema(schema)) = extra {
            schema_refs(schema, names);
        }
    };
    match &schema.schema_kind {
        SchemaKind::Type(Type::Object(object)) => {
            object
                .properties
                .values()
                .for_each(|s| schema_refs(s, names));
            map_refs(&object.additional_properties, names);
        }
        SchemaKind::Type(Type::Array(array)) => {
            array.items.iter().for_each(|s| schema_refs(s, names))
        }
        SchemaKind::Type(_) => {}
        SchemaKind::OneOf { one_of: parts }
        | SchemaKind::AllOf { all_of: parts }
        | SchemaKind::AnyOf { any_of: parts } => parts.iter().for_each(|s| schema_refs(s, names)),
        SchemaKind::Not { not } => schema_refs(&**not, names),
        SchemaKind::Any(any) => {
            any.properties.values().for_each(|s| schema_refs(s, names));
            map_refs(&any.additional_properties, names);
            any.items.iter().for_each(|s| schema_refs(s, names));
            let parts = any.one_of.iter().chain(&any.all_of).chain(&any.any_of);
            parts.for_each(|s| schema_refs(s, names));
            any.not.iter().for_each(|s| schema_refs(&**s, names));
        }
    }
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

    /// Responses reach `Thing` and, through it, a ref, an array, a map, an `allOf`, an inline enum and a
    /// `oneOf`; `Shared` is sent as well as received; `Problem` is an error body; `Unused` is reached by
    /// nothing; `Listed` is reached through an inline array response.
    const SHAPES_SPEC: &str = r##"
openapi: 3.0.3
info: {title: t, version: "1"}
paths:
  /things:
    post:
      operationId: create_thing
      requestBody:
        required: true
        content:
          application/json:
            schema: {$ref: "#/components/schemas/Shared"}
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema: {$ref: "#/components/schemas/Thing"}
        "400":
          $ref: "#/components/responses/Bad"
    get:
      operationId: list_things
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema: {type: array, items: {$ref: "#/components/schemas/Listed"}}
        "400":
          $ref: "#/components/responses/Bad"
components:
  responses:
    Bad:
      description: bad
      content:
        application/json:
          schema: {$ref: "#/components/schemas/Problem"}
  schemas:
    Thing:
      type: object
      required: [id]
      properties:
        id: {type: string}
        shared: {$ref: "#/components/schemas/Shared"}
        parts: {type: array, items: {$ref: "#/components/schemas/Part"}}
        labels: {type: object, additionalProperties: {$ref: "#/components/schemas/Label"}}
        base: {allOf: [{$ref: "#/components/schemas/Base"}]}
        kind: {type: string, enum: [small, large]}
        choice: {oneOf: [{$ref: "#/components/schemas/Choice"}, {type: string}]}
    Shared: {type: object, properties: {name: {type: string}}}
    Part: {type: object, properties: {n: {type: integer}}}
    Label: {type: object, properties: {text: {type: string}}}
    Base: {type: object, properties: {b: {type: boolean}}}
    Choice: {type: object, properties: {c: {type: string}}}
    Problem: {type: object, properties: {message: {type: string}}}
    Listed: {type: object, properties: {id: {type: string}}}
    Unused: {type: object, properties: {x: {type: string}}}
"##;

    /// Whether a generated item carries `#[non_exhaustive]`.
    fn is_non_exhaustive(item: &syn::Item) -> bool {
        let attrs = match item {
            syn::Item::Struct(item) => &item.attrs,
            syn::Item::Enum(item) => &item.attrs,
            _ => return false,
        };
        attrs
            .iter()
            .any(|attr| attr.path().is_ident("non_exhaustive"))
    }

    #[test]
    fn an_inline_response_object_is_an_error_naming_the_operation() {
        let inline = SHAPES_SPEC.replace(
            "items: {$ref: \"#/components/schemas/Listed\"}",
            "items: {type: object, properties: {id: {type: string}}}",
        );
        let error = generate_source("specs/inline.yaml", &inline).unwrap_err();
        let message = format!("{error:#}");
        assert!(
            message.contains("get /things answers with an inline schema"),
            "{message}"
        );
    }

    /// The top-level items of the `types` module of generated source, by name.
    fn generated_types(source: &str) -> BTreeMap<String, syn::Item> {
        let mut file = syn::parse_file(source).unwrap();
        types_module(&mut file)
            .unwrap()
            .drain(..)
            .filter_map(|item| item_name(&item).map(|name| (name, item)))
            .collect()
    }

    #[test]
    fn received_types_are_non_exhaustive_and_sent_ones_are_not() {
        let types = generated_types(&generate_source("specs/shapes.yaml", SHAPES_SPEC).unwrap());
        let marked: BTreeSet<&str> = types
            .iter()
            .filter(|(_, item)| is_non_exhaustive(item))
            .map(|(name, _)| name.as_str())
            .collect();
        for name in [
            "Thing", "Part", "Label", "Base", "Choice", "Problem", "Listed",
        ] {
            assert!(
                marked.contains(name),
                "{name} should be marked; marked: {marked:?}"
            );
        }
        assert!(
            marked.contains("ThingKind"),
            "the inline enum; marked: {marked:?}"
        );
        for name in ["Shared", "Unused"] {
            assert!(!marked.contains(name), "{name} should stay exhaustive");
        }
    }

    /// What each operation's `send` returns, read from progenitor's own builders, is what responses
    /// hold; what the other builder methods take is what requests carry. Independently of how the spec
    /// is read, every type only received must be marked and no other.
    #[test]
    fn every_received_type_of_every_spec_is_non_exhaustive() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        for family in FAMILIES {
            let source = generate(root, family).unwrap();
            let file = syn::parse_file(&source).unwrap();
            let (received, sent) = operation_types(&file);
            let mut file = file;
            let items = types_module(&mut file).unwrap();
            let received = generated_closure(items, &received).unwrap();
            let sent = generated_closure(items, &sent).unwrap();
            for item in items.iter() {
                let Some(name) = item_name(item) else {
                    continue;
                };
                let fielded = match item {
                    syn::Item::Struct(s) => matches!(s.fields, syn::Fields::Named(_)),
                    syn::Item::Enum(_) => true,
                    _ => false,
                };
                let expected = fielded && received.contains(&name) && !sent.contains(&name);
                assert_eq!(
                    is_non_exhaustive(item),
                    expected,
                    "{}: {name} (received {}, sent {})",
                    family.spec,
                    received.contains(&name),
                    sent.contains(&name)
                );
            }
        }
    }

    /// The `types::X` that the operation builders' `send` methods return, and that their other
    /// methods take.
    fn operation_types(file: &syn::File) -> (BTreeSet<String>, BTreeSet<String>) {
        /// Collects `X` of every `types::X` path it visits.
        #[derive(Default)]
        struct TypesPaths(BTreeSet<String>);
        impl<'ast> Visit<'ast> for TypesPaths {
            fn visit_path(&mut self, path: &'ast syn::Path) {
                let segments: Vec<_> = path.segments.iter().map(|s| &s.ident).collect();
                if let [.., module, name] = segments.as_slice()
                    && *module == "types"
                {
                    self.0.insert(name.to_string());
                }
                syn::visit::visit_path(self, path);
            }
        }
        let builders = file.items.iter().find_map(|item| match item {
            syn::Item::Mod(m) if m.ident == "builder" => m.content.as_ref().map(|(_, items)| items),
            _ => None,
        });
        let (mut received, mut sent) = (TypesPaths::default(), TypesPaths::default());
        for item in builders.expect("a builder module") {
            let syn::Item::Impl(block) = item else {
                continue;
            };
            for member in &block.items {
                let syn::ImplItem::Fn(method) = member else {
                    continue;
                };
                if method.sig.ident == "send" {
                    received.visit_return_type(&method.sig.output);
                } else {
                    sent.visit_generics(&method.sig.generics);
                    method
                        .sig
                        .inputs
                        .iter()
                        .for_each(|input| sent.visit_fn_arg(input));
                }
            }
        }
        (received.0, sent.0)
    }
}
