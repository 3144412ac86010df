"""How many updates each batch plan lasts: ``--reindex-interval``.

Either one number (``10000``, the paper's) or ranges of updates with their interval, e.g.
``0-2000:500,2000-:10000``: re-index every 500 updates until update 2000, then every 10000, so
that short runs get a fresh index while the retriever is still changing fast.  An epoch lasts
the interval in force at its first update.
"""

import bisect
import re
from typing import Any, Callable, List, Tuple

_RANGE = re.compile(r"^(\d+)-(\d*):(\S+)$")


class ReindexSchedule:
    def __init__(self, spec: str):
        self.spec = str(spec).strip()
        if self.spec.isdigit():
            if int(self.spec) == 0:
                raise ValueError("--reindex-interval 0: must be a positive number of updates")
            self.ranges = [(0, float("inf"), int(self.spec))]
        else:
            self.ranges = update_ranges(self.spec, "--reindex-interval", "INTERVAL", _positive_int)
        self._epoch_starts = [0]

    def interval_at(self, update: int) -> int:
        return value_at(self.ranges, update)

    def epoch_start(self, epoch: int) -> int:
        """The update at which 1-based ``epoch`` starts."""
        while len(self._epoch_starts) < epoch:
            previous = self._epoch_starts[-1]
            self._epoch_starts.append(previous + self.interval_at(previous))
        return self._epoch_starts[epoch - 1]

    def epoch_of(self, update: int) -> int:
        """The 1-based epoch that ``update`` (0-based, as fairseq's ``update_num``) belongs to."""
        while self._epoch_starts[-1] <= update:  # until an epoch starts after `update`
            self.epoch_start(len(self._epoch_starts) + 1)
        return bisect.bisect_right(self._epoch_starts, update)

    def updates_in_epoch(self, epoch: int) -> int:
        return self.interval_at(self.epoch_start(epoch))


def update_ranges(spec: str, option: str, what: str, parse_value: Callable[[str], Any]
                  ) -> List[Tuple[int, float, Any]]:
    """``START-END:VALUE,...`` as (start, end, value) triples: contiguous from update 0, the last
    range open (``END`` empty).  ``parse_value`` raises ValueError on a bad value."""
    ranges = []
    for part in spec.split(","):
        match = _RANGE.match(part.strip())
        if match is None:
            raise ValueError(f"{option} {spec!r}: {part!r} is not START-END:{what} "
                             "(END may be empty for the last range)")
        start, end, value = match.groups()
        try:
            value = parse_value(value)
        except ValueError as error:
            raise ValueError(f"{option} {spec!r}: {error}") from None
        ranges.append((int(start), float(end) if end else float("inf"), value))
    expected_start = 0
    for start, end, _ in ranges:
        if start != expected_start or end <= start:
            raise ValueError(f"{option} {spec!r}: ranges must start at 0, be contiguous and increasing")
        expected_start = end
    if expected_start != float("inf"):
        raise ValueError(f"{option} {spec!r}: the last range must be open (e.g. '2000-:{what}')")
    return ranges


def value_at(ranges: List[Tuple[int, float, Any]], update: int):
    for start, end, value in ranges:
        if start <= update < end:
            return value
    raise AssertionError("unreachable: the ranges cover every update")


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) <= 0:
        raise ValueError(f"intervals must be positive integers, not {text!r}")
    return int(text)
