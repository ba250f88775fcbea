"""Linear recurrent blocks (dense, diagonal, LRU), the backbone and heads, and `build(config.model, task, rngs)`."""

from models.backbone import Backbone
from models.diagonal_rnn import DiagonalRNN
from models.layer import ResidualLayer
from models.linear_rnn import LinearRNN
from models.lru import LRU
from models.model import BLOCKS
from models.model import RECURRENCES
from models.model import SequenceModel
from models.model import TaskShape
from models.model import build
from models.model import check_config
from models.model import init_params
from models.params import RecurrentParam

__all__ = ["BLOCKS", "Backbone", "DiagonalRNN", "LRU", "LinearRNN", "RECURRENCES", "RecurrentParam",
           "ResidualLayer", "SequenceModel", "TaskShape", "build", "check_config", "init_params"]
