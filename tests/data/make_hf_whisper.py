"""Generate tests/data/hf_whisper.json: transformers' whisper as the real library builds it.

- `rows`: `WhisperModel` (base) and `WhisperForConditionalGeneration` (archbudget's
  `causal_lm` head, the seq2seq LM class as for t5 and bart) on the meta device: totals,
  trainable totals (the encoder's sinusoidal `embed_positions` is frozen), buffers, and
  per-module counts of the small ones; the released openai/whisper-* sizes (their
  config.json values) and small, asymmetric and random configs.
- `flops`: torch.utils.flop_counter on CPU for tiny configs (make_hf_flops.py's protocol:
  `model.train()`, fp32; the LM with `labels`, the bare model's decoder output squared),
  on `input_features` of batch × num_mel_bins × 2·max_source_positions.
- `cache`: the bytes of the cache tensors `generate` leaves (the decoder's self-attention
  and cross-attention caches), the decoder started from its start token alone
  (`decoder_input_ids` of one token: no language or task tokens forced).

    /work/scratch/hf/bin/python tests/data/make_hf_whisper.py   # torch + transformers
"""
import pathlib
import random
import warnings

import torch
import transformers
from transformers import AutoModel, AutoModelForSpeechSeq2Seq

from hf_fixture import build, config_of, count, forward_and_backward_flops, module_counts, write_records


def released(vocab, mels, d_model, layers, heads, decoder_layers=None):
    return dict(vocab_size=vocab, num_mel_bins=mels, d_model=d_model, encoder_layers=layers,
                decoder_layers=decoder_layers or layers, encoder_attention_heads=heads,
                decoder_attention_heads=heads, encoder_ffn_dim=4 * d_model, decoder_ffn_dim=4 * d_model,
                max_source_positions=1500, max_target_positions=448)


# token ids inside a small vocabulary (the defaults are 50256/50257)
SMALL_IDS = dict(pad_token_id=0, bos_token_id=1, eos_token_id=2, decoder_start_token_id=1,
                 begin_suppress_tokens=None)
TINY = dict(SMALL_IDS, vocab_size=100, num_mel_bins=8, d_model=32, encoder_layers=2, decoder_layers=2,
            encoder_attention_heads=4, decoder_attention_heads=4, encoder_ffn_dim=48, decoder_ffn_dim=48,
            max_source_positions=16, max_target_positions=24)
CASES = [
    ("whisper-default", {}),
    # openai/whisper-* config.json
    ("whisper-tiny", released(51865, 80, 384, 4, 6)),
    ("whisper-tiny.en", released(51864, 80, 384, 4, 6)),
    ("whisper-base", released(51865, 80, 512, 6, 8)),
    ("whisper-small", released(51865, 80, 768, 12, 12)),
    ("whisper-medium", released(51865, 80, 1024, 24, 16)),
    ("whisper-large-v3", released(51866, 128, 1280, 32, 20)),
    ("whisper-large-v3-turbo", released(51866, 128, 1280, 32, 20, decoder_layers=4)),
    ("whisper-tiny-cfg", TINY),
    ("whisper-tiny-asym", dict(TINY, decoder_layers=3, scale_embedding=True)),
    ("whisper-tiny-untied", dict(TINY, tie_word_embeddings=False)),
]


def random_cases(seed=0, n=4):
    rnd = random.Random(seed)
    cases = []
    for i in range(n):
        heads = rnd.choice([1, 2, 4])
        ffn = rnd.randint(8, 200)
        cases.append((f"whisper-random-{i}", dict(
            SMALL_IDS, vocab_size=rnd.randint(50, 3000), num_mel_bins=rnd.randint(1, 40), d_model=heads * rnd.choice([8, 16]),
            encoder_layers=rnd.randint(1, 3), decoder_layers=rnd.randint(1, 3),
            encoder_attention_heads=heads, decoder_attention_heads=heads,
            encoder_ffn_dim=ffn, decoder_ffn_dim=ffn, max_source_positions=rnd.randint(4, 100),
            max_target_positions=rnd.randint(8, 300), scale_embedding=rnd.random() < 0.5,
            tie_word_embeddings=rnd.random() < 0.5)))
    return cases


CASES += random_cases()

BATCH, SEQ = 2, 16
FLOPS = [
    ("whisper-tiny-cfg", TINY, "seq2seq"),
    ("whisper-tiny-cfg-base", TINY, "base"),
    ("whisper-tiny-asym", dict(TINY, decoder_layers=3, scale_embedding=True, num_mel_bins=5), "seq2seq"),
]
CACHE_BATCH, PROMPT, NEW_TOKENS = 2, 1, 5
CACHE = [("whisper-cache", dict(TINY, decoder_layers=3)),
         ("whisper-cache-turbo-like", dict(TINY, encoder_layers=3, decoder_layers=1))]


def trainable(model):
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def buffers(model):
    return sum(b.numel() for _, b in model.named_buffers())


def rows():
    out = []
    for name, kwargs in CASES:
        cfg = config_of(dict(model_type="whisper", **kwargs))
        row = dict(name=name, model_type="whisper", config=dict(model_type="whisper", **kwargs))
        for key, auto in (("base", AutoModel), ("lm", AutoModelForSpeechSeq2Seq)):
            model = build(auto, cfg)
            row.update({f"{key}_params": count(model), f"{key}_trainable": trainable(model),
                        f"{key}_buffers": buffers(model), f"{key}_class": type(model).__name__})
            if sum(1 for _ in model.modules()) < 200:
                row.setdefault("modules", {})[key] = module_counts(model)
        out.append(row)
        print(name, row["base_params"], row["lm_params"], row["lm_trainable"], flush=True)
    return out


def features(cfg, batch):
    return torch.randn(batch, cfg.num_mel_bins, 2 * cfg.max_source_positions)


def flops():
    torch.manual_seed(0)
    out = []
    for name, kwargs, head in FLOPS:
        config = dict(model_type="whisper", **kwargs)
        cfg = config_of(config)
        cfg._attn_implementation = "sdpa"
        model = (AutoModel if head == "base" else AutoModelForSpeechSeq2Seq).from_config(cfg).train()
        x = features(cfg, BATCH)
        ids = torch.randint(0, cfg.vocab_size, (BATCH, SEQ))
        if head == "base":
            def loss():
                return model(input_features=x, decoder_input_ids=ids).last_hidden_state.float().pow(2).mean()
        else:
            def loss():
                return model(input_features=x, labels=ids).loss
        fwd, fwd_bwd = forward_and_backward_flops(loss)
        out.append(dict(name=name, config=config, head=head, attn="sdpa", batch=BATCH, seq=SEQ,
                        params=count(model), flops_fwd=fwd, flops_fwd_bwd=fwd_bwd))
        print(name, out[-1]["params"], fwd, fwd_bwd, flush=True)
    return out


def cache_rows():
    torch.manual_seed(0)
    out = []
    for name, kwargs in CACHE:
        config = dict(model_type="whisper", **kwargs)
        cfg = config_of(config)
        model = AutoModelForSpeechSeq2Seq.from_config(cfg).eval()
        prompt = torch.full((CACHE_BATCH, PROMPT), cfg.decoder_start_token_id)
        with torch.no_grad():
            generated = model.generate(features(cfg, CACHE_BATCH), decoder_input_ids=prompt,
                                       max_new_tokens=NEW_TOKENS, min_new_tokens=NEW_TOKENS, do_sample=False,
                                       return_dict_in_generate=True)
        cache = generated.past_key_values
        layers = []
        for layer in (layer for c in (cache.self_attention_cache, cache.cross_attention_cache) for layer in c.layers):
            k, v = layer.keys, layer.values
            layers.append(dict(kind=type(layer).__name__, positions=k.shape[-2],
                               storage_bytes=k.untyped_storage().nbytes() + v.untyped_storage().nbytes()))
        out.append(dict(name=name, config=config, batch=CACHE_BATCH, prompt=PROMPT, new_tokens=NEW_TOKENS,
                        layers=layers, cache_bytes=sum(l["storage_bytes"] for l in layers)))
        print(name, out[-1]["cache_bytes"], [(l["kind"], l["positions"]) for l in layers], flush=True)
    return out


def main():
    warnings.filterwarnings("ignore")
    transformers.logging.set_verbosity_error()
    write_records(pathlib.Path(__file__).with_name("hf_whisper.json"), rows=rows(), flops=flops(),
                  cache=cache_rows())


if __name__ == "__main__":
    main()
