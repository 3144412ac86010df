"""Zero-shot generation through fairseq's own tools, and retrieval at inference (--retrieve-from)."""

from argparse import Namespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from fairseq import options
from fairseq.data import data_utils
from fairseq_cli import generate, interactive

from conftest import REPO, build_task_and_model
from fairseq_marge.data.language_tokens import lang_token_index
from fairseq_marge.inference.retrieval_augmented import RetrievalAugmentedMarge
from fairseq_marge.tasks.marge import MargeTask
from use_helpers import save_checkpoint

GENERATION = ["--user-dir", str(REPO / "fairseq_marge"), "--task", "marge", "--source-lang", "en",
              "--target-lang", "de", "--beam", "6", "--no-repeat-ngram-size", "8", "--max-len-b", "4",
              "--cpu", "--max-tokens", "2000"]


@pytest.fixture(scope="module")
def checkpoint(tiny_data_dir, tmp_path_factory):
    return save_checkpoint(tiny_data_dir, tmp_path_factory.mktemp("ckpt") / "model.pt")


def run_cli(main, parser, argv, capsys):
    main(options.parse_args_and_arch(parser, [str(a) for a in argv]))
    return capsys.readouterr().out


def test_fairseq_generate_translates_the_test_pairs(tiny_data_dir, checkpoint, capsys):
    out = run_cli(generate.main, options.get_generation_parser(),
                  [tiny_data_dir, "--path", checkpoint, "--gen-subset", "test", *GENERATION], capsys)
    hypotheses = [line for line in out.splitlines() if line.startswith("H-")]
    assert len(hypotheses) == 6 and "BLEU4" in out


def test_fairseq_interactive_reads_raw_lines(tiny_data_dir, checkpoint, tmp_path, capsys):
    (tmp_path / "input.txt").write_text("en1 en2 en3\nen7 en8\n")
    out = run_cli(interactive.main, options.get_interactive_generation_parser(),
                  [tiny_data_dir, "--path", checkpoint, "--input", tmp_path / "input.txt", *GENERATION], capsys)
    assert sum(line.startswith("H-") for line in out.splitlines()) == 2


@pytest.fixture(scope="module")
def retrieval(tiny_data_dir):
    torch.manual_seed(0)
    task, model, _ = build_task_and_model(
        tiny_data_dir, "--source-lang", "en", "--target-lang", "de", "--retrieve-from", "train", "--retrieve-k", "3"
    )
    task.load_dataset("test")
    task.load_dataset("train")
    sample = task.dataset("test").collater([task.dataset("test")[i] for i in range(3)])
    return task, model.eval(), sample


def test_retrieves_the_top_k_documents_by_f(retrieval):
    task, model, sample = retrieval
    augmented = task.retrieval_augmented(model)
    assert augmented is task.retrieval_augmented(model)  # the index is built once
    src = sample["net_input"]["src_tokens"]
    with torch.no_grad():
        augmented.encoder(src)
        collection = task.dataset("train")
        rows = [torch.cat([torch.tensor([task.dictionary.bos()]), collection.tokens[d]])
                for d in range(collection.num_documents)]
        g_docs = model.encoder.relevance_embedding(data_utils.collate_tokens(rows, task.dictionary.pad()))
        f = F.normalize(model.encoder.relevance_embedding(src), dim=-1) @ F.normalize(g_docs, dim=-1).t()
    top = f.topk(3, dim=1)
    for i, retrieved in enumerate(augmented.encoder.retrieved):
        np.testing.assert_allclose(f[i, retrieved].numpy(), top.values[i].numpy(), rtol=1e-4, atol=1e-5)


def test_retrieved_documents_change_the_output(retrieval):
    task, model, sample = retrieval
    args = Namespace(beam=2, max_len_b=3)
    index = task.retrieval_augmented(model).encoder.index

    def best_scores(generator):
        return torch.stack([h[0]["score"] for h in task.inference_step(generator, [model], sample)])

    base_build = super(MargeTask, task).build_generator  # fairseq's own: no retrieval
    without = best_scores(base_build([model], args))
    top3 = best_scores(task.build_generator([model], args))
    top1 = best_scores(base_build([RetrievalAugmentedMarge(model, index, k=1)], args))
    assert not torch.allclose(without, top3) and not torch.allclose(top1, top3)


def test_memory_groups_of_a_batch_match_each_input_alone(retrieval):
    task, model, sample = retrieval
    augmented = task.retrieval_augmented(model)
    src = sample["net_input"]["src_tokens"]
    de = lang_token_index(task.dictionary, "de")
    prev = torch.full((src.size(0), 1), de)
    with torch.no_grad():
        batch_logits, _ = augmented.decoder(prev, augmented.encoder(src))
        for i in range(src.size(0)):
            row = src[i : i + 1]
            alone, _ = augmented.decoder(prev[i : i + 1], augmented.encoder(row[:, row[0].ne(task.dictionary.pad())]))
            torch.testing.assert_close(batch_logits[i], alone[0], rtol=1e-4, atol=1e-4)
