"""How many updates each batch plan lasts: ``--reindex-interval``.

Either one number (``10000``, the paper's) or ranges of updates with their interval, e.g.
``0-2000:500,2000-:10000``: re-index every 500 updates until update 2000, then every 10000, so
that short runs get a fresh index while the retriever is still changing fast.  An epoch lasts
the interval in force at its first update.
"""

import re
from typing import List, Tuple

_RANGE = re.compile(r"^(\d+)-(\d*):(\d+)$")


class ReindexSchedule:
    def __init__(self, spec: str):
        self.spec = str(spec).strip()
        self.ranges: List[Tuple[int, float, int]] = self._parse(self.spec)
        self._epoch_starts = [0]

    @staticmethod
    def _parse(spec: str):
        if spec.isdigit():
            ranges = [(0, float("inf"), int(spec))]
        else:
            ranges = []
            for part in spec.split(","):
                match = _RANGE.match(part.strip())
                if match is None:
                    raise ValueError(
                        f"--reindex-interval {spec!r}: {part!r} is not START-END:INTERVAL "
                        "(END may be empty for the last range)"
                    )
                start, end, interval = match.groups()
                ranges.append((int(start), float(end) if end else float("inf"), int(interval)))
        expected_start = 0
        for start, end, interval in ranges:
            if start != expected_start or end <= start or interval <= 0:
                raise ValueError(
                    f"--reindex-interval {spec!r}: ranges must start at 0, be contiguous and "
                    "increasing, with positive intervals"
                )
            expected_start = end
        if expected_start != float("inf"):
            raise ValueError(f"--reindex-interval {spec!r}: the last range must be open (e.g. '2000-:10000')")
        return ranges

    def interval_at(self, update: int) -> int:
        for start, end, interval in self.ranges:
            if start <= update < end:
                return interval
        raise AssertionError("unreachable: the ranges cover every update")

    def epoch_start(self, epoch: int) -> int:
        """The update at which 1-based ``epoch`` starts."""
        while len(self._epoch_starts) < epoch:
            previous = self._epoch_starts[-1]
            self._epoch_starts.append(previous + self.interval_at(previous))
        return self._epoch_starts[epoch - 1]

    def updates_in_epoch(self, epoch: int) -> int:
        return self.interval_at(self.epoch_start(epoch))
