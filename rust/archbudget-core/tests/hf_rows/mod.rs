#![allow(dead_code)] // shared by several test binaries, each using a part
//! Shared by the transformers fixture tests: compare summary rows with the modules
//! transformers built (`path -> [class, params]`, from the tests/data generators).
use archbudget_core::summary::Summary;
use serde_json::{Map, Value};

/// The list `name` (`rows`, `flops`, `caches`, ...) of the fixture `file` in tests/data.
pub fn fixture_section(file: &str, name: &str) -> Vec<Value> {
    let path = format!("{}/../../tests/data/{file}", env!("CARGO_MANIFEST_DIR"));
    let data: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect(&path)).expect(&path);
    data[name].as_array().expect(name).clone()
}

/// Each row's class equals its module's, and its params equal the module's count less
/// the rows nested inside it (tied rows skipped: the module counts the shared tensor,
/// the row does not). Pushes what differs to `failures`; returns the rows checked.
pub fn check_rows(
    name: &str,
    key: &str,
    s: &Summary,
    modules: &Map<String, Value>,
    failures: &mut Vec<String>,
) -> usize {
    let mut checked = 0;
    for r in &s.layers {
        let Some(module) = modules.get(&r.name) else {
            failures.push(format!("{name} {key}: no module {}", r.name));
            continue;
        };
        if module[0] != r.class_name.as_str() {
            failures.push(format!(
                "{name} {key}: {} is {} not {}",
                r.name, module[0], r.class_name
            ));
        }
        if r.explain.contains("tied to") {
            continue;
        }
        let nested: u64 = s
            .layers
            .iter()
            .filter(|o| o.name.starts_with(&format!("{}.", r.name)))
            .map(|o| modules[&o.name][1].as_u64().unwrap())
            .sum();
        let expected = module[1].as_u64().unwrap() - nested;
        if r.params != expected {
            failures.push(format!(
                "{name} {key}: row {} has {} params, module {expected}",
                r.name, r.params
            ));
        }
        checked += 1;
    }
    checked
}
