"""Generate tests/data/hf_moonshine.json: transformers' moonshine measured with the real
transformers (5.24). `rows`: totals, buffers and classes of `MoonshineModel` and
`MoonshineForConditionalGeneration` on the meta device and, for small models, `modules`
{path: [class, params]}; `flops`: tiny configs' forward and forward+backward FLOPs under
torch.utils.flop_counter on CPU (fp32, SDPA, `train()`), BATCH clips of the raw audio that
makes SEQ encoder frames (`samples`), the decoder SEQ tokens long: the bare model's loss is
`last_hidden_state.float().pow(2).mean()`, the LM's its own loss with `labels`
(`shift_tokens_right` needs a `pad_token_id`, which moonshine's config leaves unset).

    /work/scratch/hf/bin/python tests/data/make_hf_moonshine.py   # needs torch, transformers
"""
import pathlib
import sys
import warnings

try:
    import torch
    import transformers
    from transformers import AutoModel, AutoModelForSpeechSeq2Seq
except ImportError:
    print("torch and transformers are needed; nothing written")
    sys.exit(0)

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from hf_fixture import build, config_of, count, forward_and_backward_flops, module_counts, write_records  # noqa: E402

SMALL = dict(vocab_size=64, hidden_size=32, intermediate_size=48, encoder_num_hidden_layers=2,
             decoder_num_hidden_layers=2, encoder_num_attention_heads=4, decoder_num_attention_heads=4)
CASES = [
    ("moonshine-tiny", {}),
    ("moonshine-base", dict(hidden_size=416, intermediate_size=1664, encoder_num_hidden_layers=8,
                            decoder_num_hidden_layers=8)),
    ("moonshine-small", SMALL),
    ("moonshine-bias-pad-rotary", dict(SMALL, attention_bias=True, pad_head_dim_to_multiple_of=12,
                                       partial_rotary_factor=0.5, encoder_num_hidden_layers=1)),
    ("moonshine-untied-acts", dict(SMALL, tie_word_embeddings=False, encoder_hidden_act="relu",
                                   decoder_hidden_act="gelu", decoder_num_hidden_layers=3)),
    # transformers' MoonshineAttention writes each stack's heads into the shared config
    # (`config.update`), so the decoder is built with the encoder's heads
    ("moonshine-heads-differ", dict(SMALL, encoder_num_attention_heads=2, decoder_num_attention_heads=8)),
    ("moonshine-gqa", dict(SMALL, encoder_num_key_value_heads=2, decoder_num_key_value_heads=2)),
]

FLOPS = [
    ("moonshine-flops-small", SMALL, "base"),
    ("moonshine-flops-lm", dict(SMALL, encoder_num_hidden_layers=1, pad_token_id=0), "lm"),
    ("moonshine-flops-pad", dict(SMALL, pad_head_dim_to_multiple_of=12, attention_bias=True, hidden_size=24,
                                 encoder_num_attention_heads=3, decoder_num_attention_heads=3,
                                 partial_rotary_factor=0.7, pad_token_id=0), "lm"),
]
BATCH, SEQ = 2, 5

# the twin (`formats/keras_hub/moonshine.rs`) of each KerasHub MoonshineBackbone of
# tests/data/keras_hub_text2.json.gz that keras-hub builds as transformers does (one set of
# heads, no padding, SiLU-gated decoder MLP and GELU encoder MLP, no attention biases):
# (fixture name, twin config)
KERAS_HUB_TWINS = [
    ("Moonshine", dict(vocab_size=64, hidden_size=16, intermediate_size=64, encoder_num_hidden_layers=2,
                       decoder_num_hidden_layers=2, encoder_num_attention_heads=2, decoder_num_attention_heads=2,
                       attention_bias=False, partial_rotary_factor=0.62, pad_head_dim_to_multiple_of=None,
                       max_position_embeddings=2048, attention_dropout=0.0, tie_word_embeddings=True)),
    ("moonshine_tiny_en", dict(vocab_size=32768, hidden_size=288, intermediate_size=1152,
                               encoder_num_hidden_layers=6, decoder_num_hidden_layers=6,
                               encoder_num_attention_heads=8, decoder_num_attention_heads=8, attention_bias=False,
                               partial_rotary_factor=0.62, pad_head_dim_to_multiple_of=None,
                               max_position_embeddings=2048, attention_dropout=0.0, tie_word_embeddings=True)),
]


def samples(frames):
    """The shortest raw audio that conv1 (127/64), conv2 (7/3) and conv3 (3/2) turn into `frames`."""
    return 384 * frames + 511


def rows():
    out = []
    for name, kwargs in CASES:
        config = dict(model_type="moonshine", **kwargs)
        row = dict(name=name, model_type="moonshine", config=config)
        for key, auto in (("base", AutoModel), ("lm", AutoModelForSpeechSeq2Seq)):
            model = build(auto, config_of(config))
            row.update({f"{key}_params": count(model), f"{key}_class": type(model).__name__,
                        f"{key}_buffers": sum(b.numel() for b in model.buffers())})
            if sum(1 for _ in model.modules()) < 200:
                row.setdefault("modules", {})[key] = module_counts(model)
        out.append(row)
        print(name, row["base_params"], row["lm_params"], row["base_buffers"], flush=True)
    return out


def flops():
    torch.manual_seed(0)
    out = []
    for name, kwargs, head in FLOPS:
        config = dict(model_type="moonshine", **kwargs)
        cfg = config_of(config)
        cfg._attn_implementation = "sdpa"
        model = (AutoModel if head == "base" else AutoModelForSpeechSeq2Seq).from_config(cfg).train()
        audio = torch.randn(BATCH, samples(SEQ))
        ids = torch.randint(0, cfg.vocab_size, (BATCH, SEQ))
        if head == "base":
            def loss():
                return model(input_values=audio, decoder_input_ids=ids).last_hidden_state.float().pow(2).mean()
        else:
            def loss():
                return model(input_values=audio, labels=ids).loss
        fwd, fwd_bwd = forward_and_backward_flops(loss)
        out.append(dict(name=name, config=config, head=head, attn="sdpa", batch=BATCH, seq=SEQ,
                        params=count(model), flops_fwd=fwd, flops_fwd_bwd=fwd_bwd))
        print(name, out[-1]["params"], fwd, fwd_bwd, flush=True)
    return out


def twins():
    out = []
    for name, kwargs in KERAS_HUB_TWINS:
        config = dict(model_type="moonshine", **kwargs)
        model = build(AutoModel, config_of(config))
        out.append(dict(name=name, config=config, params=count(model),
                        buffers=sum(b.numel() for b in model.buffers())))
        print(name, out[-1]["params"], out[-1]["buffers"], flush=True)
    return out


def main():
    warnings.filterwarnings("ignore")
    transformers.logging.set_verbosity_error()
    write_records(pathlib.Path(__file__).with_name("hf_moonshine.json"), rows=rows(), flops=flops(),
                  keras_hub_twins=twins())


if __name__ == "__main__":
    main()
