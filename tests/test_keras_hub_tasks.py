"""Every model class keras-hub 0.32 exports for the families archbudget reads
(tests/data/keras_hub_tasks.json.gz, built by tests/data/make_keras_hub_tasks.py): totals
and every row of `model.summary()` through the Python API, the coverage printed, and
`memory` for each whose backbone has a memory model (the multimodal Gemma3 equal to its
transformers twin).
"""

import pytest

import archbudget
from conftest import assert_summary_equals_keras, load_keras_hub

DATA = load_keras_hub("keras_hub_tasks.json.gz")
MODELS = DATA["models"]
BY_NAME = {m["name"]: m for m in MODELS}
# summary only, each refused in one line: an encoder alone (transformers has no model of
# a tower without its pair or projector)
ENCODER_ALONE = "memory covers"
NO_MEMORY = {}


@pytest.mark.parametrize("m", MODELS, ids=[m["name"] for m in MODELS])
def test_summary_equals_keras(m):
    assert_summary_equals_keras(m)


def test_coverage_of_the_exported_classes():
    assert DATA["keras_hub"] == "0.32.0" and DATA["keras"] == "3.15.1"
    assert DATA["not_round_tripping"] == []
    built = {m["model_json"]["registered_name"].removeprefix("keras_hub>") for m in MODELS}

    def serialized(cls):  # the aliases serialize as the class they name
        cls = cls.replace("Qwen2", "Qwen")
        if cls.endswith("Classifier") and not cls.endswith(("TextClassifier", "ImageClassifier")):
            cls = cls[: -len("Classifier")] + "TextClassifier"
        return cls

    exported = [c for classes in DATA["exported"].values() for c in classes]
    read = [c for c in exported if serialized(c) in built]
    print(f"\nKerasHub coverage: {len(read)}/{len(exported)} exported model classes of the "
          f"{len(DATA['exported'])} read families built and read exactly")
    assert read == exported


@pytest.mark.parametrize("m", MODELS, ids=[m["name"] for m in MODELS])
def test_memory(m):
    run = dict(mode="train", batch=2, seq=8)
    if m["name"] in NO_MEMORY:
        with pytest.raises(archbudget.ArchBudgetError, match=NO_MEMORY[m["name"]]):
            archbudget.memory(m["model_json"], **run)
        return
    r = archbudget.memory(m["model_json"], **run)
    assert r.peak_bytes > 0 and r.breakdown["weights"] > 0


def test_multimodal_gemma3_is_its_transformers_twin():
    model = BY_NAME["Gemma3CausalLM_vision"]["model_json"]
    backbone = model["config"]["backbone"]["config"]
    vision = backbone["vision_encoder"]["config"]
    tokens = (vision["image_size"] // vision["patch_size"] // vision["pool_size"]) ** 2
    twin = {"model_type": "gemma3", "mm_tokens_per_image": tokens, "tie_word_embeddings": True,
            "text_config": {"model_type": "gemma3_text", "vocab_size": backbone["vocabulary_size"],
                            "hidden_size": backbone["hidden_dim"],
                            "intermediate_size": backbone["intermediate_dim"],
                            "num_hidden_layers": backbone["num_layers"],
                            "num_attention_heads": backbone["num_query_heads"],
                            "num_key_value_heads": backbone["num_key_value_heads"],
                            "head_dim": backbone["head_dim"],
                            "sliding_window": backbone["sliding_window_size"],
                            "layer_types": ["sliding_attention", "sliding_attention", "sliding_attention"]},
            "vision_config": {"model_type": "siglip_vision_model", "hidden_size": vision["hidden_dim"],
                              "intermediate_size": vision["intermediate_dim"],
                              "num_hidden_layers": vision["num_layers"],
                              "num_attention_heads": vision["num_heads"],
                              "image_size": vision["image_size"], "patch_size": vision["patch_size"],
                              "vision_use_head": False}}
    assert archbudget.summary(twin, head="causal_lm").total_params == \
        BY_NAME["Gemma3CausalLM_vision"]["total_params"]
    for mode in ("train", "infer"):
        ours = archbudget.memory(model, mode=mode, batch=2, seq=8)
        theirs = archbudget.memory(twin, head="causal_lm", mode=mode, batch=2, seq=8)
        assert (ours.peak_bytes, ours.flops_fwd_bwd) == (theirs.peak_bytes, theirs.flops_fwd_bwd)
