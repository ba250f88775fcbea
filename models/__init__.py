"""Linear recurrent blocks (dense, diagonal, LRU), the LRA classifier and `build(config.model, ...)`."""

from models.classifier import BLOCKS
from models.classifier import RECURRENCES
from models.classifier import RECURRENT_PARAM_NAMES
from models.classifier import ResidualLayer
from models.classifier import SequenceClassifier
from models.classifier import build
from models.classifier import is_recurrent_param
from models.diagonal_rnn import DiagonalRNN
from models.linear_rnn import LinearRNN
from models.lru import LRU

__all__ = ["BLOCKS", "DiagonalRNN", "LRU", "LinearRNN", "RECURRENCES", "RECURRENT_PARAM_NAMES", "ResidualLayer",
           "SequenceClassifier", "build", "is_recurrent_param"]
