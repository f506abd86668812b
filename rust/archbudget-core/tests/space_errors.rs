//! Hostile search spaces get an error, never a panic, a wrapped number or a hang:
//! malformed TOML, bad axes and constraints, sizes beyond 64 bits, cancellation. Each
//! case asserts the error's kind and that its one-line message names the file and key.
use archbudget_core::space::{self, Space, SweepOptions};
use archbudget_core::Error;

mod one_line;
use one_line::message;

fn no_template(path: &str) -> Result<Vec<u8>, Error> {
    Err(Error::invalid(path, "cannot read the template"))
}

fn parse_space(text: &str) -> Result<Space, Error> {
    Space::from_toml(text, "space.toml", &no_template)
}

const MLP: &str = "family = \"mlp\"\n[fixed]\nclasses = 10\ninput_dim = 8\n[axes]\ndepth = [1, 2]\nwidth = [16, 32]\n";

#[test]
fn malformed_spaces_name_the_file_and_the_key() {
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "family = \"mlp\"\n[axes\n",
            "ParseError",
            &["space.toml", "malformed TOML", "line 2"],
        ),
        ("family = mlp", "ParseError", &["malformed TOML", "line 1"]),
        (
            "family = \"rnn\"",
            "SpaceError",
            &["'rnn'", "mlp, cnn, lstm, hf, keras"],
        ),
        ("[axes]\nwidth = [1]", "SpaceError", &["missing 'family'"]),
        (
            "family = \"mlp\"\nfamilly = 3",
            "SpaceError",
            &["'familly'", "expected family"],
        ),
        (
            "family = \"mlp\"\naxes = 3",
            "SpaceError",
            &["'[axes]' must be a table"],
        ),
        (
            "family = \"mlp\"\n[axes]\nwidth = []",
            "SpaceError",
            &["'width' has no values"],
        ),
        (
            "family = \"mlp\"\n[axes]\nwidth = 16",
            "SpaceError",
            &["'width' must be a list"],
        ),
        (
            "family = \"mlp\"\n[axes]\nwidth = [[1]]",
            "SpaceError",
            &["'width'"],
        ),
        (
            "family = \"mlp\"\n[axes]\nwidth = {start = 10, stop = 1}",
            "SpaceError",
            &["'width'", "below start"],
        ),
        (
            "family = \"mlp\"\n[axes]\nwidth = {start = 1, stop = 10, step = 0}",
            "SpaceError",
            &["'step' must be positive"],
        ),
        (
            "family = \"mlp\"\n[axes]\nwidth = {start = 1, stop = 10, factor = 1}",
            "SpaceError",
            &["factor > 1"],
        ),
        (
            "family = \"mlp\"\n[axes]\nwidth = {start = 1, stop = 10, step = 1, factor = 2}",
            "SpaceError",
            &["not both"],
        ),
        (
            "family = \"mlp\"\n[axes]\nwidth = {start = 1, stop = 10, stpe = 1}",
            "SpaceError",
            &["'stpe'"],
        ),
        (
            "family = \"mlp\"\n[axes]\nwidth = {start = \"a\", stop = 10}",
            "SpaceError",
            &["'start' must be a number"],
        ),
        (
            "family = \"mlp\"\n[axes]\nwidth = {start = 1, stop = 1e12}",
            "SpaceError",
            &["'width'", "more than 1000000"],
        ),
        (
            "family = \"mlp\"\n[axes]\nwidth = {start = 1e-300, stop = 1e300, factor = 1.0000001}",
            "SpaceError",
            &["'width'", "more than 1000000"],
        ),
        (
            "family = \"mlp\"\n[run]\nbatchsize = 3",
            "SpaceError",
            &["'batchsize'", "batch"],
        ),
        (
            "family = \"mlp\"\n[fixed]\nwidthh = 3\n",
            "SpaceError",
            &["'widthh'", "input_dim, depth, width, classes"],
        ),
        (
            "family = \"mlp\"\n[fixed]\nwidth = 3\n[axes]\nwidth = [1]",
            "SpaceError",
            &["'width' is given twice"],
        ),
        (
            "family = \"mlp\"\n[fixed]\nclasses = 10\n",
            "SpaceError",
            &["needs 'input_dim'"],
        ),
        (
            "family = \"hf\"\n[fixed]\nvocab_size = 10",
            "SpaceError",
            &["'model_type'"],
        ),
        ("family = \"keras\"", "SpaceError", &["'template'"]),
        (
            "family = \"keras\"\ntemplate = \"missing.json\"",
            "InvalidValueError",
            &["missing.json", "cannot read"],
        ),
        (
            "family = \"mlp\"\ntemplate = \"m.json\"",
            "SpaceError",
            &["only for the keras family"],
        ),
        (
            "family = \"mlp\"\nconstraints = \"width > 1\"",
            "SpaceError",
            &["list of strings"],
        ),
        (
            "family = \"mlp\"\nconstraints = [3]",
            "SpaceError",
            &["must be strings"],
        ),
    ];
    for (text, kind, parts) in cases {
        let mut parts = parts.to_vec();
        if *kind != "InvalidValueError" {
            parts.push("space.toml");
        }
        message(parse_space(text), kind, &parts);
    }
}

fn with_constraint(c: &str) -> String {
    format!(
        "constraints = [{}]\n{MLP}",
        serde_json::to_string(c).unwrap()
    )
}

#[test]
fn constraints_that_do_not_parse_name_the_constraint() {
    for (c, what) in [
        ("width % 2 = 0", "use =="),
        ("width > ", "ends too early"),
        ("(width > 3", "missing ')'"),
        ("width > 3)", "after a complete expression"),
        ("widht > 3", "unknown name 'widht'"),
        ("width $ 3", "unexpected '$'"),
        ("width > 'abc", "unclosed string"),
        ("width > 1.2.3", "not a number"),
        ("", "is empty"),
        ("width & 1", "use =="),
    ] {
        message(
            parse_space(&with_constraint(c)),
            "SpaceError",
            &["space.toml", what],
        );
    }
}

#[test]
fn constraints_nested_or_long_enough_to_exhaust_the_stack_are_refused() {
    for c in [
        "(".repeat(300) + "width" + &")".repeat(300),
        "not ".repeat(300) + "true",
        "-".repeat(300) + "width > 0",
    ] {
        let text = message(
            parse_space(&with_constraint(&c)),
            "SpaceError",
            &["space.toml", "nests deeper than 64"],
        );
        assert!(
            text.len() < 300,
            "the constraint is quoted shortened: {text}"
        );
    }
    let long = "width".to_string() + &" + width".repeat(100_000) + " > 0";
    message(
        parse_space(&with_constraint(&long)),
        "SpaceError",
        &["space.toml", "tokens"],
    );
    // Within the bounds, a deep but legal constraint still evaluates.
    let ok = "(".repeat(60) + "width > 0" + &")".repeat(60);
    let s = parse_space(&with_constraint(&ok)).unwrap();
    assert_eq!(space::count(&s, None).unwrap().satisfying_constraints, 4);
}

#[test]
fn constraints_of_the_wrong_type_fail_when_evaluated_naming_the_constraint() {
    for (c, what) in [
        ("width + 1", "not a comparison"),
        ("width and true", "true/false operands"),
        ("'a' < width", "non-numbers"),
    ] {
        let s = parse_space(&with_constraint(c)).unwrap();
        message(
            space::count(&s, None),
            "SpaceError",
            &["space.toml", c, what],
        );
        message(
            space::sweep(&s, &SweepOptions::default()),
            "SpaceError",
            &["space.toml", c, what],
        );
    }
}

#[test]
fn a_space_whose_size_overflows() {
    let axis = |name: &str| format!("{name} = {{start = 1, stop = 1000000}}\n");
    let text = format!(
        "family = \"mlp\"\n[fixed]\nclasses = 3\n[axes]\n{}{}{}{}",
        axis("input_dim"),
        axis("depth"),
        axis("width"),
        "[run]\nbatch = {start = 1, stop = 20}\n"
    );
    message(
        parse_space(&text),
        "OverflowError",
        &["space.toml", "number of candidates"],
    );
}

#[test]
fn a_space_near_u64_max_counts_and_sweeps_its_last_candidates() {
    // 2^63 candidates: blocks are made lazily, and the last one ends at the space's end.
    let axis = |name: &str, n: u32| format!("{name} = {{start = 1, stop = {}}}\n", 1u64 << n);
    let text = format!("family = \"mlp\"\n[fixed]\nclasses = 3\n[axes]\n{}{}{}[run]\nbatch = {{start = 1, stop = {}}}\n", axis("input_dim", 19), axis("depth", 14), axis("width", 19), 1u64 << 11);
    let s = parse_space(&text).unwrap();
    assert_eq!(s.size, 1 << 63);
    let tail = Some((s.size - 5, s.size));
    let c = space::count(&s, tail).unwrap();
    assert_eq!((c.in_range, c.satisfying_constraints), (5, 5));
    let cols = space::sweep(
        &s,
        &SweepOptions {
            range: tail,
            max_params: Some(0),
            ..SweepOptions::default()
        },
    )
    .unwrap();
    assert_eq!((cols.stats.candidates, cols.stats.cut_by_budgets), (5, 5));
    // With a constraint, counting walks the blocks up to the last candidate.
    let s = parse_space(&format!("constraints = [\"depth > 16383\"]\n{text}")).unwrap();
    assert_eq!(space::count(&s, tail).unwrap().satisfying_constraints, 5);
    message(
        space::count(&s, Some((5, 4))),
        "SpaceError",
        &["space.toml", "outside"],
    );
    message(
        space::sweep(
            &s,
            &SweepOptions {
                range: Some((0, u64::MAX)),
                ..SweepOptions::default()
            },
        ),
        "SpaceError",
        &["outside"],
    );
}

#[test]
fn candidates_beyond_64_bits_are_skipped_and_counted() {
    let text = "family = \"mlp\"\n[fixed]\nclasses = 10\ninput_dim = 8\ndepth = 3\n[axes]\nwidth = [16, 4611686018427387904]\n";
    let s = parse_space(text).unwrap();
    let ranked = SweepOptions {
        sort: Some("params".into()),
        top: Some(1),
        ..SweepOptions::default()
    };
    for opts in [SweepOptions::default(), ranked] {
        let cols = space::sweep(&s, &opts).unwrap();
        assert_eq!((cols.index.clone(), cols.stats.invalid), (vec![0], 1));
        let first = cols.stats.first_invalid.unwrap();
        assert!(
            first.contains("candidate 1 (width=4611686018427387904)")
                && first.contains("overflows"),
            "{first}"
        );
    }
    // A batch that overflows only the memory model.
    let text = "family = \"mlp\"\n[fixed]\nclasses = 10\ninput_dim = 8\ndepth = 3\nwidth = 16\n[run]\nbatch = [1, 9223372036854775807]\n";
    let cols = space::sweep(&parse_space(text).unwrap(), &SweepOptions::default()).unwrap();
    assert_eq!((cols.index, cols.stats.invalid), (vec![0], 1));
    // An hf candidate whose vocabulary overflows, under a params budget too.
    let text = "family = \"hf\"\n[fixed]\nmodel_type = \"llama\"\nhidden_size = 4096\nintermediate_size = 11008\nnum_hidden_layers = 2\nnum_attention_heads = 32\n[axes]\nvocab_size = [32000, 1000000000000000000]\n[run]\nseq = 16\n";
    let budget = SweepOptions {
        max_params: Some(1_000_000_000),
        ..SweepOptions::default()
    };
    let cols = space::sweep(&parse_space(text).unwrap(), &budget).unwrap();
    assert_eq!((cols.index, cols.stats.invalid), (vec![0], 1));
}

#[test]
fn constraint_arithmetic_that_fails_makes_the_candidate_invalid() {
    for (c, invalid, why) in [
        ("width / 0 > 1", 4, "division by zero"),
        ("width // (width - 16) > 1", 2, "division by zero"),
        ("width % (width - 16) == 0", 2, "modulo by zero"),
        ("width * 4611686018427387904 > 0", 4, "'*' overflows"),
        (
            "-(width - 16 - 9223372036854775807 - 1) > 0",
            2,
            "'-' overflows",
        ),
    ] {
        let s = parse_space(&with_constraint(c)).unwrap();
        let counted = space::count(&s, None).unwrap();
        assert_eq!(
            (counted.invalid, counted.satisfying_constraints),
            (invalid, 4 - invalid),
            "{c}"
        );
        let cols = space::sweep(&s, &SweepOptions::default()).unwrap();
        assert_eq!(cols.stats.invalid, invalid, "{c}");
        let first = cols.stats.first_invalid.unwrap();
        assert!(
            first.contains(&format!("constraint '{c}': {why}")),
            "{first}"
        );
    }
}

#[test]
fn constraints_compute_as_python_does() {
    for (c, holds) in [
        ("9007199254740993 - 9007199254740992 == 1", true),
        ("-7 // 2 == -4 and -7 % 2 == 1 and 7 % -2 == -1", true),
        ("7 / 2 == 3.5 and 6 / 3 == 2", true),
        ("9007199254740993 == 9007199254740992.0", false),
        ("width > 15.5 and width >= 16 and not (width < 16.0)", true),
    ] {
        let s = parse_space(&with_constraint(c)).unwrap();
        let n = space::count(&s, None).unwrap().satisfying_constraints;
        assert_eq!(n, if holds { 4 } else { 0 }, "{c}");
    }
}

#[test]
fn a_cancelled_sweep_or_count_stops_with_cancelled() {
    use archbudget_core::space::Cancel;
    use std::sync::Arc;
    let s = parse_space(&with_constraint("width > 0")).unwrap();
    let cancel = Arc::new(Cancel::default());
    cancel.cancel();
    assert_eq!(space::count_until(&s, None, &cancel), Err(Error::Cancelled));
    let opts = SweepOptions {
        cancel: Some(cancel),
        ..SweepOptions::default()
    };
    assert_eq!(space::sweep(&s, &opts).map(|_| ()), Err(Error::Cancelled));
}

#[test]
fn messages_show_values_as_the_space_file_writes_them() {
    let text = "family = \"mlp\"\n[fixed]\nclasses = 10\ninput_dim = 8\nwidth = 16\n[axes]\ndepth = [\"a\"]\n";
    let cols = space::sweep(&parse_space(text).unwrap(), &SweepOptions::default()).unwrap();
    let first = cols.stats.first_invalid.unwrap();
    assert!(
        first.contains("got \"a\"") && !first.contains("Str("),
        "{first}"
    );
    let e = parse_space(&with_constraint("* width > 0"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("unexpected '*'") && !e.contains("Op("), "{e}");
    let e = parse_space("family = \"mlp\"\n[axes]\nwidth = {start = 1, stop = 1e19}\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("has 10000000000000000000 values"), "{e}");
}

#[test]
fn candidates_that_cannot_be_built_are_counted_not_fatal() {
    // A depth far beyond any network is refused per candidate, without building it.
    let text = "family = \"mlp\"\n[fixed]\nclasses = 10\ninput_dim = 8\nwidth = 16\n[axes]\ndepth = [2, 1000000000]\n";
    let cols = space::sweep(&parse_space(text).unwrap(), &SweepOptions::default()).unwrap();
    assert_eq!((cols.index.len(), cols.stats.invalid), (1, 1));
    assert!(
        cols.stats
            .first_invalid
            .as_deref()
            .unwrap()
            .contains("candidate 1 (depth=1000000000): depth"),
        "{:?}",
        cols.stats.first_invalid
    );
    let text = "family = \"cnn\"\n[fixed]\nimage = 32\nchannels = 3\nstages = 1\nfilters = 4\nclasses = 2\nbatchnorm = false\n[axes]\nconvs = [1, 1000000000]\n";
    let cols = space::sweep(&parse_space(text).unwrap(), &SweepOptions::default()).unwrap();
    assert_eq!((cols.index.len(), cols.stats.invalid), (1, 1));
    let text = "family = \"mlp\"\n[fixed]\nclasses = 10\ninput_dim = 8\nwidth = 16\n[axes]\ndepth = [2, -1]\n";
    let cols = space::sweep(&parse_space(text).unwrap(), &SweepOptions::default()).unwrap();
    assert_eq!(cols.stats.invalid, 1);
    assert!(
        cols.stats
            .first_invalid
            .as_deref()
            .unwrap()
            .contains("'depth' must be an integer"),
        "{:?}",
        cols.stats.first_invalid
    );
}

#[test]
fn sweep_options_that_name_nothing() {
    let s = parse_space(MLP).unwrap();
    message(
        space::sweep(
            &s,
            &SweepOptions {
                sort: Some("parms".into()),
                ..SweepOptions::default()
            },
        ),
        "SpaceError",
        &["'parms'", "params", "width"],
    );
    // A huge top-k keeps everything, without quadratic work.
    let cols = space::sweep(
        &s,
        &SweepOptions {
            sort: Some("params".into()),
            top: Some(usize::MAX),
            ..SweepOptions::default()
        },
    )
    .unwrap();
    assert_eq!(cols.index.len(), 4);
    let cols = space::sweep(
        &s,
        &SweepOptions {
            top: Some(usize::MAX),
            ..SweepOptions::default()
        },
    )
    .unwrap();
    assert_eq!(cols.index.len(), 4);
}

#[test]
fn a_large_string_axis_becomes_codes_in_linear_time() {
    let values: Vec<String> = (0..200_000).map(|i| format!("\"v{i}\"")).collect();
    let text = format!(
        "family = \"hf\"\n[fixed]\nmodel_type = \"gpt2\"\n[axes]\nname = [{}]\n",
        values.join(", ")
    );
    let s = parse_space(&text).unwrap();
    let cols = space::sweep(
        &s,
        &SweepOptions {
            range: Some((0, 3)),
            ..SweepOptions::default()
        },
    )
    .unwrap();
    assert_eq!(cols.stats.candidates, 3);
}
