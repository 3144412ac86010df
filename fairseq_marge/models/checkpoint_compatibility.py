"""Whether a model or checkpoint is one the MARGE tasks can run, said in one line.

fairseq builds whatever architecture a checkpoint names with the task it is given: a plain
``transformer`` checkpoint whose vocabulary happens to match would "translate" under ``--task
marge``, and one of another vocabulary ends in a state-dict size mismatch naming no file.
"""

from fairseq.data import Dictionary

EMBEDDINGS = "encoder.embed_tokens.weight"


def require_marge_model(model):
    from .marge import MargeModel

    if not isinstance(model, MargeModel):
        raise TypeError(
            f"the model is a {type(model).__name__}, not a MARGE model: the marge task builds "
            "--arch marge_* (marge_tiny, marge_small, marge_base) and loads checkpoints trained with them"
        )
    return model


def check_vocabulary(state_dict, dictionary: Dictionary, prefix: str = ""):
    """The checkpoint's embedding rows are the data directory's dictionary (its ``dict.txt`` and
    one ``[xx]`` token per line of ``langs.txt``)."""
    key = f"{prefix}.{EMBEDDINGS}" if prefix else EMBEDDINGS
    if key in state_dict and state_dict[key].size(0) != len(dictionary):
        raise ValueError(
            f"the checkpoint's vocabulary has {state_dict[key].size(0)} types, the data "
            f"directory's dict.txt and langs.txt make {len(dictionary)}: the model was trained on "
            "another data directory; pass that one (its dict.txt, langs.txt and sentencepiece.model)"
        )
