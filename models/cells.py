"""Recurrent cells by name (`rnn` = Elman tanh, `lstm`, `gru`) over the PyTorch multi-layer modules.

A state is always a tuple of (L·dirs, B, H) tensors — (h,) or (h, c) — so no caller asks which cell it has.
"""

from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence

from models.registry import Registry

CELLS = Registry("cell")
register_cell = CELLS.register


class Cell(nn.Module):
    """Runs `rnn_class` over (B, T, I) (or a PackedSequence) from a tuple state."""

    rnn_class: type[nn.RNNBase]
    n_states = 1

    def __init__(self, input_size: int, hidden: int, layers: int, dropout: float, bidirectional: bool = False):
        super().__init__()
        self.rnn = self.rnn_class(
            input_size,
            hidden,
            layers,
            batch_first=True,
            bidirectional=bidirectional,
            dropout=dropout if layers > 1 else 0.0,
        )

    def forward(self, x: Tensor | PackedSequence, state: tuple[Tensor, ...] | None = None):
        """x (B, T, I) -> outputs (B, T, dirs·H), state tuple of (L·dirs, B, H)."""
        out, state = self.rnn(x, None if state is None else self.unwrap(state))
        return out, self.wrap(state)

    @staticmethod
    def wrap(state) -> tuple[Tensor, ...]:
        return (state,)

    @staticmethod
    def unwrap(state: tuple[Tensor, ...]):
        return state[0]


@register_cell("rnn")
class Elman(Cell):
    """h_t = tanh(W x_t + U h_{t-1} + b) (Elman 1990)."""

    rnn_class = nn.RNN


@register_cell("gru")
class GRU(Cell):
    """Gated recurrent unit (Cho et al. 2014)."""

    rnn_class = nn.GRU


@register_cell("lstm")
class LSTM(Cell):
    """Long short-term memory (Hochreiter & Schmidhuber 1997); state (h, c)."""

    rnn_class = nn.LSTM
    n_states = 2

    @staticmethod
    def wrap(state) -> tuple[Tensor, ...]:
        return tuple(state)

    @staticmethod
    def unwrap(state: tuple[Tensor, ...]):
        return state
