"""Fig. A2: FO-NoHessian vs zero-order ES-MAML (Alg. 3), by rollouts, on Forward-Backward
HalfCheetah and Ant at K = 5 and K = 20 (A.1.2)."""

from __future__ import annotations

from reproductions.results import Results
from reproductions.verdicts import greater
from reproductions.spec import Check, Figure, Panel, Scale
from reproductions.specs.common import (TIME_AT_SCALE, PAPER_MUJOCO_ES, LOCAL_MUJOCO_ES,
                                        SMOKE_ES, SMOKE_MUJOCO, es)

TASKS = {"hc": "halfcheetah-fb", "ant": "ant-fb"}
VARIANTS = {"zero-order": "zero-order (Alg. 3)", "fo-nohessian": "FO-NoHessian"}


def _runs(ks: tuple[int, ...], sets: dict, tasks: tuple[str, ...] = tuple(TASKS)) -> tuple:
    return tuple(es(f"{t}-{v}-K{k}", TASKS[t], f"{t}-K{k}", f"{label} K={k}", variant=v, K=k,
                    policy="L", **sets)
                 for t in tasks for k in ks for v, label in VARIANTS.items())


def checks(r: Results) -> list[Check]:
    out = []
    for name in r.runs:
        if name.startswith("hc-zero-order-K"):
            k = name.rsplit("K", 1)[1]
            out.append(greater(f"HalfCheetah FB, K={k}: zero-order beats FO-NoHessian "
                               f"(final, equal iterations)", r.final(name),
                               r.final(f"hc-fo-nohessian-K{k}"), "zero-order", "FO-NoHessian"))
    return out


FIGURE = Figure(
    name="a2",
    title="FO-NoHessian vs zero-order, by rollouts",
    claim=("FO-NoHessian does notably worse than zero-order ES-MAML at low K (K = 5) on "
           "Forward-Backward HalfCheetah."),
    panels=tuple(Panel(f"{t}-K{k}", f"{task} K={k}") for t, task in TASKS.items()
                 for k in (5, 20)),
    scales={
        "smoke": Scale(_runs((5,), {**SMOKE_ES, **SMOKE_MUJOCO}), seeds=1, wall_time="~20 s"),
        # HalfCheetah, K = 5: ~2.1 CPU-s an iteration, 2 runs x 5 seeds x 300 iterations.
        "local": Scale(_runs((5,), {**LOCAL_MUJOCO_ES, "iterations": 300}, ("hc",)), seeds=5,
                       wall_time="~1 h with --jobs 2 (estimated; HalfCheetah, K=5; not run "
                                 "yet)"),
        "paper": Scale(_runs((5, 20), {**PAPER_MUJOCO_ES, "iterations": 500}), seeds=3,
                       wall_time=f"~133 h on 2 cores {TIME_AT_SCALE}"),
    },
    checks=checks,
    x_label="rollouts",
    notes=("The paper plots by rollouts because its two methods ran on different numbers of "
           "workers; the check compares at the end of equal iteration budgets."),
)
