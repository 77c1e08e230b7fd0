"""Optimizers that turn feedback into better prompts and code, with PyTorch's optimizer API.

>>> import trace_opt as trace
>>> from trace_opt.llm import FunctionLLM
>>> from optimizers import OptoPrime
>>> prompt = trace.node("Say hi", trainable=True, name="prompt")
>>> llm = FunctionLLM(lambda messages, **kw: '{"reasoning": "", "suggestion": {"prompt": "Say hello"}}')
>>> opt = OptoPrime([prompt], llm=llm)
>>> opt.zero_feedback()
>>> opt.backward(prompt + "!", "be warmer")
>>> _ = opt.step()
>>> prompt.data
'Say hello'
"""

from __future__ import annotations

from .base import Optimizer
from .meta import HyperparameterOptimizer, MetaOptimizer
from .opro import OPRO
from .optoprime import OptoPrime
from .proposal import Proposal
from .search import GEPA, BeamSearch, Budget, PrioritySearch, SearchLog, SearchTrainer, propose_k
from .textgrad import TextGrad, TextualGradients
from .train import evaluate, train
from .trainlog import TrainLog
from trace_opt.secrets import install_log_filter as _install_log_filter

_install_log_filter()  # every optimizers.* logger redacts secrets (trace_opt.secrets)

__all__ = [
    "BeamSearch",
    "Budget",
    "GEPA",
    "HyperparameterOptimizer",
    "MetaOptimizer",
    "OPRO",
    "Optimizer",
    "OptoPrime",
    "PrioritySearch",
    "Proposal",
    "SearchLog",
    "SearchTrainer",
    "TextGrad",
    "TextualGradients",
    "TrainLog",
    "evaluate",
    "propose_k",
    "train",
]
