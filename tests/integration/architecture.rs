//! The dependency rule of docs/ARCHITECTURE.md, checked on the source: each module uses only
//! the layers below it, and SQL lives only in the store's backend module.
//!
//! The check reads `src/` as text: every `crate::<module>` path outside comments (and every
//! `recaudit::<module>` path in `main.rs`) must name a module of a lower layer, or the file's
//! own module. A new top-level module must be given a layer here, so that it is a decision.

use std::path::{Path, PathBuf};

/// Layers, lowest first. A module may use modules of strictly lower layers.
const LAYERS: &[(&str, u8)] = &[
    // Foundations: the timestamp, percent-encoding, the error type, file locks.
    ("time", 0),
    ("pct", 0),
    ("error", 1),
    ("lock", 2),
    // The data flow.
    ("source", 3),
    ("store", 4),
    ("audit", 5),
    ("ledger", 6),
    ("report", 7),
    // On top.
    ("pipeline", 8),
    ("config", 8),
    ("cli", 9),
    ("simulator", 9),
    ("main", 10),
    ("lib", 10),
];

fn layer(module: &str) -> Option<u8> {
    LAYERS
        .iter()
        .find(|(name, _)| *name == module)
        .map(|(_, rank)| *rank)
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file of `src/` belongs to (`main` and `lib` for the crate roots).
fn module_of(src: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(src).unwrap();
    let first = relative.components().next().unwrap().as_os_str();
    first.to_string_lossy().trim_end_matches(".rs").to_string()
}

/// The code of a file without comments: line comments and doc comments are dropped, which is
/// enough for this codebase (no `/* */` blocks; a `//` inside a string only hides code after it
/// on that line, never adds a path).
fn code_lines(text: &str) -> Vec<(usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(n, line)| (n + 1, line.split("//").next().unwrap_or("")))
        .collect()
}

/// The modules a line names through `prefix` (`crate::`, or `recaudit::` in main.rs).
fn named_modules<'a>(line: &'a str, prefix: &str) -> Vec<&'a str> {
    line.match_indices(prefix)
        .filter(|(at, _)| {
            // `recaudit::` must not be the tail of another path (e.g. `my_recaudit::`).
            line[..*at]
                .chars()
                .next_back()
                .is_none_or(|c| !c.is_alphanumeric() && c != '_')
        })
        .map(|(at, _)| {
            let rest = &line[at + prefix.len()..];
            let end = rest
                .find(|c: char| !c.is_alphanumeric() && c != '_')
                .unwrap_or(rest.len());
            &rest[..end]
        })
        .filter(|name| !name.is_empty())
        .collect()
}

fn violations() -> Vec<String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    assert!(files.len() > 20, "src/ has {} files", files.len());
    let backend = src.join("store").join("sqlite");
    let mut found = Vec::new();
    for file in &files {
        let module = module_of(&src, file);
        let Some(own) = layer(&module) else {
            found.push(format!(
                "{}: module `{module}` has no layer in tests/integration/architecture.rs",
                file.display()
            ));
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap();
        let prefix = if module == "main" {
            "recaudit::"
        } else {
            "crate::"
        };
        for (number, line) in code_lines(&text) {
            for used in named_modules(line, prefix) {
                if used == module || used == "Error" || used == "Result" {
                    continue;
                }
                match layer(used) {
                    Some(rank) if rank < own => {}
                    Some(_) => found.push(format!(
                        "{}:{number}: `{module}` uses `{used}`, which is not below it",
                        file.display()
                    )),
                    None => found.push(format!(
                        "{}:{number}: `{used}` has no layer in tests/integration/architecture.rs",
                        file.display()
                    )),
                }
            }
            // SQL is the backend's: sqlx appears only in `store::sqlite` (and in the error type
            // that wraps its errors), so a second backend is a sibling module, not an edit of
            // every layer.
            if line.contains("sqlx") && !file.starts_with(&backend) && module != "error" {
                found.push(format!(
                    "{}:{number}: `{module}` uses sqlx; SQL belongs in the store's backend module (src/store/sqlite)",
                    file.display()
                ));
            }
        }
    }
    found
}

#[test]
fn every_module_uses_only_the_layers_below_it() {
    let found = violations();
    assert!(
        found.is_empty(),
        "dependency rule broken:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_rule_check_sees_a_violation() {
    // The parser itself: a use against the rule is found, a comment is not.
    assert_eq!(
        named_modules("use crate::ledger::Ledger;", "crate::"),
        ["ledger"]
    );
    assert_eq!(
        named_modules(
            "let x = crate::store::db(\"x\"); crate::time::now()",
            "crate::"
        ),
        ["store", "time"]
    );
    assert!(
        code_lines("/// see crate::pipeline")
            .iter()
            .all(|(_, l)| named_modules(l, "crate::").is_empty())
    );
    assert!(named_modules("my_recaudit::x", "recaudit::").is_empty());
    assert!(layer("store").unwrap() < layer("audit").unwrap());
    assert!(layer("source").unwrap() < layer("store").unwrap());
}
