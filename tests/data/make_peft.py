"""Generate tests/data/peft_lora.json: what peft and bitsandbytes build, for the tests of
`--lora-rank` / `--lora-targets` and `--quantize`.

- `lora`: LoRA cases (model type × targets × rank): the config, the head, and peft's own
  `get_nb_trainable_parameters()` (trainable, all) of `get_peft_model(model, LoraConfig(
  r, target_modules, lora_dropout))`, models built on the meta device; plus the names of
  the modules peft adapted (their last path component, with how many of each).
- `nf4` / `fp4`: `bitsandbytes.functional.quantize_4bit` of CPU tensors of a few shapes,
  with and without `compress_statistics` (double quantization): numel and dtype of the
  packed weight and of every tensor of its QuantState (absmax, code, offset, state2's
  absmax and code), and whether two quantizations share their code tensors.
- `int8`: `bitsandbytes.functional.int8_vectorwise_quant` (what `Int8Params._quantize`
  runs on a weight): CB and SCB.
- `fp8`: transformers' `FP8Linear` (integrations/finegrained_fp8.py, DeepSeek-V3's
  `weight_block_size` [128, 128]) built on the meta device: its weight and
  `weight_scale_inv`.
- `quantized`: tiny models saved and loaded back with `from_pretrained(...,
  quantization_config=BitsAndBytesConfig(...), device_map="cpu")` (bitsandbytes runs on
  the CPU): for each converted module its [out, in] and the bytes of every tensor it
  stores (weight and QuantState, or CB and SCB), the modules left unconverted, and
  peft's (trainable, all) of LoRA on the 4-bit model.
- `flops`: a tiny llama with LoRA adapters on CPU under `torch.utils.flop_counter`:
  forward and forward + backward FLOPs of a training step (base frozen, as peft leaves
  it), beside the same model without adapters.

    /work/scratch/hf/bin/python tests/data/make_peft.py   # needs torch, transformers, peft, bitsandbytes
"""
import collections
import json
import pathlib
import warnings

import bitsandbytes
import bitsandbytes.functional as bnbf
import peft
import torch
import transformers
from peft import LoraConfig, get_peft_model
from torch.utils.flop_counter import FlopCounterMode
from transformers import AutoConfig, AutoModel, AutoModelForCausalLM

HERE = pathlib.Path(__file__).parent
LLAMA_3_8B = json.loads((HERE.parent.parent / "examples" / "llama-3-8b.json").read_text())

# (name, config, head, target_modules, rank, dropout)
CASES = [
    ("llama-3-8b-qv-r8", LLAMA_3_8B, "causal_lm", ["q_proj", "v_proj"], 8, 0.05),
    ("llama-3-8b-all-r16", LLAMA_3_8B, "causal_lm", "all-linear", 16, 0.0),
    ("llama-3-8b-mlp-r64", LLAMA_3_8B, "causal_lm", ["gate_proj", "up_proj", "down_proj"], 64, 0.1),
    ("qwen2-1.5b-all-r32", dict(model_type="qwen2", vocab_size=151936, hidden_size=1536, intermediate_size=8960,
                                num_hidden_layers=28, num_attention_heads=12, num_key_value_heads=2,
                                tie_word_embeddings=True), "causal_lm", "all-linear", 32, 0.05),
    ("gpt2-c_attn-r4", dict(model_type="gpt2"), "causal_lm", ["c_attn"], 4, 0.0),
    ("gpt2-all-r8", dict(model_type="gpt2"), "causal_lm", "all-linear", 8, 0.1),
    ("gpt2-medium-c_attn-c_proj-r16", dict(model_type="gpt2", n_embd=1024, n_layer=24, n_head=16), "causal_lm",
     ["c_attn", "c_proj"], 16, 0.0),
    ("mistral-qkvo-r32", dict(model_type="mistral"), "causal_lm", ["q_proj", "k_proj", "v_proj", "o_proj"], 32, 0.0),
    ("mixtral-8x7b-all-r8", dict(model_type="mixtral", vocab_size=32000, hidden_size=4096, intermediate_size=14336,
                                 num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=8,
                                 num_local_experts=8, num_experts_per_tok=2), "causal_lm", "all-linear", 8, 0.0),
    ("phi3-all-r16", dict(model_type="phi3"), "causal_lm", "all-linear", 16, 0.05),
    ("phi3-qkv-gate_up-r8", dict(model_type="phi3"), "causal_lm", ["qkv_proj", "gate_up_proj"], 8, 0.0),
    ("bert-base-query-value-r8", dict(model_type="bert"), "base", ["query", "value"], 8, 0.1),
    ("bert-base-all-r4", dict(model_type="bert"), "base", "all-linear", 4, 0.0),
    ("opt-all-r4", dict(model_type="opt", hidden_size=512, ffn_dim=2048, num_hidden_layers=6,
                        num_attention_heads=8, word_embed_proj_dim=256), "causal_lm", "all-linear", 4, 0.0),
    ("gpt_neox-qkv-r16", dict(model_type="gpt_neox", hidden_size=1024, intermediate_size=4096, num_hidden_layers=6,
                              num_attention_heads=8, vocab_size=50432), "causal_lm", ["query_key_value"], 16, 0.0),
    ("falcon-all-r8", dict(model_type="falcon"), "causal_lm", "all-linear", 8, 0.0),
    ("qwen2_moe-all-r8", dict(model_type="qwen2_moe", vocab_size=2000, hidden_size=256, intermediate_size=512,
                              moe_intermediate_size=128, shared_expert_intermediate_size=512, num_hidden_layers=4,
                              num_attention_heads=8, num_key_value_heads=4, num_experts=8, num_experts_per_tok=2),
     "causal_lm", "all-linear", 8, 0.0),
    ("gemma2-all-r4", dict(model_type="gemma2", vocab_size=4000, hidden_size=512, intermediate_size=1024,
                           num_hidden_layers=4, num_attention_heads=8, num_key_value_heads=4, head_dim=64),
     "causal_lm", "all-linear", 4, 0.0),
    ("distilbert-q_lin-v_lin-r8", dict(model_type="distilbert"), "base", ["q_lin", "v_lin"], 8, 0.0),
    ("roberta-all-r16", dict(model_type="roberta"), "base", "all-linear", 16, 0.0),
]

HEADS = {"base": AutoModel, "causal_lm": AutoModelForCausalLM}


def lora_case(name, config, head, targets, rank, dropout):
    kwargs = {k: v for k, v in config.items() if k != "model_type"}
    cfg = AutoConfig.for_model(config["model_type"], **kwargs)
    with torch.device("meta"):
        model = HEADS[head].from_config(cfg)
    lora = LoraConfig(r=rank, lora_alpha=2 * rank, target_modules=targets, lora_dropout=dropout)
    model = get_peft_model(model, lora)
    trainable, total = model.get_nb_trainable_parameters()
    adapted = collections.Counter(
        n.rsplit(".", 1)[-1] for n, m in model.named_modules() if isinstance(m, peft.tuners.lora.LoraLayer)
    )
    return dict(name=name, config=config, head=head, targets=targets, rank=rank, dropout=dropout,
                trainable_params=trainable, all_params=total, adapted=dict(sorted(adapted.items())))


def tensor_info(t):
    return None if t is None else dict(numel=t.numel(), dtype=str(t.dtype).removeprefix("torch."),
                                       shape=list(t.shape))


def four_bit(quant_type):
    rows = []
    for shape in [(64, 64), (4096, 4096), (1024, 4096), (11008, 4096), (4096, 14336), (100, 30)]:
        for double in (False, True):
            w = torch.randn(shape, dtype=torch.bfloat16)
            packed, state = bnbf.quantize_4bit(w, blocksize=64, compress_statistics=double, quant_type=quant_type)
            _, other = bnbf.quantize_4bit(w, blocksize=64, compress_statistics=double, quant_type=quant_type)
            row = dict(shape=list(shape), double_quant=double, weight=tensor_info(packed),
                       absmax=tensor_info(state.absmax), code=tensor_info(state.code),
                       code_shared=state.code.data_ptr() == other.code.data_ptr(),
                       blocksize=state.blocksize)
            if double:
                row.update(offset=tensor_info(state.offset), state2_absmax=tensor_info(state.state2.absmax),
                           state2_code=tensor_info(state.state2.code), state2_blocksize=state.state2.blocksize,
                           state2_code_shared=state.state2.code.data_ptr() == other.state2.code.data_ptr())
            rows.append(row)
    return rows


def int8():
    rows = []
    for shape in [(64, 64), (4096, 4096), (11008, 4096), (100, 30)]:
        w = torch.randn(shape, dtype=torch.float16)
        cb, scb, _ = bnbf.int8_vectorwise_quant(w)
        rows.append(dict(shape=list(shape), CB=tensor_info(cb), SCB=tensor_info(scb)))
    return rows


def fp8():
    from transformers.integrations.finegrained_fp8 import FP8Linear

    rows = []
    for out_f, in_f in [(4096, 4096), (1024, 4096), (14336, 4096), (4096, 14336), (100, 30), (7168, 18432)]:
        with torch.device("meta"):
            lin = FP8Linear(in_f, out_f, block_size=(128, 128))
        rows.append(dict(shape=[out_f, in_f], block=[128, 128], weight=tensor_info(lin.weight),
                         weight_scale_inv=tensor_info(lin.weight_scale_inv)))
    return rows


QUANT_MODELS = [
    ("llama-tiny", dict(model_type="llama", vocab_size=1000, hidden_size=256, intermediate_size=688,
                        num_hidden_layers=2, num_attention_heads=8, num_key_value_heads=2)),
    ("gpt2-tiny", dict(model_type="gpt2", vocab_size=1000, n_embd=128, n_layer=2, n_head=4)),
    ("bert-tiny", dict(model_type="bert", vocab_size=1000, hidden_size=128, intermediate_size=256,
                       num_hidden_layers=2, num_attention_heads=4)),
    ("qwen2_moe-tiny", dict(model_type="qwen2_moe", vocab_size=1000, hidden_size=128, intermediate_size=256,
                            moe_intermediate_size=64, shared_expert_intermediate_size=256, num_hidden_layers=2,
                            num_attention_heads=4, num_key_value_heads=2, num_experts=4, num_experts_per_tok=2)),
]
QUANT_CONFIGS = {
    "nf4": dict(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True),
    "fp4": dict(load_in_4bit=True, bnb_4bit_quant_type="fp4"),
    "int8": dict(load_in_8bit=True),
}


def nbytes(t):
    return t.numel() * t.element_size()


def stored(module):
    """Bytes of each tensor a converted module stores for its weight."""
    w = module.weight
    if isinstance(module, bitsandbytes.nn.Linear4bit):
        st = w.quant_state
        out = [nbytes(w), nbytes(st.absmax), nbytes(st.code)]
        if st.nested:
            out += [nbytes(st.offset), nbytes(st.state2.absmax), nbytes(st.state2.code)]
        return out
    return [nbytes(w), nbytes(w.SCB if w.SCB is not None else module.state.SCB)]


def quantized_case(name, config, method):
    import tempfile

    from transformers import BitsAndBytesConfig

    kwargs = {k: v for k, v in config.items() if k != "model_type"}
    cfg = AutoConfig.for_model(config["model_type"], **kwargs)
    head = AutoModel if config["model_type"] == "bert" else AutoModelForCausalLM
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as d:
        head.from_config(cfg).to(torch.bfloat16).save_pretrained(d)
        qc = dict(QUANT_CONFIGS[method], bnb_4bit_compute_dtype=torch.bfloat16)
        model = head.from_pretrained(d, quantization_config=BitsAndBytesConfig(**qc), device_map="cpu",
                                     dtype=torch.bfloat16)
    kinds = (bitsandbytes.nn.Linear4bit, bitsandbytes.nn.Linear8bitLt)
    converted = [dict(name=n.rsplit(".", 1)[-1], shape=[m.out_features, m.in_features], stored=stored(m))
                 for n, m in model.named_modules() if isinstance(m, kinds)]
    plain = sorted(n.rsplit(".", 1)[-1] for n, m in model.named_modules()
                   if type(m) is torch.nn.Linear or type(m).__name__ == "Conv1D")
    row = dict(name=name, method=method, config=config, head="base" if head is AutoModel else "causal_lm",
               quantization_config=dict(quant_method="bitsandbytes", **QUANT_CONFIGS[method]),
               converted=converted, unconverted=plain)
    if method == "nf4":
        peft_model = get_peft_model(model, LoraConfig(r=8, target_modules="all-linear"))
        row["lora"] = dict(rank=8, targets="all-linear")
        row["trainable_params"], row["all_params"] = peft_model.get_nb_trainable_parameters()
    return row


FLOPS_LLAMA = dict(model_type="llama", vocab_size=1000, hidden_size=256, intermediate_size=688, num_hidden_layers=2,
                   num_attention_heads=8, num_key_value_heads=2)


def flops_case(targets, rank, batch=2, seq=32):
    torch.manual_seed(0)
    kwargs = {k: v for k, v in FLOPS_LLAMA.items() if k != "model_type"}
    cfg = AutoConfig.for_model("llama", attn_implementation="eager", **kwargs)
    model = AutoModelForCausalLM.from_config(cfg)
    if targets is not None:
        model = get_peft_model(model, LoraConfig(r=rank, lora_alpha=2 * rank, target_modules=targets,
                                                 lora_dropout=0.0))
    model.train()
    ids = torch.randint(0, cfg.vocab_size, (batch, seq))
    with FlopCounterMode(display=False) as fwd:
        out = model(input_ids=ids, labels=ids)
    forward = fwd.get_total_flops()
    with FlopCounterMode(display=False) as both:
        out = model(input_ids=ids, labels=ids)
        out.loss.backward()
    return dict(config=FLOPS_LLAMA, targets=targets, rank=rank, batch=batch, seq=seq, attn="eager",
                flops_fwd=forward, flops_fwd_bwd=both.get_total_flops())


def main():
    warnings.filterwarnings("ignore")
    transformers.logging.set_verbosity_error()
    lora = []
    for case in CASES:
        row = lora_case(*case)
        print(row["name"], row["trainable_params"], row["all_params"], row["adapted"], flush=True)
        lora.append(row)
    quantized = [quantized_case(n, c, m) for n, c in QUANT_MODELS for m in QUANT_CONFIGS]
    for q in quantized:
        print("quantized", q["name"], q["method"], len(q["converted"]), q["unconverted"], q.get("trainable_params"),
              flush=True)
    flops = [flops_case(None, 0), flops_case(["q_proj", "v_proj"], 8), flops_case("all-linear", 16)]
    for f in flops:
        print("flops", f["targets"], f["rank"], f["flops_fwd"], f["flops_fwd_bwd"], flush=True)
    doc = dict(
        env=dict(torch=torch.__version__, transformers=transformers.__version__, peft=peft.__version__,
                 bitsandbytes=bitsandbytes.__version__),
        lora=lora, nf4=four_bit("nf4"), fp4=four_bit("fp4"), int8=int8(), fp8=fp8(), quantized=quantized, flops=flops,
    )
    lines = ",\n".join(f"{json.dumps(k)}:{json.dumps(v, separators=(',', ':'))}" for k, v in doc.items())
    (HERE / "peft_lora.json").write_text("{" + lines + "}\n")


if __name__ == "__main__":
    main()
