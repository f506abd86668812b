#![allow(dead_code)] // shared by several test binaries, each using a part
//! Shared by the transformers fixture tests: compare summary rows with the modules
//! transformers built (`path -> [class, params]`, from the tests/data generators).
use archbudget_core::formats::hf;
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

/// A head the fixture's rows were built with: `{key}_params` and `{key}_class` (and
/// `{key}_active` where the fixture has it) are transformers' figures, `modules` the key
/// of its modules under `row["modules"]` (None: `row["modules"]` itself).
pub struct FixtureHead {
    pub key: &'static str,
    pub head: Option<hf::Head>,
    pub modules: Option<&'static str>,
}

/// Under each head, every row's total, class (and active parameters) as transformers
/// gives them, the sweep's count-only path the same, and each summary row against its
/// module ([`check_rows`]). Returns what differs and the summary rows checked.
pub fn check_totals_and_rows(rows: &[Value], heads: &[FixtureHead]) -> (Vec<String>, usize) {
    let (mut failures, mut checked) = (Vec::new(), 0);
    for row in rows {
        let name = row["name"].as_str().unwrap();
        for h in heads {
            let key = h.key;
            let s = hf::summarize(&row["config"], h.head, "config.json")
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            let total = row[format!("{key}_params")].as_u64().unwrap();
            let active = row[format!("{key}_active")].as_u64().unwrap_or(total);
            let want = (total, active, row[format!("{key}_class")].as_str().unwrap());
            let got = (s.total_params, s.active_params, s.name.as_str());
            if got != want {
                failures.push(format!("{name} {key}: {got:?} != {want:?}"));
            }
            let (c, _) = hf::count(&row["config"], h.head, "config.json").unwrap();
            if (c.total_params, c.active_params) != (total, active) {
                failures.push(format!(
                    "{name} {key} count-only: {:?}",
                    (c.total_params, c.active_params)
                ));
            }
            let modules = match h.modules {
                Some(at) => &row["modules"][at],
                None => &row["modules"],
            };
            if let Some(modules) = modules.as_object() {
                let label = h.modules.unwrap_or(key);
                checked += check_rows(name, label, &s, modules, &mut failures);
            }
        }
    }
    (failures, checked)
}

/// The bare model and the causal LM, as most fixtures record them.
pub const BASE_AND_LM: [FixtureHead; 2] = [
    FixtureHead {
        key: "base",
        head: Some(hf::Head::Base),
        modules: Some("base"),
    },
    FixtureHead {
        key: "lm",
        head: Some(hf::Head::CausalLm),
        modules: Some("lm"),
    },
];

/// The bare model and the causal LM where the fixture keys the LM's totals `causal_lm`.
pub const BASE_AND_CAUSAL_LM: [FixtureHead; 2] = [
    FixtureHead {
        key: "base",
        head: Some(hf::Head::Base),
        modules: Some("base"),
    },
    FixtureHead {
        key: "causal_lm",
        head: Some(hf::Head::CausalLm),
        modules: Some("lm"),
    },
];

/// `AutoModel` alone, its modules at the root of `row["modules"]`.
pub const BASE_AT_ROOT: [FixtureHead; 1] = [FixtureHead {
    key: "base",
    head: None,
    modules: None,
}];
