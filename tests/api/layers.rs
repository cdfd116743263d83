//! The shape of the code base, kept by tests: handlers never reach the store
//! or diesel (rules live in `src/domain/`, which a CLI or a later front end
//! reuses), and the committed OpenAPI document is self-contained.

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
