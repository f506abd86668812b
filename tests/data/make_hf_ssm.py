"""Generate tests/data/hf_ssm.json: the state-space and hybrid types of issue 10
(mamba, mamba2, jamba, falcon_h1) measured with the real transformers.

- `rows`: parameter counts as make_hf_types.py records them (meta device, AutoModel and
  AutoModelForCausalLM; `modules` {path: [class, params]} for small models): the default
  config, the sizes of real checkpoints and edge options of each type.
- `flops`: tiny configs' forward and forward+backward FLOPs under
  torch.utils.flop_counter on CPU, with the protocol of make_hf_flops.py (`train()`,
  fp32, `model(input_ids, labels=input_ids).loss` or the base model's
  `last_hidden_state.float().pow(2).mean()`), eager attention. Without the optional CUDA kernels
  (mamba-ssm, causal-conv1d) transformers runs the mixers' PyTorch path on every device,
  which is what is measured here. jamba's experts run `experts_implementation="eager"`
  (one `linear` per expert, which the counter sees; its default `grouped_mm` it does not).
- `cache`: the bytes of the cache tensors (each layer's conv and recurrent states, their
  storage, and the k and v of attention layers) that `generate` leaves after `new_tokens` greedy tokens on a
  `batch`×`prompt` prompt, per layer and in total.

    /work/scratch/hf/bin/python tests/data/make_hf_ssm.py   # needs torch, transformers
"""
import pathlib
import sys
import warnings

try:
    import torch
    import transformers
    from transformers import AutoModel, AutoModelForCausalLM
except ImportError:
    print("torch and transformers are needed; nothing written")
    sys.exit(0)

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from hf_fixture import config_of, count, count_rows, forward_and_backward_flops, head_loss, write_records  # noqa: E402

MAMBA_TINY = dict(vocab_size=300, pad_token_id=0, hidden_size=64, num_hidden_layers=2, state_size=8)
MAMBA2_TINY = dict(vocab_size=300, pad_token_id=0, hidden_size=64, num_hidden_layers=2, num_heads=8, head_dim=16,
                   state_size=16, n_groups=2, chunk_size=8)
JAMBA_TINY = dict(vocab_size=300, pad_token_id=0, hidden_size=64, intermediate_size=96, num_hidden_layers=4,
                  num_attention_heads=4, num_key_value_heads=2, attn_layer_period=2, attn_layer_offset=1,
                  expert_layer_period=2, expert_layer_offset=1, num_experts=4, num_experts_per_tok=2,
                  mamba_d_state=8)
# ai21labs/Jamba-v0.1 and AI21-Jamba-Mini-1.6 share this shape (52B total, 12B active)
JAMBA_MINI = dict(vocab_size=65536, hidden_size=4096, intermediate_size=14336, num_hidden_layers=32,
                  num_attention_heads=32, num_key_value_heads=8, num_experts=16, num_experts_per_tok=2,
                  attn_layer_period=8, attn_layer_offset=4, expert_layer_period=2, expert_layer_offset=1,
                  mamba_d_state=16, mamba_d_conv=4, mamba_expand=2, mamba_dt_rank=256)
FALCON_H1_TINY = dict(vocab_size=300, pad_token_id=0, hidden_size=64, intermediate_size=96, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, mamba_d_ssm=64, mamba_n_heads=8,
                      mamba_d_state=16, mamba_n_groups=1, mamba_chunk_size=8)
MULTIPLIERS = dict(embedding_multiplier=5.6, lm_head_multiplier=0.03, attention_in_multiplier=0.5,
                   attention_out_multiplier=0.9, ssm_in_multiplier=1.2, ssm_out_multiplier=0.2,
                   key_multiplier=0.4, mlp_multipliers=[0.8, 0.6], ssm_multipliers=[0.3, 0.4, 0.5, 0.6, 0.7])

CASES = [
    ("mamba-default", "mamba", {}),
    # state-spaces/mamba-130m-hf, -1.4b-hf, -2.8b-hf
    ("mamba-130m", "mamba", dict(vocab_size=50280, hidden_size=768, num_hidden_layers=24, state_size=16)),
    ("mamba-1.4b", "mamba", dict(vocab_size=50280, hidden_size=2048, num_hidden_layers=48, state_size=16)),
    ("mamba-2.8b", "mamba", dict(vocab_size=50280, hidden_size=2560, num_hidden_layers=64, state_size=16)),
    ("mamba-tiny-bias-untied", "mamba", dict(MAMBA_TINY, use_bias=True, use_conv_bias=False, time_step_rank=7,
                                             expand=3, conv_kernel=3, tie_word_embeddings=False)),
    ("mamba-tiny-quantized", "mamba", dict(MAMBA_TINY, quantization_config={
        "quant_method": "bitsandbytes", "load_in_4bit": True, "bnb_4bit_quant_type": "nf4"})),
    ("mamba2-default", "mamba2", {}),
    # state-spaces/mamba2-2.7b (tied) and mistralai/Mamba-Codestral-7B-v0.1
    ("mamba2-2.7b", "mamba2", dict(vocab_size=50288, hidden_size=2560, num_hidden_layers=64, num_heads=80,
                                   head_dim=64, n_groups=1, state_size=128, tie_word_embeddings=True)),
    ("mamba-codestral-7b", "mamba2", dict(vocab_size=32768, hidden_size=4096, num_hidden_layers=64, num_heads=128,
                                          head_dim=64, n_groups=8, state_size=128, tie_word_embeddings=False)),
    ("mamba2-tiny-bias", "mamba2", dict(MAMBA2_TINY, use_bias=True, use_conv_bias=False, conv_kernel=3)),
    ("mamba2-tiny-tied-expand", "mamba2", dict(MAMBA2_TINY, expand=3, num_heads=12, tie_word_embeddings=True,
                                               time_step_rank=5)),
    ("jamba-default", "jamba", {}),
    ("jamba-v0.1", "jamba", JAMBA_MINI),
    ("jamba-mini-1.6", "jamba", dict(JAMBA_MINI, max_position_embeddings=262144, tie_word_embeddings=False)),
    # AI21-Jamba-Large-1.6 (398B total, 94B active)
    ("jamba-large-1.6", "jamba", dict(JAMBA_MINI, hidden_size=8192, intermediate_size=24576, num_hidden_layers=72,
                                      num_attention_heads=64, mamba_dt_rank=512)),
    ("jamba-tiny-bias-tied", "jamba", dict(JAMBA_TINY, mamba_proj_bias=True, mamba_conv_bias=False, mamba_dt_rank=5,
                                           tie_word_embeddings=True)),
    ("jamba-tiny-dense", "jamba", dict(JAMBA_TINY, num_experts=1, attn_layer_period=3, attn_layer_offset=0)),
    ("jamba-tiny-offsets", "jamba", dict(JAMBA_TINY, num_hidden_layers=6, attn_layer_period=3, attn_layer_offset=2,
                                         expert_layer_period=3, expert_layer_offset=0, mamba_expand=3)),
    ("falcon_h1-default", "falcon_h1", {}),
    # tiiuae/Falcon-H1-0.5B-Base and Falcon-H1-7B-Base
    ("falcon-h1-0.5b", "falcon_h1", dict(vocab_size=32784, hidden_size=1024, intermediate_size=2048,
                                         num_hidden_layers=36, num_attention_heads=8, num_key_value_heads=2,
                                         head_dim=64, mamba_d_ssm=1536, mamba_n_heads=24, mamba_d_head=64,
                                         mamba_d_state=128, mamba_n_groups=1, mamba_chunk_size=128)),
    ("falcon-h1-7b", "falcon_h1", dict(vocab_size=130048, hidden_size=3072, intermediate_size=12288,
                                       num_hidden_layers=44, num_attention_heads=12, num_key_value_heads=2,
                                       head_dim=128, mamba_d_ssm=6144, mamba_n_heads=24, mamba_d_head=256,
                                       mamba_d_state=256, mamba_n_groups=1, **MULTIPLIERS)),
    ("falcon_h1-tiny-norm-biases", "falcon_h1", dict(FALCON_H1_TINY, mamba_rms_norm=True, mamba_norm_before_gate=False,
                                                     mamba_n_groups=2, projectors_bias=True, mamba_proj_bias=True,
                                                     attention_bias=True, mlp_bias=True, mamba_conv_bias=False)),
    ("falcon_h1-tiny-expand-tied", "falcon_h1", dict(FALCON_H1_TINY, mamba_d_ssm=None, mamba_expand=3, mamba_n_heads=12,
                                                     tie_word_embeddings=True, head_dim=24, **MULTIPLIERS)),
]

# (name, config, head): tiny configs for the FLOP counter (seq 16, two chunks of 8 for mamba2)
FLOPS = [
    ("mamba-flops", dict(MAMBA_TINY, model_type="mamba"), "causal_lm"),
    ("mamba-flops-bias-base", dict(MAMBA_TINY, model_type="mamba", use_bias=True, time_step_rank=5,
                                   conv_kernel=3), "base"),
    ("mamba2-flops", dict(MAMBA2_TINY, model_type="mamba2"), "causal_lm"),
    ("mamba2-flops-one-chunk-base", dict(MAMBA2_TINY, model_type="mamba2", chunk_size=32, n_groups=1,
                                         use_bias=True), "base"),
    ("mamba2-flops-padded", dict(MAMBA2_TINY, model_type="mamba2", chunk_size=6), "causal_lm"),
    ("jamba-flops", dict(JAMBA_TINY, model_type="jamba"), "causal_lm"),
    ("jamba-flops-dense-base", dict(JAMBA_TINY, model_type="jamba", num_experts=1, mamba_proj_bias=True),
     "base"),
    ("falcon_h1-flops", dict(FALCON_H1_TINY, model_type="falcon_h1", **MULTIPLIERS), "causal_lm"),
    ("falcon_h1-flops-norm-base", dict(FALCON_H1_TINY, model_type="falcon_h1", mamba_rms_norm=True,
                                       mamba_n_groups=2, projectors_bias=True), "base"),
]
BATCH, SEQ = 2, 16

# (name, config): tiny configs for the generate cache
CACHE = [
    ("mamba-cache", dict(MAMBA_TINY, model_type="mamba")),
    ("mamba-cache-kernel-3", dict(MAMBA_TINY, model_type="mamba", conv_kernel=3, expand=3)),
    ("mamba2-cache", dict(MAMBA2_TINY, model_type="mamba2")),
    ("mamba2-cache-groups", dict(MAMBA2_TINY, model_type="mamba2", n_groups=4, conv_kernel=5)),
    ("jamba-cache", dict(JAMBA_TINY, model_type="jamba")),
    ("falcon_h1-cache", dict(FALCON_H1_TINY, model_type="falcon_h1")),
]
CACHE_BATCH, PROMPT, NEW_TOKENS = 2, 7, 5


def flop_rows():
    torch.manual_seed(0)
    rows = []
    for name, config, head in FLOPS:
        cfg = config_of(config)
        # eager attention (jamba's layers): with grouped kv heads the CPU's SDPA kernel
        # counts one product more in backward than CUDA runs
        cfg._attn_implementation = "eager"
        if cfg.model_type == "jamba":
            cfg._experts_implementation = "eager"
        model = (AutoModel if head == "base" else AutoModelForCausalLM).from_config(cfg)
        model.train()
        ids = torch.randint(0, cfg.vocab_size, (BATCH, SEQ))
        counts = forward_and_backward_flops(lambda: head_loss(model, head, ids))
        rows.append(dict(name=name, config=config, head=head, attn="eager", batch=BATCH, seq=SEQ,
                         params=count(model), flops_fwd=counts[0], flops_fwd_bwd=counts[1]))
        print(name, rows[-1]["params"], counts, flush=True)
    return rows


def storage(t):
    return 0 if t is None else t.untyped_storage().nbytes()


def cache_rows():
    torch.manual_seed(0)
    rows = []
    for name, config in CACHE:
        cfg = config_of(config)
        model = AutoModelForCausalLM.from_config(cfg).eval()
        ids = torch.randint(3, cfg.vocab_size, (CACHE_BATCH, PROMPT))
        with torch.no_grad():
            out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=NEW_TOKENS,
                                 min_new_tokens=NEW_TOKENS, do_sample=False, return_dict_in_generate=True)
        layers = []
        for layer in out.past_key_values.layers:
            conv = sum(storage(t) for t in getattr(layer, "conv_states", {}).values())
            rec = sum(storage(t) for t in getattr(layer, "recurrent_states", {}).values())
            kv = storage(getattr(layer, "keys", None)) + storage(getattr(layer, "values", None))
            layers.append(dict(kind=type(layer).__name__, conv_bytes=conv, recurrent_bytes=rec, kv_bytes=kv,
                               storage_bytes=conv + rec + kv))
        rows.append(dict(name=name, config=config, batch=CACHE_BATCH, prompt=PROMPT, new_tokens=NEW_TOKENS,
                         layers=layers, cache_bytes=sum(l["storage_bytes"] for l in layers)))
        print(name, rows[-1]["cache_bytes"], layers[0], flush=True)
    return rows


def main():
    warnings.filterwarnings("ignore")
    transformers.logging.set_verbosity_error()
    write_records(pathlib.Path(__file__).with_name("hf_ssm.json"), rows=count_rows(CASES, AutoModelForCausalLM),
                  flops=flop_rows(), cache=cache_rows())


if __name__ == "__main__":
    main()
