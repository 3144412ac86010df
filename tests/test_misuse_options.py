"""Misuse, training options: every plugin option out of range stops when the task is set up (or
its training data loads) with one line naming the option, the value and what is allowed.  The
task is set up directly, without training: nothing is written, so nothing can be damaged."""

import logging

import pytest

from conftest import build_task_and_model
from misuse_helpers import setup_marge


@pytest.mark.parametrize("args, message", [
    (["--mono-links", "-3"], "--mono-links -3.0: must be a finite number >= 0"),
    (["--cross-links", "-1"], "--cross-links -1.0: must be a finite number >= 0"),
    (["--mono-links", "nan"], "--mono-links nan: must be a finite number"),
    (["--cross-lingual-weight", "0"], "--cross-lingual-weight 0.0: must be a finite number > 0"),
    (["--cross-lingual-weight", "inf"], "--cross-lingual-weight inf: must be a finite number > 0"),
    (["--retrieve-k", "0"], "--retrieve-k 0: must be a positive integer"),
    (["--retrieve-k", "-2"], "--retrieve-k -2: must be a positive integer"),
    (["--reindex-shards", "-1"], "--reindex-shards -1: must be 0 (all shards) or a positive integer"),
    (["--max-doc-tokens", "0"], "--max-doc-tokens 0: must be a positive integer"),
    (["--reindex-max-tokens", "0"], "--reindex-max-tokens 0: must be a positive integer"),
    (["--max-tokens", "0"], "--max-tokens 0: must be a positive integer"),
    (["--reindex-interval", "0"], "--reindex-interval 0: must be a positive number of updates"),
    (["--reindex-interval", "0-10:5,20-:7"], "--reindex-interval '0-10:5,20-:7': ranges must start at 0, be contiguous"),
    (["--reindex-interval", "every 5"], "--reindex-interval 'every 5': 'every 5' is not START-END:INTERVAL"),
    (["--reindex-interval", "0-10:0,10-:5"], "intervals must be positive integers, not '0'"),
    (["--planner", "oracle"], "unknown planner 'oracle': registered planners are lexical, random, retrieval"),
    (["--planner-schedule", "0-10:lexical"], "--planner-schedule '0-10:lexical': the last range must be open"),
    (["--target-lang", "xx"], "--target-lang xx: not a language of the data directory (langs.txt lists en, de, fr)"),
    (["--source-lang", "en"], "--source-lang en needs --target-lang"),
    (["--max-tokens", "10"], "--max-tokens 10: no target of train fits in a cluster"),
], ids=lambda value: " ".join(value) if isinstance(value, list) else None)
def test_option_out_of_range_stops_with_one_line(tiny_data_dir, args, message):
    with pytest.raises(ValueError) as error:
        setup_marge(tiny_data_dir, *args)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_budget_too_small_for_most_targets_warns_with_the_share(tiny_data_dir, caplog):
    with caplog.at_level(logging.WARNING):
        task = setup_marge(tiny_data_dir, "--max-tokens", "30")
    assert task.dataset("train").num_documents == 72  # a warning: training goes on with the rest
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("--max-tokens 30: at least 83.3% of the targets of train will never be trained" in w
               for w in warnings), warnings


def test_budget_that_fits_every_target_says_nothing(tiny_data_dir, caplog):
    with caplog.at_level(logging.WARNING):
        setup_marge(tiny_data_dir, "--max-tokens", "53")
    assert not [r for r in caplog.records if "--max-tokens" in r.getMessage()]


@pytest.mark.parametrize("schedule, warns", [("0-:8", False), ("0-100:8,100-:64", True)])
def test_the_budget_counts_documents_as_the_length_schedule_cuts_them(tiny_data_dir, caplog, schedule, warns):
    """Cut to 8 tokens every target fits in 30; a schedule that later trains them whole does not."""
    with caplog.at_level(logging.WARNING):
        setup_marge(tiny_data_dir, "--max-tokens", "30", "--doc-length-schedule", schedule)
    assert any("--max-tokens 30: at least" in r.getMessage() for r in caplog.records) == warns


def test_more_links_than_a_shard_can_give_warn_and_saturate(tiny_data_dir, tmp_path, caplog):
    """--mono-links 1e9 once asked the search for 4e9 candidates per target (a 358 GiB array)."""
    task, _, _ = build_task_and_model(tiny_data_dir, "--mono-links", "1e9", "--save-dir", tmp_path)
    with caplog.at_level(logging.WARNING):
        task.load_dataset("train")
    assert any("--mono-links 1000000000.0: the largest shard of train holds 24 documents, so a target has "
               "at most 23 links" in r.getMessage() for r in caplog.records)
    plan = task.build_plan(task.dataset("train"), epoch=1)
    assert plan.num_targets() > 0


def test_seq2seq_target_suffix_that_is_not_a_language_points_to_output_lang(tiny_data_dir):
    with pytest.raises(ValueError, match="--target-lang sum: not a language .*--output-lang names it"):
        setup_marge(tiny_data_dir, "--task", "marge_seq2seq", "--source-lang", "doc", "--target-lang", "sum", load=())
    setup_marge(tiny_data_dir, "--task", "marge_seq2seq", "--source-lang", "doc", "--target-lang", "sum",
                "--output-lang", "en", load=())
