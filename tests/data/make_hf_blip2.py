"""Generate tests/data/hf_blip2.json: transformers' blip-2 (`Blip2Model`,
`Blip2ForConditionalGeneration`: a ViT, the Q-Former, the language projection and an OPT
or Flan-T5 language model) measured with the real transformers (5.24).

- `rows`: both heads' totals, classes and buffers on the meta device (AutoModel and
  AutoModelForImageTextToText) and, for small models, `modules` {path: [class, params]}:
  the default (blip2-opt-2.7b's vision tower and Q-Former on OPTConfig's defaults),
  blip2-opt-2.7b- and blip2-flan-t5-xl-like configs, and tiny configs covering the options
  (cross-attention every 1 or 3 layers, no qkv bias, the Q-Former's text branch, an OPT
  with `word_embed_proj_dim`, an untied T5);
- `keras_hub_twins`: the blip-2 config of each KerasHub BLIP2 model of
  keras_hub_text3.json.gz whose twin needs no edit, and its parameters;
- `flops`: tiny configs' forward and forward+backward FLOPs of
  `Blip2ForConditionalGeneration(pixel_values, input_ids, labels=input_ids)` (the first
  `num_query_tokens` ids being `image_token_id`) in `train()`, fp32, under
  torch.utils.flop_counter on CPU (BATCH images, SEQ tokens): eager attention, and SDPA
  where the CPU runs the fused kernel a GPU runs (no attention dropout, no position bias).

    /work/scratch/hf/bin/python tests/data/make_hf_blip2.py   # needs torch, transformers
"""
import gzip
import json
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
from hf_fixture import build, count, forward_and_backward_flops, module_counts, write_records  # noqa: E402

VISION = dict(hidden_size=8, intermediate_size=12, num_hidden_layers=2, num_attention_heads=2, image_size=8,
              patch_size=4)
QFORMER = dict(hidden_size=12, intermediate_size=20, num_hidden_layers=3, num_attention_heads=3)
OPT = dict(model_type="opt", vocab_size=40, hidden_size=16, num_hidden_layers=2, ffn_dim=24, num_attention_heads=2,
           max_position_embeddings=32, word_embed_proj_dim=16)
T5 = dict(model_type="t5", vocab_size=40, d_model=16, d_kv=4, d_ff=24, num_layers=2, num_decoder_layers=2,
          num_heads=3, feed_forward_proj="gated-gelu", tie_word_embeddings=False, decoder_start_token_id=0)


def tiny(text, **kw):
    return dict(vision_config=VISION, qformer_config=QFORMER, text_config=text, num_query_tokens=4,
                image_token_index=3, **kw)


CASES = [
    ("blip2-default", {}),
    ("blip2-opt-2.7b-like", dict(text_config=dict(model_type="opt", hidden_size=2560, num_hidden_layers=32,
                                                  ffn_dim=10240, num_attention_heads=32, vocab_size=50304,
                                                  word_embed_proj_dim=2560))),
    ("blip2-flan-t5-xl-like", dict(text_config=dict(model_type="t5", d_model=2048, d_kv=64, d_ff=5120,
                                                    num_layers=24, num_heads=32, vocab_size=32128,
                                                    feed_forward_proj="gated-gelu", tie_word_embeddings=False,
                                                    decoder_start_token_id=0))),
    ("blip2-tiny-opt", tiny(OPT)),
    ("blip2-tiny-t5", tiny(T5)),
    ("blip2-tiny-t5-tied", tiny(dict(T5, tie_word_embeddings=True, feed_forward_proj="relu", num_decoder_layers=1))),
    ("blip2-tiny-options", dict(tiny(dict(OPT, word_embed_proj_dim=8, do_layer_norm_before=False)),
                                vision_config=dict(VISION, qkv_bias=False, image_size=12, num_hidden_layers=3),
                                qformer_config=dict(QFORMER, cross_attention_frequency=1,
                                                    use_qformer_text_input=True),
                                num_query_tokens=5)),
    ("blip2-tiny-every-third", dict(tiny(OPT), qformer_config=dict(QFORMER, num_hidden_layers=5,
                                                                   cross_attention_frequency=3))),
]
# (name, config, attention): on the CPU, SDPA with dropout or with t5's position bias
# takes its math path (counted as eager), where a GPU runs its fused kernel; the SDPA case
# therefore has no attention dropout, and the t5 one runs eager
FLOPS = [
    ("blip2-flops-opt", tiny(OPT), "eager"),
    ("blip2-flops-opt-sdpa", dict(tiny(OPT), qformer_config=dict(QFORMER, attention_probs_dropout_prob=0.0)), "sdpa"),
    ("blip2-flops-t5", tiny(T5), "eager"),
]
BATCH, SEQ = 2, 7
# make_keras_hub_text3.py's BLIP2 models whose twin needs no edit (formats/keras_hub/blip2.rs;
# a Seq2SeqLM's own lm_head is one: transformers ties T5's head whatever the config says)
KERAS_HUB_TWINS = ["BLIP2_optBLIP2CausalLM", "BLIP2_flan_t5", "blip2_opt_2.7b"]


def keras_hub_twin(model_json):
    """The blip-2 config a keras-hub BLIP2 model's arguments make (formats/keras_hub/blip2.rs's
    twin_config): keras-hub's Q-Former `dropout` is both of the Q-Former's, the OPT's
    `dropout` both of OPT's."""
    c = model_json["config"]
    c = c["backbone"]["config"] if "backbone" in c else c
    v, q, lm = c["vision_encoder"]["config"], c["qformer"]["config"], c["language_model"]
    side = lambda x: x[0] if isinstance(x, list) else x  # noqa: E731
    vision = dict(image_size=side(v["image_size"]), patch_size=side(v["patch_size"]), hidden_size=v["hidden_dim"],
                  intermediate_size=v["intermediate_dim"], num_hidden_layers=v["num_layers"],
                  num_attention_heads=v["num_heads"], attention_dropout=v["dropout_rate"],
                  qkv_bias=v["use_mha_bias"], hidden_act="gelu")
    qformer = dict(hidden_size=q["hidden_dim"], intermediate_size=q["intermediate_dim"],
                   num_hidden_layers=q["num_layers"], num_attention_heads=q["num_heads"],
                   cross_attention_frequency=q["cross_attention_frequency"], hidden_dropout_prob=q["dropout"],
                   attention_probs_dropout_prob=q["dropout"], hidden_act="gelu")
    t = lm["config"]
    if lm["class_name"] == "BLIP2CustomOPT":
        text = dict(model_type="opt", vocab_size=t["vocabulary_size"], hidden_size=t["hidden_dim"],
                    num_hidden_layers=t["num_layers"], ffn_dim=t["intermediate_dim"], num_attention_heads=t["num_heads"],
                    max_position_embeddings=t["max_sequence_length"], word_embed_proj_dim=t["hidden_dim"],
                    dropout=t["dropout"], attention_dropout=t["dropout"], activation_function="relu")
    else:
        text = dict(model_type="t5", vocab_size=t["vocabulary_size"], d_model=t["hidden_dim"],
                    d_kv=t["key_value_dim"] or t["hidden_dim"] // t["num_heads"], d_ff=t["intermediate_dim"],
                    num_layers=t["num_layers"], num_decoder_layers=t["num_layers"], num_heads=t["num_heads"],
                    feed_forward_proj="gated-gelu", dropout_rate=t["dropout"], tie_word_embeddings=False,
                    decoder_start_token_id=0)
    return dict(model_type="blip-2", num_query_tokens=q["num_query_tokens"], vision_config=vision,
                qformer_config=qformer, text_config=text)


def keras_hub_twins():
    fixture = json.load(gzip.open(pathlib.Path(__file__).parent / "keras_hub_text3.json.gz"))
    rows = []
    for m in fixture["models"]:
        if m["name"] in KERAS_HUB_TWINS:
            config = keras_hub_twin(m["model_json"])
            kw = {k: v for k, v in config.items() if k != "model_type"}
            rows.append(dict(name=m["name"], fixture="keras_hub_text3", config=config,
                             params=count(build(AutoModelForImageTextToText, config_of(kw)))))
            print(m["name"], rows[-1]["params"], m["total_params"], file=sys.stderr)
    return rows


def config_of(kwargs):
    return AutoConfig.for_model("blip-2", **kwargs)


def buffers(model):
    return sum(b.numel() for b in model.buffers())


def flops(name, kwargs, attn):
    cfg = config_of(kwargs)
    cfg._attn_implementation = attn
    for sub in (cfg.vision_config, cfg.qformer_config, cfg.text_config):
        sub._attn_implementation = attn
    model = AutoModelForImageTextToText.from_config(cfg)
    model.train()
    v = cfg.vision_config
    pixels = torch.randn(BATCH, 3, v.image_size, v.image_size)
    ids = torch.randint(4, cfg.text_config.vocab_size, (BATCH, SEQ))
    ids[:, : cfg.num_query_tokens] = cfg.image_token_id
    fwd, fwd_bwd = forward_and_backward_flops(lambda: model(pixel_values=pixels, input_ids=ids, labels=ids).loss)
    return dict(name=name, config=dict(model_type="blip-2", **kwargs), head="causal_lm", attn=attn, batch=BATCH,
                seq=SEQ, params=count(model), flops_fwd=fwd, flops_fwd_bwd=fwd_bwd)


def main():
    warnings.filterwarnings("ignore")
    transformers.logging.set_verbosity_error()
    torch.manual_seed(0)
    rows = []
    for name, kwargs in CASES:
        cfg = config_of(kwargs)
        row = dict(name=name, model_type="blip-2", config=dict(model_type="blip-2", **kwargs))
        base = build(AutoModel, cfg)
        lm = build(AutoModelForImageTextToText, cfg)
        row.update(base_params=count(base), base_class=type(base).__name__, base_buffers=buffers(base),
                   causal_lm_params=count(lm), causal_lm_class=type(lm).__name__, causal_lm_buffers=buffers(lm))
        if sum(1 for _ in base.modules()) < 200:
            # the root's own parameter (`query_tokens`) beside the modules
            row["modules"] = {key: dict(module_counts(model), **{n: ["Parameter", p.numel()] for n, p in
                                                               model.named_parameters(recurse=False)})
                              for key, model in (("base", base), ("lm", lm))}
        rows.append(row)
        print(f"{name}: {row['base_params']:,} {row['causal_lm_params']:,} buffers {row['base_buffers']}",
              file=sys.stderr)
    measured = [flops(name, kw, attn) for name, kw, attn in FLOPS]
    for m in measured:
        print(m["name"], m["attn"], m["params"], m["flops_fwd"], m["flops_fwd_bwd"], file=sys.stderr)
    write_records(pathlib.Path(__file__).parent / "hf_blip2.json", rows=rows, flops=measured,
                  keras_hub_twins=keras_hub_twins())


if __name__ == "__main__":
    main()
