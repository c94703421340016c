"""Benchmarks that report ratios measured in one run, so the numbers survive a noisy machine.

One module per benchmark (`workbench bench WHAT`):

- `rollouts`: the batched engine against a one-rollout-at-a-time loop (a `MetaEnv` per
  rollout and a NumPy policy, the way a gym user would write it) over the SAME rollouts:
  same parameters, tasks, seeds and horizon. The loop may run a prefix of the rollouts to
  bound its time; the rates are per env-step either way, and the loop's returns are checked
  against the engine's.
- `mujoco` (what `rollouts` runs on a MuJoCo task): the engine with the policy in the loop
  against (b) a raw replay of the SAME control sequences with `mujoco.rollout` on one
  thread (the physics limit; the replay's final states are checked against the engine's)
  and (c) a gymnasium `env.step` loop over the same rollouts (same parameters and start
  states).
- `iteration`: seconds per training iteration, and Ray against local in alternation.
- `contention`: training throughput alone and beside one busy process.

`population` holds what the rollout benchmarks share: the population and a NumPy policy.
"""
