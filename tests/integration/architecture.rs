//! The dependency rule of docs/ARCHITECTURE.md, checked on the source: each module uses only
//! the layers below it, and SQL lives only in the store's SQL module.
//!
//! The check reads `src/` as text: every `crate::<module>` path outside comments (and every
//! `recaudit::<module>` path in `main.rs`) must name a module of a lower layer, or the file's
//! own module. A new top-level module must be given a layer here, so that it is a decision.

use std::path::{Path, PathBuf};

/// Layers, lowest first. A module may use modules of strictly lower layers.
const LAYERS: &[(&str, u8)] = &[
    // Foundations: the timestamp, percent-encoding, the error type, file locks, blocking work.
    ("time", 0),
    ("pct", 0),
    ("failpoint", 0),
    ("error", 1),
    ("lock", 2),
    ("blocking", 2),
    ("secret", 2),
    // The data flow.
    ("source", 3),
    ("store", 4),
    ("audit", 5),
    ("ledger", 6),
    ("report", 7),
    ("notify", 7),
    // On top.
    ("pipeline", 8),
    // config embeds sections owned by layer-8 modules (`[run]`: pipeline).
    ("config", 9),
    ("cli", 9),
    ("simulator", 9),
    ("scheduler", 9),
    ("main", 10),
    // The binary's commands too large for main.rs (`recaudit run`), beside it.
    ("cmd", 10),
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

/// The code of a file without comments: line comments and doc comments are blanked, which is
/// enough for this codebase (no `/* */` blocks; a `//` inside a string only hides code after it
/// on that line, never adds a path). Line breaks are kept, so offsets give line numbers.
fn code_of(text: &str) -> String {
    text.lines()
        .map(|line| line.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

fn line_at(code: &str, offset: usize) -> usize {
    code[..offset].matches('\n').count() + 1
}

/// The modules a piece of code names through `prefix` (`crate::`, or `recaudit::` in
/// main.rs), with the byte offset of each: `crate::store::X` names `store`, and a group
/// `crate::{audit::Finding, store}` names each of its members.
fn named_modules<'a>(code: &'a str, prefix: &str) -> Vec<(usize, &'a str)> {
    let ident_end = |text: &str| {
        text.find(|c: char| !c.is_alphanumeric() && c != '_')
            .unwrap_or(text.len())
    };
    let mut found = Vec::new();
    for (at, _) in code.match_indices(prefix) {
        // `recaudit::` must not be the tail of another path (e.g. `my_recaudit::`).
        if code[..at]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_')
        {
            continue;
        }
        let rest = &code[at + prefix.len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0usize;
            let mut member_start = Some(0usize);
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => member_start = Some(i + 1),
                    _ => {}
                }
                if let Some(start) = member_start
                    && !c.is_whitespace()
                    && c != ','
                {
                    let member = &group[start..];
                    let member = member.trim_start();
                    let name = &member[..ident_end(member)];
                    if !name.is_empty() {
                        found.push((at, name));
                    }
                    member_start = None;
                }
            }
        } else {
            let name = &rest[..ident_end(rest)];
            if !name.is_empty() {
                found.push((at, name));
            }
        }
    }
    found
}

fn violations() -> Vec<String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    assert!(files.len() > 20, "src/ has {} files", files.len());
    let backend = src.join("store").join("sql");
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
        let prefix = if module == "main" || module == "cmd" {
            "recaudit::"
        } else {
            "crate::"
        };
        let code = code_of(&text);
        for (at, used) in named_modules(&code, prefix) {
            if used == module || used == "Error" || used == "Result" {
                continue;
            }
            let number = line_at(&code, at);
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
        // SQL is the store's: sqlx appears only in `store::sql` (and in the error type that
        // wraps its errors), so what differs between SQLite and PostgreSQL is confined there,
        // not spread over every layer.
        if !file.starts_with(&backend) && module != "error" {
            for (at, _) in code.match_indices("sqlx") {
                found.push(format!(
                    "{}:{}: `{module}` uses sqlx; SQL belongs in the store's SQL module (src/store/sql)",
                    file.display(),
                    line_at(&code, at)
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
    let names = |code: &str, prefix: &str| -> Vec<String> {
        named_modules(code, prefix)
            .into_iter()
            .map(|(_, name)| name.to_string())
            .collect()
    };
    assert_eq!(names("use crate::ledger::Ledger;", "crate::"), ["ledger"]);
    assert_eq!(
        names(
            "let x = crate::store::db(\"x\"); crate::time::now()",
            "crate::"
        ),
        ["store", "time"]
    );
    // A group names every member, over several lines too.
    assert_eq!(
        names(
            "use crate::{\n    audit::{Finding, Status},\n    store,\n};",
            "crate::"
        ),
        ["audit", "store"]
    );
    // Comments are not code.
    assert!(names(&code_of("/// see crate::pipeline\nfn f() {}"), "crate::").is_empty());
    assert!(names("my_recaudit::x", "recaudit::").is_empty());
    assert_eq!(line_at("a\nb\ncrate::x", 4), 3);
    assert!(layer("store").unwrap() < layer("audit").unwrap());
    assert!(layer("source").unwrap() < layer("store").unwrap());
}
