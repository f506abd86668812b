"""archbudget's transformers counts against the installed transformers itself.

Every case of tests/data/make_hf_extra.py (each supported model type at several sizes,
with keys left out and seeded random flags) is built on the meta device with AutoModel and
with the class archbudget's `causal_lm` head counts, and the totals are compared. Skipped
where torch or transformers is not installed; the same counts, recorded once, are checked
without them by the Rust test rust/archbudget-core/tests/hf_known.rs.
"""
import importlib.util
import warnings
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

import archbudget  # noqa: E402

import make_hf_extra  # noqa: E402
from hf_fixture import build, count  # noqa: E402


@pytest.fixture(autouse=True)
def quiet():
    transformers.logging.set_verbosity_error()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def real_count(auto, model_type, kwargs):
    cfg = transformers.AutoConfig.for_model(model_type, **kwargs)
    return count(build(auto, cfg))


@pytest.mark.parametrize("name, model_type, kwargs", make_hf_extra.CASES, ids=[c[0] for c in make_hf_extra.CASES])
def test_counts_equal_transformers(name, model_type, kwargs):
    config = dict(model_type=model_type, **kwargs)
    base = archbudget.summary(config, head="base")
    assert base.total_params == real_count(transformers.AutoModel, model_type, kwargs)
    assert base.trainable_params == base.total_params
    lm_class = make_hf_extra.LM_CLASS.get(model_type, transformers.AutoModelForCausalLM)
    if lm_class is None:  # vit: no language-model head
        with pytest.raises(archbudget.ArchBudgetError, match="head 'base'"):
            archbudget.summary(config, head="causal_lm")
        assert archbudget.summary(config).total_params == base.total_params
        return
    lm = archbudget.summary(config, head="causal_lm")
    assert lm.total_params == real_count(lm_class, model_type, kwargs)
    # SPEC.md: `causal_lm` is the default only where the type has a causal-LM class;
    # distilbert (masked LM) and t5 (seq2seq LM) default to the bare model
    default = lm if lm_class is transformers.AutoModelForCausalLM else base
    assert archbudget.summary(config).total_params == default.total_params


def test_every_supported_type_is_covered():
    covered = {model_type for _, model_type, _ in make_hf_extra.CASES}
    for model_type in covered:
        assert transformers.AutoConfig.for_model(model_type).model_type == model_type
    assert len(covered) == 17


_moe_spec = importlib.util.spec_from_file_location("make_hf_moe", Path(__file__).parent / "data" / "make_hf_moe.py")
make_hf_moe = importlib.util.module_from_spec(_moe_spec)
_moe_spec.loader.exec_module(make_hf_moe)


@pytest.mark.parametrize("name, model_type, kwargs", make_hf_moe.CASES, ids=[c[0] for c in make_hf_moe.CASES])
def test_moe_counts_equal_transformers(name, model_type, kwargs):
    """The MoE/MLA cases of make_hf_moe.py against the installed transformers: totals and
    active parameters of both heads."""
    config = dict(model_type=model_type, **kwargs)
    cfg = transformers.AutoConfig.for_model(model_type, **kwargs)
    lm_class = make_hf_moe.LM_CLASS.get(model_type, transformers.AutoModelForCausalLM)
    for head, auto in (("base", transformers.AutoModel), ("causal_lm", lm_class)):
        model = make_hf_moe.build(auto, cfg)
        s = archbudget.summary(config, head=head)
        assert (s.total_params, s.active_params) == (make_hf_moe.count(model), make_hf_moe.active(model, cfg))


_next_spec = importlib.util.spec_from_file_location("make_hf_next", Path(__file__).parent / "data" / "make_hf_next.py")
make_hf_next = importlib.util.module_from_spec(_next_spec)
_next_spec.loader.exec_module(make_hf_next)


@pytest.mark.parametrize("name, kwargs", make_hf_next.CASES, ids=[c[0] for c in make_hf_next.CASES])
def test_qwen3_next_counts_equal_transformers(name, kwargs):
    """qwen3_next's cases of make_hf_next.py against the installed transformers."""
    config = dict(model_type="qwen3_next", **kwargs)
    cfg = transformers.AutoConfig.for_model("qwen3_next", **kwargs)
    for head, auto in (("base", transformers.AutoModel), ("causal_lm", transformers.AutoModelForCausalLM)):
        model = make_hf_next.build(auto, cfg)
        s = archbudget.summary(config, head=head)
        assert (s.total_params, s.active_params) == (make_hf_next.count(model), make_hf_next.active(model, cfg))
