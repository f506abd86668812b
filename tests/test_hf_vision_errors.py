"""Bad configs of the vision types added for KerasHub's memory (clip_vision_model,
siglip_vision_model, dinov2, dinov2_with_registers, paligemma): exit status 2 and one line
naming the key, for summary and memory alike."""
import json

import pytest
from typer.testing import CliRunner

from archbudget.cli import app

runner = CliRunner()


@pytest.mark.parametrize("config, message", [
    ({"model_type": "clip_vision_model", "image_size": 16, "patch_size": 32}, "patch_size (32) is larger"),
    ({"model_type": "siglip_vision_model", "hidden_size": 30, "num_attention_heads": 4}, "not a multiple"),
    ({"model_type": "dinov2", "image_size": 10, "patch_size": 14}, "larger than image_size"),
    ({"model_type": "dinov2", "hidden_size": 30, "num_attention_heads": 4}, "not a multiple"),
    ({"model_type": "dinov2_with_registers", "num_register_tokens": -1}, "num_register_tokens"),
    ({"model_type": "dinov2", "mlp_ratio": "four"}, "mlp_ratio"),
    ({"model_type": "paligemma", "vision_config": {"model_type": "vit"}}, "vision model_type 'vit'"),
    ({"model_type": "paligemma", "text_config": {"model_type": "bert"}}, "text decoder"),
])
@pytest.mark.parametrize("command", [["summary", "-"], ["memory", "-", "--mode", "train", "--batch", "2",
                                                        "--seq", "8"]])
def test_bad_configs_fail_in_one_line(config, message, command):
    result = runner.invoke(app, command, input=json.dumps(config))
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
