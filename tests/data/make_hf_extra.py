"""Generate tests/data/hf_extra.json: parameter counts of transformers configs, as the
real library builds them on the meta device, for every model type archbudget supports.

Each case is the sparse config a user's config.json could hold (missing keys take the
type's defaults). Recorded per case: `base_params` (AutoModel), `causal_lm_params`
(AutoModelForCausalLM, absent where the type has none), `lm_params` (the class
archbudget's `causal_lm` head counts: the causal LM, else the type's masked-LM or seq2seq
class; absent for vit), and, for small models, `modules`: {path: [class, params]} of
every module, so the Rust test can check the summary rows one by one.

    python tests/data/make_hf_extra.py   # needs torch and transformers
"""
import json
import pathlib
import random
import warnings

import torch
import transformers
from hf_fixture import build, count, module_counts
from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForCausalLM,
    AutoModelForMaskedLM,
    AutoModelForSeq2SeqLM,
)

LLAMA_TINY = dict(vocab_size=1000, hidden_size=256, intermediate_size=688, num_hidden_layers=2,
                  num_attention_heads=8, num_key_value_heads=2)
CASES = [
    ("llama-default", "llama", {}),
    ("llama-tiny", "llama", LLAMA_TINY),
    ("llama-tiny-bias", "llama", dict(LLAMA_TINY, attention_bias=True, mlp_bias=True, tie_word_embeddings=True)),
    ("llama-tiny-head-dim", "llama", dict(LLAMA_TINY, head_dim=64, num_key_value_heads=None)),
    ("llama-3.2-1b", "llama", dict(vocab_size=128256, hidden_size=2048, intermediate_size=8192, num_hidden_layers=16,
                                   num_attention_heads=32, num_key_value_heads=8, tie_word_embeddings=True)),
    ("llama-2-13b", "llama", dict(vocab_size=32000, hidden_size=5120, intermediate_size=13824, num_hidden_layers=40,
                                  num_attention_heads=40, num_key_value_heads=40, max_position_embeddings=4096)),
    ("llama-2-70b", "llama", dict(vocab_size=32000, hidden_size=8192, intermediate_size=28672, num_hidden_layers=80,
                                  num_attention_heads=64, num_key_value_heads=8)),
    ("mistral-default", "mistral", {}),
    ("mistral-tiny-kv-default", "mistral", dict(vocab_size=500, hidden_size=256, intermediate_size=512,
                                                num_hidden_layers=2, num_attention_heads=16)),
    ("mistral-tiny-head-dim", "mistral", dict(vocab_size=500, hidden_size=256, intermediate_size=512,
                                              num_hidden_layers=2, num_attention_heads=8, num_key_value_heads=4,
                                              head_dim=48)),
    ("mixtral-default", "mixtral", {}),
    ("mixtral-tiny", "mixtral", dict(vocab_size=500, hidden_size=128, intermediate_size=256, num_hidden_layers=2,
                                     num_attention_heads=4, num_key_value_heads=2, num_local_experts=4,
                                     num_experts_per_tok=2)),
    ("mixtral-8x7b", "mixtral", dict(vocab_size=32000, hidden_size=4096, intermediate_size=14336,
                                     num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=8,
                                     num_local_experts=8, num_experts_per_tok=2)),
    ("qwen2-default", "qwen2", {}),
    ("qwen2-tiny-kv-default", "qwen2", dict(vocab_size=800, hidden_size=256, intermediate_size=512,
                                            num_hidden_layers=2, num_attention_heads=4)),
    ("qwen2-7b", "qwen2", dict(vocab_size=152064, hidden_size=3584, intermediate_size=18944, num_hidden_layers=28,
                               num_attention_heads=28, num_key_value_heads=4)),
    ("qwen2-1.5b", "qwen2", dict(vocab_size=151936, hidden_size=1536, intermediate_size=8960, num_hidden_layers=28,
                                 num_attention_heads=12, num_key_value_heads=2, tie_word_embeddings=True)),
    ("qwen2_moe-default", "qwen2_moe", {}),
    ("qwen2_moe-tiny", "qwen2_moe", dict(vocab_size=500, hidden_size=128, intermediate_size=256,
                                         moe_intermediate_size=64, shared_expert_intermediate_size=96,
                                         num_experts=4, num_experts_per_tok=2, num_hidden_layers=4,
                                         num_attention_heads=4, num_key_value_heads=2, decoder_sparse_step=2,
                                         mlp_only_layers=[3])),
    ("qwen2_moe-tiny-dense", "qwen2_moe", dict(vocab_size=500, hidden_size=128, intermediate_size=256,
                                               num_experts=0, num_hidden_layers=2, num_attention_heads=4,
                                               qkv_bias=False, tie_word_embeddings=True)),
    ("gemma-default", "gemma", {}),
    ("gemma-2b", "gemma", dict(vocab_size=256000, hidden_size=2048, intermediate_size=16384, num_hidden_layers=18,
                               num_attention_heads=8, num_key_value_heads=1, head_dim=256)),
    ("gemma-tiny-head-dim-default", "gemma", dict(vocab_size=700, hidden_size=128, intermediate_size=256,
                                                  num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1,
                                                  attention_bias=True)),
    ("gemma2-default", "gemma2", {}),
    ("gemma2-9b", "gemma2", dict(vocab_size=256000, hidden_size=3584, intermediate_size=14336, num_hidden_layers=42,
                                 num_attention_heads=16, num_key_value_heads=8, head_dim=256)),
    ("gemma2-tiny", "gemma2", dict(vocab_size=700, hidden_size=128, intermediate_size=256, num_hidden_layers=2,
                                   num_attention_heads=4, num_key_value_heads=2, head_dim=16,
                                   tie_word_embeddings=False)),
    ("phi3-default", "phi3", {}),
    ("phi3-tiny", "phi3", dict(vocab_size=600, pad_token_id=0, hidden_size=256, intermediate_size=512, num_hidden_layers=2,
                               num_attention_heads=8, num_key_value_heads=2)),
    ("phi3-tiny-tied", "phi3", dict(vocab_size=600, pad_token_id=0, hidden_size=256, intermediate_size=512, num_hidden_layers=2,
                                    num_attention_heads=8, tie_word_embeddings=True)),
    ("gpt2-default", "gpt2", {}),
    ("gpt2-large", "gpt2", dict(n_embd=1280, n_layer=36, n_head=20)),
    ("gpt2-xl", "gpt2", dict(n_embd=1600, n_layer=48, n_head=25)),
    ("gpt2-tiny-aliases", "gpt2", dict(vocab_size=300, hidden_size=128, num_attention_heads=4, num_hidden_layers=2,
                                       max_position_embeddings=64)),
    ("gpt2-tiny-cross", "gpt2", dict(vocab_size=300, n_embd=64, n_head=4, n_layer=2, n_positions=32, n_inner=100,
                                     add_cross_attention=True, tie_word_embeddings=False)),
    ("gpt_neox-default", "gpt_neox", {}),
    ("pythia-70m", "gpt_neox", dict(vocab_size=50304, hidden_size=512, intermediate_size=2048, num_hidden_layers=6,
                                    num_attention_heads=8)),
    ("gpt_neox-tiny", "gpt_neox", dict(vocab_size=400, hidden_size=128, intermediate_size=256, num_hidden_layers=2,
                                       num_attention_heads=4, attention_bias=False, tie_word_embeddings=True,
                                       use_parallel_residual=False)),
    ("opt-default", "opt", {}),
    ("opt-350m", "opt", dict(hidden_size=1024, word_embed_proj_dim=512, ffn_dim=4096, num_hidden_layers=24,
                             num_attention_heads=16, do_layer_norm_before=False)),
    ("opt-1.3b", "opt", dict(hidden_size=2048, ffn_dim=8192, num_hidden_layers=24, num_attention_heads=32)),
    ("opt-tiny-nobias", "opt", dict(vocab_size=300, hidden_size=64, ffn_dim=128, num_hidden_layers=2,
                                    num_attention_heads=4, max_position_embeddings=100, enable_bias=False,
                                    layer_norm_elementwise_affine=False, tie_word_embeddings=False)),
    ("opt-tiny-proj", "opt", dict(vocab_size=300, hidden_size=64, word_embed_proj_dim=32, ffn_dim=128,
                                  num_hidden_layers=2, num_attention_heads=4, _remove_final_layer_norm=True)),
    ("falcon-default", "falcon", {}),
    ("falcon-40b", "falcon", dict(vocab_size=65024, hidden_size=8192, num_hidden_layers=60, num_attention_heads=128,
                                  num_kv_heads=8, new_decoder_architecture=True)),
    ("falcon-tiny-old", "falcon", dict(vocab_size=300, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                                       multi_query=False, parallel_attn=False, bias=True, alibi=True)),
    ("falcon-tiny-new-1ln", "falcon", dict(vocab_size=300, hidden_size=64, num_hidden_layers=2, num_attention_heads=8,
                                           num_kv_heads=2, new_decoder_architecture=True,
                                           num_ln_in_parallel_attn=1, ffn_hidden_size=96,
                                           tie_word_embeddings=False)),
    ("falcon-tiny-mq", "falcon", dict(vocab_size=300, hidden_size=64, num_hidden_layers=2, num_attention_heads=4)),
    ("bert-default", "bert", {}),
    ("bert-large", "bert", dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16,
                                intermediate_size=4096)),
    ("bert-tiny-decoder-cross", "bert", dict(vocab_size=500, hidden_size=64, num_hidden_layers=2,
                                             num_attention_heads=4, intermediate_size=128, is_decoder=True,
                                             add_cross_attention=True, type_vocab_size=3)),
    ("bert-tiny-untied", "bert", dict(vocab_size=500, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                                      intermediate_size=128, max_position_embeddings=64, tie_word_embeddings=False)),
    ("roberta-default", "roberta", {}),
    ("roberta-base", "roberta", dict(vocab_size=50265, max_position_embeddings=514, type_vocab_size=1,
                                     pad_token_id=1)),
    ("roberta-tiny-untied", "roberta", dict(vocab_size=500, hidden_size=64, num_hidden_layers=2,
                                            num_attention_heads=4, intermediate_size=128,
                                            max_position_embeddings=66, tie_word_embeddings=False)),
    ("distilbert-default", "distilbert", {}),
    ("distilbert-tiny", "distilbert", dict(vocab_size=1000, dim=256, n_heads=4, n_layers=2, hidden_dim=512,
                                           sinusoidal_pos_embds=True)),
    ("distilbert-tiny-untied", "distilbert", dict(vocab_size=1000, dim=64, n_heads=4, n_layers=2, hidden_dim=128,
                                                  max_position_embeddings=128, tie_word_embeddings=False)),
    ("t5-default", "t5", {}),
    ("t5-base", "t5", dict(d_model=768, d_ff=3072, num_layers=12, num_heads=12)),
    ("flan-t5-small", "t5", dict(d_model=512, d_ff=1024, num_layers=8, num_heads=6, feed_forward_proj="gated-gelu",
                                 tie_word_embeddings=False)),
    ("t5-tiny-asym", "t5", dict(vocab_size=400, d_model=64, d_kv=32, d_ff=128, num_layers=2, num_decoder_layers=3,
                                num_heads=4, relative_attention_num_buckets=16)),
    ("vit-default", "vit", {}),
    ("vit-large", "vit", dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16,
                              intermediate_size=4096)),
    ("vit-tiny-rect", "vit", dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128,
                                  image_size=[64, 96], patch_size=[8, 16], num_channels=1, qkv_bias=False,
                                  pooler_output_size=32)),
]



def random_cases(seed=0, per_type=4):
    """Seeded random small configs: every flag and dimension the counts depend on, some
    keys left out so that the type's defaults apply."""
    rnd = random.Random(seed)
    pick, coin = rnd.choice, lambda: rnd.random() < 0.5
    cases = []

    def heads_width():
        heads = pick([1, 2, 4, 8])
        return heads, heads * pick([8, 16, 24])

    for model_type in ["llama", "mistral", "mixtral", "qwen2", "qwen2_moe", "gemma", "gemma2", "phi3"]:
        for i in range(per_type):
            heads, hidden = heads_width()
            kw = dict(vocab_size=rnd.randint(50, 3000), hidden_size=hidden, num_hidden_layers=rnd.randint(1, 3),
                      num_attention_heads=heads, num_key_value_heads=pick([h for h in (1, 2, 4, 8) if heads % h == 0]),
                      intermediate_size=rnd.randint(8, 300), tie_word_embeddings=coin(), pad_token_id=0)
            if coin():
                kw["head_dim"] = pick([8, 12, 32])
            if model_type in ("llama", "gemma", "gemma2"):
                kw["attention_bias"] = coin()
            if model_type == "llama":
                kw["mlp_bias"] = coin()
            if model_type == "mixtral":
                kw.update(num_local_experts=rnd.randint(1, 6), num_experts_per_tok=1)
            if model_type == "qwen2_moe":
                layers = rnd.randint(2, 5)
                kw.update(num_hidden_layers=layers, num_experts=rnd.randint(0, 5), num_experts_per_tok=1,
                          moe_intermediate_size=rnd.randint(8, 64), shared_expert_intermediate_size=rnd.randint(8, 64),
                          decoder_sparse_step=rnd.randint(1, 3), qkv_bias=coin(),
                          mlp_only_layers=sorted(rnd.sample(range(layers), rnd.randint(0, layers - 1))))
            cases.append((f"{model_type}-random-{i}", model_type, kw))
    for i in range(per_type):
        heads, hidden = heads_width()
        cases.append((f"gpt2-random-{i}", "gpt2", dict(
            vocab_size=rnd.randint(50, 3000), n_embd=hidden, n_head=heads, n_layer=rnd.randint(1, 3),
            n_positions=rnd.randint(8, 300), n_inner=pick([None, rnd.randint(8, 300)]),
            add_cross_attention=coin(), tie_word_embeddings=coin())))
        heads, hidden = heads_width()
        cases.append((f"gpt_neox-random-{i}", "gpt_neox", dict(
            vocab_size=rnd.randint(50, 3000), hidden_size=hidden, num_attention_heads=heads,
            num_hidden_layers=rnd.randint(1, 3), intermediate_size=rnd.randint(8, 300), attention_bias=coin(),
            use_parallel_residual=coin(), tie_word_embeddings=coin())))
        heads, hidden = heads_width()
        cases.append((f"opt-random-{i}", "opt", dict(
            vocab_size=rnd.randint(50, 3000), hidden_size=hidden, num_attention_heads=heads,
            num_hidden_layers=rnd.randint(1, 3), ffn_dim=rnd.randint(8, 300),
            word_embed_proj_dim=pick([None, hidden, rnd.randint(8, 64)]), enable_bias=coin(),
            layer_norm_elementwise_affine=coin(), do_layer_norm_before=coin(), _remove_final_layer_norm=coin(),
            max_position_embeddings=rnd.randint(8, 300), tie_word_embeddings=coin())))
        heads, hidden = heads_width()
        new_arch = coin()
        cases.append((f"falcon-random-{i}", "falcon", dict(
            vocab_size=rnd.randint(50, 3000), hidden_size=hidden, num_attention_heads=heads,
            num_hidden_layers=rnd.randint(1, 3), new_decoder_architecture=new_arch, multi_query=coin(),
            parallel_attn=True if new_arch else coin(), bias=coin(), alibi=coin(),
            num_kv_heads=pick([h for h in (1, 2, 4, 8) if heads % h == 0]),
            num_ln_in_parallel_attn=pick([None, 1, 2]), ffn_hidden_size=pick([None, rnd.randint(8, 300)]),
            tie_word_embeddings=coin())))
        for model_type in ("bert", "roberta"):
            heads, hidden = heads_width()
            decoder = coin()
            cases.append((f"{model_type}-random-{i}", model_type, dict(
                vocab_size=rnd.randint(50, 3000), hidden_size=hidden, num_attention_heads=heads,
                num_hidden_layers=rnd.randint(1, 3), intermediate_size=rnd.randint(8, 300),
                max_position_embeddings=rnd.randint(8, 300), type_vocab_size=rnd.randint(1, 4),
                is_decoder=decoder, add_cross_attention=decoder and coin(), tie_word_embeddings=coin())))
        heads, hidden = heads_width()
        cases.append((f"distilbert-random-{i}", "distilbert", dict(
            vocab_size=rnd.randint(50, 3000), dim=hidden, n_heads=heads, n_layers=rnd.randint(1, 3),
            hidden_dim=rnd.randint(8, 300), max_position_embeddings=rnd.randint(8, 300),
            tie_word_embeddings=coin())))
        gated = coin()
        cases.append((f"t5-random-{i}", "t5", dict(
            vocab_size=rnd.randint(50, 3000), d_model=rnd.randint(8, 128), d_kv=rnd.randint(4, 32),
            num_heads=rnd.randint(1, 6), d_ff=rnd.randint(8, 300), num_layers=rnd.randint(1, 3),
            num_decoder_layers=pick([None, rnd.randint(1, 3)]), relative_attention_num_buckets=rnd.randint(4, 40),
            feed_forward_proj="gated-gelu" if gated else pick(["relu", "gelu"]), tie_word_embeddings=coin())))
        heads, hidden = heads_width()
        cases.append((f"vit-random-{i}", "vit", dict(
            hidden_size=hidden, num_attention_heads=heads, num_hidden_layers=rnd.randint(1, 3),
            intermediate_size=rnd.randint(8, 300), image_size=pick([32, [40, 56], 64]),
            patch_size=pick([4, 8, [8, 4], 16]), num_channels=rnd.randint(1, 4), qkv_bias=coin(),
            pooler_output_size=pick([None, rnd.randint(4, 64)]))))
    return cases


CASES += random_cases()

LM_CLASS = {"distilbert": AutoModelForMaskedLM, "t5": AutoModelForSeq2SeqLM, "vit": None}


def main():
    warnings.filterwarnings("ignore")
    transformers.logging.set_verbosity_error()
    rows = []
    for name, model_type, kwargs in CASES:
        cfg = AutoConfig.for_model(model_type, **kwargs)
        row = dict(name=name, model_type=model_type, config=dict(model_type=model_type, **kwargs))
        base = build(AutoModel, cfg)
        row.update(base_params=count(base), base_class=type(base).__name__)
        small = sum(1 for _ in base.modules()) < 200
        modules = {"base": module_counts(base)} if small else None
        try:
            causal = build(AutoModelForCausalLM, cfg)
            row.update(causal_lm_params=count(causal), causal_lm_class=type(causal).__name__)
        except ValueError:
            causal = None
        lm = causal if model_type not in LM_CLASS else (LM_CLASS[model_type] and build(LM_CLASS[model_type], cfg))
        if lm is not None:
            row.update(lm_params=count(lm), lm_class=type(lm).__name__)
            if small:
                modules["lm"] = module_counts(lm)
        if modules:
            row["modules"] = modules
        rows.append(row)
        print(name, row["base_params"], row.get("causal_lm_params"), row.get("lm_params"), flush=True)
    out = pathlib.Path(__file__).with_name("hf_extra.json")
    env = dict(torch=torch.__version__, transformers=transformers.__version__)
    # One row per line: compact, and a regenerated file diffs row by row.
    lines = ",\n".join(json.dumps(row, separators=(",", ":")) for row in rows)
    out.write_text(f'{{"env":{json.dumps(env)},\n"rows":[\n{lines}\n]}}\n')


if __name__ == "__main__":
    main()
