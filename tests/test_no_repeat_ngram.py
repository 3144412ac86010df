"""``--no-repeat-ngram-size``: the blocker against a brute-force reference, and beam search with a
model that would otherwise repeat one token forever, through the task, fairseq-generate and
fairseq-interactive."""

from argparse import Namespace

import pytest
import torch
from fairseq import options
from fairseq_cli import generate, interactive

from conftest import REPO, build_task_and_model
from fairseq_marge.inference.ngram_repeat_block import NoRepeatNGramBlock
from fairseq_marge.models.marge_decoder import MargeDecoder
from use_helpers import save_checkpoint

LENGTH = 12  # every output has exactly this many tokens (then EOS): room to repeat


def repeated_ngrams(tokens, n: int) -> int:
    ngrams = [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
    return len(ngrams) - len(set(ngrams))


def favour_token(monkeypatch, token: int):
    """Make every MARGE decoder prefer ``token`` by far, so that beam search left alone repeats it."""
    output_layer = MargeDecoder.output_layer

    def biased(self, features):
        logits = output_layer(self, features)
        logits[..., token] += 100
        return logits

    monkeypatch.setattr(MargeDecoder, "output_layer", biased)


def banned_by_brute_force(row, step: int, n: int):
    """Tokens that would end an n-gram already among ``row[: step + 1]``."""
    seen = row[: step + 1]
    last = seen[len(seen) - n + 1 :]
    return {seen[i + n - 1] for i in range(len(seen) - n + 1) if seen[i : i + n - 1] == last}


DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_blocker_bans_what_brute_force_bans(n, device):
    rng = torch.Generator().manual_seed(n)
    bsz, beam, vocab, buffer = 3, 4, 9, 16
    for step in range(buffer - 1):
        # few distinct tokens, so that n-grams repeat; random tokens past `step` must be ignored
        tokens = torch.randint(4, 8, (bsz * beam, buffer), generator=rng)
        lprobs = torch.randn(bsz * beam, vocab, generator=rng)
        expected = lprobs.clone()
        for h, row in enumerate(tokens.tolist()):
            expected[h, sorted(banned_by_brute_force(row, step, n))] = float("-inf")
        got = NoRepeatNGramBlock(n)(tokens.to(device), lprobs.to(device), bsz, beam, step)
        torch.testing.assert_close(got.cpu(), expected, msg=f"step {step}")


@pytest.fixture(scope="module")
def task_and_model(tiny_data_dir):
    torch.manual_seed(0)
    task, model, _ = build_task_and_model(tiny_data_dir, "--source-lang", "en", "--target-lang", "de")
    task.load_dataset("test")
    sample = task.dataset("test").collater([task.dataset("test")[i] for i in range(4)])
    return task, model.eval(), sample


@pytest.mark.parametrize("n", [0, 2, 3])
def test_beam_search_repeats_no_ngram_of_the_given_size(task_and_model, monkeypatch, n):
    task, model, sample = task_and_model
    favour_token(monkeypatch, task.dictionary.index("de7"))
    args = Namespace(beam=4, max_len_a=0, max_len_b=LENGTH, min_len=LENGTH, no_repeat_ngram_size=n)
    hypos = task.inference_step(task.build_generator([model], args), [model], sample)
    outputs = [h[0]["tokens"].tolist() for h in hypos]
    assert all(len(o) == LENGTH + 1 for o in outputs)  # + EOS
    if n:
        assert all(repeated_ngrams(o, n) == 0 for o in outputs)
    else:  # the model on its own: `de7 de7 de7 ...`
        assert all(repeated_ngrams(o, 2) > 0 for o in outputs)


CLI = ["--user-dir", str(REPO / "fairseq_marge"), "--task", "marge", "--source-lang", "en", "--target-lang", "de",
       "--beam", "4", "--max-len-a", "0", "--max-len-b", str(LENGTH), "--min-len", str(LENGTH), "--cpu",
       "--max-tokens", "2000"]


@pytest.fixture(scope="module")
def checkpoint(tiny_data_dir, tmp_path_factory):
    return save_checkpoint(tiny_data_dir, tmp_path_factory.mktemp("ckpt") / "model.pt")


@pytest.mark.parametrize("tool", ["generate", "interactive"])
@pytest.mark.parametrize("flags", [[], ["--no-repeat-ngram-size", "2"]])
def test_fairseq_tools_block_repeated_ngrams(tiny_data_dir, checkpoint, task_and_model, tmp_path,
                                            monkeypatch, capsys, tool, flags):
    favour_token(monkeypatch, task_and_model[0].dictionary.index("de7"))
    if tool == "generate":
        main, parser, inputs = generate.main, options.get_generation_parser(), ["--gen-subset", "test"]
    else:
        (tmp_path / "input.txt").write_text("en1 en2 en3\nen7 en8\n")
        main, parser = interactive.main, options.get_interactive_generation_parser()
        inputs = ["--input", tmp_path / "input.txt"]
    argv = [tiny_data_dir, "--path", checkpoint, *inputs, *CLI, *flags]
    main(options.parse_args_and_arch(parser, [str(a) for a in argv]))
    lines = capsys.readouterr().out.splitlines()
    outputs = [line.split("\t")[2].split() for line in lines if line.startswith("H-")]
    assert outputs and all(len(o) == LENGTH for o in outputs)
    assert all((repeated_ngrams(o, 2) == 0) == bool(flags) for o in outputs)

