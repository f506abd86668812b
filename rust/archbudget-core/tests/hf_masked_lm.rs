//! distilbert's masked LM (`DistilBertForMaskedLM`) against transformers 5.24:
//! `tests/data/hf_masked_lm.json`, made by `tests/data/make_hf_masked_lm.py`. Parameters
//! exact and FLOPs of tiny configs within 1% of `torch.utils.flop_counter`.
mod hf_flops;
mod hf_rows;

#[test]
fn flops_match_the_flop_counter() {
    let cases = hf_rows::fixture_section("hf_masked_lm.json", "flops");
    assert!(cases.len() >= 3);
    let gaps: Vec<String> = cases.iter().flat_map(hf_flops::flop_counter_gaps).collect();
    assert!(gaps.is_empty(), "{gaps:#?}");
}
