"""A ranked sweep under a memory budget (`--max-memory ... --sort params --top K`) skips
candidates by a lower bound on their peak and evaluates the rest lazily in rank order:
its frame must equal the plain path's, every candidate evaluated in full, then filtered,
sorted (ties by candidate index) and cut to K: same rows, same values."""
import polars as pl
import pytest

import archbudget
from archbudget import api
from conftest import EXAMPLES

LLAMA = {
    "family": "hf",
    "constraints": ["hidden_size % num_attention_heads == 0", "num_attention_heads % num_key_value_heads == 0"],
    "fixed": {"model_type": "llama", "tie_word_embeddings": False},
    "axes": {"hidden_size": [256, 512, 1024], "num_hidden_layers": [2, 4, 8], "num_attention_heads": [4, 8],
             "num_key_value_heads": [1, 4], "intermediate_size": [688, 2816], "vocab_size": [32000, 128256]},
    "run": {"seq": [512, 4096], "batch": [1, 8], "precision": ["bf16", "amp_bf16"], "optimizer": ["adamw", "sgd"]},
}


@pytest.fixture(scope="module")
def plain() -> pl.DataFrame:
    """Every candidate of LLAMA evaluated in full: no top, no budget."""
    return archbudget.sweep(LLAMA)


def by_plain_path(plain: pl.DataFrame, max_memory: int, sort: str, descending: bool, top: int) -> pl.DataFrame:
    kept = plain.filter(pl.col("peak_bytes") <= max_memory)
    return kept.sort([sort, "candidate"], descending=[descending, False]).head(top)


@pytest.mark.parametrize("quantile", [0.05, 0.5, 0.95])
@pytest.mark.parametrize("sort,descending", [("params", True), ("params", False), ("trainable_params", True), ("peak_bytes", False)])
@pytest.mark.parametrize("top", [1, 10, 100])
def test_fast_path_frame_equals_the_plain_path(plain, quantile, sort, descending, top):
    budget = int(plain["peak_bytes"].quantile(quantile))
    fast = archbudget.sweep(LLAMA, max_memory=budget, sort=sort, descending=descending, top=top)
    expected = by_plain_path(plain, budget, sort, descending, top)
    assert fast.height == min(top, plain.filter(pl.col("peak_bytes") <= budget).height)
    assert fast.equals(expected)


def test_unsorted_top_under_a_budget_is_the_first_candidates_that_fit(plain):
    budget = int(plain["peak_bytes"].median())
    fast = archbudget.sweep(LLAMA, max_memory=budget, top=25)
    assert fast.equals(plain.filter(pl.col("peak_bytes") <= budget).head(25))


def test_example_million_candidate_space_names_its_size():
    space = api.search_space(str(EXAMPLES / "llama_1m_space.toml"))
    assert space.size == 2**20
