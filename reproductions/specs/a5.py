"""Fig. A5: ES-MAML vs PG-MAML on Forward-Backward and Goal-Velocity for HalfCheetah,
Swimmer, Walker2d and Ant at the K of Finn et al. (2017) (A.5).

MAML's locomotion experiments used 20 trajectories per inner step (its released HalfCheetah
and Ant scripts), and A.7.1 makes K = 20 the default for every RL experiment, so A5 is
Fig. 5's comparison at K = 20. The paper states no result for A5: its two sentences say that
the comparison was made, not what it showed, so the ledger has no claim to check and the
runs are drawn only.
"""

from __future__ import annotations

from reproductions.ledger import Record
from reproductions.spec import Figure, Panel, Scale
from reproductions.specs.common import (TIME_AT_SCALE, LOCAL_MUJOCO_ES, LOCAL_MUJOCO_PG,
                                        PAPER_MUJOCO_ES, PAPER_MUJOCO_PG, SMOKE_ES,
                                        SMOKE_MUJOCO, SMOKE_PG)
from reproductions.specs.fig5 import GOALS, ROBOTS, _runs

#: Finn et al.'s trajectories per inner step in locomotion (and A.7.1's default).
K = 20

RECORDS = (
    Record("local", ("a5.csv",), "local", "0-4", "-",
           "the local run: HalfCheetah, Swimmer and Walker2d, policy L (not run yet)",
           command="workbench reproduce a5 --scale local --jobs 2"),
)

FIGURE = Figure(
    name="a5",
    title="ES-MAML vs PG-MAML at Finn et al.'s K (K = 20)",
    claim=("The paper compares ES-MAML and PG-MAML at K = 20 on Forward-Backward and "
           "Goal-Velocity for four robots and states no result."),
    panels=tuple(Panel(f"{r}-{g}", f"{r} {g.upper()}") for r in ROBOTS for g in GOALS),
    scales={
        "smoke": Scale(_runs(("L",), 2, {**SMOKE_ES, **SMOKE_MUJOCO},
                             {**SMOKE_PG, **SMOKE_MUJOCO}), seeds=1, wall_time="~60 s"),
        # Fig. 5's local budget at K = 20: an ES iteration costs (40 + 10)(K + 2) = 1,100
        # rollouts, about 4x Fig. 5's at K = 5, so ~4x its measured 5.7 h: ~23 h with
        # --jobs 2 (estimated, not run).
        "local": Scale(_runs(("L",), K, {**LOCAL_MUJOCO_ES, "iterations": 300},
                             {**LOCAL_MUJOCO_PG, "iterations": 300},
                             ("halfcheetah", "swimmer", "walker2d")),
                       seeds=5, wall_time="~23 h with --jobs 2 (estimated from fig5's "
                                          "measured 5.7 h at K = 5; not run)"),
        "paper": Scale(_runs(("L", "H"), K, {**PAPER_MUJOCO_ES, "iterations": 500},
                             {**PAPER_MUJOCO_PG, "iterations": 500}), seeds=3,
                       wall_time=f"far beyond 2 cores {TIME_AT_SCALE}"),
    },
    claims=(),
    records=RECORDS,
    paper="Figure A5",
    notes="PG-MAML is MAML-TRPO. The smoke scale uses K = 2, as Fig. 5's does.",
)
