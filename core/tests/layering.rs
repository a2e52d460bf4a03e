//! Core's module layering, checked mechanically: the order written at the top of `src/lib.rs`
//! (`explain → flow → … → der / pem / alg / b64 / percent / reason`) against every `crate::` path
//! in `src/`. A module may name only modules of the layers after its own, which also rules out
//! import circles.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// The root re-exports (`pub use alg::Algorithm;`): the module each one names.
const ROOT_REEXPORTS: &[(&str, &str)] = &[("Algorithm", "alg"), ("Reason", "reason")];

/// The layers as `lib.rs` writes them, top first.
fn documented_layers(lib: &str) -> Vec<Vec<String>> {
    let doc: Vec<&str> = lib
        .lines()
        .map_while(|l| l.strip_prefix("//!"))
        .map(str::trim)
        .collect();
    let start = doc
        .iter()
        .position(|l| l.starts_with("explain →"))
        .expect("lib.rs documents the layers from `explain →`");
    let text = doc[start..]
        .iter()
        .take_while(|l| !l.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(" ");
    text.split('→')
        .map(|layer| layer.split('/').map(|m| m.trim().to_owned()).collect())
        .collect()
}

/// The modules `lib.rs` declares.
fn declared_modules(lib: &str) -> Vec<String> {
    lib.lines()
        .filter_map(|l| {
            l.strip_prefix("pub mod ")
                .or_else(|| l.strip_prefix("mod "))
        })
        .map(|m| m.trim_end_matches(';').to_owned())
        .collect()
}

/// The top-level modules named by `crate::` paths in `source` (comments skipped), including
/// each head of a `use crate::{a, b::c}` group.
fn named_modules(source: &str) -> Vec<String> {
    let reexport = |name: &str| {
        ROOT_REEXPORTS
            .iter()
            .find(|(item, _)| *item == name)
            .map_or(name, |(_, module)| module)
            .to_owned()
    };
    let code: String = source
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut named = Vec::new();
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // Heads of the group's depth-0 items.
            let mut depth = 0;
            let mut item_start = true;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => item_start = true,
                    c if item_start && (c.is_alphanumeric() || c == '_') => {
                        let head: String = group[i..]
                            .chars()
                            .take_while(|c| c.is_alphanumeric() || *c == '_')
                            .collect();
                        if head != "self" {
                            named.push(reexport(&head));
                        }
                        item_start = false;
                    }
                    _ => {}
                }
            }
        } else {
            let head: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            named.push(reexport(&head));
        }
    }
    named
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every import that does not point down the layers: (file, its module, the module it names).
fn violations(src: &Path, layers: &[Vec<String>]) -> Vec<(String, String, String)> {
    let layer_of: BTreeMap<&str, usize> = layers
        .iter()
        .enumerate()
        .flat_map(|(i, layer)| layer.iter().map(move |m| (m.as_str(), i)))
        .collect();
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut bad = Vec::new();
    for file in files {
        let relative = file.strip_prefix(src).unwrap();
        let first = relative.components().next().unwrap().as_os_str();
        let module = first.to_str().unwrap().trim_end_matches(".rs").to_owned();
        if module == "lib" {
            continue;
        }
        let own = layer_of[module.as_str()];
        for named in named_modules(&fs::read_to_string(&file).unwrap()) {
            if named == module {
                continue;
            }
            if layer_of
                .get(named.as_str())
                .is_none_or(|&layer| layer <= own)
            {
                bad.push((relative.display().to_string(), module.clone(), named));
            }
        }
    }
    bad.sort();
    bad.dedup();
    bad
}

#[test]
fn every_module_imports_only_the_layers_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let lib = fs::read_to_string(src.join("lib.rs")).unwrap();
    let layers = documented_layers(&lib);
    let mut listed: Vec<String> = layers.iter().flatten().cloned().collect();
    let mut declared = declared_modules(&lib);
    listed.sort();
    declared.sort();
    assert_eq!(
        listed, declared,
        "lib.rs's layers name each module exactly once"
    );
    let bad = violations(&src, &layers);
    assert!(
        bad.is_empty(),
        "imports against the layering in lib.rs (file, module, names):\n{bad:#?}"
    );
}

#[test]
fn the_reader_finds_every_form_of_crate_path() {
    let source = "use crate::jwk::KeySet;\n\
                  use crate::{b64, der::{oid, write as der}, self};\n\
                  // crate::explain in a comment does not count\n\
                  fn f() -> crate::Reason { crate::token::numeric_date(0) }\n\
                  use crate::Algorithm;\n";
    assert_eq!(
        named_modules(source),
        ["jwk", "b64", "der", "reason", "token", "alg"]
    );
    let layers = documented_layers("//! explain → flow / x → token\n//!\n");
    assert_eq!(layers, [vec!["explain"], vec!["flow", "x"], vec!["token"]]);
}
