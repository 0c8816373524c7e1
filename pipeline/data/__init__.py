"""The prepare and tokenize stages' code: corpora, building prepared records, SentencePiece training and encoding
(entry points: pipeline/prepare.py, pipeline/tokenize.py)."""
