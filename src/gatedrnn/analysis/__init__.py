"""Analysis on top of trained or untrained models: gradients, gates, plots."""
