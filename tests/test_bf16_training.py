"""fairseq's --bf16 with the marge task, model and criterion, on the CPU (issue 25): training with
re-indexing and validation, fairseq-generate from the checkpoint, the hub interface in bf16."""

import math

import pytest
import torch
from fairseq.optim.fp16_optimizer import FP16Optimizer
from fairseq.trainer import Trainer

from conftest import REPO, run_cli
from fairseq_marge.build import build_from_args
from fairseq_marge.models.marge import MargeModel
from use_helpers import make_real_data_dir, save_checkpoint

TRAIN = ["--user-dir", REPO / "fairseq_marge", "--task", "marge", "--arch", "marge_tiny", "--criterion", "marge",
         "--max-tokens", "600", "--optimizer", "adam", "--lr", "1e-3", "--cpu", "--seed", "3"]


def half_trainer(data_dir, *flags):
    """fairseq's Trainer for marge_tiny, as fairseq-train builds it, and a cluster to train on."""
    cfg, task, model = build_from_args([data_dir, *TRAIN, *flags])
    task.load_dataset("train")
    trainer = Trainer(cfg, task, model, task.build_criterion(cfg.criterion))
    return trainer, task.dataset("train").cluster_batch([0, 1, 2, 3, 4, 5], [0, 1, 3, 4])


def test_bf16_trains_bf16_weights_from_an_fp32_master_copy(tiny_data_dir):
    """fairseq's FP16Optimizer with --bf16: the model computes in bf16, Adam updates fp32 copies
    (no loss scaling in bf16); beta and g's layers among them."""
    trainer, sample = half_trainer(tiny_data_dir, "--bf16")
    assert trainer.cfg.common.bf16 and not trainer.cfg.common.tpu
    beta = trainer.model.encoder.relevance.beta
    g_weight = trainer.model.encoder.layers[0].fc1.weight
    assert beta.dtype == g_weight.dtype == torch.bfloat16
    assert isinstance(trainer.optimizer, FP16Optimizer) and trainer.optimizer.scaler is None
    masters = dict(zip(map(id, trainer.optimizer.fp16_params), trainer.optimizer.fp32_params))
    beta_master, g_master = masters[id(beta)], masters[id(g_weight)]
    assert beta_master.dtype == g_master.dtype == torch.float32
    before = beta_master.detach().clone(), g_master.detach().clone()

    assert torch.isfinite(torch.tensor(trainer.train_step([sample])["loss"]))
    # the relevance bias trains beta; f's gradient trains g (adam moves every weight with a gradient)
    assert beta_master.item() != before[0].item() and not torch.equal(g_master, before[1])
    assert beta.item() == pytest.approx(beta_master.item(), abs=1e-2)  # bf16's copy of the master


@pytest.mark.parametrize("flags,dtype", [
    (["--memory-efficient-bf16"], torch.bfloat16),
    # fp16 with loss scaling; fairseq's flat fp32 copy asks for torch.cuda.current_device()
    (["--fp16", "--fp16-no-flatten-grads"], torch.float16),
    (["--memory-efficient-fp16"], torch.float16),
    (["--amp"], torch.float32),  # fp32 weights under CUDA autocast, which CPU tensors ignore
])
def test_fairseqs_other_half_precision_modes_train(tiny_data_dir, flags, dtype):
    """What of --fp16 and --amp (CUDA-only in fairseq) runs on a CPU runs our task, model and
    criterion: three updates on one cluster, finite and falling."""
    trainer, sample = half_trainer(tiny_data_dir, *flags)
    assert next(trainer.model.parameters()).dtype == dtype
    losses = [trainer.train_step([sample])["loss"] for _ in range(3)]
    assert all(map(math.isfinite, losses)) and losses[2] < losses[0]


@pytest.mark.slow
def test_bf16_train_reindex_validate_then_generate(tiny_data_dir, tmp_path):
    train = run_cli(
        "fairseq-train", tiny_data_dir, *TRAIN, "--bf16", "--max-update", "4", "--reindex-interval", "2",
        "--save-dir", tmp_path, "--log-format", "simple", "--log-interval", "1",
    )
    log = train.stdout + train.stderr
    assert "bf16 on this device, not on a TPU" in log
    assert "re-index 2 after 2 updates" in log and "valid on 'valid' subset" in log
    assert "loss nan" not in log and "loss inf" not in log
    state = torch.load(tmp_path / "checkpoint_last.pt", weights_only=True)
    assert state["optimizer_history"][-1]["num_updates"] == 4
    assert state["optimizer_history"][-1]["optimizer_name"] == "FP16Optimizer"

    # fairseq-generate reads --bf16 and runs as fairseq does (in fp32: it halves models only for --fp16)
    gen = run_cli(
        "fairseq-generate", tiny_data_dir, "--user-dir", "fairseq_marge", "--task", "marge",
        "--source-lang", "en", "--target-lang", "de", "--gen-subset", "test", "--path",
        tmp_path / "checkpoint_last.pt", "--beam", "2", "--cpu", "--bf16", "--max-tokens", "2000",
        "--max-len-b", "10",
    )
    assert sum(line.startswith("H-") for line in gen.stdout.splitlines()) == 6


@pytest.fixture(scope="module")
def hubs(tmp_path_factory):
    """The same checkpoint in fp32 and in bf16."""
    data = make_real_data_dir(tmp_path_factory.mktemp("hub"))
    save_checkpoint(data, data / "model.pt")
    load = lambda: MargeModel.from_pretrained(str(data), checkpoint_file="model.pt").eval()  # noqa: E731
    return load(), load().bfloat16()


def test_hub_in_bf16(hubs):
    """translate, embed and relevance run on a bf16 model; embeddings and f come back in fp32,
    close to the fp32 model's."""
    fp32, bf16 = hubs
    assert bf16.model.encoder.relevance.beta.dtype == torch.bfloat16
    texts = ["The printer number 3 is connected to the network.", "Der Drucker ist verbunden."]
    assert all(isinstance(out, str) for out in bf16.translate(texts, target_lang="de", beam=2, max_len_b=5))
    embedded, relevance = bf16.embed(texts), bf16.relevance(texts, texts)
    assert embedded.dtype == relevance.dtype == torch.float32
    torch.testing.assert_close(embedded, fp32.embed(texts), rtol=0.05, atol=0.05)
    torch.testing.assert_close(relevance, fp32.relevance(texts, texts), rtol=0.02, atol=0.02)
