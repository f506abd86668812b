"""Generate tests/data/hf_gemma3_vision.json: gemma3's vision tower and projector alone
(`Gemma3Model.vision_tower` and `.multi_modal_projector`, the model keras-hub's
Gemma3VisionEncoder is), measured with the real transformers: for the geometry of each
keras-hub Gemma3VisionEncoder of tests/data/keras_hub_tasks.json.gz, the parameters of the two
modules and the forward and forward+backward FLOPs of
`projector(tower(pixels).last_hidden_state).float().pow(2).mean()` in `train()`, fp32, SDPA,
under torch.utils.flop_counter on CPU (BATCH images).

    /work/scratch/hf/bin/python tests/data/make_hf_gemma3_vision.py   # needs torch, transformers
"""
import pathlib
import sys
import warnings

try:
    import torch
    import transformers
    from transformers import AutoModel
except ImportError:
    print("torch and transformers are needed; nothing written")
    sys.exit(0)

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from hf_fixture import config_of, count, forward_and_backward_flops, write_records  # noqa: E402

# (name, image, patch, pool, hidden, heads, layers, intermediate, output width)
ENCODERS = [("Gemma3VisionEncoder", 16, 4, 2, 16, 2, 2, 24, 16),
            ("gemma3-vision-wider", 32, 4, 4, 24, 3, 1, 40, 48)]
BATCH = 2


def main():
    warnings.filterwarnings("ignore")
    transformers.logging.set_verbosity_error()
    torch.manual_seed(0)
    rows = []
    for name, image, patch, pool, hidden, heads, layers, inter, width in ENCODERS:
        tokens = (image // patch // pool) ** 2
        config = dict(model_type="gemma3", mm_tokens_per_image=tokens,
                      vision_config=dict(model_type="siglip_vision_model", hidden_size=hidden,
                                         intermediate_size=inter, num_hidden_layers=layers,
                                         num_attention_heads=heads, image_size=image, patch_size=patch,
                                         vision_use_head=False),
                      text_config=dict(model_type="gemma3_text", hidden_size=width, num_hidden_layers=1,
                                       num_attention_heads=1, num_key_value_heads=1, head_dim=8,
                                       intermediate_size=8, vocab_size=300))
        model = AutoModel.from_config(config_of(config), attn_implementation="sdpa")
        model.train()
        tower, projector = model.vision_tower, model.multi_modal_projector
        pixels = torch.randn(BATCH, 3, image, image)
        fwd, fwd_bwd = forward_and_backward_flops(
            lambda: projector(tower(pixel_values=pixels).last_hidden_state).float().pow(2).mean())
        rows.append(dict(name=name, image_size=image, patch_size=patch, pool_size=pool, hidden=hidden,
                         heads=heads, layers=layers, intermediate=inter, output_dim=width, batch=BATCH,
                         params=count(tower) + count(projector), flops_fwd=fwd, flops_fwd_bwd=fwd_bwd))
        print(rows[-1], file=sys.stderr)
    write_records(pathlib.Path(__file__).with_name("hf_gemma3_vision.json"), encoders=rows)


if __name__ == "__main__":
    main()
