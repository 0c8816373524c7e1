"""attnbench models: plain nn.Modules, registries and decoding; never imports `pipeline/`."""

from models import scores as _scores  # noqa: F401  (fills the score registry)
