"""Generate tests/data/hf_encoders.json: the encoders albert, electra, deberta-v2 and fnet
as the real transformers builds and runs them (the transformers twins of KerasHub's
AlbertBackbone, ElectraBackbone, DebertaV3Backbone and FNetBackbone).

rows: each case built on the meta device with AutoModel and the type's LM-head class
(AutoModelForCausalLM for electra, AutoModelForMaskedLM for the others, which have no
causal LM); recorded are both totals and classes and, for small models, `modules`
({path: [class, params]}) so the Rust test checks the summary rows one by one.

flops: tiny configs measured with torch.utils.flop_counter on CPU under make_hf_flops.py's
protocol (train mode, fp32, batch 2, `model(ids, labels=ids).loss` or
`last_hidden_state.float().pow(2).mean()`; attention dropout only in eager cases).

    /work/scratch/hf/bin/python tests/data/make_hf_encoders.py
"""
import pathlib
import warnings

import torch
import transformers
from transformers import AutoConfig, AutoModel, AutoModelForCausalLM, AutoModelForMaskedLM

from hf_fixture import build, config_of, count, forward_and_backward_flops, head_loss, module_counts, write_records

ALBERT_TINY = dict(vocab_size=300, embedding_size=32, hidden_size=64, num_hidden_layers=4, num_attention_heads=4,
                   intermediate_size=128, max_position_embeddings=64)
ELECTRA_TINY = dict(vocab_size=300, embedding_size=32, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                    intermediate_size=128, max_position_embeddings=64)
DEBERTA_TINY = dict(vocab_size=300, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                    intermediate_size=128, max_position_embeddings=64, relative_attention=True, position_buckets=8,
                    norm_rel_ebd="layer_norm", share_att_key=True, pos_att_type="p2c|c2p",
                    position_biased_input=False, type_vocab_size=0)
FNET_TINY = dict(vocab_size=300, hidden_size=64, num_hidden_layers=2, intermediate_size=128,
                 max_position_embeddings=64)

CASES = [
    ("albert-default", "albert", {}),
    ("albert-base-v2", "albert", dict(vocab_size=30000, embedding_size=128, hidden_size=768, num_hidden_layers=12,
                                      num_attention_heads=12, intermediate_size=3072, hidden_act="gelu_new",
                                      hidden_dropout_prob=0, attention_probs_dropout_prob=0)),
    ("albert-xxlarge-v2", "albert", dict(vocab_size=30000, embedding_size=128, hidden_size=4096, num_hidden_layers=12,
                                         num_attention_heads=64, intermediate_size=16384, hidden_act="gelu_new",
                                         hidden_dropout_prob=0, attention_probs_dropout_prob=0)),
    ("albert-tiny", "albert", ALBERT_TINY),
    ("albert-tiny-groups", "albert", dict(ALBERT_TINY, num_hidden_groups=2, inner_group_num=2, type_vocab_size=3,
                                          tie_word_embeddings=False)),
    ("electra-default", "electra", {}),
    ("electra-base-discriminator", "electra", dict(vocab_size=30522, embedding_size=768, hidden_size=768,
                                                   num_hidden_layers=12, num_attention_heads=12,
                                                   intermediate_size=3072)),
    ("electra-tiny", "electra", ELECTRA_TINY),
    ("electra-tiny-no-projection", "electra", dict(ELECTRA_TINY, embedding_size=64, tie_word_embeddings=False)),
    ("deberta-v2-default", "deberta-v2", {}),
    ("deberta-v3-base", "deberta-v2", dict(vocab_size=128100, hidden_size=768, num_hidden_layers=12,
                                           num_attention_heads=12, intermediate_size=3072,
                                           max_position_embeddings=512, relative_attention=True,
                                           position_buckets=256, norm_rel_ebd="layer_norm", share_att_key=True,
                                           pos_att_type="p2c|c2p", layer_norm_eps=1e-7, max_relative_positions=-1,
                                           position_biased_input=False, type_vocab_size=0)),
    ("deberta-v2-xlarge", "deberta-v2", dict(vocab_size=128100, hidden_size=1536, num_hidden_layers=24,
                                             num_attention_heads=24, intermediate_size=6144,
                                             max_position_embeddings=512, relative_attention=True,
                                             position_buckets=256, norm_rel_ebd="layer_norm", share_att_key=True,
                                             pos_att_type="p2c|c2p", conv_kernel_size=3, conv_act="gelu",
                                             position_biased_input=False, type_vocab_size=0)),
    ("deberta-v3-tiny", "deberta-v2", DEBERTA_TINY),
    ("deberta-v2-tiny-own-pos-proj", "deberta-v2", dict(DEBERTA_TINY, share_att_key=False, norm_rel_ebd="none",
                                                        position_buckets=-1, max_relative_positions=16,
                                                        position_biased_input=True, type_vocab_size=2,
                                                        embedding_size=32)),
    ("deberta-v2-tiny-c2p-conv", "deberta-v2", dict(DEBERTA_TINY, share_att_key=False, pos_att_type="c2p",
                                                    conv_kernel_size=3, conv_groups=2, legacy=False,
                                                    attention_head_size=8)),
    ("deberta-v2-tiny-absolute", "deberta-v2", dict(DEBERTA_TINY, relative_attention=False, pos_att_type=None,
                                                    position_biased_input=True, tie_word_embeddings=False)),
    ("fnet-default", "fnet", {}),
    ("fnet-base", "fnet", dict(vocab_size=32000, hidden_size=768, num_hidden_layers=12, intermediate_size=3072,
                               max_position_embeddings=512, type_vocab_size=4, hidden_act="gelu_new")),
    ("fnet-tiny", "fnet", FNET_TINY),
    ("fnet-tiny-untied", "fnet", dict(FNET_TINY, type_vocab_size=2, tie_word_embeddings=False)),
]


def lm_auto(model_type):
    return AutoModelForCausalLM if model_type == "electra" else AutoModelForMaskedLM


def counts():
    rows = []
    for name, model_type, kwargs in CASES:
        cfg = AutoConfig.for_model(model_type, **kwargs)
        row = dict(name=name, model_type=model_type, config=dict(model_type=model_type, **kwargs))
        base = build(AutoModel, cfg)
        lm = build(lm_auto(model_type), cfg)
        row.update(base_params=count(base), base_class=type(base).__name__,
                   lm_params=count(lm), lm_class=type(lm).__name__)
        if sum(1 for _ in base.modules()) < 200:
            row["modules"] = {"base": module_counts(base), "lm": module_counts(lm)}
        rows.append(row)
        print(name, row["base_params"], row["lm_params"], flush=True)
    return rows


BATCH = 2
FLOP_CASES = [
    # (name, config, head, attention, seq)
    ("albert-tiny-groups", dict(ALBERT_TINY, model_type="albert", num_hidden_groups=2, inner_group_num=2),
     "causal_lm", "sdpa", 24),
    ("albert-tiny-base-eager", dict(ALBERT_TINY, model_type="albert"), "base", "eager", 24),
    # with attention dropout the CPU's SDPA takes its math path where CUDA runs a fused
    # kernel (make_hf_flops.py): dropout cases are measured eager, SDPA ones without it
    ("electra-tiny", dict(ELECTRA_TINY, model_type="electra", attention_probs_dropout_prob=0.0), "causal_lm",
     "sdpa", 24),
    ("electra-tiny-base-eager", dict(ELECTRA_TINY, model_type="electra"), "base", "eager", 24),
    ("deberta-v3-tiny", dict(DEBERTA_TINY, model_type="deberta-v2"), "causal_lm", "eager", 24),
    ("deberta-v3-tiny-base", dict(DEBERTA_TINY, model_type="deberta-v2"), "base", "eager", 24),
    ("deberta-v2-tiny-own-pos-proj", dict(DEBERTA_TINY, model_type="deberta-v2", share_att_key=False,
                                          norm_rel_ebd="none", position_buckets=-1, max_relative_positions=16,
                                          position_biased_input=True, type_vocab_size=2, embedding_size=32),
     "causal_lm", "eager", 24),
    ("deberta-v2-tiny-absolute", dict(DEBERTA_TINY, model_type="deberta-v2", relative_attention=False,
                                      pos_att_type=None, position_biased_input=True), "base", "eager", 24),
    ("fnet-tiny", dict(FNET_TINY, model_type="fnet"), "causal_lm", "eager", 24),
    ("fnet-tiny-base", dict(FNET_TINY, model_type="fnet"), "base", "eager", 24),
]


def flops(model, cfg, head, seq):
    model.train()

    def loss():
        torch.manual_seed(1)  # the same ids (and dropout masks) with and without backward
        return head_loss(model, head, torch.randint(0, cfg.vocab_size, (BATCH, seq)))

    return forward_and_backward_flops(loss)


def flop_rows():
    rows = []
    for name, config, head, attn, seq in FLOP_CASES:
        cfg = config_of(config)
        cfg._attn_implementation = attn
        torch.manual_seed(0)
        model = (AutoModel if head == "base" else lm_auto(config["model_type"])).from_config(cfg)
        row = dict(name=name, config=config, head=head, attn=attn, batch=BATCH, seq=seq, params=count(model))
        row["flops_fwd"], row["flops_fwd_bwd"] = flops(model, cfg, head, seq)
        rows.append(row)
        print(name, row["params"], row["flops_fwd"], row["flops_fwd_bwd"], flush=True)
    return rows


def main():
    warnings.filterwarnings("ignore")
    transformers.logging.set_verbosity_error()
    out = pathlib.Path(__file__).with_name("hf_encoders.json")
    write_records(out, rows=counts(), flops=flop_rows())

if __name__ == "__main__":
    main()
