"""The name lists that configs, the library and the tools check against, defined once (no imports, no side effects).

`lra.tasks` registers one task class per name of TASKS, `models` one block per name of RECURRENCES and one
pre-norm per name of NORMS; tests/configs/test_names.py checks that the registries and these lists agree.
"""

TASKS = ("listops", "scifar", "imdb")       # configs/<task>.py, lra.tasks.get_task(name)
RECURRENCES = ("dense", "diag", "lru")      # config.model.recurrence
NORMS = ("batch", "layer")                  # config.model.norm
PRESETS = ("paper", "cpu")                  # the `:preset` of a task config
