//! The import rule written at the top of `src/lib.rs`, checked on the source: every `crate::`
//! path in `src/` names a layer its file may import, `service` never names `axum`, and no file
//! imports itself through others (no import circle, within a layer too).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, from the top. A file may import its own layer and any layer after it, except
/// that the leaves (the last rank) import no other layer.
const LAYERS: [(&str, u8); 12] = [
    ("cmd", 0),
    ("config", 1),
    ("server", 2),
    ("http", 3),
    ("service", 4),
    ("issuer", 5),
    ("store", 6),
    ("telemetry", 7),
    ("net", 7),
    ("outbound", 7),
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

/// The module path of a source file: `service/feed/mod.rs` → `["service", "feed"]`.
fn module_of(relative: &Path) -> Vec<String> {
    let mut parts: Vec<String> = relative
        .components()
        .filter_map(|c| c.as_os_str().to_str().map(str::to_owned))
        .collect();
    let last = parts.pop().unwrap_or_default();
    let stem = last.strip_suffix(".rs").unwrap_or(&last);
    if stem != "mod" && stem != "lib" {
        parts.push(stem.to_owned());
    }
    parts
}

fn ident(text: &str) -> (&str, &str) {
    let end = text
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    text.split_at(end)
}

/// The module paths one path expression names: `a::b::{c, d::e}` → `[a,b,c]`, `[a,b,d,e]`
/// (a group left open on this line names its prefix).
fn expand(text: &str, prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
    let mut path = prefix;
    let mut rest = text;
    loop {
        if let Some(group) = rest.strip_prefix('{') {
            match group.find('}') {
                Some(close) => {
                    for item in group[..close].split(',') {
                        let item = item.trim();
                        if item == "self" || item.is_empty() {
                            out.push(path.clone());
                        } else {
                            expand(item, path.clone(), out);
                        }
                    }
                }
                None => out.push(path),
            }
            return;
        }
        let (name, after) = ident(rest);
        if name.is_empty() {
            out.push(path);
            return;
        }
        path.push(name.to_owned());
        match after.strip_prefix("::") {
            Some(next) => rest = next,
            None => {
                out.push(path);
                return;
            }
        }
    }
}

/// Every module path a file names: `crate::`, `super::`, `self::` paths anywhere, and `use` of
/// a child module declared in the file. The file's `#[cfg(test)]` module and what follows it are
/// left out (a test module is imported by nothing, so it closes no circle); an inline `mod x {`
/// moves what follows it into `x`.
fn named_paths(file_module: &[String], source: &str) -> Vec<Vec<String>> {
    let mut module = file_module.to_vec();
    let children: BTreeSet<String> = source
        .lines()
        .filter_map(|line| {
            let line = line.trim_start();
            let line = line.strip_prefix("pub ").unwrap_or(line);
            let name = line.strip_prefix("mod ")?.strip_suffix(';')?;
            Some(name.to_owned())
        })
        .collect();
    let mut out = Vec::new();
    for line in source.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("//") {
            continue;
        }
        if trimmed.starts_with("#[cfg(test)]") {
            break;
        }
        let declared = trimmed
            .trim_start_matches("pub(crate) ")
            .trim_start_matches("pub ")
            .strip_prefix("mod ")
            .and_then(|m| m.strip_suffix(" {"));
        if let Some(inline) = declared {
            module.push(inline.to_owned());
            continue;
        }
        let module = module.as_slice();
        let mut rest = line;
        while let Some(at) = rest.find(|c: char| c.is_alphanumeric() || c == '_') {
            let before = &rest[..at];
            let (word, after) = ident(&rest[at..]);
            let joined = before.ends_with("::");
            if !joined {
                if let Some(tail) = after.strip_prefix("::") {
                    let mut base = module.to_vec();
                    let start = match word {
                        "crate" => Some(Vec::new()),
                        "self" => Some(base.clone()),
                        "super" => {
                            base.pop();
                            let mut tail = tail;
                            while let Some(more) = tail.strip_prefix("super::") {
                                base.pop();
                                tail = more;
                            }
                            expand(tail, base, &mut out);
                            None
                        }
                        child
                            if children.contains(child)
                                && (trimmed.starts_with("use ")
                                    || trimmed.starts_with("pub use ")) =>
                        {
                            let mut own = module.to_vec();
                            own.push(child.to_owned());
                            expand(tail, own, &mut out);
                            None
                        }
                        _ => None,
                    };
                    if let Some(start) = start {
                        expand(tail, start, &mut out);
                    }
                }
            }
            rest = after;
        }
    }
    out
}

/// The file a module path lands in: its longest prefix that is a module file.
fn file_of(path: &[String], modules: &BTreeMap<Vec<String>, String>) -> Option<String> {
    (1..=path.len())
        .rev()
        .find_map(|n| modules.get(&path[..n]).cloned())
}

/// Import circles between files, each as `a.rs → b.rs → a.rs`.
fn circles(files: &BTreeMap<String, String>) -> Vec<String> {
    let modules: BTreeMap<Vec<String>, String> = files
        .keys()
        .map(|f| (module_of(Path::new(f)), f.clone()))
        .collect();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (file, source) in files {
        let module = module_of(Path::new(file));
        let targets = edges.entry(file.clone()).or_default();
        for path in named_paths(&module, source) {
            if let Some(target) = file_of(&path, &modules) {
                if target != *file && !module_of(Path::new(&target)).is_empty() {
                    targets.insert(target);
                }
            }
        }
    }
    let mut found = Vec::new();
    let mut done = BTreeSet::new();
    fn visit(
        file: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
        found: &mut Vec<String>,
    ) {
        if let Some(at) = stack.iter().position(|f| f == file) {
            let mut circle = stack[at..].to_vec();
            circle.push(file.to_owned());
            found.push(circle.join(" → "));
            return;
        }
        if done.contains(file) {
            return;
        }
        stack.push(file.to_owned());
        for next in edges.get(file).into_iter().flatten() {
            visit(next, edges, stack, done, found);
        }
        stack.pop();
        done.insert(file.to_owned());
    }
    for file in files.keys() {
        visit(file, &edges, &mut Vec::new(), &mut done, &mut found);
    }
    found
}

#[test]
fn no_file_imports_itself_through_others() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut paths = Vec::new();
    rust_files(&src, &mut paths);
    let files: BTreeMap<String, String> = paths
        .iter()
        .map(|path| {
            let relative = path.strip_prefix(&src).expect("under src");
            let name = relative.to_string_lossy().replace('\\', "/");
            (
                name,
                std::fs::read_to_string(path).expect("readable source"),
            )
        })
        .collect();
    let found = circles(&files);
    assert!(found.is_empty(), "import circles:\n{}", found.join("\n"));
}

#[test]
fn the_circle_finder_finds_circles() {
    let files = |list: &[(&str, &str)]| -> BTreeMap<String, String> {
        list.iter()
            .map(|(f, s)| ((*f).to_owned(), (*s).to_owned()))
            .collect()
    };
    // A parent and its child naming each other, as a state holding a feature's cache would.
    let found = circles(&files(&[
        (
            "service/mod.rs",
            "pub mod feed;\nuse feed::SnapshotCache;\n",
        ),
        ("service/feed.rs", "use super::Services;\n"),
    ]));
    assert_eq!(
        found,
        ["service/feed.rs → service/mod.rs → service/feed.rs"]
    );
    // Three files round, through a `crate::{..}` group and a multi-segment path.
    let found = circles(&files(&[
        ("http/state.rs", "use crate::{http::ext_authz, clock};\n"),
        ("http/ext_authz.rs", "use crate::service::check::decide;\n"),
        ("service/check.rs", "let s: crate::http::state::AppState;\n"),
        ("clock.rs", ""),
    ]));
    assert_eq!(found.len(), 1, "{found:?}");
    // One way only: no circle.
    let found = circles(&files(&[
        (
            "service/mod.rs",
            "pub mod error;\nuse error::ServiceError;\n",
        ),
        ("service/error.rs", "use crate::clock::ClockError;\n"),
        ("service/check.rs", "use super::{ServiceError, Services};\n"),
        ("clock.rs", ""),
    ]));
    assert!(found.is_empty(), "{found:?}");
}
