"""A user-defined task in its own user-dir, built on fairseq_marge (examples/custom_task/)."""

import torch
from fairseq import options, tasks
from fairseq.dataclass.utils import convert_namespace_to_omegaconf
from fairseq_cli import train

from conftest import REPO

USER_DIR = REPO / "examples" / "custom_task" / "evidence_noise"


def test_custom_task_trains_a_few_updates(tiny_data_dir, tmp_path):
    args = options.parse_args_and_arch(options.get_training_parser(), [str(a) for a in [
        tiny_data_dir, "--user-dir", USER_DIR, "--task", "marge_evidence_noise", "--evidence-noise", "0.5",
        "--arch", "marge_tiny", "--criterion", "marge", "--max-tokens", "600", "--optimizer", "adam",
        "--lr", "1e-3", "--max-update", "2", "--reindex-interval", "2", "--planner", "random", "--cpu",
        "--num-workers", "0", "--save-dir", tmp_path, "--no-epoch-checkpoints", "--disable-validation",
    ]])
    cfg = convert_namespace_to_omegaconf(args)
    train.main(cfg)
    state = torch.load(tmp_path / "checkpoint_last.pt", weights_only=False)
    assert state["optimizer_history"][-1]["num_updates"] == 2
    assert state["cfg"]["task"]["_name"] == "marge_evidence_noise"

    task = tasks.setup_task(cfg.task)
    task.load_dataset("train")
    sample = task.dataset("train").cluster_batch([0, 1, 2], [3, 4])
    src = sample["net_input"]["src_tokens"]
    noisy = task.add_noise(src, num_evidence=3)
    d = task.dictionary
    assert noisy[:3].eq(d.unk()).any() and torch.equal(noisy[3:], src[3:])  # targets stay intact
    special = (src == d.bos()) | (src == d.eos()) | (src == d.pad())
    assert torch.equal(noisy[special], src[special])
