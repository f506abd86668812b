//! Merging shards (what the Ray backend does): any split of the space into index ranges,
//! reduced in any tree order, finishes to the single-pass sweep, row for row.
use archbudget_core::space::{self, finish, merge_parts, Columns, Space, SweepOptions};
use proptest::prelude::*;

fn mlp_space(input: &[i64], width: &[i64], constraint: bool) -> Space {
    let list = |v: &[i64]| format!("{v:?}");
    let constraints = if constraint {
        "constraints = [\"width % 3 != 1\"]\n"
    } else {
        ""
    };
    let text = format!(
        "{constraints}family = \"mlp\"\n[fixed]\nclasses = 10\n[axes]\ninput_dim = {}\ndepth = [0, 1, 3]\nwidth = {}\n\
         [run]\nbatch = [2, 32]\nprecision = [\"fp32\", \"bf16\", \"amp_bf16\"]\n",
        list(input),
        list(width)
    );
    Space::from_toml(&text, "merge.toml", &|p| {
        Err(archbudget_core::Error::invalid(p, "no templates"))
    })
    .unwrap()
}

/// A result's indices, axes (as text), metric columns and stats.
type Rows = (
    Vec<u64>,
    String,
    Vec<(&'static str, Vec<u64>)>,
    space::Stats,
);

/// The rows of a result, axes included (they are rebuilt from the indices by a merge).
fn rows(c: &Columns) -> Rows {
    (
        c.index.clone(),
        format!("{:?}", c.axes),
        c.metrics.clone(),
        c.stats.clone(),
    )
}

/// Options from a code: unranked, sorted, top-k (by params: the prerank path; by peak:
/// the full path), Pareto, Pareto with top-k, with or without budgets.
fn options(code: u8, k: usize, descending: bool, budget: bool) -> SweepOptions {
    let sort = |s: &str| Some(s.to_string());
    let base = SweepOptions {
        max_params: budget.then_some(200_000),
        max_memory: (budget && code % 2 == 0).then_some(50 << 20),
        descending,
        ..SweepOptions::default()
    };
    match code {
        0 => base,
        1 => SweepOptions {
            sort: sort("peak_bytes"),
            ..base
        },
        2 => SweepOptions {
            sort: sort("params"),
            top: Some(k),
            max_memory: None,
            ..base
        },
        3 => SweepOptions {
            sort: sort("flops_fwd_bwd"),
            top: Some(k),
            ..base
        },
        4 => SweepOptions {
            top: Some(k),
            max_memory: None,
            ..base
        },
        5 => SweepOptions {
            pareto: true,
            ..base
        },
        6 => SweepOptions {
            pareto: true,
            top: Some(k),
            ..base
        },
        _ => SweepOptions {
            pareto: true,
            top: Some(k),
            sort: sort("width"),
            ..base
        },
    }
}

/// Sweep the space in `shards` index ranges and merge adjacent parts in the order the
/// `picks` choose (every binary tree over the parts is some sequence of picks).
fn sharded(s: &Space, opts: &SweepOptions, shards: u64, picks: &[usize]) -> Columns {
    let mut parts: Vec<Columns> = (0..shards)
        .map(|i| {
            let range = Some((s.size * i / shards, s.size * (i + 1) / shards));
            space::sweep_part(
                s,
                &SweepOptions {
                    range,
                    ..opts.clone()
                },
            )
            .unwrap()
        })
        .collect();
    let mut pick = picks.iter().cycle();
    while parts.len() > 1 {
        let at = pick.next().unwrap() % (parts.len() - 1);
        let right = parts.remove(at + 1);
        let left = parts.remove(at);
        parts.insert(at, merge_parts(s, opts, vec![left, right]).unwrap());
    }
    finish(s, opts, parts.pop().unwrap()).unwrap()
}

fn axis() -> impl Strategy<Value = Vec<i64>> {
    prop::collection::btree_set(1i64..300, 1..5).prop_map(|s| s.into_iter().collect())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 192, ..ProptestConfig::default() })]

    #[test]
    fn shards_merged_in_any_tree_equal_the_single_pass(
        input in axis(), width in axis(), constraint in any::<bool>(),
        code in 0u8..8, k in 1usize..10, descending in any::<bool>(), budget in any::<bool>(),
        shards in 1u64..9, picks in prop::collection::vec(0usize..8, 1..8),
    ) {
        let s = mlp_space(&input, &width, constraint);
        let opts = options(code, k, descending, budget);
        let whole = space::sweep(&s, &opts).unwrap();
        prop_assert_eq!(rows(&sharded(&s, &opts, shards, &picks)), rows(&whole));
    }
}

/// Past one rayon block (16384 candidates) the single pass reduces blocks itself: its
/// Pareto front's top k must not depend on where blocks or shards begin.
#[test]
fn pareto_top_k_of_a_large_space_is_independent_of_the_split() {
    let input: Vec<i64> = (1..=80).collect();
    let width: Vec<i64> = (1..=60).map(|w| w * 8).collect();
    let s = mlp_space(&input, &width, false);
    assert!(s.size > 4 * (1 << 14));
    for opts in [
        options(6, 25, false, false),
        options(7, 10, true, false),
        options(3, 50, false, true),
    ] {
        let whole = space::sweep(&s, &opts).unwrap();
        assert!(!whole.index.is_empty());
        for shards in [3, 7] {
            assert_eq!(
                rows(&sharded(&s, &opts, shards, &[1, 0, 2])),
                rows(&whole),
                "{opts:?} in {shards} shards"
            );
        }
    }
}

#[test]
fn a_part_from_another_space_is_an_error() {
    let small = mlp_space(&[4], &[8], false);
    let large = mlp_space(&[4, 5, 6], &[8, 16], false);
    let part = space::sweep_part(&large, &SweepOptions::default()).unwrap();
    let err = merge_parts(&small, &SweepOptions::default(), vec![part])
        .unwrap_err()
        .to_string();
    assert!(err.contains("outside the space's 18 candidates"), "{err}");
}
