"""Generate tests/data/hf_gemma3n.json: transformers' gemma3n_text measured with the real
transformers (5.24).
- `rows`: totals and classes of AutoModel (`Gemma3nTextModel`) and AutoModelForCausalLM
  (`Gemma3nForCausalLM`) on the meta device and, for small models, `modules` {path: [class,
  params]};
- `flops`: tiny configs' parameters, buffer elements and forward and forward+backward FLOPs
  under torch.utils.flop_counter on CPU (`train()`, fp32, eager attention: with grouped kv
  heads the CPU's SDPA kernel counts one product more in backward than CUDA runs; the
  LM's own loss, or `last_hidden_state.float().pow(2).mean()` for the bare model);
- `cache`: the bytes of the `DynamicCache` after `generate` (greedy, PROMPT + NEW_TOKENS
  tokens): the KV-shared layers store none;
- `keras_hub_twins`: the config archbudget makes of each keras-hub Gemma3nBackbone of
  tests/data/keras_hub_text2.json.gz (formats/keras_hub/gemma3n.rs), with the count of its
  `Gemma3nTextModel` (keys keras-hub leaves None dropped: transformers' strict config
  refuses None for `final_logit_softcapping` and `altup_coef_clip`, which hold no weight).

    /work/scratch/hf/bin/python tests/data/make_hf_gemma3n.py   # needs torch, transformers
"""
import gzip
import json
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
from hf_fixture import build, config_of, count, count_rows, forward_and_backward_flops, head_loss, write_records  # noqa: E402

T = "gemma3n_text"
SMALL = dict(vocab_size=128, hidden_size=32, num_hidden_layers=6, num_attention_heads=4,
             num_key_value_heads=2, head_dim=8, intermediate_size=[48, 64, 48, 80, 48, 64],
             vocab_size_per_layer_input=64, hidden_size_per_layer_input=8, altup_num_inputs=4, laurel_rank=4,
             num_kv_shared_layers=1, sliding_window=4)
CASES = [
    ("gemma3n-e4b-default", T, {}),
    ("gemma3n-e2b", T, dict(num_hidden_layers=30, intermediate_size=8192, num_kv_shared_layers=10)),
    ("gemma3n-small", T, SMALL),
    ("gemma3n-small-untied-biased", T, dict(SMALL, tie_word_embeddings=False, attention_bias=True,
                                            altup_num_inputs=2, num_kv_shared_layers=0, intermediate_size=40,
                                            layer_types=["sliding_attention", "full_attention"] * 3)),
    ("gemma3n-small-twelve-sparse", T, dict(SMALL, num_hidden_layers=12, intermediate_size=56,
                                            num_kv_shared_layers=5, altup_num_inputs=3, laurel_rank=2,
                                            altup_correct_scale=False)),
]
FLOPS = [
    ("gemma3n-flops-lm", dict(SMALL, model_type=T), "causal_lm"),
    ("gemma3n-flops-base-shared", dict(SMALL, model_type=T, num_kv_shared_layers=2, altup_num_inputs=3,
                                       layer_types=["sliding_attention", "full_attention"] * 3), "base"),
    ("gemma3n-flops-lm-sparse-biased", dict(SMALL, model_type=T, num_hidden_layers=12, intermediate_size=40, attention_bias=True,
                                            num_kv_shared_layers=5, tie_word_embeddings=False), "causal_lm"),
]
CACHE = [
    ("gemma3n-cache-shared", dict(SMALL, model_type=T, num_kv_shared_layers=2, sliding_window=64,
                                  layer_types=["sliding_attention", "full_attention"] * 3)),
    ("gemma3n-cache-none-shared", dict(SMALL, model_type=T, num_kv_shared_layers=0, sliding_window=64)),
]
BATCH, SEQ = 2, 16
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
                         params=count(model), buffers=sum(b.numel() for b in model.buffers()),
                         flops_fwd=counts[0], flops_fwd_bwd=counts[1]))
        print(name, rows[-1]["params"], rows[-1]["buffers"], counts, flush=True)
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
        layers = [storage(getattr(layer, "keys", None)) + storage(getattr(layer, "values", None))
                  for layer in out.past_key_values.layers]
        rows.append(dict(name=name, config=config, batch=CACHE_BATCH, prompt=PROMPT, new_tokens=NEW_TOKENS,
                         layer_bytes=layers, cache_bytes=sum(layers)))
        print(name, layers, flush=True)
    return rows


def keras_hub_twins():
    """The Gemma3nBackbone fixtures' transformers twins (gemma3n.rs's translation)."""
    data = json.loads(gzip.open(pathlib.Path(__file__).with_name("keras_hub_text2.json.gz")).read())
    rows = []
    for m in data["models"]:
        if m["model_json"].get("registered_name") != "keras_hub>Gemma3nBackbone":
            continue
        config = twin(m["model_json"]["config"])
        # transformers 5.24's strict config takes no None for the soft cap and the clip
        # (its modeling code tests for None); neither holds a weight
        model = build(AutoModel, config_of({k: v for k, v in config.items() if v is not None}))
        rows.append(dict(name=m["name"], config=config, params=count(model)))
        print(m["name"], rows[-1]["params"], flush=True)
    return rows


# keras activation names transformers spells otherwise
ACTIVATIONS = {"gelu_approximate": "gelu_pytorch_tanh", "swish": "silu"}


def shared_layers(c):
    """The KV-shared layers keras-hub runs: none when `num_kv_shared_layers` covers every
    layer (`i >= first > 0`), and 0 when a shared layer has no earlier layer of its kind
    (keras-hub's attention fails on it, transformers refuses it: memory refuses it)."""
    layers, shared, types = c["num_hidden_layers"], c.get("num_kv_shared_layers", 0), c["layer_types"]
    first = layers - shared
    if first <= 0 or not set(types[first:]) <= set(types[:first]):
        return 0
    return shared


def twin(c):
    """gemma3n.rs's `hf_config`: keras-hub's arguments under transformers' names."""
    return dict(model_type=T, vocab_size=c["text_vocab_size"], hidden_size=c["text_hidden_size"],
                num_hidden_layers=c["num_hidden_layers"], num_attention_heads=c["num_attention_heads"],
                num_key_value_heads=c["num_key_value_heads"], head_dim=c["head_dim"],
                intermediate_size=c["intermediate_size"], hidden_activation=ACTIVATIONS.get(c["hidden_activation"], c["hidden_activation"]),
                layer_types=c["layer_types"], sliding_window=c["sliding_window"],
                max_position_embeddings=c["max_position_embeddings"],
                vocab_size_per_layer_input=c["vocab_size_per_layer_input"],
                hidden_size_per_layer_input=c["hidden_size_per_layer_input"],
                altup_num_inputs=c["altup_num_inputs"], laurel_rank=c["laurel_rank"],
                attention_bias=c.get("attention_bias", False), attention_dropout=c.get("attention_dropout", 0.0),
                activation_sparsity_pattern=c.get("activation_sparsity_pattern")
                or [0.0] * c["num_hidden_layers"],
                altup_coef_clip=c.get("altup_coef_clip"), altup_active_idx=c.get("altup_active_idx", 0),
                altup_correct_scale=c.get("altup_correct_scale", True),
                num_kv_shared_layers=shared_layers(c),
                final_logit_softcapping=c.get("final_logit_soft_cap"), rms_norm_eps=c.get("rms_norm_eps", 1e-6),
                tie_word_embeddings=True)


def main():
    warnings.filterwarnings("ignore")
    transformers.logging.set_verbosity_error()
    write_records(pathlib.Path(__file__).with_name("hf_gemma3n.json"), rows=count_rows(CASES, AutoModelForCausalLM),
                  flops=flop_rows(), cache=cache_rows(), keras_hub_twins=keras_hub_twins())


if __name__ == "__main__":
    main()
