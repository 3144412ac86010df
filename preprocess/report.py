"""Counts of what each step kept, dropped and warned about, saved as ``report.json``.

Every input document is either in the output or dropped for one named reason, so
``documents.in == documents.out + sum(documents.dropped.values())``.
"""

import json
import logging
import time
from collections import Counter, defaultdict
from contextlib import contextmanager
from pathlib import Path

logger = logging.getLogger(__name__)

EXAMPLES_PER_REASON = 10


class InputError(ValueError):
    """Bad input under ``--on-error stop``; the message starts with ``file:line``."""


class Report:
    def __init__(self, on_error: str = "stop"):
        assert on_error in ("stop", "skip"), on_error
        self.on_error = on_error
        self.documents_in = 0
        self.documents_out = 0
        self.dropped = Counter()
        self.warnings = Counter()
        self.examples = defaultdict(list)
        self.stats = {}

    def reject(self, reason: str, origin: str, message: str):
        """Bad input: stop with ``origin: message``, or count it as dropped (``--on-error``)."""
        if self.on_error == "stop":
            raise InputError(f"{origin}: {message} (use --on-error skip to skip and count such input)")
        self.drop(reason, origin, message)

    def drop(self, reason: str, origin: str, message: str = ""):
        self.dropped[reason] += 1
        self._example(reason, origin, message, self.dropped[reason], "dropped")

    def warn(self, reason: str, origin: str, message: str = ""):
        self.warnings[reason] += 1
        self._example(reason, origin, message, self.warnings[reason], "warning")

    def _example(self, reason, origin, message, count, kind):
        if count <= EXAMPLES_PER_REASON:
            example = f"{origin}: {message}" if message else origin
            self.examples[reason].append(example)
            logger.warning("%s (%s) %s", kind, reason, example)
        elif count == EXAMPLES_PER_REASON + 1:
            logger.warning("more '%s' %ss: counted in the report, no longer logged", reason, kind)

    @contextmanager
    def timed(self, step: str):
        start = time.perf_counter()
        yield
        self.stats.setdefault("seconds", {})[step] = round(time.perf_counter() - start, 2)

    def as_dict(self) -> dict:
        return {
            "documents": {
                "in": self.documents_in,
                "out": self.documents_out,
                "dropped": dict(sorted(self.dropped.items())),
            },
            "warnings": dict(sorted(self.warnings.items())),
            **self.stats,
            "examples": dict(sorted(self.examples.items())),
        }

    def save(self, path):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(self.as_dict(), indent=2, ensure_ascii=False) + "\n")
        summary = self.as_dict()["documents"]
        logger.info("documents: %s; report written to %s", json.dumps(summary), path)
