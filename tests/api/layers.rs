//! The shape of the code base, kept by tests: imports go down the layers
//! only, the domain's modules form no circle, handlers never reach the
//! store or diesel (rules live in `src/domain/`, which a CLI or a later
//! front end reuses), and the committed OpenAPI document is self-contained.

use std::path::Path;

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn handlers_never_name_the_store_or_diesel() {
    let mut files = Vec::new();
    rust_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src/http"),
        &mut files,
    );
    assert!(files.len() > 5, "the scan reads the handlers");
    let mut offenders = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            if line.contains("crate::store") || line.contains("diesel") {
                offenders.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "src/http/ must go through src/domain/:\n{}",
        offenders.join("\n")
    );
}

#[test]
fn the_domain_writes_no_sql() {
    let mut files = Vec::new();
    rust_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src/domain"),
        &mut files,
    );
    assert!(files.len() > 5, "the scan reads the domain");
    let mut offenders = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            if [
                "diesel::prelude",
                "schema::",
                "sql_query",
                "diesel::insert_into",
                "diesel::update",
                "diesel::delete",
            ]
            .iter()
            .any(|needle| line.contains(needle))
            {
                offenders.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "queries belong in src/store/:\n{}",
        offenders.join("\n")
    );
}

/// Resolves a local JSON pointer (`#/a/b`) in `doc`.
fn resolve<'a>(doc: &'a serde_json::Value, pointer: &str) -> Option<&'a serde_json::Value> {
    doc.pointer(pointer.strip_prefix('#')?)
}

fn refs(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("$ref", serde_json::Value::String(r)) => out.push(r.clone()),
                    ("mapping", serde_json::Value::Object(m)) => {
                        out.extend(m.values().filter_map(|v| v.as_str().map(String::from)))
                    }
                    _ => refs(v, out),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

#[test]
fn every_ref_in_the_openapi_document_resolves() {
    let served = serde_json::to_value(latchkey::app::openapi()).unwrap();
    let committed: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi/openapi.json"),
        )
        .unwrap(),
    )
    .unwrap();
    for doc in [&served, &committed] {
        let mut found = Vec::new();
        refs(doc, &mut found);
        assert!(found.len() > 20, "the walk finds the references");
        let dangling: Vec<&String> = found.iter().filter(|r| resolve(doc, r).is_none()).collect();
        assert!(dangling.is_empty(), "unresolved $ref: {dangling:?}");
        assert_eq!(doc["info"]["license"]["identifier"], "MIT");
    }
}

/// The layers from the top (docs/ARCHITECTURE.md): a module may use only
/// modules of a lower layer (its own aside).
const LAYERS: &[&[&str]] = &[
    &["main"],
    &["cli"],
    &["app"],
    &["http", "openapi"],
    &["service", "delivery"],
    &["state"],
    &["domain"],
    &["oidc", "ratelimit", "metrics", "mail"],
    &["config", "error"],
    &["store", "crypto", "clock"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

/// A source file without its unit tests (which may reach anywhere).
fn code_of(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    match text.find("#[cfg(test)]\nmod ") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

/// The identifiers that follow each `prefix::` in `text`: a name, or each
/// first segment of a `{...}` group.
fn names_after(text: &str, prefix: &str) -> Vec<String> {
    let mut names = Vec::new();
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let pattern = format!("{prefix}::");
    let mut rest = text;
    while let Some(at) = rest.find(&pattern) {
        // A match inside a longer path (`a::crate::x`) is not ours.
        let before = rest[..at].chars().last();
        rest = &rest[at + pattern.len()..];
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for part in group[..end].split(',') {
                names.push(ident(part.trim()));
            }
        } else {
            names.push(ident(rest));
        }
    }
    names
}

/// The module of `src/` a file belongs to: `src/http/users.rs` is `http`.
fn top_module(src: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(src).unwrap();
    let first = relative.components().next().unwrap();
    first
        .as_os_str()
        .to_string_lossy()
        .trim_end_matches(".rs")
        .to_string()
}

#[test]
fn no_module_uses_a_layer_above_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut offenders = Vec::new();
    for file in &files {
        let module = top_module(&src, file);
        if module == "lib" {
            continue;
        }
        let Some(own) = layer_of(&module) else {
            offenders.push(format!("{module} is in no layer (add it to LAYERS)"));
            continue;
        };
        for used in names_after(&code_of(file), "crate") {
            if used == module {
                continue;
            }
            match layer_of(&used) {
                Some(layer) if layer > own => {}
                _ => offenders.push(format!("{}: {module} uses {used}", file.display())),
            }
        }
    }
    offenders.sort();
    offenders.dedup();
    assert!(
        offenders.is_empty(),
        "imports go down only (docs/ARCHITECTURE.md):\n{}",
        offenders.join("\n")
    );
}

#[test]
fn the_domain_modules_form_no_cycle() {
    use std::collections::{BTreeMap, BTreeSet};
    let domain = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/domain");
    let modules: BTreeSet<String> = std::fs::read_to_string(domain.join("mod.rs"))
        .unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix("pub mod "))
        .map(|l| l.trim_end_matches(';').to_string())
        .collect();
    assert!(modules.len() > 10, "the scan reads the domain's modules");
    let mut files = Vec::new();
    rust_files(&domain, &mut files);
    let mut uses: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &files {
        let module = top_module(&domain, file);
        if module == "mod" {
            continue;
        }
        let code = code_of(file);
        let mut names = names_after(&code, "crate::domain");
        // `super::` is a sibling for a top-level file, the folder itself
        // for a file of a folder module (`sso/flow.rs`).
        if file.parent() == Some(domain.as_path()) {
            names.extend(names_after(&code, "super"));
        }
        let entry = uses.entry(module.clone()).or_default();
        entry.extend(
            names
                .into_iter()
                .filter(|n| modules.contains(n) && *n != module),
        );
    }
    // Depth-first search for a back edge.
    fn visit(
        m: &str,
        uses: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, bool>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        match state.get(m) {
            Some(true) => return None,
            Some(false) => {
                let start = path.iter().position(|p| p == m).unwrap_or(0);
                let mut cycle = path[start..].to_vec();
                cycle.push(m.to_string());
                return Some(cycle);
            }
            None => {}
        }
        state.insert(m.to_string(), false);
        path.push(m.to_string());
        for next in uses.get(m).into_iter().flatten() {
            if let Some(cycle) = visit(next, uses, state, path) {
                return Some(cycle);
            }
        }
        path.pop();
        state.insert(m.to_string(), true);
        None
    }
    let mut state = BTreeMap::new();
    for module in uses.keys() {
        let cycle = visit(module, &uses, &mut state, &mut Vec::new());
        assert!(
            cycle.is_none(),
            "src/domain modules must form no circle (docs/ARCHITECTURE.md gives their order): {}",
            cycle.unwrap_or_default().join(" -> ")
        );
    }
    // The order the docs give holds: nothing uses a module listed after it.
    let order = [
        "requirement",
        "policy",
        "validate",
        "keys",
        "events",
        "outbox",
        "notices",
        "audit",
        "sending",
        "housekeeping",
        "reminders",
        "auth",
        "lockout",
        "principals",
        "reauth",
        "devices",
        "sessions",
        "mfa",
        "passkeys",
        "assertions",
        "login",
        "stepup",
        "roles",
        "admin",
        "coverage",
        "profile",
        "signup",
        "passwords",
        "invitations",
        "sso",
    ];
    for (i, module) in order.iter().enumerate() {
        for used in uses.get(*module).into_iter().flatten() {
            let j = order.iter().position(|m| m == used);
            assert!(
                j.is_some_and(|j| j < i),
                "{module} uses {used}, which docs/ARCHITECTURE.md puts after it (or not at all)"
            );
        }
    }
}
