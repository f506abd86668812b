"""KerasHub coverage: every model class keras-hub exports under `keras_hub.models` for the
backbone families archbudget reads (every Backbone, CausalLM, TextClassifier, MaskedLM,
Seq2SeqLM, ImageClassifier, TextEmbedder, VisionEncoder, TextEncoder, ...; the
`<Family>Classifier` aliases serialize as their TextClassifier), each built by the real
keras-hub from a small config with random weights, plus the multimodal Gemma3 (a
Gemma3Backbone holding a `vision_encoder`, as Gemma 3 4B/12B/27B do).

Recorded as make_keras_hub.py's `describe()` records a model (the JSON, the totals and
every row of `model.summary()`), and beside them `exported`: the family -> the exported
model classes, for the coverage the tests print (classes read / exported).

usage: KERAS_BACKEND=jax /work/scratch/keras/bin/python tests/data/make_keras_hub_tasks.py [OUTFILE]
  (keras 3.15.1, keras-hub 0.32); OUTFILE defaults to tests/data/keras_hub_tasks.json.gz.
"""
import gzip
import json
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")
import keras
import keras_hub

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_keras_hub as text  # noqa: E402
import make_keras_hub_more as more  # noqa: E402
import make_keras_hub_multimodal as multimodal  # noqa: E402
import make_keras_hub_vision as vision  # noqa: E402
from make_keras_hub import describe, round_trips  # noqa: E402

M = keras_hub.models
# the families archbudget reads (SUPPORTED in formats/keras_hub{,_vision}/mod.rs)
FAMILIES = ["GPT2", "OPT", "GPTNeoX", "Llama", "Llama3", "Mistral", "Mixtral", "Qwen", "Qwen3",
            "QwenMoe", "Qwen3Moe", "Phi3", "Gemma", "Gemma3", "SmolLM3", "GptOss", "Falcon", "Bert",
            "Roberta", "XLMRoberta", "DistilBert", "Albert", "DebertaV3", "FNet", "Electra", "T5",
            "Bart", "Whisper", "ViT", "CLIP", "SigLIP", "ResNet", "VGG", "DenseNet", "EfficientNet",
            "MobileNet", "Xception"]
# what follows the family in the name of a class with weights (tokenizers, preprocessors
# and converters have none)
MODEL_SUFFIXES = ["Backbone", "CausalLM", "TextClassifier", "Classifier", "MaskedLM", "Seq2SeqLM",
                  "ImageClassifier", "TextEmbedder", "AudioToText", "VisionEncoder", "TextEncoder"]


def exported():
    """family -> the model classes keras-hub exports for it (exact prefix: Qwen2, Qwen3_5,
    Gemma3n, T5Gemma, ViTDet and MobileNetV5 are other families)."""
    out = {}
    for family in FAMILIES:
        names = [family + s for s in MODEL_SUFFIXES if hasattr(M, family + s)]
        out[family] = sorted(set(names))
    # keras-hub exports Qwen2* as aliases of Qwen*
    out["Qwen"] += [n for n in ("Qwen2Backbone", "Qwen2CausalLM") if hasattr(M, n)]
    return out


def small_text_config(family):
    if family in text.SMALL:
        return text.SMALL[family][0]
    return more.SMALL[family][1]


def gemma3_vision_encoder():
    return M.Gemma3VisionEncoder(image_size=16, patch_size=4, num_heads=2, hidden_dim=16, num_layers=2,
                                 intermediate_dim=24, output_dim=16, pool_size=2)


def backbone(family):
    builders = {
        "ViT": multimodal.vit, "CLIP": multimodal.clip, "SigLIP": multimodal.siglip,
        "ResNet": vision.resnet, "VGG": lambda: vision.vgg(image_shape=(64, 64, 3)), "DenseNet": vision.densenet,
        "EfficientNet": vision.efficientnet, "MobileNet": vision.mobilenet,
        "Xception": lambda: M.XceptionBackbone(**more.SMALL["Xception"][1]),
    }
    if family in builders:
        return builders[family]()
    return getattr(M, family + "Backbone")(**small_text_config(family))


def build(family, class_name, bb):
    """The model of `class_name` (a class of `family`) on the backbone `bb`."""
    cls = getattr(M, class_name)
    if class_name.endswith("Backbone"):
        return bb
    if class_name.endswith("VisionEncoder"):
        return {"CLIP": multimodal.clip_vision, "SigLIP": multimodal.siglip_vision,
                "Gemma3": gemma3_vision_encoder}[family]()
    if class_name.endswith("TextEncoder"):
        return {"CLIP": multimodal.clip_text, "SigLIP": multimodal.siglip_text}[family]()
    if class_name.endswith("Classifier"):
        # VGG's default head is a 4096-wide dense block: a small one keeps the fixture small
        extra = dict(pooling_hidden_dim=32) if family == "VGG" else {}
        return cls(backbone=bb, preprocessor=None, num_classes=3, **extra)
    return cls(backbone=bb, preprocessor=None)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "keras_hub_tasks.json.gz")
    keras.utils.set_random_seed(0)
    classes = exported()
    cases, failures = [], []
    for family, names in classes.items():
        # Keras numbers unnamed layers (input_layer_3) across a session
        keras.backend.clear_session()
        bb = backbone(family)
        seen = set()
        for class_name in names:
            model = build(family, class_name, bb)
            # an alias serializes as the class it names: one case per serialized class
            registered = keras.saving.get_registered_name(type(model))
            if registered in seen:
                continue
            seen.add(registered)
            try:
                round_trips(model)
            except Exception as e:  # recorded, not hidden: the tests list it
                failures.append(dict(family=family, class_name=class_name, error=str(e)[:200]))
                continue
            cases.append(dict(describe(model, "task", class_name), family=family))
        print(family, names, flush=True)
    # Gemma 3 4B/12B/27B are multimodal: a SigLIP-like vision encoder inside the backbone
    keras.backend.clear_session()
    config = dict(text.SMALL["Gemma3"][0], image_size=16)
    mm = M.Gemma3Backbone(**config, vision_encoder=gemma3_vision_encoder())
    round_trips(mm)
    cases.append(dict(describe(mm, "task", "Gemma3Backbone_vision"), family="Gemma3"))
    lm = M.Gemma3CausalLM(backbone=mm, preprocessor=None)
    cases.append(dict(describe(lm, "task", "Gemma3CausalLM_vision"), family="Gemma3"))
    with gzip.open(out, "wt") as f:
        json.dump(dict(keras=keras.__version__, keras_hub=keras_hub.__version__, exported=classes,
                       not_round_tripping=failures, models=cases), f, indent=0, sort_keys=True)
    print(f"{len(cases)} models -> {out}; {len(failures)} not round-tripping: {failures}")


if __name__ == "__main__":
    main()
