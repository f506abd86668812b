"""Generate tests/data/hf_types.json: the declarative decoder types of issue 10 (qwen3,
gemma3_text, olmo2, olmo3, smollm3, starcoder2, stablelm, phi, gptj, gpt_bigcode,
cohere, cohere2) measured with the real transformers.

- `rows`: parameter counts as make_hf_extra.py records them (meta device, AutoModel and
  AutoModelForCausalLM; `modules` {path: [class, params]} for small models): the default
  config, the sizes of real checkpoints and edge options of each type.
- `flops`: tiny configs' forward and forward+backward FLOPs under
  torch.utils.flop_counter on CPU, with the protocol of make_hf_flops.py (`train()`,
  fp32, `model(input_ids, labels=input_ids).loss` or the base model's
  `last_hidden_state.float().pow(2).mean()`); eager attention, whose CPU count is what
  CUDA's eager path does.
- `cache`: the bytes of the kv cache tensors (their storage, which a sliding layer's
  trimmed view keeps whole) that `generate` leaves after `new_tokens` greedy tokens on a
  `batch`×`prompt` prompt, per layer and in total, for tiny configs with full and sliding
  layers, and t5 (self-attention then cross-attention layers).

    /work/scratch/hf/bin/python tests/data/make_hf_types.py   # needs torch, transformers
"""
import pathlib
import sys
import warnings

try:
    import torch
    import transformers
    from transformers import AutoModel, AutoModelForCausalLM, AutoModelForSeq2SeqLM
except ImportError:
    print("torch and transformers are needed; nothing written")
    sys.exit(0)

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from hf_fixture import config_of, count, count_rows, forward_and_backward_flops, head_loss, write_records  # noqa: E402

TINY = dict(vocab_size=300, pad_token_id=0, hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=2)
GPT_TINY = dict(vocab_size=300, n_embd=64, n_layer=2, n_head=4, n_positions=48)
QUANT = {"quant_method": "bitsandbytes", "load_in_4bit": True, "bnb_4bit_quant_type": "nf4"}

CASES = [
    ("qwen3-default", "qwen3", {}),
    ("qwen3-8b", "qwen3", dict(vocab_size=151936, hidden_size=4096, intermediate_size=12288, num_hidden_layers=36,
                               num_attention_heads=32, num_key_value_heads=8, head_dim=128,
                               max_position_embeddings=40960, tie_word_embeddings=False)),
    ("qwen3-0.6b", "qwen3", dict(vocab_size=151936, hidden_size=1024, intermediate_size=3072, num_hidden_layers=28,
                                 num_attention_heads=16, num_key_value_heads=8, head_dim=128,
                                 tie_word_embeddings=True)),
    ("qwen3-tiny-bias", "qwen3", dict(TINY, attention_bias=True, head_dim=24)),
    ("qwen3-tiny-sliding", "qwen3", dict(TINY, num_hidden_layers=3, use_sliding_window=True, sliding_window=8,
                                         max_window_layers=1, tie_word_embeddings=True)),
    ("qwen3-tiny-quantized", "qwen3", dict(TINY, quantization_config=QUANT)),
    ("gemma3_text-default", "gemma3_text", {}),
    ("gemma-3-1b", "gemma3_text", dict(vocab_size=262144, hidden_size=1152, intermediate_size=6912,
                                       num_hidden_layers=26, num_attention_heads=4, num_key_value_heads=1,
                                       head_dim=256, sliding_window=512, query_pre_attn_scalar=256)),
    ("gemma-3-4b-text", "gemma3_text", dict(vocab_size=262208, hidden_size=2560, intermediate_size=10240,
                                            num_hidden_layers=34, num_attention_heads=8, num_key_value_heads=4,
                                            head_dim=256, sliding_window=1024)),
    ("gemma-3-27b-text", "gemma3_text", dict(vocab_size=262208, hidden_size=5376, intermediate_size=21504,
                                             num_hidden_layers=62, num_attention_heads=32, num_key_value_heads=16,
                                             head_dim=128, query_pre_attn_scalar=168, sliding_window=1024)),
    ("gemma3_text-tiny-untied-bias", "gemma3_text", dict(TINY, head_dim=16, attention_bias=True,
                                                         tie_word_embeddings=False, sliding_window=8,
                                                         sliding_window_pattern=2)),
    ("gemma3_text-tiny-layer-types", "gemma3_text", dict(TINY, num_hidden_layers=3, head_dim=32, sliding_window=4,
                                                         layer_types=["full_attention", "sliding_attention",
                                                                      "full_attention"])),
    ("olmo2-default", "olmo2", {}),
    ("olmo-2-7b", "olmo2", dict(vocab_size=100352, hidden_size=4096, intermediate_size=11008, num_hidden_layers=32,
                                num_attention_heads=32, max_position_embeddings=4096)),
    ("olmo-2-13b", "olmo2", dict(vocab_size=100352, hidden_size=5120, intermediate_size=13824, num_hidden_layers=40,
                                 num_attention_heads=40, max_position_embeddings=4096)),
    ("olmo2-tiny-gqa-bias", "olmo2", dict(TINY, attention_bias=True)),
    ("olmo2-tiny-head-dim", "olmo2", dict(TINY, head_dim=8, tie_word_embeddings=True)),
    ("olmo3-default", "olmo3", {}),
    ("olmo-3-7b", "olmo3", dict(vocab_size=100278, hidden_size=4096, intermediate_size=11008, num_hidden_layers=32,
                                num_attention_heads=32, max_position_embeddings=65536, sliding_window=4096)),
    ("olmo-3-32b", "olmo3", dict(vocab_size=100278, hidden_size=5120, intermediate_size=27648, num_hidden_layers=64,
                                 num_attention_heads=40, num_key_value_heads=8, sliding_window=4096)),
    ("olmo3-tiny", "olmo3", dict(TINY, num_hidden_layers=4, sliding_window=8)),
    ("olmo3-tiny-bias-tied", "olmo3", dict(TINY, attention_bias=True, tie_word_embeddings=True)),
    ("smollm3-default", "smollm3", {}),
    ("smollm3-3b", "smollm3", dict(vocab_size=128256, hidden_size=2048, intermediate_size=11008, num_hidden_layers=36,
                                   num_attention_heads=16, num_key_value_heads=4, max_position_embeddings=65536)),
    ("smollm3-tiny-bias", "smollm3", dict(TINY, attention_bias=True, mlp_bias=True, tie_word_embeddings=False)),
    ("smollm3-tiny-nope", "smollm3", dict(TINY, num_hidden_layers=4, no_rope_layers=[1, 0, 1, 0],
                                          use_sliding_window=True, sliding_window=8)),
    ("smollm3-tiny-head-dim", "smollm3", dict(TINY, head_dim=8)),
    ("starcoder2-default", "starcoder2", {}),
    ("starcoder2-3b", "starcoder2", dict(vocab_size=49152, hidden_size=3072, intermediate_size=12288,
                                         num_hidden_layers=30, num_attention_heads=24, num_key_value_heads=2,
                                         sliding_window=4096, max_position_embeddings=16384)),
    ("starcoder2-7b", "starcoder2", dict(vocab_size=49152, hidden_size=4608, intermediate_size=18432,
                                         num_hidden_layers=32, num_attention_heads=36, num_key_value_heads=4,
                                         sliding_window=4096)),
    ("starcoder2-15b", "starcoder2", dict(vocab_size=49152, hidden_size=6144, intermediate_size=24576,
                                          num_hidden_layers=40, num_attention_heads=48, num_key_value_heads=4,
                                          tie_word_embeddings=False)),
    ("starcoder2-tiny-nobias", "starcoder2", dict(TINY, use_bias=False, sliding_window=8)),
    ("stablelm-default", "stablelm", {}),
    ("stablelm-2-1.6b", "stablelm", dict(vocab_size=100352, hidden_size=2048, intermediate_size=5632,
                                         num_hidden_layers=24, num_attention_heads=32, num_key_value_heads=32,
                                         use_qkv_bias=True)),
    ("stablelm-2-12b", "stablelm", dict(vocab_size=100352, hidden_size=5120, intermediate_size=13824,
                                        num_hidden_layers=40, num_attention_heads=32, num_key_value_heads=8,
                                        use_parallel_residual=True, qk_layernorm=True)),
    ("stablelm-tiny-parallel-qk", "stablelm", dict(TINY, use_parallel_residual=True, qk_layernorm=True,
                                                   use_qkv_bias=True, partial_rotary_factor=0.5)),
    ("stablelm-tiny-tied", "stablelm", dict(TINY, tie_word_embeddings=True, qk_layernorm=True)),
    ("phi-default", "phi", {}),
    ("phi-1.5", "phi", dict(vocab_size=51200, hidden_size=2048, intermediate_size=8192, num_hidden_layers=24,
                            num_attention_heads=32)),
    ("phi-2", "phi", dict(vocab_size=51200, hidden_size=2560, intermediate_size=10240, num_hidden_layers=32,
                          num_attention_heads=32)),
    ("phi-tiny-qk-gqa", "phi", dict(TINY, qk_layernorm=True)),
    ("phi-tiny-tied", "phi", dict(TINY, tie_word_embeddings=True, partial_rotary_factor=1.0)),
    ("gptj-default", "gptj", {}),
    ("gptj-tiny", "gptj", dict(GPT_TINY, rotary_dim=8)),
    ("gptj-tiny-inner-tied", "gptj", dict(GPT_TINY, n_inner=100, tie_word_embeddings=True, rotary_dim=16)),
    ("gptj-tiny-aliases", "gptj", dict(vocab_size=300, hidden_size=64, num_hidden_layers=2, num_attention_heads=8,
                                       max_position_embeddings=32)),
    ("gpt-j-6b", "gptj", dict(vocab_size=50400, n_embd=4096, n_layer=28, n_head=16, rotary_dim=64,
                              n_positions=2048)),
    ("gpt_bigcode-default", "gpt_bigcode", {}),
    ("santacoder", "gpt_bigcode", dict(vocab_size=49280, n_embd=2048, n_layer=24, n_head=16, n_positions=2048)),
    ("starcoderbase", "gpt_bigcode", dict(vocab_size=49152, n_embd=6144, n_layer=40, n_head=48, n_positions=8192)),
    ("gpt_bigcode-tiny-mha", "gpt_bigcode", dict(GPT_TINY, multi_query=False, n_inner=100,
                                                 tie_word_embeddings=False)),
    ("gpt_bigcode-tiny-mqa", "gpt_bigcode", dict(GPT_TINY)),
    ("cohere-default", "cohere", {}),
    ("command-r-plus", "cohere", dict(vocab_size=256000, hidden_size=12288, intermediate_size=33792,
                                      num_hidden_layers=64, num_attention_heads=96, num_key_value_heads=8,
                                      use_qk_norm=True, logit_scale=0.8333)),
    ("cohere-tiny-qk-bias", "cohere", dict(TINY, use_qk_norm=True, attention_bias=True)),
    ("cohere-tiny-untied-head-dim", "cohere", dict(TINY, head_dim=8, tie_word_embeddings=False)),
    ("aya-23-8b", "cohere", dict(vocab_size=256000, hidden_size=4096, intermediate_size=14336, num_hidden_layers=32,
                                 num_attention_heads=32, num_key_value_heads=8)),
    ("cohere2-default", "cohere2", {}),
    ("command-r7b", "cohere2", dict(vocab_size=256000, hidden_size=4096, intermediate_size=14336,
                                    num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=8,
                                    sliding_window=4096)),
    ("cohere2-tiny", "cohere2", dict(TINY, num_hidden_layers=4, sliding_window=8)),
    ("cohere2-tiny-pattern-bias", "cohere2", dict(TINY, num_hidden_layers=3, sliding_window_pattern=2,
                                                  attention_bias=True, tie_word_embeddings=False)),
    ("cohere2-tiny-head-dim", "cohere2", dict(TINY, head_dim=8)),
]

# (name, config, head): tiny configs for FLOPs.
FLOPS = [
    ("qwen3-flops", dict(model_type="qwen3", **TINY, head_dim=24), "causal_lm"),
    ("gemma3_text-flops", dict(model_type="gemma3_text", **TINY, head_dim=16, sliding_window=8,
                               sliding_window_pattern=2), "causal_lm"),
    ("olmo2-flops", dict(model_type="olmo2", **TINY), "causal_lm"),
    ("olmo3-flops-base", dict(model_type="olmo3", **TINY, sliding_window=8), "base"),
    ("smollm3-flops", dict(TINY, model_type="smollm3", num_hidden_layers=4), "causal_lm"),
    ("starcoder2-flops", dict(model_type="starcoder2", **TINY, sliding_window=8), "causal_lm"),
    ("stablelm-flops-parallel", dict(model_type="stablelm", **TINY, use_parallel_residual=True, qk_layernorm=True),
     "causal_lm"),
    ("stablelm-flops", dict(model_type="stablelm", **TINY), "base"),
    ("phi-flops", dict(model_type="phi", **TINY, qk_layernorm=True), "causal_lm"),
    ("gptj-flops", dict(model_type="gptj", **GPT_TINY, rotary_dim=8), "causal_lm"),
    ("gpt_bigcode-flops", dict(model_type="gpt_bigcode", **GPT_TINY, embd_pdrop=0.0, attn_pdrop=0.0,
                               resid_pdrop=0.0), "causal_lm"),
    ("cohere-flops", dict(model_type="cohere", **TINY, use_qk_norm=True), "causal_lm"),
    ("cohere2-flops", dict(model_type="cohere2", **TINY, sliding_window=8), "causal_lm"),
]
BATCH, SEQ = 2, 16

# (name, config): tiny configs for the generate cache.
CACHE = [
    ("qwen3-cache-full", dict(model_type="qwen3", **TINY)),
    ("gemma3_text-cache-sliding", dict(TINY, model_type="gemma3_text", num_hidden_layers=3, head_dim=16,
                                       sliding_window=4, sliding_window_pattern=3)),
    ("cohere2-cache-sliding", dict(TINY, model_type="cohere2", num_hidden_layers=4, sliding_window=6)),
    ("starcoder2-cache-all-sliding", dict(model_type="starcoder2", **TINY, sliding_window=5)),
    # encoder-decoder: the encoder runs once; the decoder's self-attention cache grows from
    # its start token, its cross-attention cache holds the encoder's k and v
    ("t5-cache", dict(model_type="t5", vocab_size=300, d_model=64, d_kv=16, d_ff=96, num_layers=2, num_heads=4,
                      decoder_start_token_id=0, pad_token_id=0)),
]
CACHE_BATCH, PROMPT, NEW_TOKENS = 2, 7, 5


def flop_rows():
    torch.manual_seed(0)
    rows = []
    for name, config, head in FLOPS:
        cfg = config_of(config)
        cfg._attn_implementation = "eager"
        model = (AutoModel if head == "base" else AutoModelForCausalLM).from_config(cfg)
        model.train()
        ids = torch.randint(0, cfg.vocab_size, (BATCH, SEQ))
        counts = forward_and_backward_flops(lambda: head_loss(model, head, ids))
        rows.append(dict(name=name, config=config, head=head, attn="eager", batch=BATCH, seq=SEQ,
                         params=count(model), flops_fwd=counts[0], flops_fwd_bwd=counts[1]))
        print(name, rows[-1]["params"], counts, flush=True)
    return rows


def cache_rows():
    torch.manual_seed(0)
    rows = []
    for name, config in CACHE:
        cfg = config_of(config)
        auto = AutoModelForSeq2SeqLM if cfg.is_encoder_decoder else AutoModelForCausalLM
        model = auto.from_config(cfg).eval()
        ids = torch.randint(3, cfg.vocab_size, (CACHE_BATCH, PROMPT))
        with torch.no_grad():
            out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=NEW_TOKENS,
                                 min_new_tokens=NEW_TOKENS, do_sample=False, return_dict_in_generate=True)
        cache = out.past_key_values
        caches = [cache.self_attention_cache, cache.cross_attention_cache] if cfg.is_encoder_decoder else [cache]
        layers = []
        for layer in (layer for c in caches for layer in c.layers):
            k, v = layer.keys, layer.values
            layers.append(dict(kind=type(layer).__name__, positions=k.shape[-2],
                               storage_bytes=k.untyped_storage().nbytes() + v.untyped_storage().nbytes()))
        rows.append(dict(name=name, config=config, batch=CACHE_BATCH, prompt=PROMPT, new_tokens=NEW_TOKENS,
                         layers=layers, cache_bytes=sum(l["storage_bytes"] for l in layers)))
        print(name, rows[-1]["cache_bytes"], [(l["kind"], l["positions"]) for l in layers], flush=True)
    return rows


def main():
    warnings.filterwarnings("ignore")
    transformers.logging.set_verbosity_error()
    write_records(pathlib.Path(__file__).with_name("hf_types.json"), rows=count_rows(CASES, AutoModelForCausalLM),
                  flops=flop_rows(), cache=cache_rows())


if __name__ == "__main__":
    main()
