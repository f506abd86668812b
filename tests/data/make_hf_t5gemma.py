"""Generate tests/data/hf_t5gemma.json: transformers' t5gemma measured with the real
transformers (5.24). `rows`: totals and classes of `T5GemmaModel` (AutoModel) and
`T5GemmaForConditionalGeneration` (AutoModelForSeq2SeqLM) on the meta device and, for
small configs, every module's class and parameters; `flops`: tiny configs' parameters,
buffers and forward / forward+backward FLOPs under torch.utils.flop_counter on CPU (fp32,
eager: t5gemma declares no SDPA), in `train()`: the LM's own loss on `labels=input_ids`,
or the bare model's `last_hidden_state.float().pow(2).mean()` with
`decoder_input_ids=input_ids` (BATCH × SEQ token ids); `keras_hub_twins`: the config
archbudget makes of each T5GemmaBackbone of tests/data/keras_hub_text2.json.gz (`twin`,
keras_hub/t5gemma.rs's translation) and the totals of its `T5GemmaModel` and
`T5GemmaForConditionalGeneration`.

    /work/scratch/hf/bin/python tests/data/make_hf_t5gemma.py   # needs torch, transformers
"""
import gzip
import json
import pathlib
import sys
import warnings

try:
    import torch
    import transformers
    from transformers import AutoConfig, AutoModel, AutoModelForSeq2SeqLM
except ImportError:
    print("torch and transformers are needed; nothing written")
    sys.exit(0)

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from hf_fixture import build, count, forward_and_backward_flops, module_counts, write_records  # noqa: E402


def stack(hidden, inter, layers, heads, kv, head_dim, vocab=96, **extra):
    return dict(hidden_size=hidden, intermediate_size=inter, num_hidden_layers=layers, num_attention_heads=heads,
                num_key_value_heads=kv, head_dim=head_dim, vocab_size=vocab, **extra)


GEMMA2_2B = dict(hidden_size=2304, intermediate_size=9216, num_hidden_layers=26, num_attention_heads=8,
                 num_key_value_heads=4, head_dim=256)
GEMMA2_9B = dict(hidden_size=3584, intermediate_size=14336, num_hidden_layers=42, num_attention_heads=16,
                 num_key_value_heads=8, head_dim=256)
SMALL = stack(32, 48, 2, 4, 2, 8)
CASES = [
    ("t5gemma-default", {}),
    ("t5gemma-2b-2b", dict(encoder=GEMMA2_2B, decoder=GEMMA2_2B)),
    ("t5gemma-9b-2b", dict(encoder=GEMMA2_9B, decoder=GEMMA2_2B)),
    ("t5gemma-small", dict(encoder=SMALL, decoder=SMALL)),
    ("t5gemma-unbalanced", dict(encoder=SMALL, decoder=stack(24, 40, 3, 2, 1, 12))),
    ("t5gemma-bias-untied", dict(encoder=stack(32, 48, 1, 4, 4, 8, attention_bias=True),
                                 decoder=stack(16, 24, 2, 2, 2, 6, attention_bias=True),
                                 tie_word_embeddings=False)),
    ("t5gemma-own-vocabs", dict(encoder=stack(16, 24, 1, 2, 1, 8, vocab=50),
                                decoder=stack(16, 24, 1, 2, 1, 8, vocab=70, layer_types=["full_attention"]))),
]
FLOPS = [
    ("t5gemma-flops-lm", dict(encoder=SMALL, decoder=stack(24, 40, 3, 2, 1, 12)), "lm"),
    ("t5gemma-flops-base", dict(encoder=stack(16, 32, 1, 2, 2, 8, attention_bias=True),
                                decoder=stack(16, 32, 2, 4, 2, 4, attention_bias=True)), "base"),
    ("t5gemma-flops-untied-window", dict(encoder=stack(32, 48, 2, 4, 2, 8, sliding_window=4),
                                         decoder=stack(32, 48, 2, 4, 2, 8, sliding_window=4),
                                         tie_word_embeddings=False), "lm"),
]
BATCH, SEQ = 2, 8
HERE = pathlib.Path(__file__).parent


def twin(c):
    """keras_hub/t5gemma.rs's t5gemma config of a T5GemmaBackbone's arguments."""
    act = {"gelu_approximate": "gelu_pytorch_tanh"}.get(c["hidden_activation"], c["hidden_activation"])

    def module(stack):
        return dict(vocab_size=c["vocabulary_size"], hidden_size=c[f"{stack}_hidden_dim"],
                    intermediate_size=c[f"{stack}_intermediate_dim"], num_hidden_layers=c[f"{stack}_num_layers"],
                    num_attention_heads=c[f"{stack}_num_attention_heads"],
                    num_key_value_heads=c[f"{stack}_num_key_value_heads"], head_dim=c[f"{stack}_head_dim"],
                    layer_types=["sliding_attention" if t == "sliding_attention" else "full_attention"
                                 for t in c[f"{stack}_layer_types"]],
                    sliding_window=c["sliding_window"] or 4096, attention_bias=c["attention_bias"],
                    hidden_activation=act, attn_logit_softcapping=c["attn_logit_softcapping"],
                    final_logit_softcapping=c["final_logit_softcapping"])
    return dict(model_type="t5gemma", encoder=module("encoder"), decoder=module("decoder"),
                tie_word_embeddings=c["tie_word_embeddings"], dropout_rate=c["dropout_rate"],
                attention_dropout=c["attention_dropout"])


def keras_hub_twins():
    models = json.loads(gzip.open(HERE / "keras_hub_text2.json.gz", "rt").read())["models"]
    out = []
    for m in models:
        if m["model_json"]["class_name"] != "T5GemmaBackbone":
            continue
        kwargs = twin(m["model_json"]["config"])
        row = dict(name=m["name"], config=kwargs)
        for key, auto in (("base", AutoModel), ("lm", AutoModelForSeq2SeqLM)):
            kw = dict(kwargs)
            kw.pop("model_type")
            row[f"{key}_params"] = count(build(auto, config(kw)))
        out.append(row)
        print(f"{m['name']}: {row['base_params']:,} / {row['lm_params']:,}", file=sys.stderr)
    return out


def config(kwargs):
    return AutoConfig.for_model("t5gemma", **kwargs)


def flops(name, kwargs, head):
    cfg = config(kwargs)
    cfg._attn_implementation = "eager"
    model = (AutoModelForSeq2SeqLM if head == "lm" else AutoModel).from_config(cfg)
    model.train()
    ids = torch.randint(3, 90, (BATCH, SEQ))
    if head == "lm":
        loss_of = lambda: model(input_ids=ids, labels=ids).loss  # noqa: E731
    else:
        loss_of = lambda: model(input_ids=ids, decoder_input_ids=ids).last_hidden_state.float().pow(2).mean()  # noqa: E731
    fwd, fwd_bwd = forward_and_backward_flops(loss_of)
    return dict(name=name, config=dict(model_type="t5gemma", **kwargs), head=head, attn="eager", batch=BATCH,
                seq=SEQ, params=count(model), buffers=sum(b.numel() for b in model.buffers()), flops_fwd=fwd,
                flops_fwd_bwd=fwd_bwd)


def main():
    warnings.filterwarnings("ignore")
    transformers.logging.set_verbosity_error()
    torch.manual_seed(0)
    rows = []
    for name, kwargs in CASES:
        row = dict(name=name, model_type="t5gemma", config=dict(model_type="t5gemma", **kwargs))
        modules = {}
        for key, auto in (("base", AutoModel), ("lm", AutoModelForSeq2SeqLM)):
            model = build(auto, config(kwargs))
            row.update({f"{key}_params": count(model), f"{key}_class": type(model).__name__})
            if sum(1 for _ in model.modules()) < 200:
                modules[key] = module_counts(model)
        if modules:
            row["modules"] = modules
        rows.append(row)
        print(f"{name}: {row['base_params']:,} / {row['lm_params']:,}", file=sys.stderr)
    twins = keras_hub_twins()
    measured = [flops(*case) for case in FLOPS]
    for m in measured:
        print(m["name"], m["params"], m["flops_fwd"], m["flops_fwd_bwd"], file=sys.stderr)
    write_records(HERE / "hf_t5gemma.json", rows=rows, keras_hub_twins=twins, flops=measured)


if __name__ == "__main__":
    main()
