"""Channel models: path loss per standard, small-scale fading, antenna patterns."""
