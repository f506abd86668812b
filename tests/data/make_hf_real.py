"""Expected counts of the held-out real config.json files in tests/data/hf_real/ (sources
in hf_real/SOURCES.md): each file is read as transformers reads a checkpoint's config
(`CONFIG_MAPPING[model_type].from_dict`), and the models are built on the meta device:
`AutoModel` (base) and the class archbudget's default head counts (`AutoModelForCausalLM`;
distilbert's masked LM, t5's seq2seq LM; none for vit). Recorded are both totals, the
classes, and the active parameters per token (routed-experts modules count top_k / E, as
make_hf_moe.py). A config transformers cannot build is recorded with its error.

    /work/scratch/hf/bin/python tests/data/make_hf_real.py    # writes hf_real_expected.json
"""
import json
import pathlib
import warnings

import transformers
from transformers import (AutoModel, AutoModelForCausalLM, AutoModelForMaskedLM, AutoModelForSeq2SeqLM,
                          CONFIG_MAPPING)

from hf_fixture import active, build, count, write_records

LM_CLASS = {"distilbert": AutoModelForMaskedLM, "t5": AutoModelForSeq2SeqLM, "vit": None}


def main():
    warnings.filterwarnings("ignore")
    transformers.logging.set_verbosity_error()
    here = pathlib.Path(__file__).parent
    rows = []
    for path in sorted((here / "hf_real").glob("*.json")):
        config = json.loads(path.read_text())
        model_type = config["model_type"]
        row = dict(file=path.name, model_type=model_type)
        try:
            cfg = CONFIG_MAPPING[model_type].from_dict(config)
            base = build(AutoModel, cfg)
            row.update(base_params=count(base), base_class=type(base).__name__, base_active=active(base, cfg))
            lm_class = LM_CLASS.get(model_type, AutoModelForCausalLM)
            if lm_class is not None:
                lm = build(lm_class, cfg)
                row.update(lm_params=count(lm), lm_class=type(lm).__name__, lm_active=active(lm, cfg))
        except Exception as e:  # recorded: the test expects archbudget to refuse it too
            row["error"] = f"{type(e).__name__}: {e}"
        rows.append(row)
        print(path.name, row.get("base_params"), row.get("lm_params"), row.get("error", ""), flush=True)
    write_records(here / "hf_real_expected.json", rows=rows)


if __name__ == "__main__":
    main()
