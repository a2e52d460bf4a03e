//! The import rule written at the top of `src/lib.rs`, checked on the source: every `crate::`
//! path in `src/` names a layer its file may import, and `service` never names `axum`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};

/// The layers, from the top. A file may import its own layer and any layer after it, except
/// that the leaves (the last rank) import no other layer.
const LAYERS: [(&str, u8); 11] = [
    ("cmd", 0),
    ("config", 1),
    ("server", 2),
    ("http", 3),
    ("service", 4),
    ("issuer", 5),
    ("store", 6),
    ("telemetry", 7),
    ("net", 7),
    ("clock", 7),
    ("random", 7),
];

/// Layers where naming `axum` is a violation.
const NO_AXUM: [&str; 1] = ["service"];

fn rank(layer: &str) -> Option<u8> {
    LAYERS
        .iter()
        .find(|(name, _)| *name == layer)
        .map(|(_, r)| *r)
}

fn allowed(from: &str, to: &str) -> bool {
    if from == to {
        return true;
    }
    match (rank(from), rank(to)) {
        (Some(a), Some(b)) => b > a,
        _ => false,
    }
}

/// The top-level modules a source text names after `crate::` (also inside `crate::{a, b::c}`).
fn crate_paths(source: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (number, line) in source.lines().enumerate() {
        if line.trim_start().starts_with("//") {
            continue;
        }
        let mut rest = line;
        while let Some(at) = rest.find("crate::") {
            let preceded_by_ident = rest[..at]
                .chars()
                .last()
                .is_some_and(|c| c.is_alphanumeric() || c == '_');
            let after = &rest[at + "crate::".len()..];
            if !preceded_by_ident {
                if let Some(group) = after.strip_prefix('{') {
                    let group = group.split('}').next().unwrap_or_default();
                    for item in group.split(',') {
                        let name: String = item
                            .trim()
                            .chars()
                            .take_while(|c| c.is_alphanumeric() || *c == '_')
                            .collect();
                        if !name.is_empty() {
                            found.push((number + 1, name));
                        }
                    }
                } else {
                    let name: String = after
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    found.push((number + 1, name));
                }
            }
            rest = after;
        }
    }
    found
}

fn names_axum(source: &str) -> Option<usize> {
    source
        .lines()
        .position(|line| !line.trim_start().starts_with("//") && line.contains("axum"))
        .map(|i| i + 1)
}

/// Every violation in one file, as `path:line: message`.
fn violations(relative: &Path, source: &str) -> Vec<String> {
    let mut components = relative.components();
    let first = components
        .next()
        .and_then(|c| c.as_os_str().to_str())
        .unwrap_or_default();
    let layer = first.strip_suffix(".rs").unwrap_or(first);
    if layer == "lib" || layer == "main" {
        return Vec::new();
    }
    let shown = relative.display();
    if rank(layer).is_none() {
        return vec![format!(
            "{shown}: module `{layer}` is in no layer (add it to the rule in lib.rs and here)"
        )];
    }
    let mut found: Vec<String> = crate_paths(source)
        .into_iter()
        .filter(|(_, to)| rank(to).is_some() && !allowed(layer, to))
        .map(|(line, to)| format!("{shown}:{line}: `{layer}` may not import `crate::{to}`"))
        .collect();
    if NO_AXUM.contains(&layer) {
        if let Some(line) = names_axum(source) {
            found.push(format!("{shown}:{line}: `{layer}` may not use axum"));
        }
    }
    found
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readable src dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_import_follows_the_rule() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(files.len() > 20, "found only {} files", files.len());
    let mut all = Vec::new();
    for file in &files {
        let source = std::fs::read_to_string(file).expect("readable source");
        let relative = file.strip_prefix(&src).expect("under src");
        all.extend(violations(relative, &source));
    }
    assert!(all.is_empty(), "import rule broken:\n{}", all.join("\n"));
}

#[test]
fn the_checker_finds_violations() {
    let http = Path::new("http/feed.rs");
    assert_eq!(
        violations(http, "use crate::server::run;\nuse crate::service::feed;\n"),
        ["http/feed.rs:1: `http` may not import `crate::server`"]
    );
    assert_eq!(
        violations(http, "use crate::{config, store::keys};"),
        ["http/feed.rs:1: `http` may not import `crate::config`"]
    );
    assert!(violations(
        http,
        "// crate::cmd in a comment\nlet x = warden_crate::cmd;"
    )
    .is_empty());
    let service = Path::new("service/check.rs");
    assert_eq!(
        violations(service, "use crate::store::Store;\nuse axum::Json;\n"),
        ["service/check.rs:2: `service` may not use axum"]
    );
    let leaf = Path::new("clock.rs");
    assert_eq!(
        violations(leaf, "use crate::net::Cidr;"),
        ["clock.rs:1: `clock` may not import `crate::net`"]
    );
    assert_eq!(
        violations(Path::new("extra/mod.rs"), ""),
        ["extra/mod.rs: module `extra` is in no layer (add it to the rule in lib.rs and here)"]
    );
}
