"""Training: the loop and checkpoints."""
