"""Special token ids, fixed by the tokenize stage (DESIGN.md)."""

PAD, UNK, BOS, EOS = 0, 1, 2, 3
