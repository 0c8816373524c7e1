"""attnbench models: plain nn.Modules, registries and decoding; never imports `pipeline/`.

Empty on purpose: `models.special` and `models.registry` import without torch; `models.scores` fills the score
registry when imported."""
