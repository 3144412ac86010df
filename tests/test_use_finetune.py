"""Fine-tuning a pre-trained MARGE checkpoint: classification and generation, with the paper's
freezing for zero-shot transfer; each trains a few updates through fairseq-train."""

import shutil

import pytest
import torch
from fairseq import checkpoint_utils, options
from fairseq.dataclass.utils import convert_namespace_to_omegaconf
from fairseq_cli import train

from conftest import REPO
from fairseq_marge.data.language_tokens import lang_token_index
from use_helpers import SENTENCES, make_real_data_dir, save_checkpoint

COMMON = ["--user-dir", str(REPO / "fairseq_marge"), "--optimizer", "adam", "--lr", "1e-2", "--max-update", "2",
          "--cpu", "--max-tokens", "2000", "--no-epoch-checkpoints", "--no-last-checkpoints", "--dropout", "0",
          "--freeze-embeddings", "--freeze-decoder-layers", "1", "--num-workers", "0"]


def fairseq_train(argv):
    train.main(convert_namespace_to_omegaconf(options.parse_args_and_arch(
        options.get_training_parser(), [str(a) for a in argv])))


def assert_frozen_and_trained(pretrained_path, finetuned_path):
    before = torch.load(pretrained_path, weights_only=False)["model"]
    after = torch.load(finetuned_path, weights_only=False)["model"]
    for name in ("encoder.embed_tokens.weight", "decoder.layers.0.fc1.weight", "decoder.layers.0.self_attn.k_proj.weight"):
        assert torch.equal(before[name], after[name]), f"{name} was frozen"
    for name in ("encoder.layers.0.fc1.weight", "decoder.layers.1.fc1.weight"):
        assert not torch.equal(before[name], after[name]), f"{name} was trained"
    return after


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    data = make_real_data_dir(tmp_path_factory.mktemp("pretrained"))
    return data, save_checkpoint(data, data / "pretrained.pt")


def test_classification_fine_tuning(pretrained, tmp_path):
    data, checkpoint = pretrained
    for split in ("train", "valid"):  # label 1: about the printer
        lines = [f"{int(i % 2 == 0)}\t{SENTENCES['en'][i % 2].format(n=i)}\n" for i in range(16)]
        (tmp_path / f"{split}.tsv").write_text("".join(lines), encoding="utf-8")
    fairseq_train([tmp_path, "--task", "marge_classification", "--vocab-dir", data, "--input-lang", "en",
                   "--num-classes", "2", "--arch", "marge_classification_tiny", "--criterion", "sentence_prediction",
                   "--finetune-from-model", checkpoint, "--save-dir", tmp_path / "ck", "--best-checkpoint-metric",
                   "accuracy", "--maximize-best-checkpoint-metric", *COMMON])
    after = assert_frozen_and_trained(checkpoint, tmp_path / "ck" / "checkpoint_best.pt")
    assert "classification_heads.sentence_classification_head.out_proj.weight" in after

    models, _, task = checkpoint_utils.load_model_ensemble_and_task([str(tmp_path / "ck" / "checkpoint_best.pt")])
    task.load_dataset("valid")
    sample = task.dataset("valid").collater([task.dataset("valid")[i] for i in range(3)])
    net_input = sample["net_input"]
    assert net_input["prev_output_tokens"][:, 0].eq(lang_token_index(task.dictionary, "en")).all()
    assert net_input["src_tokens"][:, 0].eq(task.dictionary.bos()).all()
    logits, _ = models[0](**net_input, features_only=True, classification_head_name="sentence_classification_head")
    assert logits.shape == (3, 2)


def test_generation_fine_tuning(tiny_data_dir, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(tiny_data_dir, data)
    for lang in ("en", "de"):  # the test pairs double as fine-tuning data
        for ext in ("bin", "idx"):
            for split in ("train", "valid"):
                shutil.copy(data / f"test.en-de.{lang}.{ext}", data / f"{split}.en-de.{lang}.{ext}")
    checkpoint = save_checkpoint(data, tmp_path / "pretrained.pt")
    fairseq_train([data, "--task", "marge_seq2seq", "--source-lang", "en", "--target-lang", "de",
                   "--arch", "marge_tiny", "--criterion", "label_smoothed_cross_entropy",
                   "--finetune-from-model", checkpoint, "--save-dir", tmp_path / "ck", *COMMON])
    assert_frozen_and_trained(checkpoint, tmp_path / "ck" / "checkpoint_best.pt")

    _, _, task = checkpoint_utils.load_model_ensemble_and_task([str(tmp_path / "ck" / "checkpoint_best.pt")])
    task.load_dataset("valid")
    batch = task.dataset("valid").collater([task.dataset("valid")[i] for i in range(3)])
    assert batch["net_input"]["prev_output_tokens"][:, 0].eq(lang_token_index(task.dictionary, "de")).all()
    assert batch["target"][:, 0].ne(lang_token_index(task.dictionary, "de")).all()
