"""The radio world: scenario presets, batched numpy channel/traffic models, E2 node agents."""
