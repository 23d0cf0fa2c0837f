//! `cargo xtask layers`: dependencies between haul's modules point down only.
//!
//! The rules are data, in [`RULES`] and [`PACKAGE_RULES`]. A source rule forbids the files of some
//! modules to name some paths, wherever a path appears: `use` trees, qualified paths in code, and the
//! tokens of macros. `super::` and `self::` are resolved against the module the path is written in, so
//! `super::query::X` in `salesforce::ingest` is `crate::salesforce::query::X`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, Result, bail};
use proc_macro2::{Spacing, TokenStream, TokenTree};
use syn::visit::Visit;

/// Modules of one crate that must not name some paths.
struct Rule {
    /// Why, printed with every violation.
    name: &'static str,
    /// The crate's source folder, relative to the workspace root.
    src: &'static str,
    /// The modules covered, each with everything below it, as paths from the crate root.
    modules: &'static [&'static str],
    /// Paths they must not name, each with everything below it. A last segment ending in `*` matches
    /// every name that starts with what precedes the `*`.
    forbidden: &'static [&'static str],
}

/// The core of `haul`: it serves every family and knows none.
const HAUL_CORE: &[&str] = &[
    "csv_scan",
    "error",
    "poll",
    "retry",
    "transport",
    "download",
    "http",
    "permit",
    "handle",
    "secret",
];

const RULES: &[Rule] = &[
    Rule {
        name: "the core knows no family",
        src: "crates/ergonomic/src",
        modules: HAUL_CORE,
        forbidden: &[
            "crate::salesforce",
            "crate::looker",
            "crate::databricks",
            "haul_client::salesforce_*",
            "haul_client::looker_*",
            "haul_client::databricks_*",
        ],
    },
    Rule {
        name: "a family never reaches into another",
        src: "crates/ergonomic/src",
        modules: &["looker"],
        forbidden: &["crate::salesforce", "crate::databricks"],
    },
    Rule {
        name: "a family never reaches into another",
        src: "crates/ergonomic/src",
        modules: &["salesforce"],
        forbidden: &["crate::looker", "crate::databricks"],
    },
    Rule {
        name: "a family never reaches into another",
        src: "crates/ergonomic/src",
        modules: &["databricks"],
        forbidden: &["crate::salesforce", "crate::looker"],
    },
    Rule {
        name: "Salesforce's APIs share only what lives in `salesforce` itself",
        src: "crates/ergonomic/src",
        modules: &["salesforce::query"],
        forbidden: &[
            "crate::salesforce::ingest",
            "crate::salesforce::async_soql",
            "crate::salesforce::rest",
        ],
    },
    Rule {
        name: "Salesforce's APIs share only what lives in `salesforce` itself",
        src: "crates/ergonomic/src",
        modules: &["salesforce::ingest"],
        forbidden: &[
            "crate::salesforce::query",
            "crate::salesforce::async_soql",
            "crate::salesforce::rest",
        ],
    },
    Rule {
        name: "Salesforce's APIs share only what lives in `salesforce` itself",
        src: "crates/ergonomic/src",
        modules: &["salesforce::async_soql"],
        forbidden: &[
            "crate::salesforce::query",
            "crate::salesforce::ingest",
            "crate::salesforce::rest",
        ],
    },
    Rule {
        name: "Salesforce's APIs share only what lives in `salesforce` itself",
        src: "crates/ergonomic/src",
        modules: &["salesforce::rest"],
        forbidden: &[
            "crate::salesforce::query",
            "crate::salesforce::ingest",
            "crate::salesforce::async_soql",
        ],
    },
    Rule {
        name: "the extract orchestrates Salesforce's APIs; they never name it",
        src: "crates/ergonomic/src",
        modules: &[
            "salesforce::query",
            "salesforce::ingest",
            "salesforce::async_soql",
            "salesforce::rest",
        ],
        forbidden: &["crate::salesforce::extract"],
    },
    Rule {
        name: "the extract reads with queries only",
        src: "crates/ergonomic/src",
        modules: &["salesforce::extract"],
        forbidden: &["crate::salesforce::ingest", "crate::salesforce::async_soql"],
    },
    Rule {
        name: "the simulator's shared core knows no family",
        src: "crates/sim/src",
        modules: &["shared"],
        forbidden: &[
            "crate::salesforce",
            "crate::looker",
            "crate::databricks",
            "crate::app",
        ],
    },
    Rule {
        name: "a simulated family uses only the simulator's shared core",
        src: "crates/sim/src",
        modules: &["salesforce::query"],
        forbidden: &[
            "crate::salesforce::ingest",
            "crate::salesforce::async_soql",
            "crate::salesforce::rest_api",
        ],
    },
    Rule {
        name: "a simulated family uses only the simulator's shared core",
        src: "crates/sim/src",
        modules: &["salesforce::ingest"],
        forbidden: &[
            "crate::salesforce::query",
            "crate::salesforce::async_soql",
            "crate::salesforce::rest_api",
        ],
    },
    Rule {
        name: "a simulated family uses only the simulator's shared core",
        src: "crates/sim/src",
        modules: &["salesforce::async_soql"],
        forbidden: &[
            "crate::salesforce::query",
            "crate::salesforce::ingest",
            "crate::salesforce::rest_api",
        ],
    },
    Rule {
        name: "a simulated family uses only the simulator's shared core",
        src: "crates/sim/src",
        modules: &["salesforce::rest_api"],
        forbidden: &[
            "crate::salesforce::query",
            "crate::salesforce::ingest",
            "crate::salesforce::async_soql",
        ],
    },
    Rule {
        name: "a simulated family uses only the simulator's shared core",
        src: "crates/sim/src",
        modules: &["looker"],
        forbidden: &["crate::salesforce", "crate::databricks"],
    },
    Rule {
        name: "a simulated family uses only the simulator's shared core",
        src: "crates/sim/src",
        modules: &["salesforce"],
        forbidden: &["crate::looker", "crate::databricks"],
    },
    Rule {
        name: "a simulated family uses only the simulator's shared core",
        src: "crates/sim/src",
        modules: &["databricks"],
        forbidden: &["crate::salesforce", "crate::looker"],
    },
];

/// A package that must not depend on some others, in any kind of dependency.
struct PackageRule {
    name: &'static str,
    package: &'static str,
    forbidden: &'static [&'static str],
}

const PACKAGE_RULES: &[PackageRule] = &[PackageRule {
    name: "the simulator is the independent other side of the wire",
    package: "haul-sim",
    forbidden: &["haul", "haul-client"],
}];

/// One forbidden path named in a file.
#[derive(Debug, PartialEq, Eq)]
struct Violation {
    line: usize,
    /// The module the path is written in, from the crate root.
    module: String,
    /// The path as resolved from the crate root.
    path: String,
    rule: &'static str,
}

pub(crate) fn run(root: &Path) -> Result<()> {
    let mut report = source_violations(root)?;
    report.extend(package_violations(root)?);
    for line in &report {
        println!("{line}");
    }
    if !report.is_empty() {
        bail!("{} layering violations", report.len());
    }
    println!(
        "layers point down only ({} rules)",
        RULES.len() + PACKAGE_RULES.len()
    );
    Ok(())
}

/// Every violation of [`RULES`], as `file:line: module must not import path (rule)`.
fn source_violations(root: &Path) -> Result<Vec<String>> {
    let mut sources: Vec<&str> = RULES.iter().map(|rule| rule.src).collect();
    sources.sort_unstable();
    sources.dedup();
    let mut report = Vec::new();
    for src in sources {
        let rules: Vec<&Rule> = RULES.iter().filter(|rule| rule.src == src).collect();
        for file in rust_files(&root.join(src))? {
            let relative = file.strip_prefix(root.join(src)).unwrap_or(&file);
            let source = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let violations = file_violations(&rules, module_of(relative), &source)
                .with_context(|| format!("parsing {}", file.display()))?;
            let shown = file.strip_prefix(root).unwrap_or(&file).display();
            for v in violations {
                report.push(format!(
                    "{shown}:{}: {} must not import {} ({})",
                    v.line, v.module, v.path, v.rule
                ));
            }
        }
    }
    Ok(report)
}

/// The `.rs` files under a folder, sorted.
fn rust_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            files.extend(rust_files(&path)?);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// The module a file is, from its path below the crate's `src`: `a/b.rs` and `a/b/mod.rs` are `a::b`;
/// `lib.rs`, `main.rs` and `bin/*.rs` are crate roots.
fn module_of(relative: &Path) -> Vec<String> {
    let mut module: Vec<String> = relative
        .with_extension("")
        .iter()
        .map(|part| part.to_string_lossy().into_owned())
        .collect();
    if module.first().is_some_and(|first| first == "bin") || module == ["lib"] || module == ["main"]
    {
        return Vec::new();
    }
    if module.last().is_some_and(|last| last == "mod") {
        module.pop();
    }
    module
}

/// The violations of `rules` in one file's source, the file being module `module`.
fn file_violations(rules: &[&Rule], module: Vec<String>, source: &str) -> Result<Vec<Violation>> {
    let file = syn::parse_file(source)?;
    let mut paths = NamedPaths {
        module,
        found: Vec::new(),
    };
    paths.visit_file(&file);
    let mut violations = Vec::new();
    for named in paths.found {
        for rule in rules.iter().filter(|rule| covers(rule, &named.module)) {
            if rule.forbidden.iter().any(|f| matches(f, &named.path)) {
                violations.push(Violation {
                    line: named.line,
                    module: display_module(&named.module),
                    path: named.path.join("::"),
                    rule: rule.name,
                });
            }
        }
    }
    violations.dedup();
    Ok(violations)
}

/// Whether a rule covers a module: the module is one the rule lists, or below one.
fn covers(rule: &Rule, module: &[String]) -> bool {
    rule.modules.iter().any(|covered| {
        let covered: Vec<&str> = covered.split("::").collect();
        module.len() >= covered.len() && covered.iter().zip(module).all(|(c, m)| c == m)
    })
}

/// Whether a resolved path is a forbidden one or below it.
fn matches(forbidden: &str, path: &[String]) -> bool {
    let pattern: Vec<&str> = forbidden.split("::").collect();
    path.len() >= pattern.len()
        && pattern
            .iter()
            .zip(path)
            .all(|(p, s)| match p.strip_suffix('*') {
                Some(prefix) => s.starts_with(prefix),
                None => p == s,
            })
}

fn display_module(module: &[String]) -> String {
    if module.is_empty() {
        "crate".to_owned()
    } else {
        module.join("::")
    }
}

/// A path named in a file, resolved from the crate root where it starts with `self` or `super`.
struct Named {
    line: usize,
    module: Vec<String>,
    path: Vec<String>,
}

/// Collects every path of a file, tracking inline modules so that `super::` resolves against the
/// module it is written in.
struct NamedPaths {
    module: Vec<String>,
    found: Vec<Named>,
}

impl NamedPaths {
    /// Keeps a path that names something inside a module: a lone name is a local one, or a crate.
    fn push(&mut self, segments: Vec<String>, line: usize) {
        match resolve(&self.module, segments) {
            Some(path) if path.len() >= 2 => self.found.push(Named {
                line,
                module: self.module.clone(),
                path,
            }),
            _ => {}
        }
    }

    /// The paths of a `use` tree, `prefix` being the segments above it.
    fn use_tree(&mut self, tree: &syn::UseTree, prefix: &mut Vec<String>) {
        match tree {
            syn::UseTree::Path(path) => {
                prefix.push(path.ident.to_string());
                self.use_tree(&path.tree, prefix);
                prefix.pop();
            }
            syn::UseTree::Name(name) if name.ident == "self" => {
                self.push(prefix.clone(), line_of(&name.ident));
            }
            syn::UseTree::Name(syn::UseName { ident })
            | syn::UseTree::Rename(syn::UseRename { ident, .. }) => {
                let mut path = prefix.clone();
                path.push(ident.to_string());
                self.push(path, line_of(ident));
            }
            syn::UseTree::Glob(glob) => {
                self.push(prefix.clone(), glob.star_token.spans[0].start().line);
            }
            syn::UseTree::Group(group) => {
                for tree in &group.items {
                    self.use_tree(tree, prefix);
                }
            }
        }
    }

    /// The paths in a macro's tokens, which syn leaves unparsed: runs of `ident :: ident ...`.
    fn tokens(&mut self, tokens: TokenStream) {
        let trees: Vec<TokenTree> = tokens.into_iter().collect();
        let mut at = 0;
        while at < trees.len() {
            match &trees[at] {
                TokenTree::Group(group) => self.tokens(group.stream()),
                TokenTree::Ident(first) => {
                    let mut segments = vec![first.to_string()];
                    while let [
                        TokenTree::Punct(a),
                        TokenTree::Punct(b),
                        TokenTree::Ident(next),
                        ..,
                    ] = &trees[at + 1..]
                        && a.as_char() == ':'
                        && a.spacing() == Spacing::Joint
                        && b.as_char() == ':'
                    {
                        segments.push(next.to_string());
                        at += 3;
                    }
                    self.push(segments, line_of(first));
                }
                _ => {}
            }
            at += 1;
        }
    }
}

impl<'ast> Visit<'ast> for NamedPaths {
    fn visit_item_mod(&mut self, item: &'ast syn::ItemMod) {
        if item.content.is_some() {
            self.module.push(item.ident.to_string());
            syn::visit::visit_item_mod(self, item);
            self.module.pop();
        }
    }

    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        self.use_tree(&item.tree, &mut Vec::new());
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        let segments = path.segments.iter().map(|s| s.ident.to_string()).collect();
        let line = path.segments.first().map_or(0, |s| line_of(&s.ident));
        self.push(segments, line);
        syn::visit::visit_path(self, path);
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        self.tokens(mac.tokens.clone());
        syn::visit::visit_macro(self, mac);
    }
}

fn line_of(ident: &proc_macro2::Ident) -> usize {
    ident.span().start().line
}

/// A path as seen from the crate root: `self::` and `super::` are replaced by the module they stand for
/// and prefixed with `crate`; other paths are kept as written. `None` when `super` climbs above the root.
fn resolve(module: &[String], segments: Vec<String>) -> Option<Vec<String>> {
    let relative = segments
        .first()
        .is_some_and(|s| s == "self" || s == "super");
    if !relative {
        return Some(segments);
    }
    let mut base = module.to_vec();
    let mut rest = segments.into_iter().peekable();
    if rest.next_if(|s| s == "self").is_none() {
        while rest.next_if(|s| s == "super").is_some() {
            base.pop()?;
        }
    }
    let mut path = vec!["crate".to_owned()];
    path.extend(base);
    path.extend(rest);
    Some(path)
}

/// Every violation of [`PACKAGE_RULES`], as `Cargo.toml:line: package must not depend on dep (rule)`.
fn package_violations(root: &Path) -> Result<Vec<String>> {
    let output = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()))
        .args(["metadata", "--no-deps", "--format-version", "1"])
        .current_dir(root)
        .output()
        .context("running cargo metadata")?;
    if !output.status.success() {
        bail!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    let mut report = Vec::new();
    for rule in PACKAGE_RULES {
        let package = metadata["packages"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| p["name"] == rule.package)
            .with_context(|| format!("no package {} in the workspace", rule.package))?;
        let manifest = PathBuf::from(package["manifest_path"].as_str().unwrap_or_default());
        let text = std::fs::read_to_string(&manifest)
            .with_context(|| format!("reading {}", manifest.display()))?;
        let shown = manifest.strip_prefix(root).unwrap_or(&manifest).display();
        for dependency in package["dependencies"].as_array().into_iter().flatten() {
            let name = dependency["name"].as_str().unwrap_or_default();
            if rule.forbidden.contains(&name) {
                let key = dependency["rename"].as_str().unwrap_or(name);
                report.push(format!(
                    "{shown}:{}: {} must not depend on {name} ({})",
                    manifest_line(&text, key),
                    rule.package,
                    rule.name
                ));
            }
        }
    }
    Ok(report)
}

/// The line of a manifest that declares a dependency key (`key = ...`, `key.workspace = ...` or a
/// `[...dependencies.key]` table); 1 when none does, as cargo may have read it from elsewhere.
fn manifest_line(text: &str, key: &str) -> usize {
    text.lines()
        .position(|line| {
            let line = line.trim();
            let declared = line
                .strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with(['=', '.']));
            declared || (line.starts_with('[') && line.ends_with(&format!("dependencies.{key}]")))
        })
        .map_or(1, |index| index + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(module: &str, source: &str) -> Vec<Violation> {
        let rules: Vec<&Rule> = RULES
            .iter()
            .filter(|r| r.src == "crates/ergonomic/src")
            .collect();
        file_violations(&rules, module_of(Path::new(module)), source).unwrap()
    }

    fn paths(violations: &[Violation]) -> Vec<(usize, &str)> {
        violations
            .iter()
            .map(|v| (v.line, v.path.as_str()))
            .collect()
    }

    #[test]
    fn a_core_module_naming_a_family_is_a_violation() {
        let source = "use std::fmt;\n\
                      use crate::salesforce::query::QueryJobInfo;\n\
                      use haul_client::looker_query_tasks::types::Error;\n\
                      use haul_client::reqwest;\n\
                      enum Info { Query(crate::looker::Task) }\n";
        let found = check("error.rs", source);
        assert_eq!(
            paths(&found),
            [
                (2, "crate::salesforce::query::QueryJobInfo"),
                (3, "haul_client::looker_query_tasks::types::Error"),
                (5, "crate::looker::Task"),
            ]
        );
        assert_eq!(found[0].module, "error");
        assert_eq!(found[0].rule, "the core knows no family");
    }

    #[test]
    fn a_clean_file_passes() {
        let source = "use crate::error::Error;\n\
                      use super::poll::Poller;\n\
                      use haul_client::progenitor_client::Error as ClientError;\n\
                      fn f() -> crate::retry::Policy { crate::retry::Policy::default() }\n";
        assert_eq!(check("transport.rs", source), []);
        assert_eq!(
            check(
                "salesforce/ingest/job.rs",
                "use super::super::Shared;\nuse super::Upload;\n"
            ),
            []
        );
    }

    #[test]
    fn super_resolves_against_the_module_it_is_written_in() {
        let ingest = "use super::query::{HeaderSplitter, RecordScanner};\n";
        assert_eq!(
            paths(&check("salesforce/ingest/mod.rs", ingest)),
            [
                (1, "crate::salesforce::query::HeaderSplitter"),
                (1, "crate::salesforce::query::RecordScanner"),
            ]
        );
        let job = "fn f(x: super::super::async_soql::Job) {}\n";
        assert_eq!(
            paths(&check("salesforce/ingest/job.rs", job)),
            [(1, "crate::salesforce::async_soql::Job")]
        );
        let glob = "mod tests {\n    use super::super::query::*;\n}\n";
        let found = check("salesforce/ingest/mod.rs", glob);
        assert_eq!(paths(&found), [(2, "crate::salesforce::query")]);
        assert_eq!(found[0].module, "salesforce::ingest::tests");
        let inline = "mod tests {\n    use super::super::looker::Task;\n}\n";
        let found = check("poll.rs", inline);
        assert_eq!(paths(&found), [(2, "crate::looker::Task")]);
        assert_eq!(found[0].module, "poll::tests");
    }

    #[test]
    fn paths_in_macros_and_self_imports_count() {
        let source = "use crate::looker::{self};\n\
                      fn f(x: u8) -> bool { matches!(x, crate::salesforce::LIMIT) }\n";
        assert_eq!(
            paths(&check("retry.rs", source)),
            [(1, "crate::looker"), (2, "crate::salesforce::LIMIT")]
        );
    }

    #[test]
    fn families_stay_apart() {
        assert_eq!(
            paths(&check("looker/task.rs", "use crate::salesforce::Org;\n")),
            [(1, "crate::salesforce::Org")]
        );
        assert_eq!(
            check("salesforce/query/pages.rs", "use crate::salesforce::Org;\n"),
            []
        );
    }

    #[test]
    fn files_map_onto_modules() {
        assert_eq!(module_of(Path::new("lib.rs")), Vec::<String>::new());
        assert_eq!(
            module_of(Path::new("bin/haul-sim.rs")),
            Vec::<String>::new()
        );
        assert_eq!(module_of(Path::new("error.rs")), ["error"]);
        assert_eq!(
            module_of(Path::new("salesforce/ingest/mod.rs")),
            ["salesforce", "ingest"]
        );
    }

    #[test]
    fn a_manifest_line_is_found_for_each_spelling() {
        let text = "[package]\nname = \"x\"\n\n[dependencies]\nhaul-types.workspace = true\n\
                    haul = { path = \"../ergonomic\" }\n\n[dev-dependencies.haul-client]\npath = \"..\"\n";
        assert_eq!(manifest_line(text, "haul-types"), 5);
        assert_eq!(manifest_line(text, "haul"), 6);
        assert_eq!(manifest_line(text, "haul-client"), 8);
    }
}
