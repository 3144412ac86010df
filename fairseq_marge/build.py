"""Build a task and model from ``fairseq-train``-style arguments, in-process (tests, benchmarks)."""

from typing import List

from fairseq import options, tasks
from fairseq.dataclass.utils import convert_namespace_to_omegaconf


def build_from_args(argv: List[str]):
    """``argv`` as given to fairseq-train (DATA first); returns ``(cfg, task, model)``."""
    args = options.parse_args_and_arch(options.get_training_parser(), [str(a) for a in argv])
    cfg = convert_namespace_to_omegaconf(args)
    task = tasks.setup_task(cfg.task)
    return cfg, task, task.build_model(cfg.model)
