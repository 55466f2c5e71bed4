"""A training run: its state, checkpoints, lock and trained-model loading."""
