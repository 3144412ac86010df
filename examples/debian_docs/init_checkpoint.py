"""Write the checkpoint a training run started from: its model at random initialisation.

The model is rebuilt from the trained checkpoint's config after seeding torch with the run's
``--seed``, as ``fairseq-train`` does before it builds the model, so the evaluation scripts can
score "the same model at initialisation" next to the trained one.

    python examples/debian_docs/init_checkpoint.py TRAINED.pt INIT.pt
"""

import argparse

import torch
from fairseq import tasks, utils
from omegaconf import OmegaConf

import fairseq_marge  # noqa: F401  (registers the task and model)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("trained", help="a checkpoint of the run")
    parser.add_argument("output", help="where to write the initial checkpoint")
    args = parser.parse_args()

    state = torch.load(args.trained, map_location="cpu", weights_only=True)
    cfg = OmegaConf.create(state["cfg"])
    if cfg.common.user_dir:  # a planner of its own, say: the task must find it, as in training
        utils.import_user_module(cfg.common)
    utils.set_torch_seed(cfg.common.seed)
    model = tasks.setup_task(cfg.task).build_model(cfg.model)
    state["model"] = model.state_dict()
    state.pop("last_optimizer_state", None)
    state["optimizer_history"][-1]["num_updates"] = 0
    torch.save(state, args.output)
    print(f"{args.output}: {args.trained}'s model at initialisation (seed {cfg.common.seed})")


if __name__ == "__main__":
    main()
