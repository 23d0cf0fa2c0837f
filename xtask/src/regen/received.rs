//! The one setting progenitor lacks, applied to its output: the generated types that responses hold are
//! `#[non_exhaustive]`, found from the spec (which schemas responses and requests reach) and from the
//! generated code (the inline schemas typify names itself).

use std::borrow::Borrow;
use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Result, anyhow, bail};
use openapiv3::{
    AdditionalProperties, OpenAPI, Parameter, ReferenceOr, RequestBody, Response, Schema,
    SchemaKind, Type,
};
use syn::visit::Visit;

use super::REPLACEMENTS;

/// Adds `#[non_exhaustive]` to the generated types a response can hold, so that a field the vendor adds
/// to a spec later is not a breaking change for code that reads them.
///
/// The spec says which named schemas responses reach (through `$ref`s in properties, items, maps and
/// `allOf`/`oneOf`/`anyOf`); typify names the inline schemas inside them itself, so those are found by
/// following the field types of the generated code. Types that a request can carry stay exhaustive:
/// callers build them, with struct literals too. Newtypes (arrays, maps and strings given a name) stay
/// exhaustive as well: they have no fields to add.
pub(super) fn mark_received_types(spec: &OpenAPI, file: &mut syn::File) -> Result<()> {
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

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::{FAMILIES, generate, generate_source};
    use super::*;

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
