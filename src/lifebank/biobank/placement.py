"""Auto-placement: choose free positions for N new specimens in boxes of the right temperature class.

Rules (the technician's habits, made explicit):
1. Only boxes of the requested temperature class are candidates: plasma for -80 °C never lands in LN2.
2. Boxes are tried first-come (`first`, in the order given, e.g. by name) or emptiest first (`least_used`).
3. Contiguous is better: if one box has a run of N consecutive free positions, use the first such run;
   otherwise fill free positions in order, box after box.
4. A position that is occupied, or already chosen, is never chosen.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from lifebank.messages import Msg


class Strategy(StrEnum):
    FIRST = "first"
    LEAST_USED = "least_used"


class InsufficientSpace(ValueError):
    """Not enough free positions of a temperature class; `message` says how many, for any language."""

    def __init__(self, message: Msg) -> None:
        self.message = message
        super().__init__(str(message))


@dataclass(frozen=True, slots=True)
class BoxState:
    box_id: int
    temperature_class: str
    capacity: int
    occupied: frozenset[int] = field(default_factory=frozenset)

    @property
    def free(self) -> int:
        return self.capacity - len(self.occupied)


@dataclass(frozen=True, slots=True)
class Slot:
    box_id: int
    index: int


def _first_run(box: BoxState, length: int) -> list[int] | None:
    run_start, run = 0, 0
    for index in range(box.capacity):
        if index in box.occupied:
            run = 0
            continue
        if run == 0:
            run_start = index
        run += 1
        if run == length:
            return list(range(run_start, run_start + length))
    return None


def plan_placement(boxes: Sequence[BoxState], count: int, temperature_class: str,
                   strategy: Strategy = Strategy.FIRST) -> list[Slot]:
    """Positions for `count` specimens, in order; raise InsufficientSpace when the class is too full."""
    if count < 0:
        raise ValueError("count must not be negative")
    candidates = [box for box in boxes if box.temperature_class == temperature_class]
    if strategy is Strategy.LEAST_USED:
        candidates.sort(key=lambda box: (len(box.occupied) / box.capacity if box.capacity else 1.0))
    if count == 0:
        return []
    for box in candidates:
        run = _first_run(box, count)
        if run is not None:
            return [Slot(box.box_id, index) for index in run]
    slots: list[Slot] = []
    for box in candidates:
        for index in range(box.capacity):
            if index not in box.occupied:
                slots.append(Slot(box.box_id, index))
                if len(slots) == count:
                    return slots
    free = sum(box.free for box in candidates)
    raise InsufficientSpace(Msg("{requested} positions requested at {temperature}, only {free} free in {count} box "
                                "of that class",
                                plural="{requested} positions requested at {temperature}, only {free} free in "
                                       "{count} boxes of that class",
                                count=len(candidates), requested=count, temperature=temperature_class, free=free))
