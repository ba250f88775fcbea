"""The Long Range Arena side of the project: `lra.tasks` (the tasks and their data) and `lra.train` (the
training loop's pieces). Experiment and benchmark tooling lives in `tools/`, which the library never imports."""
