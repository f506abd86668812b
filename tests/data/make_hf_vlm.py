"""Generate tests/data/hf_vlm.json: the multimodal wrappers of issue 10 (gemma3, llava,
mistral3, qwen2_5_vl, and llama4's wrapper) measured with the real transformers.

- `rows`: parameter counts on the meta device of `AutoModel` (`<Type>Model`) and
  `AutoModelForImageTextToText` (`<Type>ForConditionalGeneration`), the element count of
  the latter's buffers (all, and those outside its text model), and for small models `modules` {path: [class, params]}: the
  default config, the sizes of real checkpoints and edge options of each type.
- `flops`: tiny configs' forward and forward+backward FLOPs of a text-only prompt under
  torch.utils.flop_counter on CPU, with make_hf_flops.py's protocol (`train()`, fp32,
  eager attention, `model(input_ids, labels=input_ids).loss`, or the base model's
  `last_hidden_state.float().pow(2).mean()`).

    /work/scratch/hf/bin/python tests/data/make_hf_vlm.py   # needs torch, transformers
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
from hf_fixture import build, config_of, count, forward_and_backward_flops, head_loss, module_counts, write_records  # noqa: E402

TEXT = dict(vocab_size=300, hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=2)
CLIP = dict(model_type="clip_vision_model", hidden_size=32, intermediate_size=48, num_hidden_layers=2,
            num_attention_heads=4, image_size=32, patch_size=8)
SIGLIP = dict(CLIP, model_type="siglip_vision_model")
PIXTRAL = dict(CLIP, model_type="pixtral")
QWEN_VISION = dict(depth=2, hidden_size=32, intermediate_size=48, num_heads=4, out_hidden_size=64, patch_size=8,
                   fullatt_block_indexes=[1], window_size=16)
SIGLIP_896 = dict(model_type="siglip_vision_model", hidden_size=1152, image_size=896, intermediate_size=4304,
                  num_attention_heads=16, num_hidden_layers=27, patch_size=14, vision_use_head=False)
CLIP_336 = dict(model_type="clip_vision_model", hidden_size=1024, image_size=336, intermediate_size=4096,
                num_attention_heads=16, num_hidden_layers=24, patch_size=14, projection_dim=768, vocab_size=32000)
PIXTRAL_1540 = dict(model_type="pixtral", hidden_size=1024, image_size=1540, intermediate_size=4096,
                    num_attention_heads=16, num_hidden_layers=24, patch_size=14, head_dim=64)
MISTRAL_24B = dict(model_type="mistral", vocab_size=131072, hidden_size=5120, intermediate_size=32768,
                   num_hidden_layers=40, num_attention_heads=32, num_key_value_heads=8, head_dim=128,
                   max_position_embeddings=131072, sliding_window=None)

CASES = [
    ("gemma3-default", "gemma3", {}),
    ("gemma-3-4b-it", "gemma3", dict(
        text_config=dict(hidden_size=2560, intermediate_size=10240, num_hidden_layers=34, num_attention_heads=8,
                         num_key_value_heads=4, head_dim=256, sliding_window=1024, query_pre_attn_scalar=256),
        vision_config=SIGLIP_896, mm_tokens_per_image=256)),
    ("gemma-3-12b-it", "gemma3", dict(
        text_config=dict(hidden_size=3840, intermediate_size=15360, num_hidden_layers=48, num_attention_heads=16,
                         num_key_value_heads=8, head_dim=256, sliding_window=1024, query_pre_attn_scalar=256),
        vision_config=SIGLIP_896)),
    ("gemma-3-27b-it", "gemma3", dict(
        text_config=dict(hidden_size=5376, intermediate_size=21504, num_hidden_layers=62, num_attention_heads=32,
                         num_key_value_heads=16, head_dim=128, sliding_window=1024, query_pre_attn_scalar=168),
        vision_config=SIGLIP_896)),
    ("gemma3-tiny-untied-head", "gemma3", dict(
        text_config=dict(TEXT, head_dim=16, sliding_window=8), vision_config=SIGLIP, tie_word_embeddings=False,
        mm_tokens_per_image=4)),
    ("gemma3-tiny-text-tie-ignored", "gemma3", dict(
        text_config=dict(TEXT, tie_word_embeddings=False), vision_config=dict(SIGLIP, vision_use_head=False),
        mm_tokens_per_image=4)),
    ("llava-default", "llava", {}),
    ("llava-1.5-7b", "llava", dict(
        text_config=dict(model_type="llama", vocab_size=32064, hidden_size=4096, intermediate_size=11008,
                         num_hidden_layers=32, num_attention_heads=32, max_position_embeddings=4096),
        vision_config=CLIP_336, image_token_index=32000, vision_feature_layer=-2)),
    ("llava-1.5-13b", "llava", dict(
        text_config=dict(model_type="llama", vocab_size=32064, hidden_size=5120, intermediate_size=13824,
                         num_hidden_layers=40, num_attention_heads=40, max_position_embeddings=4096),
        vision_config=CLIP_336)),
    # llava-v1.6-mistral-7b's text model and CLIP tower under the llava wrapper
    ("llava-mistral-7b", "llava", dict(
        text_config=dict(model_type="mistral", vocab_size=32064, hidden_size=4096, intermediate_size=14336,
                         num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=8,
                         max_position_embeddings=32768, sliding_window=None),
        vision_config=CLIP_336, image_token_index=32000)),
    ("llava-tiny-qwen2-feature-layers", "llava", dict(
        text_config=dict(TEXT, model_type="qwen2"), vision_config=CLIP, vision_feature_layer=[-2, -1])),
    ("llava-tiny-gemma-siglip-text-tie", "llava", dict(
        text_config=dict(TEXT, model_type="gemma", head_dim=16), vision_config=SIGLIP,
        multimodal_projector_bias=False)),
    ("llava-tiny-pixtral-qwen3", "llava", dict(
        text_config=dict(TEXT, model_type="qwen3", head_dim=16), vision_config=PIXTRAL, tie_word_embeddings=True)),
    ("llava-tiny-mixtral", "llava", dict(
        text_config=dict(TEXT, model_type="mixtral", num_local_experts=4, num_experts_per_tok=2),
        vision_config=CLIP)),
    ("mistral3-default", "mistral3", {}),
    ("mistral-small-3.1-24b", "mistral3", dict(
        text_config=MISTRAL_24B, vision_config=PIXTRAL_1540, spatial_merge_size=2, multimodal_projector_bias=False,
        image_token_index=10, vision_feature_layer=-1)),
    ("mistral-small-3.1-24b-untied", "mistral3", dict(
        text_config=MISTRAL_24B, vision_config=PIXTRAL_1540, tie_word_embeddings=False)),
    ("mistral3-tiny-untied-bias", "mistral3", dict(
        text_config=dict(TEXT, model_type="mistral"), vision_config=PIXTRAL, tie_word_embeddings=False,
        multimodal_projector_bias=True)),
    ("mistral3-tiny-merge-layers", "mistral3", dict(
        text_config=dict(TEXT, model_type="mistral"), vision_config=PIXTRAL, spatial_merge_size=4,
        vision_feature_layer=[-1, -2])),
    ("mistral3-tiny-llama", "mistral3", dict(
        text_config=dict(TEXT, model_type="llama"), vision_config=PIXTRAL)),
    ("qwen2_5_vl-default", "qwen2_5_vl", {}),
    ("qwen2.5-vl-3b", "qwen2_5_vl", dict(
        vocab_size=151936, hidden_size=2048, intermediate_size=11008, num_hidden_layers=36, num_attention_heads=16,
        num_key_value_heads=2, max_position_embeddings=128000, max_window_layers=70, tie_word_embeddings=True,
        vision_config=dict(depth=32, hidden_size=1280, intermediate_size=3420, num_heads=16, out_hidden_size=2048,
                           patch_size=14, spatial_merge_size=2, temporal_patch_size=2, window_size=112,
                           fullatt_block_indexes=[7, 15, 23, 31]))),
    ("qwen2.5-vl-7b", "qwen2_5_vl", dict(
        vocab_size=152064, hidden_size=3584, intermediate_size=18944, num_hidden_layers=28, num_attention_heads=28,
        num_key_value_heads=4, max_position_embeddings=128000, max_window_layers=28, tie_word_embeddings=False,
        vision_config=dict(depth=32, hidden_size=1280, intermediate_size=3420, num_heads=16, out_hidden_size=3584,
                           patch_size=14, spatial_merge_size=2, temporal_patch_size=2, window_size=112,
                           fullatt_block_indexes=[7, 15, 23, 31]))),
    ("qwen2_5_vl-tiny-nested", "qwen2_5_vl", dict(text_config=TEXT, vision_config=QWEN_VISION)),
    ("qwen2_5_vl-tiny-flat-tied", "qwen2_5_vl", dict(TEXT, vision_config=dict(QWEN_VISION, spatial_merge_size=1,
                                                                                 temporal_patch_size=1),
                                                     tie_word_embeddings=True)),
    ("llama-4-scout-17b-16e", "llama4", {}),
    ("llama4-tiny", "llama4", dict(
        text_config=dict(TEXT, intermediate_size_mlp=128, num_local_experts=4, head_dim=16,
                         interleave_moe_layer_step=2),
        vision_config=dict(hidden_size=32, intermediate_size=48, num_hidden_layers=2, num_attention_heads=4,
                           image_size=32, patch_size=8, vision_output_dim=64, projector_input_dim=48,
                           projector_output_dim=48, pixel_shuffle_ratio=0.5))),
]

# (name, config, head): tiny configs for FLOPs on a text-only prompt.
FLOPS = [
    ("gemma3-flops", dict(model_type="gemma3", text_config=dict(TEXT, head_dim=16, sliding_window=8,
                                                                 sliding_window_pattern=2),
                          vision_config=SIGLIP, mm_tokens_per_image=4), "causal_lm"),
    ("llava-flops", dict(model_type="llava", text_config=dict(TEXT, model_type="llama"), vision_config=CLIP),
     "causal_lm"),
    ("llava-flops-base", dict(model_type="llava", text_config=dict(TEXT, model_type="qwen2"), vision_config=CLIP),
     "base"),
    ("mistral3-flops", dict(model_type="mistral3", text_config=dict(TEXT, model_type="mistral"),
                            vision_config=PIXTRAL), "causal_lm"),
    # mRoPE splits the 8 rotary frequencies of a 16-wide head into time, height and width
    ("qwen2_5_vl-flops", dict(model_type="qwen2_5_vl", text_config=dict(TEXT, rope_parameters=dict(
        rope_type="default", rope_theta=1e6, mrope_section=[2, 3, 3])), vision_config=QWEN_VISION),
     "causal_lm"),
]
BATCH, SEQ = 2, 16


def buffer_elements(model, vision_only=False):
    return sum(b.numel() for name, b in model.named_buffers()
               if not (vision_only and "language_model." in name))


def count_rows():
    rows = []
    for name, model_type, kwargs in CASES:
        cfg = AutoConfig.for_model(model_type, **kwargs)
        row = dict(name=name, model_type=model_type, config=dict(model_type=model_type, **kwargs))
        base = build(AutoModel, cfg)
        row.update(base_params=count(base), base_class=type(base).__name__)
        small = sum(p.numel() for p in base.parameters()) < 10_000_000
        lm = build(AutoModelForImageTextToText, cfg)
        row.update(causal_lm_params=count(lm), causal_lm_class=type(lm).__name__, buffers=buffer_elements(lm),
                   vision_buffers=buffer_elements(lm, vision_only=True))
        if small:
            row["modules"] = {"base": module_counts(base), "lm": module_counts(lm)}
        rows.append(row)
        print(name, row["base_params"], row["causal_lm_params"], row["buffers"], flush=True)
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
    write_records(pathlib.Path(__file__).with_name("hf_vlm.json"), rows=count_rows(), flops=flop_rows())


if __name__ == "__main__":
    main()
