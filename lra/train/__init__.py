"""The training loop's pieces: the jitted steps, optimizer, checkpoints, data parallelism, metrics and the loop."""
