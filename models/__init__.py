"""Linear recurrent blocks (dense, diagonal, LRU), the LRA classifier and `build(config.model, ...)`."""

from models.classifier import BLOCKS
from models.classifier import RECURRENCES
from models.classifier import ResidualLayer
from models.classifier import SequenceClassifier
from models.classifier import build
from models.diagonal_rnn import DiagonalRNN
from models.linear_rnn import LinearRNN
from models.lru import LRU
from models.params import RecurrentParam

__all__ = ["BLOCKS", "DiagonalRNN", "LRU", "LinearRNN", "RECURRENCES", "RecurrentParam", "ResidualLayer",
           "SequenceClassifier", "build"]
