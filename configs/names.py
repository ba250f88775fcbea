"""The name lists that configs, the library and the tools check against, defined once (no imports, no side effects).

`lra.tasks` registers one task class per name of TASKS, `models` one block per name of RECURRENCES and one
pre-norm per name of NORMS; tests/configs/test_names.py checks that the registries and these lists agree.
"""

LRA_TASKS = ("listops", "scifar", "imdb")   # Table 1's tasks
LONG_HORIZON_TASKS = ("copy", "adding", "forecast")  # Table 2's generated tasks (docs/table2_cpu.md)
MNIST_TASKS = ("smnist", "psmnist")
PATHFINDER_TASKS = ("pathfinder", "pathx")  # LRA's Pathfinder (32 px) and Path-X (128 px), generated or read
PAIR_TASKS = ("retrieval",)                 # LRA's Retrieval (AAN): two documents an example, dual-encoder head
TASKS = LRA_TASKS + LONG_HORIZON_TASKS + MNIST_TASKS + PATHFINDER_TASKS + PAIR_TASKS  # configs/<task>.py
RECURRENCES = ("dense", "diag", "lru")      # config.model.recurrence
NORMS = ("batch", "layer")                  # config.model.norm
PRESETS = ("paper", "cpu")                  # the `:preset` of a task config
