"""Generate tests/data/hf_paligemma.json: transformers' paligemma wrapper (a SigLIP tower, a
one-Linear projector, a Gemma or Gemma 2 decoder) measured with the real transformers.
`rows`: both heads' totals and classes (`PaliGemmaModel`, `PaliGemmaForConditionalGeneration`)
on the meta device and, for small models, per-module counts; `keras_hub_twins`: the configs
archbudget makes of keras-hub's PaliGemma models in tests/data/keras_hub_text.json.gz and
their parameter count for the class the task runs as; `flops`: a text-only prompt's forward and
forward+backward FLOPs (the tower idle, as for the other wrappers; eager, fp32, train mode).

    /work/scratch/hf/bin/python tests/data/make_hf_paligemma.py   # needs torch, transformers
"""
import pathlib
import sys
import warnings

try:
    import torch
    import transformers
    from transformers import AutoConfig, AutoModel, AutoModelForImageTextToText
except ImportError:
    print("torch and transformers are needed; nothing written")
    sys.exit(0)

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from hf_fixture import (build, config_of, count, forward_and_backward_flops, head_loss,  # noqa: E402
                        module_counts, write_records)

TEXT = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=1,
            head_dim=8, vocab_size=128)
VISION = dict(model_type="siglip_vision_model", hidden_size=16, intermediate_size=24, num_hidden_layers=2,
              num_attention_heads=2, image_size=32, patch_size=8)
CASES = [
    ("paligemma-default", {}),
    ("paligemma-tiny", dict(text_config=dict(TEXT, model_type="gemma"), vision_config=dict(VISION, vision_use_head=False),
                            projection_dim=32)),
    ("paligemma-tiny-with-head-untied", dict(text_config=dict(TEXT, model_type="gemma"), vision_config=VISION,
                                             projection_dim=32, tie_word_embeddings=False)),
    ("paligemma2-tiny", dict(text_config=dict(TEXT, model_type="gemma2", sliding_window=8),
                             vision_config=dict(VISION, vision_use_head=False), projection_dim=32)),
    ("paligemma-3b-pt-224", dict(text_config=dict(model_type="gemma", hidden_size=2048, num_hidden_layers=18,
                                                  intermediate_size=16384, num_attention_heads=8,
                                                  num_key_value_heads=1, vocab_size=257216),
                                 vision_config=dict(model_type="siglip_vision_model", hidden_size=1152,
                                                    intermediate_size=4304, num_hidden_layers=27,
                                                    num_attention_heads=16, patch_size=14, image_size=224,
                                                    vision_use_head=False),
                                 projection_dim=2048)),
]


def keras_hub_twin(text_type, hidden, inter, layers, q, kv, head_dim, vocab, vit):
    """gemma.rs's and pali_gemma.rs's translation of a PaliGemmaBackbone's arguments."""
    width, vit_inter, vit_layers, vit_heads, image, patch = vit
    text = dict(model_type=text_type, vocab_size=vocab, hidden_size=hidden, intermediate_size=inter // 2,
                num_hidden_layers=layers, num_attention_heads=q, num_key_value_heads=kv, head_dim=head_dim,
                tie_word_embeddings=True, sliding_window=4096, attention_dropout=0.0)
    vision = dict(model_type="siglip_vision_model", hidden_size=width, intermediate_size=vit_inter,
                  num_hidden_layers=vit_layers, num_attention_heads=vit_heads, image_size=image, patch_size=patch,
                  vision_use_head=False, hidden_act="gelu_pytorch_tanh")
    return dict(model_type="paligemma", text_config=text, vision_config=vision, projection_dim=hidden,
                tie_word_embeddings=True)


TINY_VIT = (8, 12, 2, 2, 16, 4)
KERAS_HUB_TWINS = [
    ("PaliGemma", "base", keras_hub_twin("gemma", 16, 32, 2, 4, 1, 8, 64, TINY_VIT)),
    ("PaliGemmaCausalLM", "causal_lm", keras_hub_twin("gemma", 16, 32, 2, 4, 1, 8, 64, TINY_VIT)),
    ("PaliGemma_post_norms", "base", keras_hub_twin("gemma2", 16, 32, 2, 4, 1, 8, 64, TINY_VIT)),
    ("PaliGemma_3b_224", "causal_lm", keras_hub_twin("gemma", 2048, 32768, 18, 8, 1, 256, 257152,
                                                     (1152, 4304, 27, 16, 224, 14))),
]
FLOPS = [
    ("paligemma-flops", dict(CASES[1][1], model_type="paligemma"), "causal_lm"),
    ("paligemma-flops-base", dict(CASES[1][1], model_type="paligemma"), "base"),
]
BATCH, SEQ = 2, 16


def count_rows():
    rows = []
    for name, kwargs in CASES:
        cfg = AutoConfig.for_model("paligemma", **kwargs)
        row = dict(name=name, model_type="paligemma", config=dict(model_type="paligemma", **kwargs))
        base = build(AutoModel, cfg)
        lm = build(AutoModelForImageTextToText, cfg)
        row.update(base_params=count(base), base_class=type(base).__name__, causal_lm_params=count(lm),
                   causal_lm_class=type(lm).__name__)
        if count(base) < 10_000_000:
            row["modules"] = {"base": module_counts(base), "lm": module_counts(lm)}
        rows.append(row)
        print(name, row["base_params"], row["causal_lm_params"], flush=True)
    return rows


def twin_rows():
    rows = []
    for name, head, config in KERAS_HUB_TWINS:
        auto = AutoModel if head == "base" else AutoModelForImageTextToText
        rows.append(dict(name=name, head=head, config=config, params=count(build(auto, config_of(config)))))
        print(name, rows[-1]["params"], flush=True)
    return rows


def flop_rows():
    torch.manual_seed(0)
    rows = []
    for name, config, head in FLOPS:
        cfg = config_of(config)
        auto = AutoModel if head == "base" else AutoModelForImageTextToText
        model = auto.from_config(cfg, attn_implementation="eager")
        model.train()
        ids = torch.randint(0, cfg.get_text_config().vocab_size, (BATCH, SEQ))
        counts = forward_and_backward_flops(lambda: head_loss(model, head, ids))
        rows.append(dict(name=name, config=config, head=head, attn="eager", batch=BATCH, seq=SEQ,
                         params=count(model), flops_fwd=counts[0], flops_fwd_bwd=counts[1]))
        print(name, rows[-1]["params"], counts, flush=True)
    return rows


def main():
    warnings.filterwarnings("ignore")
    transformers.logging.set_verbosity_error()
    write_records(pathlib.Path(__file__).with_name("hf_paligemma.json"), rows=count_rows(),
                  keras_hub_twins=twin_rows(), flops=flop_rows())


if __name__ == "__main__":
    main()
