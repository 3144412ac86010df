"""Planners: what builds the batch plan of each epoch, picked by name with ``--planner``.

A planner is registered the way fairseq registers tasks and models, so a user-dir can add one
without editing the task::

    from fairseq_marge.data.planner_registry import Planner, register_planner

    @register_planner("my_planner")
    class MyPlanner(Planner):
        def plan(self, dataset, model, generation, seed, updates_since_last):
            ...  # a BatchPlan of clusters of ``dataset``'s documents

and ``fairseq-train --user-dir my_dir --planner my_planner`` (or a ``--planner-schedule`` range)
uses it.  Built in: ``retrieval`` (the paper's), ``random`` (its ablation), ``lexical``
(character n-gram TF-IDF, a bootstrap beyond the paper).  ``examples/custom_planner`` adds one.
"""

from typing import Dict, Type

from .batch_plan import BatchPlan

PLANNER_REGISTRY: Dict[str, Type["Planner"]] = {}


class Planner:
    """Builds one epoch's plan.  ``from_task`` reads what it needs from the task (its config,
    languages, save directory); ``plan`` runs at the start of every epoch of training."""

    name = None  # set by register_planner

    def __init__(self, task):
        self.task = task

    @classmethod
    def from_task(cls, task) -> "Planner":
        return cls(task)

    def plan(self, dataset, model, generation: int, seed: int, updates_since_last: int) -> BatchPlan:
        """The plan of epoch ``generation`` (1-based) over ``dataset``, made with ``model`` as it
        is now; ``seed`` is the epoch's.  Every rank calls it and must get the same plan (the
        task checks: :mod:`.plan_agreement`)."""
        raise NotImplementedError


def register_planner(name: str):
    def register(cls):
        if name in PLANNER_REGISTRY:
            raise ValueError(f"planner {name!r} is registered twice")
        if not issubclass(cls, Planner):
            raise TypeError(f"planner {name!r} ({cls.__name__}) must subclass Planner")
        cls.name = name
        PLANNER_REGISTRY[name] = cls
        return cls

    return register


def build_planner(name: str, task) -> Planner:
    return get_planner_class(name).from_task(task)


def get_planner_class(name: str) -> Type[Planner]:
    if name not in PLANNER_REGISTRY:
        raise ValueError(f"unknown planner {name!r}: registered planners are "
                         f"{', '.join(sorted(PLANNER_REGISTRY))} (a user-dir may register more)")
    return PLANNER_REGISTRY[name]
